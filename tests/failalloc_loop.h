/*
 * failalloc_loop.h - the loop of test_failalloc.c: an operation run once
 * with nothing failing (its baseline), then once per N in a child process
 * of its own with the Nth allocation failing (failalloc.h), each outcome
 * classified (a clean failure, absorbed, a leak, a crash, ...). Used with
 * check: failures are check assertions.
 */
#ifndef RV_FAILALLOC_LOOP_H
#define RV_FAILALLOC_LOOP_H

#include <stddef.h>

/* The largest N tried. */
#define FAILALLOC_MAX_N 20000

/* An operation under test, and what it takes to run and judge it. */
typedef struct op {
    const char *what;
    int (*prepare)(void *ctx);                       /* unarmed, may be NULL */
    void *(*run)(void *ctx, char *msg, size_t size); /* armed: the operation */
    void (*release)(void *ctx, void *result);        /* unarmed, result != NULL */
    void (*finish)(void *ctx);                       /* unarmed, always */
    void (*fingerprint)(void *ctx, void *result, char *out, size_t size);
    void *ctx;
    int must_fail; /* the operation fails anyway (a config with mistakes) */
    char baseline[8192];
} op;

/* What a loop over N found. */
typedef struct loop_result {
    long total; /* allocations when nothing fails */
    long end;   /* the first N not reached */
    int clean, absorbed, bad;
    char report[8192]; /* " N=..: outcome;" for every bad N */
} loop_result;

/* Runs the operation once unarmed (the baseline, which must succeed, or
 * fail when must_fail, and leave nothing behind), then once per N in a
 * child of its own, until an N is not reached. */
void failalloc_run_loop(op *o, loop_result *r);

/* The loop, and every N must have failed cleanly (or been absorbed);
 * FAILALLOC_N=n runs only that N, in this process, FAILALLOC_START=n
 * starts the loop at n. */
void failalloc_run_all(op *o);

#endif
