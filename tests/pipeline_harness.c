/*
 * pipeline_harness.c - pipeline_harness.h's pipeline, feeding and reading.
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
#include "pipeline_harness.h"
#include "test_helpers.h"
#include "worker.h"
#include "test_env.h"

char *tmpdir;
rv_broker *broker;
char bootstrap[512];
rv_config *cfg;
rv_generation *gen;
rv_stats *stats;
rv_canary_monitor *monitor;
rv_output *output;
rv_rendezvous *rz;
rv_pipeline pipe_;

/* Requests released for good (their offset handed on for commit). */
atomic_int n_done;
atomic_int done_per_offset[MAX_REQ];

static void on_done(void *ctx, rv_inflight *f)
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
void start(const char *models, const char *rendezvous)
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
    cfg = rv_config_load(path, rv_test_env(), &errs);
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
    output = rv_output_new(pconf, cfg, rv_inflight_delivered, NULL, err, sizeof err);
    ck_assert_msg(output != NULL, "%s", err);
    rz = rv_rendezvous_start(output, monitor, stats);
    ck_assert_ptr_nonnull(rz);
    pipe_ =
        (rv_pipeline){output, rz, {rv_worker_emit, &pipe_}, NULL, stats, rv_remote_new(rz), NULL};
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
void stop(void)
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
rd_kafka_conf_t *client_conf(const char *const *settings)
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
rd_kafka_t *reader(const char *topic)
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
int read_records(const char *topic, char **out, int max, int timeout_ms)
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

void free_records(char **r, int n)
{
    for (int i = 0; i < n; i++)
        free(r[i]);
}

int feed_direct = -1;

/* Produces n requests {"x": i} with key (the id) r-<i>, and feeds them through the
 * input path: read back from the broker, parsed, opened, dispatched. Returns
 * the consumer they were read with, for feed_close (which waits until every
 * request is released: a message must be destroyed before its consumer). */
rd_kafka_t *feed_open(int n)
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
        f->direct = feed_direct; /* as the input sets it from rv-model */
        rv_rendezvous_open(rz, &f, 1);
        for (size_t i = 0; i < gen->n_models; i++)
            if (feed_direct < 0 || (int)i == feed_direct || gen->models[i]->is_decoy)
                rv_workers_dispatch(gen->models[i]->workers, &f, 1, i);
        got++;
    }
    ck_assert_int_eq(got, n);
    return rk;
}

void feed_close(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

void feed(int n)
{
    feed_close(feed_open(n));
}

/* Waits until every request fed has been released. */
void wait_done(int n)
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
void assert_one_result_each(char **results, int nres, int n, const char *const *want)
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
void feed_expect_preferred(int n, const char *model)
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

int count_containing(char **r, int n, const char *s)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += strstr(r[i], s) != NULL;
    return c;
}

/* The id of this process's thread named `name` (/proc/self/task), waiting
 * up to 5 s for it to start; 0 when there is none. */
pid_t thread_named(const char *name)
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
