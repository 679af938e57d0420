/*
 * test_pipeline.c - the rendezvous and the workers end to end against the
 * real output: an embedded broker (librdkafka's mock cluster), requests
 * produced to it and read back as the input stage reads them, then opened
 * and dispatched exactly as input.c does. What the test reads back from the
 * results and scores streams is what a client would read: exactly one
 * result per request with the reason the selection rule gives, a score
 * record per model answer (late ones too), and the request released - its
 * offset free to commit - only after every record about it is acknowledged.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "canary_monitor.h"
#include "colocate.h"
#include "clock.h"
#include "config.h"
#include "errbuf.h"
#include "feature_vector.h"
#include "generation.h"
#include "proc.h"
#include "inflight.h"
#include "output.h"
#include "reload.h"
#include "remote.h"
#include "rendezvous.h"
#include "stats.h"
#include "streams.h"
#include "test_helpers.h"
#include "worker.h"

#define MAX_REQ 64

static char *tmpdir;
static rv_broker *broker;
static char bootstrap[512];
static rv_config *cfg;
static rv_generation *gen;
static rv_stats *stats;
static rv_canary_monitor *monitor;
static rv_output *output;
static rv_rendezvous *rz;
static rv_pipeline pipe_;

/* Requests released for good (their offset handed on for commit). */
static atomic_int n_done;
static atomic_int done_per_offset[MAX_REQ];

static void on_done(void *ctx, const rv_inflight *f)
{
    (void)ctx;
    atomic_fetch_add(&n_done, 1);
    if (f->req.offset >= 0 && f->req.offset < MAX_REQ)
        atomic_fetch_add(&done_per_offset[f->req.offset], 1);
}

static void no_alert(void *ctx, const char *key, const void *record, size_t len)
{
    (void)ctx, (void)key, (void)record, (void)len;
}

/* Starts everything the daemon starts between the broker and the input
 * stage, for a config whose models: and rendezvous: sections are given. */
static void start(const char *models, const char *rendezvous)
{
    char err[RV_ERR_SIZE];
    tmpdir = test_tmpdir();
    broker = rv_broker_start(1, err, sizeof err);
    ck_assert_msg(broker != NULL, "%s", err);
    snprintf(bootstrap, sizeof bootstrap, "%s", rv_broker_bootstraps(broker));

    char path[4200], text[4096];
    snprintf(path, sizeof path, "%s/c.yaml", tmpdir);
    snprintf(text, sizeof text,
             "service: pl\n"
             "state_dir: state\n"
             "streams: { brokers: embedded, partitions: 1 }\n"
             "input: { features: [x] }\n"
             "models:\n%s"
             "rendezvous:\n%s",
             models, rendezvous);
    test_write_file(path, text);
    rv_errors errs = {0};
    cfg = rv_config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    ck_assert_ptr_nonnull(cfg);

    const char *topics[] = {cfg->streams.requests, cfg->streams.scores, cfg->streams.results,
                            cfg->streams.alerts, cfg->streams.dead_letter};
    int parts[] = {1, 1, 1, 1, 1};
    ck_assert_msg(rv_broker_create_topics(broker, topics, parts, 5, err, sizeof err) == 0, "%s",
                  err);

    stats = calloc(1, sizeof *stats);
    ck_assert_ptr_nonnull(stats);
    monitor = rv_canary_monitor_new(no_alert, NULL);
    rd_kafka_conf_t *pconf = rv_kafka_conf(cfg, bootstrap, 1, err, sizeof err);
    ck_assert_msg(pconf != NULL, "%s", err);
    output = rv_output_new(pconf, cfg, rv_inflight_delivered, err, sizeof err);
    ck_assert_msg(output != NULL, "%s", err);
    rz = rv_rendezvous_start(output, monitor, stats);
    ck_assert_ptr_nonnull(rz);
    pipe_ = (rv_pipeline){output, rz, {rv_worker_emit, &pipe_}, NULL, stats, rv_remote_new(rz)};
    ck_assert_ptr_nonnull(pipe_.remote);
    gen = rv_generation_build(cfg, NULL, &pipe_.sink, 1, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    ck_assert_ptr_nonnull(gen); /* it owns cfg now */
    ck_assert_msg(rv_generation_warm_and_start(gen, &pipe_, err, sizeof err) == 0, "%s", err);

    atomic_store(&n_done, 0);
    for (int i = 0; i < MAX_REQ; i++)
        atomic_store(&done_per_offset[i], 0);
}

/* Stops in the daemon's order: models first (their answers reach the
 * rendezvous), then the rendezvous, then the output (flushes). */
static void stop(void)
{
    rv_generation_unref(gen);
    rv_remote_free(pipe_.remote);
    rv_rendezvous_stop(rz);
    rv_output_free(output, 10000);
    rv_canary_monitor_free(monitor);
    free(stats);
    rv_broker_stop(broker);
    test_rm_rf(tmpdir);
    free(tmpdir);
}

/* A client config for the embedded broker with the given settings
 * (NULL-terminated name, value pairs). */
static rd_kafka_conf_t *client_conf(const char *const *settings)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    ck_assert(rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err) ==
              RD_KAFKA_CONF_OK);
    for (; settings && *settings; settings += 2)
        ck_assert_msg(rd_kafka_conf_set(c, settings[0], settings[1], err, sizeof err) ==
                          RD_KAFKA_CONF_OK,
                      "%s", err);
    return c;
}

/* A consumer of partition 0 of topic from its beginning, in no group. */
static rd_kafka_t *reader(const char *topic)
{
    char err[512];
    static const char *const settings[] = {"group.id", "test-reader", "enable.auto.commit", "false",
                                           NULL};
    rd_kafka_conf_t *c = client_conf(settings);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    ck_assert_msg(rk != NULL, "%s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

/* Reads up to max records of topic within timeout_ms; returns how many.
 * out[i] is the value as a string (the caller frees). */
static int read_records(const char *topic, char **out, int max, int timeout_ms)
{
    rd_kafka_t *rk = reader(topic);
    int n = 0;
    int64_t end = rv_mono_ms() + timeout_ms;
    while (n < max && rv_mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            out[n] = strndup(m->payload, m->len);
            ck_assert_ptr_nonnull(out[n]);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

static void free_records(char **r, int n)
{
    for (int i = 0; i < n; i++)
        free(r[i]);
}

/* Produces n requests {"x": i} with key (the id) r-<i>, and feeds them through the
 * input path: read back from the broker, parsed, opened, dispatched. Returns
 * the consumer they were read with, for feed_close (which waits until every
 * request is released: a message must be destroyed before its consumer). */
static rd_kafka_t *feed_open(int n)
{
    char err[512];
    rd_kafka_conf_t *pc = client_conf(NULL);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (int i = 0; i < n; i++) {
        char body[64], key[16];
        int len = snprintf(body, sizeof body, "{\"x\":%d}", i);
        snprintf(key, sizeof key, "r-%d", i);
        ck_assert_int_eq(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(cfg->streams.requests), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(body, (size_t)len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    }
    ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);

    rd_kafka_t *rk = reader(cfg->streams.requests);
    int got = 0;
    int64_t end = rv_mono_ms() + 20000;
    while (got < n && rv_mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        rv_read_time read = {rv_mono_us(), rv_real_us()};
        rv_inflight *f = rv_inflight_new(m, rv_generation_ref(gen), on_done, NULL, &read);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(rv_features_parse(gen->features, f->req.body, f->req.body_len, f->features,
                                           err, sizeof err),
                         0);
        rv_rendezvous_open(rz, &f, 1);
        for (size_t i = 0; i < gen->n_models; i++)
            rv_workers_dispatch(gen->models[i]->workers, &f, 1, i);
        got++;
    }
    ck_assert_int_eq(got, n);
    return rk;
}

static void feed_close(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void feed(int n)
{
    feed_close(feed_open(n));
}

/* Waits until every request fed has been released. */
static void wait_done(int n)
{
    int64_t end = rv_mono_ms() + 20000;
    while (atomic_load(&n_done) < n && rv_mono_ms() < end)
        rv_sleep_ms(10);
    ck_assert_int_eq(atomic_load(&n_done), n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(atomic_load(&done_per_offset[i]) == 1, "offset %d released %d times", i,
                      atomic_load(&done_per_offset[i]));
}

/* Exactly one result per id r-0 .. r-(n-1), in results[]; each must
 * contain every string of want[] (NULL-terminated). */
static void assert_one_result_each(char **results, int nres, int n, const char *const *want)
{
    ck_assert_int_eq(nres, n);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "{\"id\":\"r-%d\",", i);
        int seen = 0;
        for (int k = 0; k < nres; k++) {
            if (strncmp(results[k], id, strlen(id)) != 0)
                continue;
            seen++;
            for (const char *const *w = want; *w; w++)
                ck_assert_msg(strstr(results[k], *w), "result %s lacks %s", results[k], *w);
        }
        ck_assert_msg(seen == 1, "r-%d has %d results ", i, seen);
    }
}

/* Feeds n requests and expects one result each, chosen from model as the
 * preferred one, within 10 s. */
static void feed_expect_preferred(int n, const char *model)
{
    char chosen[64];
    snprintf(chosen, sizeof chosen, "\"model\":\"%s\"", model);
    const char *const want[] = {chosen, "\"reason\":\"preferred\"", NULL};
    feed(n);
    char *res[n + 1];
    int nres = read_records(cfg->streams.results, res, n, 10000);
    assert_one_result_each(res, nres, n, want);
    free_records(res, nres);
}

static int count_containing(char **r, int n, const char *s)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += strstr(r[i], s) != NULL;
    return c;
}

/* rv_remote_receive of one score record given as text. */
static rv_remote_outcome remote_score(const char *json)
{
    return rv_remote_receive(pipe_.remote, gen, json, strlen(json), rv_mono_us());
}

/* Ends remote waits as the daemon's reader thread does, while the test
 * feeds (the requests consumer is destroyed only once every message it
 * gave is released, and a waiting request holds its message). */
static atomic_int expiring;
static void *expirer(void *arg)
{
    (void)arg;
    while (atomic_load(&expiring)) {
        rv_remote_expire(pipe_.remote, rv_mono_us());
        rv_sleep_ms(10);
    }
    return NULL;
}

/* A remote model first, a local fallback: score records (as the remote
 * reader hands them over) are joined by id and model, before or after
 * their request arrives; a bad or missing remote answer falls back; what
 * is not a remote model's score is ignored or refused. */
START_TEST(remote_answers_join_by_id)
{
    start("  - { name: r, remote: true, labels: [no, yes] }\n"
          "  - { name: a, plugin: " RV_FIXTURE_DIR "/ok.so }\n",
          "  schedule: [{ model: r, within_ms: 2000 }, { model: a, within_ms: 5000 }]\n");
    ck_assert_int_eq(gen->models[0]->is_remote, 1);
    /* before its request: kept */
    ck_assert_int_eq(remote_score("{\"id\": \"r-0\", \"model\": \"r\", \"status\": \"ok\", "
                                  "\"answers\": [{\"label\": \"yes\", \"score\": 0.875}]}"),
                     RV_REMOTE_EARLY);
    ck_assert_int_eq(remote_score("{\"id\":\"r-1\",\"model\":\"a\",\"status\":\"ok\"}"),
                     RV_REMOTE_IGNORED);
    ck_assert_int_eq(remote_score("{\"id\": 5}"), RV_REMOTE_INVALID);
    ck_assert_int_eq(remote_score("not json"), RV_REMOTE_INVALID);
    enum { N = 6 };
    pthread_t ex;
    atomic_store(&expiring, 1);
    ck_assert_int_eq(pthread_create(&ex, NULL, expirer, NULL), 0);
    rd_kafka_t *fed = feed_open(N);
    ck_assert_int_eq(remote_score("{\"id\":\"r-1\",\"model\":\"r\",\"status\":\"ok\","
                                  "\"answers\":[{\"label\":\"no\",\"score\":0.25}]}"),
                     RV_REMOTE_JOINED);
    ck_assert_int_eq(remote_score("{\"id\":\"r-2\",\"model\":\"r\",\"status\":\"ok\","
                                  "\"answers\":[{\"label\":\"maybe\",\"score\":1}]}"),
                     RV_REMOTE_JOINED);
    ck_assert_int_eq(remote_score("{\"id\":\"r-3\",\"model\":\"r\",\"status\":\"error\","
                                  "\"error\":\"GPU out of memory\"}"),
                     RV_REMOTE_JOINED);
    ck_assert_int_eq(remote_score("{\"id\":\"r-3\",\"model\":\"r\",\"status\":\"ok\"}"),
                     RV_REMOTE_EARLY);                     /* twice: no longer waited for */
    ck_assert_uint_eq(rv_remote_waiting(pipe_.remote), 2); /* r-4, r-5 */
    feed_close(fed);
    wait_done(N);
    atomic_store(&expiring, 0);
    pthread_join(ex, NULL);
    ck_assert_uint_eq(rv_remote_waiting(pipe_.remote), 0);
    char *res[N + 1];
    int nres = read_records(cfg->streams.results, res, N + 1, 3000);
    static const char *const any[] = {NULL};
    assert_one_result_each(res, nres, N, any);
    static const char *const want[N][4] = {
        {"\"model\":\"r\"", "\"reason\":\"preferred\"", "{\"label\":\"yes\",\"score\":0.875}"},
        {"\"model\":\"r\"", "\"reason\":\"preferred\"", "{\"label\":\"no\",\"score\":0.25}"},
        {"\"model\":\"a\"", "\"reason\":\"fallback\"", "\"r\":{\"status\":\"error\""},
        {"\"model\":\"a\"", "\"reason\":\"fallback\"", "\"r\":{\"status\":\"error\""},
        {"\"model\":\"a\"", "\"reason\":\"fallback\"", "\"r\":{\"status\":\"timeout\""},
        {"\"model\":\"a\"", "\"reason\":\"fallback\"", "\"r\":{\"status\":\"timeout\""},
    };
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "{\"id\":\"r-%d\",", i);
        for (int k = 0; k < nres; k++)
            if (!strncmp(res[k], id, strlen(id)))
                for (int w = 0; w < 3; w++)
                    ck_assert_msg(strstr(res[k], want[i][w]), "result %s lacks %s", res[k],
                                  want[i][w]);
    }
    char last[256];
    rv_model_last_error(gen->models[0], last, sizeof last);
    ck_assert_str_eq(last, "GPU out of memory");
    ck_assert_uint_eq(rv_remote_count(pipe_.remote, RV_REMOTE_JOINED), 4);
    free_records(res, nres);
    stop();
}
END_TEST

/* The id of this process's thread named `name` (/proc/self/task), waiting
 * up to 5 s for it to start; 0 when there is none. */
static pid_t thread_named(const char *name)
{
    for (int tries = 0; tries < 500; tries++) {
        DIR *d = opendir("/proc/self/task");
        ck_assert_ptr_nonnull(d);
        pid_t found = 0;
        for (struct dirent *e; !found && (e = readdir(d));) {
            char path[300], comm[32] = "";
            snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
            if (strcmp(comm, name) == 0)
                found = (pid_t)atoi(e->d_name);
        }
        closedir(d);
        if (found)
            return found;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    return 0;
}

START_TEST(preferred_answers_in_time)
{
    start("  - { name: a, plugin: " RV_FIXTURE_DIR "/ok.so, max_batch: 8 }\n",
          "  schedule: [{ model: a, within_ms: 5000 }]\n");
    enum { N = 40 };
    feed(N);
    wait_done(N);
    char *res[N + 1], *scores[N + 1];
    int nres = read_records(cfg->streams.results, res, N + 1, 3000);
    static const char *const want[] = {"\"model\":\"a\"", "\"reason\":\"preferred\"", "\"rank\":0",
                                       "\"a\":{\"status\":\"ok\"", NULL};
    assert_one_result_each(res, nres, N, want);
    int nsc = read_records(cfg->streams.scores, scores, N + 1, 3000);
    ck_assert_int_eq(nsc, N);
    ck_assert_int_eq(count_containing(scores, nsc, "\"status\":\"ok\""), N);
    ck_assert_uint_eq(stats->results_by_reason[RV_REASON_PREFERRED], N);
    ck_assert_int_gt(thread_named("w:a"), 0); /* its worker, as top -H shows it */
    free_records(res, nres);
    free_records(scores, nsc);
    stop();
}
END_TEST

/* The preferred model sleeps far past its within_ms: every result comes
 * from the fallback at the deadline, long before the slow answer; the slow
 * answers still reach the scores stream and hold the request until then. */
START_TEST(slow_model_falls_back_at_its_deadline)
{
    start("  - { name: slow, plugin: " RV_FIXTURE_DIR "/ok.so, max_batch: 16,"
          " params: { sleep_ms: '1500' } }\n"
          "  - { name: fast, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n",
          "  schedule: [{ model: slow, within_ms: 30 }, { model: fast, within_ms: 5000 }]\n");
    enum { N = 8 };
    int64_t t0 = rv_mono_ms();
    feed(N);
    char *res[N + 1];
    int nres = read_records(cfg->streams.results, res, N, 10000);
    static const char *const want[] = {"\"model\":\"fast\"", "\"reason\":\"fallback\"",
                                       "\"rank\":1", "\"slow\":{\"status\":\"timeout\"}", NULL};
    assert_one_result_each(res, nres, N, want);
    /* Each result was decided at the deadline, not at the slow answer
     * (latency_us: from reading the request to the decision). */
    for (int i = 0; i < nres; i++) {
        const char *l = strstr(res[i], "],\"latency_us\":");
        ck_assert_ptr_nonnull(l);
        long long us = atoll(l + strlen("],\"latency_us\":"));
        ck_assert_msg(us >= 30000 && us < 1500000, "decided after %lld us: %s", us, res[i]);
    }
    /* The requests are released only once the late answers are recorded. */
    wait_done(N);
    ck_assert_int_ge(rv_mono_ms() - t0, 1500);
    char *scores[2 * N + 1];
    int nsc = read_records(cfg->streams.scores, scores, 2 * N + 1, 3000);
    ck_assert_int_eq(nsc, 2 * N);
    ck_assert_int_eq(count_containing(scores, nsc, "\"model\":\"slow\""), N);
    free_records(res, nres);
    free_records(scores, nsc);
    stop();
}
END_TEST

/* Every model errors: the default answer, and each model's status says
 * why. */
START_TEST(errors_give_the_default)
{
    start("  - { name: e, plugin: " RV_FIXTURE_DIR "/ok.so, params: { error: always } }\n",
          "  schedule: [{ model: e, within_ms: 5000 }]\n"
          "  default: { label: none, score: 0.5 }\n");
    enum { N = 10 };
    feed(N);
    wait_done(N);
    char *res[N + 1];
    int nres = read_records(cfg->streams.results, res, N + 1, 3000);
    static const char *const want[] = {"\"model\":null", "\"reason\":\"default\"",
                                       "\"answers\":[{\"label\":\"none\",\"score\":0.5}]",
                                       "\"e\":{\"status\":\"error\"", NULL};
    assert_one_result_each(res, nres, N, want);
    ck_assert_uint_eq(stats->results_by_reason[RV_REASON_DEFAULT], N);
    free_records(res, nres);
    stop();
}
END_TEST

/* A queue of one behind a slow model: the requests it cannot queue are
 * shed at once for that model only, and the next entry answers them. */
START_TEST(full_queue_sheds_for_that_model_only)
{
    start("  - { name: s, plugin: " RV_FIXTURE_DIR "/ok.so, max_batch: 1, queue_size: 1,"
          " params: { sleep_ms: '200' } }\n"
          "  - { name: f, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n",
          "  schedule: [{ model: s, within_ms: 5000 }, { model: f, within_ms: 5000 }]\n");
    enum { N = 12 };
    feed(N);
    wait_done(N);
    char *res[N + 1];
    int nres = read_records(cfg->streams.results, res, N + 1, 3000);
    static const char *const want[] = {"\"reason\":", NULL};
    assert_one_result_each(res, nres, N, want);
    int shed = count_containing(res, nres, "\"s\":{\"status\":\"shed\"");
    int preferred = count_containing(res, nres, "\"reason\":\"preferred\"");
    ck_assert_int_ge(shed, 1);
    ck_assert_int_ge(preferred, 1); /* the first one at least got the slow model */
    ck_assert_int_eq(count_containing(res, nres, "\"model\":\"f\",") +
                         count_containing(res, nres, "\"model\":\"s\","),
                     N);
    ck_assert_int_eq(count_containing(res, nres, "\"model\":\"f\","), shed);
    uint64_t shed_counted = 0;
    for (int i = 0; i < atomic_load(&stats->n_models); i++)
        shed_counted += stats->models[i].by_status[RV_SLOT_SHED];
    ck_assert_uint_eq(shed_counted, (unsigned)shed);
    free_records(res, nres);
    stop();
}
END_TEST

/* The nice value of thread (or process) id. */
static int nice_of(pid_t id)
{
    ck_assert_int_gt(id, 0);
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)id);
    ck_assert_int_eq(errno, 0);
    return n;
}

/* The nice values of model `name`'s worker and model process. */
static void assert_nice(const rv_generation *g, const char *name, int nice)
{
    char worker[16];
    snprintf(worker, sizeof worker, "w:%s", name);
    ck_assert_int_eq(nice_of(thread_named(worker)), nice);
    rv_proc_status st;
    rv_proc_get_status(g->models[rv_generation_find(g, name)]->instances[0], &st);
    ck_assert_int_eq(nice_of(st.pid), nice);
}

/* The first model of the schedule runs at nice 0, the others behind it;
 * a new schedule (here as the control stream makes one) moves them, and
 * both still answer every request. */
START_TEST(the_preferred_model_runs_ahead_of_the_others)
{
    start("  - { name: a, plugin: " RV_FIXTURE_DIR "/ok.so }\n"
          "  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n",
          "  schedule: [{ model: a, within_ms: 5000 }, { model: b, within_ms: 5000 }]\n");
    char err[RV_ERR_SIZE] = "";
    ck_assert_msg(rv_workers_prioritize(gen, 6, err, sizeof err) == 0, "%s", err);
    assert_nice(gen, "a", 0);
    assert_nice(gen, "b", 6);

    size_t order[] = {(size_t)rv_generation_find(gen, "b"), (size_t)rv_generation_find(gen, "a")};
    rv_generation *g2 = rv_generation_with_schedule(gen, order, (uint32_t[]){5000, 5000}, 2, 2);
    ck_assert_ptr_nonnull(g2);
    int rc = rv_workers_prioritize(g2, 6, err, sizeof err);
    if (geteuid() == 0) { /* may lower a nice value */
        ck_assert_msg(rc == 0, "%s", err);
        assert_nice(g2, "a", 6);
        assert_nice(g2, "b", 0);
    } else { /* b cannot go back to 0: said so */
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err, "model b: nice 0") && strstr(err, "CAP_SYS_NICE"), "%s", err);
        assert_nice(g2, "a", 6);
    }
    feed_expect_preferred(20, "a");
    rv_generation_unref(g2);
    stop();
}
END_TEST

/* A model behind the preferred one never decides on its own thread, yet
 * its answer decides as soon as it is in when the preferred one failed:
 * not at a deadline (20 s here). */
START_TEST(an_answer_from_behind_decides_at_once)
{
    start("  - { name: e, plugin: " RV_FIXTURE_DIR "/ok.so, params: { error: always } }\n"
          "  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so, params: { sleep_ms: '200' } }\n",
          "  schedule: [{ model: e, within_ms: 20000 }, { model: b, within_ms: 30000 }]\n");
    char err[RV_ERR_SIZE] = "";
    ck_assert_msg(rv_workers_prioritize(gen, 3, err, sizeof err) == 0, "%s", err);
    enum { N = 10 };
    feed(N);
    char *res[N + 1];
    int nres = read_records(cfg->streams.results, res, N, 25000);
    static const char *const want[] = {"\"model\":\"b\"", "\"reason\":\"fallback\"", NULL};
    assert_one_result_each(res, nres, N, want);
    for (int i = 0; i < nres; i++) { /* the result's own latency, not a model's */
        const char *l = strstr(res[i], "\"latency_us\":");
        ck_assert_msg(l && atoll(l + 13) < 5000000, "decided at the deadline: %s", res[i]);
    }
    free_records(res, nres);
    stop();
}
END_TEST

static pid_t process_of(const rv_generation *g, const char *name)
{
    rv_proc_status st;
    rv_proc_get_status(g->models[rv_generation_find(g, name)]->instances[0], &st);
    return st.pid;
}

/* Where model `name`'s worker and model process may run: both on `cpu`. */
static void assert_kept(const rv_generation *g, const char *name, int cpu)
{
    char worker[16];
    snprintf(worker, sizeof worker, "w:%s", name);
    ck_assert_msg(test_kept_on(thread_named(worker)) == cpu, "%s on %d, not %d", worker,
                  test_kept_on(thread_named(worker)), cpu);
    ck_assert_msg(test_kept_on(process_of(g, name)) == cpu, "%s's process on %d, not %d", name,
                  test_kept_on(process_of(g, name)), cpu);
}

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int pool_tid;

/* A thread as a plugin's pool starts one: it waits until it may end. */
static void *pool_thread(void *arg)
{
    (void)arg;
    atomic_store(&pool_tid, gettid());
    pthread_mutex_lock(&pool_lock);
    pthread_mutex_unlock(&pool_lock);
    return NULL;
}

/* While the preferred model's path is idle, it is kept on the CPU of the
 * input thread (here the test's): that thread, the preferred model's
 * worker and its model process, not the others; requests are answered as
 * always. A new schedule moves it, a reload that builds lets it go, with
 * every thread a kept one started meanwhile. */
START_TEST(the_preferred_path_shares_one_cpu_while_idle)
{
    start("  - { name: first, plugin: " RV_FIXTURE_DIR "/ok.so }\n"
          "  - { name: second, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n",
          "  schedule: [{ model: first, within_ms: 5000 }, { model: second, within_ms: 5000 }]\n");
    rv_colocate c;
    rv_colocate_init(&c, stats);
    rv_colocate_follow(&c, NULL, gen);
    int64_t window = RV_COLOCATE_WINDOW_US;
    rv_colocate_tick(&c, gen, rv_mono_us() + window, 0);
    if (CPU_COUNT(&c.all) < 2) { /* nothing to share */
        ck_assert_int_eq(c.cpu, -1);
        stop();
        return;
    }
    int cpu = c.cpu;
    ck_assert_int_ge(cpu, 0);
    ck_assert_int_eq(atomic_load(&stats->path_kept), 1); /* what /metrics shows */
    ck_assert_int_eq(test_kept_on(gettid()), cpu);
    assert_kept(gen, "first", cpu);
    assert_kept(gen, "second", -1);
    feed_expect_preferred(20, "first");

    pthread_mutex_lock(&pool_lock);
    pthread_t pool;
    ck_assert_int_eq(pthread_create(&pool, NULL, pool_thread, NULL), 0);
    while (!atomic_load(&pool_tid))
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    ck_assert_int_eq(test_kept_on(atomic_load(&pool_tid)), cpu);

    size_t order[] = {(size_t)rv_generation_find(gen, "second"),
                      (size_t)rv_generation_find(gen, "first")};
    rv_generation *g2 = rv_generation_with_schedule(gen, order, (uint32_t[]){5000, 5000}, 2, 2);
    ck_assert_ptr_nonnull(g2);
    rv_colocate_follow(&c, gen, g2);
    ck_assert_int_eq(c.cpu, cpu);
    ck_assert_int_eq(test_kept_on(gettid()), cpu);
    assert_kept(g2, "second", cpu);
    assert_kept(g2, "first", -1);
    ck_assert_int_eq(test_kept_on(atomic_load(&pool_tid)), -1);

    rv_colocate_tick(&c, g2, rv_mono_us() + window, 1); /* a reload builds */
    ck_assert_int_eq(c.cpu, -1);
    ck_assert_int_eq(atomic_load(&stats->path_kept), 0);
    ck_assert_int_eq(test_kept_on(gettid()), -1);
    assert_kept(g2, "second", -1);
    pthread_mutex_unlock(&pool_lock);
    pthread_join(pool, NULL);
    rv_generation_unref(g2);
    stop();
}
END_TEST

/* Kept below 40 % of a CPU, let go above 70 %, as it was in between. */
START_TEST(the_path_is_kept_by_its_load)
{
    ck_assert(rv_colocate_rule(0, 0.0));
    ck_assert(rv_colocate_rule(0, 0.39));
    ck_assert(!rv_colocate_rule(0, 0.41));
    ck_assert(rv_colocate_rule(1, 0.41));
    ck_assert(rv_colocate_rule(1, 0.69));
    ck_assert(!rv_colocate_rule(1, 0.71));
    ck_assert(!rv_colocate_rule(1, 1.8)); /* waited to run too: more than one CPU's worth */
}
END_TEST

/* rendezvous.colocate: false keeps nothing anywhere. */
START_TEST(colocate_off_keeps_nothing)
{
    start("  - { name: a, plugin: " RV_FIXTURE_DIR "/ok.so }\n",
          "  schedule: [{ model: a, within_ms: 5000 }]\n  colocate: false\n");
    rv_colocate c;
    rv_colocate_init(&c, stats);
    rv_colocate_follow(&c, NULL, gen);
    rv_colocate_tick(&c, gen, rv_mono_us() + RV_COLOCATE_WINDOW_US, 0);
    ck_assert_int_eq(c.cpu, -1);
    if (CPU_COUNT(&c.all) > 1)
        ck_assert_int_eq(test_kept_on(gettid()), -1);
    stop();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("rendezvous+workers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, preferred_answers_in_time);
    tcase_add_test(tc, slow_model_falls_back_at_its_deadline);
    tcase_add_test(tc, errors_give_the_default);
    tcase_add_test(tc, full_queue_sheds_for_that_model_only);
    tcase_add_test(tc, remote_answers_join_by_id);
    tcase_add_test(tc, the_preferred_model_runs_ahead_of_the_others);
    tcase_add_test(tc, an_answer_from_behind_decides_at_once);
    tcase_add_test(tc, the_preferred_path_shares_one_cpu_while_idle);
    tcase_add_test(tc, the_path_is_kept_by_its_load);
    tcase_add_test(tc, colocate_off_keeps_nothing);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
