/*
 * test_pipeline_cpu.c - where the pipeline's threads and model processes
 * run: the first model of the schedule at nice 0 and the others behind it
 * (moved by a new schedule), and the preferred model's path kept on one
 * CPU while the load is light, let go under load or with colocate off.
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
    Suite *s = suite_create("pipeline_cpu");
    TCase *tc = tcase_create("rendezvous+workers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_preferred_model_runs_ahead_of_the_others);
    tcase_add_test(tc, the_preferred_path_shares_one_cpu_while_idle);
    tcase_add_test(tc, the_path_is_kept_by_its_load);
    tcase_add_test(tc, colocate_off_keeps_nothing);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
