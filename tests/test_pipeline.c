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
#include "pipeline_harness.h"
#include "test_helpers.h"
#include "worker.h"

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

/* Direct calls (rv-model) to the second model: it alone scores them, its
 * answer is each result at once (reason direct, no rank), the slow first
 * model neither scores nor is waited for; to a model that errors, the
 * default. */
START_TEST(a_direct_call_is_its_model_alone)
{
    start("  - { name: slow, plugin: " RV_FIXTURE_DIR "/ok.so, params: { sleep_ms: '1500' } }\n"
          "  - { name: fast, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n"
          "  - { name: e, plugin: " RV_FIXTURE_DIR "/ok.so, params: { error: always } }\n",
          "  schedule: [{ model: slow, within_ms: 5000 }, { model: fast, within_ms: 6000 }]\n"
          "  default: { label: none, score: 0.5 }\n");
    enum { N = 8 };
    feed_direct = 1;
    feed(N);
    wait_done(N);
    char *res[2 * N + 1], *scores[2 * N + 1];
    int nres = read_records(cfg->streams.results, res, N + 1, 3000);
    static const char *const want[] = {"\"model\":\"fast\"", "\"reason\":\"direct\"",
                                       "\"rank\":null", "\"models\":{\"fast\":{\"status\":\"ok\"",
                                       NULL};
    assert_one_result_each(res, nres, N, want);
    for (int i = 0; i < nres; i++) {
        ck_assert_ptr_null(strstr(res[i], "\"slow\""));
        const char *l = strstr(res[i], "],\"latency_us\":");
        ck_assert_ptr_nonnull(l);
        ck_assert_int_lt(atoll(l + strlen("],\"latency_us\":")), 1000000); /* not waited for */
    }
    int nsc = read_records(cfg->streams.scores, scores, N + 1, 3000);
    ck_assert_int_eq(nsc, N);
    ck_assert_int_eq(count_containing(scores, nsc, "\"model\":\"fast\""), N);
    ck_assert_uint_eq(stats->results_by_reason[RV_REASON_DIRECT], N);
    free_records(res, nres);
    free_records(scores, nsc);
    stop();

    start("  - { name: e, plugin: " RV_FIXTURE_DIR "/ok.so, params: { error: always } }\n"
          "  - { name: fast, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n",
          "  schedule: [{ model: fast, within_ms: 5000 }]\n"
          "  default: { label: none, score: 0.5 }\n");
    feed_direct = 0; /* not in the schedule: the schedule's last deadline */
    feed(N);
    feed_direct = -1;
    wait_done(N);
    nres = read_records(cfg->streams.results, res, N + 1, 3000);
    static const char *const dflt[] = {"\"model\":null", "\"reason\":\"default\"",
                                       "\"models\":{\"e\":{\"status\":\"error\"", NULL};
    assert_one_result_each(res, nres, N, dflt);
    free_records(res, nres);
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

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("rendezvous+workers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, preferred_answers_in_time);
    tcase_add_test(tc, slow_model_falls_back_at_its_deadline);
    tcase_add_test(tc, errors_give_the_default);
    tcase_add_test(tc, a_direct_call_is_its_model_alone);
    tcase_add_test(tc, full_queue_sheds_for_that_model_only);
    tcase_add_test(tc, remote_answers_join_by_id);
    tcase_add_test(tc, an_answer_from_behind_decides_at_once);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
