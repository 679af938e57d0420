/*
 * failalloc_loop.c - the loop over N of failalloc_loop.h: children, their
 * outcomes, the report.
 */
#include "failalloc_loop.h"

#include <check.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errbuf.h"
#include "failalloc.h"

/* Child exit statuses; out of the range sanitizers and exit(1) use, so
 * that a child that died any other way is never taken for an outcome. */
enum {
    OUT_CLEAN_FAIL = 64, /* failed with a message: what is wanted */
    OUT_NOT_REACHED,     /* N beyond the operation's allocations: the loop ends */
    OUT_ABSORBED,        /* fired, succeeded with the normal result */
    OUT_SILENT_DAMAGE,   /* fired, succeeded with another result */
    OUT_NO_MESSAGE,      /* failed without saying why */
    OUT_UNEXPECTED,      /* failed though nothing was injected */
    OUT_LEAK,            /* blocks left after release (counted by failalloc) */
    OUT_PREPARE,         /* the unarmed preparation failed */
    OUT_ACCEPTED,        /* fired, and what must fail succeeded */
    OUT_LSAN = 23,       /* LeakSanitizer's exit code */
};

static const char *outcome_name(int out)
{
    switch (out) {
    case OUT_CLEAN_FAIL: return "clean failure";
    case OUT_NOT_REACHED: return "not reached";
    case OUT_ABSORBED: return "absorbed";
    case OUT_SILENT_DAMAGE: return "succeeded with a damaged result";
    case OUT_NO_MESSAGE: return "failed without a message";
    case OUT_UNEXPECTED: return "failed without an injected failure";
    case OUT_LEAK: return "leak (blocks left after release)";
    case OUT_PREPARE: return "preparation failed";
    case OUT_ACCEPTED: return "succeeded where it must fail";
    case OUT_LSAN: return "leak reported by LeakSanitizer";
    default: return "?";
    }
}

/* The whole of one attempt, in the child; returns its outcome. */
static int attempt(op *o, long n)
{
    if (o->prepare && o->prepare(o->ctx) != 0)
        return OUT_PREPARE;
    char msg[4 * RV_ERR_SIZE] = "";
    failalloc_arm(n);
    void *res = o->run(o->ctx, msg, sizeof msg);
    failalloc_disarm();
    int fired = failalloc_fired(), out;
    if (!fired) {
        /* N is past the operation's last allocation: it ends as it does
         * when nothing fails */
        out = !res == !!o->must_fail ? OUT_NOT_REACHED : OUT_UNEXPECTED;
        if (out == OUT_UNEXPECTED)
            fprintf(stderr, "failalloc %s: N=%ld: %s\n", o->what, n, res ? "succeeded" : msg);
    } else if (!res) {
        out = msg[0] ? OUT_CLEAN_FAIL : OUT_NO_MESSAGE;
        if (out == OUT_CLEAN_FAIL && !strstr(msg, "memory"))
            fprintf(stderr,
                    "failalloc %s: N=%ld: note: the message does not say out of memory: %s\n",
                    o->what, n, msg);
    } else if (o->must_fail) {
        out = OUT_ACCEPTED;
    } else {
        char fp[sizeof o->baseline];
        o->fingerprint(o->ctx, res, fp, sizeof fp);
        out = strcmp(fp, o->baseline) == 0 ? OUT_ABSORBED : OUT_SILENT_DAMAGE;
        if (out == OUT_SILENT_DAMAGE)
            fprintf(stderr, "failalloc %s: N=%ld: result after the failure:\n%s\nnormal:\n%s\n",
                    o->what, n, fp, o->baseline);
    }
    if (res)
        o->release(o->ctx, res);
    if (o->finish)
        o->finish(o->ctx);
    size_t bytes;
    long live = failalloc_live_blocks(&bytes);
    if (live) {
        fprintf(stderr, "failalloc %s: N=%ld (%s): %ld block(s), %zu bytes left allocated\n",
                o->what, n, outcome_name(out), live, bytes);
        if (out == OUT_CLEAN_FAIL || out == OUT_ABSORBED || out == OUT_NOT_REACHED)
            out = OUT_LEAK;
    }
    return out;
}

static int run_child(op *o, long n, int *signo)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        ck_abort_msg("fork: %s", strerror(errno));
    if (pid == 0)
        exit(attempt(o, n)); /* exit, not _exit: the leak sanitizer checks at exit */
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            ck_abort_msg("waitpid: %s", strerror(errno));
    *signo = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One outcome in words, for the report. */
static int describe(char *out, size_t size, long n, int status, int signo)
{
    if (signo)
        return snprintf(out, size, " N=%ld: killed by signal %d;", n, signo);
    const char *name = outcome_name(status);
    if (strcmp(name, "?") != 0)
        return snprintf(out, size, " N=%ld: %s;", n, name);
    return snprintf(out, size, " N=%ld: exit status %d (a sanitizer report?);", n, status);
}

void failalloc_run_loop(op *o, loop_result *r)
{
    memset(r, 0, sizeof *r);
    /* baseline, in this process */
    ck_assert_msg(!o->prepare || o->prepare(o->ctx) == 0, "%s: preparation failed", o->what);
    char msg[4 * RV_ERR_SIZE] = "";
    failalloc_arm(0);
    void *res = o->run(o->ctx, msg, sizeof msg);
    failalloc_disarm();
    r->total = failalloc_count();
    if (o->must_fail) {
        ck_assert_msg(res == NULL, "%s succeeds", o->what);
        ck_assert_msg(msg[0], "%s fails without a message", o->what);
    } else {
        ck_assert_msg(res != NULL, "%s fails without any injected failure: %s", o->what, msg);
        o->fingerprint(o->ctx, res, o->baseline, sizeof o->baseline);
        o->release(o->ctx, res);
    }
    if (o->finish)
        o->finish(o->ctx);
    size_t bytes;
    long live = failalloc_live_blocks(&bytes);
    ck_assert_msg(live == 0, "%s leaks %ld block(s) (%zu bytes) when nothing fails", o->what, live,
                  bytes);
    ck_assert_msg(r->total > 0, "%s allocates nothing through the wrappers: --wrap not in effect?",
                  o->what);

    size_t used = 0;
    long n, start = getenv("FAILALLOC_START") ? atol(getenv("FAILALLOC_START")) : 1;
    for (n = start > 0 ? start : 1; n <= FAILALLOC_MAX_N; n++) {
        int signo;
        int out = run_child(o, n, &signo);
        if (out == OUT_NOT_REACHED)
            break;
        if (out == OUT_CLEAN_FAIL) {
            r->clean++;
            continue;
        }
        if (out == OUT_ABSORBED) {
            /* no harm seen in the result; shown, since it may still be a
             * silent degradation the fingerprint does not cover */
            fprintf(stderr, "failalloc %s: N=%ld: absorbed: succeeded with the normal result\n",
                    o->what, n);
            r->absorbed++;
            continue;
        }
        r->bad++;
        if (used < sizeof r->report - 200)
            used += (size_t)describe(r->report + used, sizeof r->report - used, n, out, signo);
    }
    r->end = n;
    fprintf(stderr,
            "failalloc %s: %ld allocation(s) when nothing fails; %d clean failure(s), %d "
            "absorbed, %d bad; loop ended at N=%ld\n",
            o->what, r->total, r->clean, r->absorbed, r->bad, n);
}

void failalloc_run_all(op *o)
{
    /* FAILALLOC_N=n runs only that N, in this process: for a debugger
     * (with CK_FORK=no) */
    const char *only = getenv("FAILALLOC_N");
    if (only) {
        long n = atol(only);
        int out = attempt(o, n);
        ck_assert_msg(out == OUT_CLEAN_FAIL || out == OUT_ABSORBED || out == OUT_NOT_REACHED,
                      "%s: N=%ld: %s", o->what, n, outcome_name(out));
        return;
    }
    static loop_result r;
    failalloc_run_loop(o, &r);
    ck_assert_msg(r.end <= FAILALLOC_MAX_N, "%s: the loop did not end by N=%d", o->what,
                  FAILALLOC_MAX_N);
    ck_assert_msg(r.bad == 0, "%s: %d N(s) did not fail cleanly:%s", o->what, r.bad, r.report);
    ck_assert_msg(r.clean > 0, "%s: no injected failure made it fail", o->what);
    /* the same operation allocates the same way every time */
    ck_assert_int_eq(r.end, r.total + 1);
}
