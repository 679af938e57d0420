/* test_helpers.h - small helpers shared by the check tests. */
#ifndef RV_TEST_HELPERS_H
#define RV_TEST_HELPERS_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* Model processes run the rendezvous binary in its model-runner role, not
 * this test program. */
#ifdef RV_RUNNER
__attribute__((constructor)) static void test_set_runner(void)
{
    rv_proc_set_runner(RV_RUNNER);
}
#endif

/* A fixed-seed pseudo-random sequence (xorshift64) for property tests. */
static inline uint64_t test_xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A fresh temporary directory; the caller frees the string. */
static inline char *test_tmpdir(void)
{
    char *d = strdup("/tmp/rv-test-XXXXXX");
    if (!mkdtemp(d))
        abort();
    return d;
}

/* Removes a test_tmpdir and frees its string; aborts if it cannot. */
static inline void test_rmdir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        abort();
    free(dir);
}

/* Writes text to path (created or truncated); aborts if it cannot. */
static inline void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

/* Copies src over dst by rewriting dst in place (same inode), the way
 * `cp` replaces a file that a running process may have mapped. */
static inline int test_copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    return 0;
}

/* Removes dir and everything under it. */
static inline void test_rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#ifdef CHECK_H
/* The one CPU thread (or process) id is kept on, or -1 when it may run
 * on more than one. */
static inline int test_kept_on(pid_t id)
{
    ck_assert_int_gt(id, 0);
    cpu_set_t s;
    ck_assert_int_eq(sched_getaffinity(id, sizeof s, &s), 0);
    for (int i = 0; CPU_COUNT(&s) == 1 && i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &s))
            return i;
    return -1;
}

/* Runs a suite the way every test program here does; the exit status. */
static inline int test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
#endif

#endif
