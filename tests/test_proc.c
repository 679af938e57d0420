/*
 * test_proc.c - model processes through their host-side API, with
 * real processes of the rendezvous binary running the fixture plugin: a
 * plugin's emit() comes back attributed to its request, a request larger
 * than the channel errors alone, a request a process died on is never
 * sent to it again, a restart warms up on recent requests but never the ones a
 * process was lost on, a batch handed off by another thread is collected
 * like a scored one, and a restarted process keeps its nice value.
 */
#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "proc.h"
#include "recent.h"
#include "slot.h"
#include "test_helpers.h"

#define MAX_N 16

/* A sanitizer turns a crash into its own report and exit. */
#ifdef __SANITIZE_ADDRESS__
#define DIED "model process "
#define DIED_KIND 0
#else
#define DIED "model process died: signal 11 (SIGSEGV)"
#define DIED_KIND 11
#endif

typedef struct batch {
    rv_request req[MAX_N];
    const rv_request *reqs[MAX_N];
    rv_result res[MAX_N];
    rv_result *resp[MAX_N];
    rv_answer answers[MAX_N][RV_MAX_ANSWERS];
    char errors[MAX_N][RV_SLOT_ERROR_SIZE];
    char ids[MAX_N][32];
    double x[MAX_N];
    size_t n;
} batch;

typedef struct emitted {
    long about[64];
    char key[64][32];
    int n;
} emitted;

static int on_emit(void *ctx, long about, const char *stream, const void *key, size_t key_len,
                   const void *value, size_t value_len)
{
    emitted *e = ctx;
    (void)value, (void)value_len;
    ck_assert_str_eq(stream, "side");
    if (e->n < 64) {
        e->about[e->n] = about;
        snprintf(e->key[e->n], sizeof e->key[e->n], "%.*s", (int)key_len, (const char *)key);
        e->n++;
    }
    return 0;
}

/* A batch of the given ids (NULL-terminated), body {"x": 1}. */
static void fill(batch *b, const char *const *ids)
{
    static const char body[] = "{\"x\": 1}";
    memset(b, 0, sizeof *b);
    for (; ids[b->n]; b->n++) {
        size_t i = b->n;
        snprintf(b->ids[i], sizeof b->ids[i], "%s", ids[i]);
        b->x[i] = 1;
        b->req[i] = (rv_request){.id = b->ids[i],
                                 .body = (const uint8_t *)body,
                                 .body_len = sizeof body - 1,
                                 .features = &b->x[i],
                                 .n_features = 1,
                                 .topic = "t.requests",
                                 .offset = (int64_t)i,
                                 .timestamp_ms = -1};
        b->reqs[i] = &b->req[i];
        b->res[i] = (rv_result){RV_STATUS_ERROR,   0, RV_MAX_ANSWERS, b->answers[i], b->errors[i],
                                RV_SLOT_ERROR_SIZE};
        b->resp[i] = &b->res[i];
    }
}

static rv_proc *start_logged(const char *fault, const char *fault_on, const char *log_dir)
{
    static const char *const features[] = {"x"};
    rv_kv params[4] = {{(char *)"emit", (char *)"side"}};
    size_t np = 1;
    if (log_dir)
        params[np++] = (rv_kv){(char *)"create_log_dir", (char *)log_dir};
    if (fault) {
        params[np++] = (rv_kv){(char *)"fault", (char *)fault};
        params[np++] = (rv_kv){(char *)"fault_on", (char *)fault_on};
    }
    rv_proc_spec spec = {.model = "m",
                         .version = "v1",
                         .plugin = RV_FIXTURE_DIR "/ok.so",
                         .shown = "ok.so",
                         .params = params,
                         .n_params = np,
                         .features = features,
                         .n_features = 1,
                         .max_batch = 8,
                         .max_body_bytes = 256,
                         .max_score_ms = 5000,
                         .max_memory_mb = 0,
                         .sandbox = 1,
                         .warmup_requests = 64,
                         .warmup_budget_ms = 10000};
    char **labels = NULL, err[RV_ERR_SIZE];
    uint32_t n_labels = 0;
    rv_proc *p = rv_proc_start(&spec, &labels, &n_labels, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_uint_eq(n_labels, 3);
    for (uint32_t i = 0; i < n_labels; i++)
        free(labels[i]);
    free(labels);
    return p;
}

static rv_proc *start(const char *fault, const char *fault_on)
{
    return start_logged(fault, fault_on, NULL);
}

/* Ticks p until it is live again (its restart and warm-up done). */
static void wait_live(rv_proc *p)
{
    for (int i = 0; i < 2000; i++) {
        if (rv_proc_tick(p) == RV_PROC_LIVE)
            return;
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    ck_abort_msg("the model process is not live again after 10 s");
}

START_TEST(emits_come_back_about_their_request)
{
    rv_proc *p = start(NULL, NULL);
    static const char *const ids[] = {"e-1", "e-2", "e-3", "e-4", "e-5", NULL};
    batch b;
    fill(&b, ids);
    emitted e = {0};
    rv_proc_score(p, b.reqs, b.resp, b.n, on_emit, &e);
    ck_assert_int_eq(e.n, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(b.res[i].status, RV_STATUS_OK);
        ck_assert_int_eq(e.about[i], i);
        ck_assert_str_eq(e.key[i], ids[i]);
    }
    rv_proc_stop(p, 1000);
}
END_TEST

START_TEST(a_request_larger_than_the_channel_errors_alone)
{
    rv_proc *p = start(NULL, NULL);
    static const char *const ids[] = {"s-1", "huge", "s-3", NULL};
    batch b;
    fill(&b, ids);
    size_t big = 3u << 20; /* the channel holds 1 MiB of requests here */
    uint8_t *body = calloc(1, big);
    ck_assert_ptr_nonnull(body);
    b.req[1].body = body;
    b.req[1].body_len = big;
    emitted e = {0};
    rv_proc_score(p, b.reqs, b.resp, b.n, on_emit, &e);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_OK);
    ck_assert_int_eq(b.res[2].status, RV_STATUS_OK);
    ck_assert_int_eq(b.res[1].status, RV_STATUS_ERROR);
    ck_assert_msg(strstr(b.errors[1], "does not fit the model channel"), "%s", b.errors[1]);
    ck_assert_int_eq(e.n, 2);
    ck_assert_int_eq(e.about[0], 0);
    ck_assert_int_eq(e.about[1], 2);
    ck_assert_uint_eq(rv_proc_exits(p), 0);
    free(body);
    rv_proc_stop(p, 1000);
}
END_TEST

START_TEST(a_request_a_process_died_on_is_never_sent_again)
{
    rv_proc *p = start("segv", "p-2");
    static const char *const first[] = {"p-1", "p-2", "p-3", NULL};
    batch b;
    fill(&b, first);
    rv_proc_score(p, b.reqs, b.resp, b.n, on_emit, &(emitted){0});
    for (size_t i = 0; i < b.n; i++) {
        ck_assert_int_eq(b.res[i].status, RV_STATUS_ERROR);
        ck_assert_msg(strstr(b.errors[i], DIED), "%s", b.errors[i]);
    }
    ck_assert_uint_eq(rv_proc_exits(p), 1);
    rv_proc_status st;
    rv_proc_get_status(p, &st);
    if (DIED_KIND) {
        ck_assert_int_eq(st.last_exit_kind, DIED_KIND);
        ck_assert_str_eq(rv_proc_exit_kind_name(st.last_exit_kind), "SIGSEGV");
    }
    ck_assert_int_gt(st.last_pid, 0);
    wait_live(p);

    /* the crashed batch again, among others: its requests error without
     * reaching the process (p-2 was the poison, but any of them may be);
     * the other's emit still names its own request */
    static const char *const again[] = {"p-1", "p-4", "p-2", "p-3", NULL};
    fill(&b, again);
    emitted e = {0};
    rv_proc_score(p, b.reqs, b.resp, b.n, on_emit, &e);
    for (size_t i = 0; i < b.n; i++) {
        if (i == 1) {
            ck_assert_msg(b.res[i].status == RV_STATUS_OK, "%s: %s", b.ids[i], b.errors[i]);
            continue;
        }
        ck_assert_int_eq(b.res[i].status, RV_STATUS_ERROR);
        ck_assert_msg(strstr(b.errors[i], DIED) &&
                          strstr(b.errors[i], "on a batch with this request before (never sent "
                                              "again)"),
                      "%s", b.errors[i]);
    }
    ck_assert_int_eq(e.n, 1);
    ck_assert_int_eq(e.about[0], 1);
    ck_assert_str_eq(e.key[0], "p-4");
    ck_assert_uint_eq(rv_proc_exits(p), 1);
    rv_proc_get_status(p, &st);
    ck_assert_uint_eq(st.restarts, 1);
    rv_proc_stop(p, 1000);
}
END_TEST

/* r-1..r-10 were read recently; the process dies on r-5 (and, in the
 * second case, on r-7 too, which it has not seen yet). */
static rv_recent *recent_ten(void)
{
    rv_recent *r = rv_recent_new(64);
    ck_assert_ptr_nonnull(r);
    for (int i = 1; i <= 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "r-%d", i);
        rv_recent_add(r, id, "{\"x\": 2}", 8);
    }
    return r;
}

START_TEST(a_restart_warms_up_on_recent_requests_but_not_the_lost_ones)
{
    rv_recent *recent = recent_ten();
    rv_proc *p = start("segv", "r-5");
    rv_proc_set_recent(p, recent);
    static const char *const ids[] = {"r-5", NULL};
    batch b;
    fill(&b, ids);
    rv_proc_score(p, b.reqs, b.resp, b.n, NULL, NULL);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_ERROR);
    wait_live(p);
    /* warming up on r-5 would have killed it again */
    ck_assert_uint_eq(rv_proc_exits(p), 1);
    rv_proc_stop(p, 1000);
    rv_recent_free(recent);
}
END_TEST

START_TEST(a_warm_up_that_meets_poison_restarts_and_remembers_it)
{
    rv_recent *recent = recent_ten();
    rv_proc *p = start("segv", "r-5,r-7");
    rv_proc_set_recent(p, recent);
    static const char *const ids[] = {"r-5", NULL};
    batch b;
    fill(&b, ids);
    rv_proc_score(p, b.reqs, b.resp, b.n, NULL, NULL);
    wait_live(p);
    /* the warm-up's first batch held r-7: a second death, then live */
    ck_assert_uint_eq(rv_proc_exits(p), 2);
    static const char *const next[] = {"r-7", "r-11", NULL};
    fill(&b, next);
    rv_proc_score(p, b.reqs, b.resp, b.n, NULL, NULL);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_ERROR);
    ck_assert_msg(strstr(b.errors[0], "never sent again"), "%s", b.errors[0]);
    ck_assert_int_eq(b.res[1].status, RV_STATUS_OK);
    ck_assert_uint_eq(rv_proc_exits(p), 2);
    rv_proc_stop(p, 1000);
    rv_recent_free(recent);
}
END_TEST

/* Stopping a process lets the plugin destroy its instance (SIGTERM taken
 * between calls), then reaps it. */
/* The dispatcher's hand-off: a batch sent while the worker waits wakes it
 * with the answer (one wake-up), and the answers and emits are those
 * rv_proc_score gives; a crash of a handed-off batch is the crash path, and
 * its requests are never handed off again (the worker scores them with
 * rv_proc_score, which errors them without sending). */
START_TEST(a_batch_handed_off_is_collected_like_a_scored_one)
{
    rv_proc *p = start("segv", "h-9");
    int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ck_assert_int_ge(wake_fd, 0);
    ck_assert_int_eq(rv_proc_idle_wait(p, wake_fd, 10), 0); /* nothing: the timeout */

    static const char *const ids[] = {"h-1", "h-2", "h-3", NULL};
    batch b;
    fill(&b, ids);
    ck_assert_uint_eq(rv_proc_send(p, b.reqs, b.n), 3);
    ck_assert_int_eq(rv_proc_idle_wait(p, wake_fd, 5000), 1); /* the answer woke it */
    emitted e = {0};
    rv_proc_collect(p, b.reqs, b.resp, b.n, on_emit, &e);
    ck_assert_int_eq(e.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(b.res[i].status == RV_STATUS_OK, "%s", b.errors[i]);
        ck_assert_int_eq(e.about[i], i);
        ck_assert_str_eq(e.key[i], ids[i]);
    }
    /* its wake-up was taken: the next wait is for new work again */
    ck_assert_int_eq(rv_proc_idle_wait(p, wake_fd, 10), 0);
    uint64_t one = 1;
    ck_assert_int_eq(write(wake_fd, &one, sizeof one), sizeof one);
    ck_assert_int_eq(rv_proc_idle_wait(p, wake_fd, 5000), 1);

    /* an answer taken without waiting (it was in already) leaves its
     * wake-up count behind: that count does not wake the next wait */
    ck_assert_uint_eq(rv_proc_send(p, b.reqs, b.n), 3);
    nanosleep(&(struct timespec){0, 50000000}, NULL);
    rv_proc_collect(p, b.reqs, b.resp, b.n, NULL, NULL);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_OK);
    ck_assert_int_eq(rv_proc_idle_wait(p, wake_fd, 10), 0);

    /* more than a batch: as many as fit one (max_batch 8) */
    static const char *const ten[] = {"t-1", "t-2", "t-3", "t-4",  "t-5", "t-6",
                                      "t-7", "t-8", "t-9", "t-10", NULL};
    fill(&b, ten);
    size_t sent = rv_proc_send(p, b.reqs, b.n);
    ck_assert_uint_eq(sent, 8);
    rv_proc_collect(p, b.reqs, b.resp, sent, NULL, NULL);
    for (size_t i = 0; i < sent; i++)
        ck_assert_int_eq(b.res[i].status, RV_STATUS_OK);

    /* the process dies on a handed-off batch */
    static const char *const poison[] = {"h-8", "h-9", NULL};
    fill(&b, poison);
    ck_assert_uint_eq(rv_proc_send(p, b.reqs, b.n), 2);
    rv_proc_collect(p, b.reqs, b.resp, b.n, NULL, NULL);
    for (size_t i = 0; i < b.n; i++) {
        ck_assert_int_eq(b.res[i].status, RV_STATUS_ERROR);
        ck_assert_msg(strstr(b.errors[i], DIED), "%s", b.errors[i]);
    }
    ck_assert_uint_eq(rv_proc_exits(p), 1);
    ck_assert_uint_eq(rv_proc_send(p, b.reqs, 1), 0); /* not live: nothing goes */
    wait_live(p);
    static const char *const after[] = {"h-10", "h-9", NULL};
    fill(&b, after);
    ck_assert_uint_eq(rv_proc_send(p, b.reqs, b.n), 0); /* h-9 is one it was lost on */
    ck_assert_uint_eq(rv_proc_send(p, b.reqs, 1), 1);   /* h-10 alone goes */
    rv_proc_collect(p, b.reqs, b.resp, 1, NULL, NULL);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_OK);
    ck_assert_uint_eq(rv_proc_exits(p), 1);
    close(wake_fd);
    rv_proc_stop(p, 1000);
}
END_TEST

/* The nice value of every thread of process pid; fails on a thread that
 * has another. */
static int process_nice(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int nice = 0, seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (atoi(e->d_name) <= 0)
            continue;
        errno = 0;
        int n = getpriority(PRIO_PROCESS, (id_t)atoi(e->d_name));
        ck_assert_int_eq(errno, 0);
        ck_assert_msg(!seen++ || n == nice, "threads at nice %d and %d", nice, n);
        nice = n;
    }
    closedir(d);
    return nice;
}

/* Kills p's process (pid), lets a batch of the one request `id` see it
 * die, waits until it is live again: the new process's pid. */
static pid_t crash_and_restart(rv_proc *p, pid_t pid, const char *id)
{
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    const char *ids[] = {id, NULL};
    batch b;
    fill(&b, ids);
    rv_proc_score(p, b.reqs, b.resp, b.n, NULL, NULL); /* sees the death */
    wait_live(p);
    rv_proc_status again;
    rv_proc_get_status(p, &again);
    ck_assert_int_ne(again.pid, pid);
    return again.pid;
}

/* p scores the one request `id`: status ok. */
static void assert_scores(rv_proc *p, const char *id)
{
    const char *ids[] = {id, NULL};
    batch b;
    fill(&b, ids);
    rv_proc_score(p, b.reqs, b.resp, b.n, NULL, NULL);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_OK);
}

/* A nice value set on a model process holds for the one that replaces it
 * after a crash: a fallback model stays behind the preferred one. */
START_TEST(a_restarted_process_keeps_its_nice_value)
{
    rv_proc *p = start(NULL, NULL);
    rv_proc_status st;
    rv_proc_get_status(p, &st);
    ck_assert_int_eq(process_nice(st.pid), 0);
    ck_assert_int_eq(rv_proc_set_nice(p, 7), 0);
    ck_assert_int_eq(process_nice(st.pid), 7);
    pid_t again = crash_and_restart(p, st.pid, "n-1");
    ck_assert_int_eq(process_nice(again), 7);
    assert_scores(p, "n-2"); /* n-1 is never sent again */
    rv_proc_stop(p, 1000);
}
END_TEST

/* A model process kept on a CPU goes live there again after a crash, and
 * is let go with every thread it started meanwhile. */
START_TEST(a_restarted_process_goes_live_on_its_cpu)
{
    cpu_set_t all;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    int cpu = -1; /* the host's last CPU */
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &all))
            cpu = i;
    int anywhere = CPU_COUNT(&all) == 1 ? cpu : -1;
    rv_proc *p = start(NULL, NULL);
    rv_proc_status st;
    rv_proc_get_status(p, &st);
    ck_assert_int_eq(test_kept_on(st.pid), anywhere);
    ck_assert_int_eq(rv_proc_set_cpu(p, cpu, &all), 0);
    ck_assert_int_eq(test_kept_on(st.pid), cpu);
    pid_t again = crash_and_restart(p, st.pid, "c-1");
    ck_assert_int_eq(test_kept_on(again), cpu);
    ck_assert_int_eq(rv_proc_set_cpu(p, -1, &all), 0);
    ck_assert_int_eq(test_kept_on(again), anywhere);
    assert_scores(p, "c-2");
    rv_proc_stop(p, 1000);
}
END_TEST

START_TEST(a_stopped_process_destroys_its_instance)
{
    char *dir = test_tmpdir();
    rv_proc *p = start_logged(NULL, NULL, dir);
    static const char *const ids[] = {"d-1", NULL};
    batch b;
    fill(&b, ids);
    rv_proc_score(p, b.reqs, b.resp, b.n, NULL, NULL);
    ck_assert_int_eq(b.res[0].status, RV_STATUS_OK);
    rv_proc_stop(p, 5000);
    char path[4200], text[256] = "";
    snprintf(path, sizeof path, "%s/creates.log", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    ck_assert_str_eq(text, "m fixture-a\ndestroy fixture-a\n");
    test_rm_rf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proc");
    TCase *tc = tcase_create("processes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, emits_come_back_about_their_request);
    tcase_add_test(tc, a_request_larger_than_the_channel_errors_alone);
    tcase_add_test(tc, a_request_a_process_died_on_is_never_sent_again);
    tcase_add_test(tc, a_restart_warms_up_on_recent_requests_but_not_the_lost_ones);
    tcase_add_test(tc, a_warm_up_that_meets_poison_restarts_and_remembers_it);
    tcase_add_test(tc, a_batch_handed_off_is_collected_like_a_scored_one);
    tcase_add_test(tc, a_restarted_process_keeps_its_nice_value);
    tcase_add_test(tc, a_restarted_process_goes_live_on_its_cpu);
    tcase_add_test(tc, a_stopped_process_destroys_its_instance);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
