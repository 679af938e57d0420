/*
 * test_kvstore.c - the on-disk map: what a commit wrote is there after the
 * store is closed and opened again, an abort leaves nothing, values expire
 * in expiry order, marks commit with the values, and a flood of values far
 * bigger than the bound keeps the file within it, evicting the values
 * soonest to expire first.
 */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvstore.h"
#include "test_helpers.h"

static char err[512];

/* Removes a store's files and its directory. */
static void remove_store(char *dir)
{
    char path[512];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, i ? "lock.mdb" : "data.mdb");
        unlink(path);
    }
    rmdir(dir);
    free(dir);
}

static rv_kvstore *open_in(const char *dir, uint64_t max)
{
    rv_kvstore *s = rv_kvstore_open(dir, max, err, sizeof err);
    ck_assert_msg(s, "open: %s", err);
    return s;
}

static void put(rv_kvstore *s, const char *key, const char *value, int64_t expires)
{
    ck_assert_int_eq(
        rv_kvstore_put(s, key, strlen(key), value, strlen(value) + 1, expires, err, sizeof err),
        RV_KV_OK);
}

/* key's value as a string in a transaction of its own, or NULL. */
static const char *get(rv_kvstore *s, const char *key, int64_t *expires)
{
    size_t len;
    ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
    return rv_kvstore_get(s, key, strlen(key), &len, expires);
}

START_TEST(a_commit_outlives_the_process_an_abort_leaves_nothing)
{
    char *dir = test_tmpdir();
    rv_kvstore *s = open_in(dir, 1 << 20);
    ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
    put(s, "r-1", "answered", 100);
    put(s, "r-2", "labelled", 200);
    ck_assert_int_eq(rv_kvstore_set_mark(s, "labels/0", 41, err, sizeof err), RV_KV_OK);
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
    put(s, "r-3", "never", 300);
    ck_assert_int_eq(rv_kvstore_set_mark(s, "labels/0", 99, err, sizeof err), RV_KV_OK);
    ck_assert_int_eq(rv_kvstore_del(s, "r-1", 3, err, sizeof err), RV_KV_OK);
    rv_kvstore_abort(s);
    rv_kvstore_close(s);

    s = open_in(dir, 1 << 20);
    int64_t expires = 0, mark = 0;
    ck_assert_str_eq(get(s, "r-1", &expires), "answered");
    ck_assert_int_eq(expires, 100);
    ck_assert_str_eq(get(s, "r-2", &expires), "labelled");
    ck_assert_ptr_null(get(s, "r-3", &expires));
    ck_assert_int_eq(rv_kvstore_mark(s, "labels/0", &mark), 0);
    ck_assert_int_eq(mark, 41);
    ck_assert_int_eq(rv_kvstore_mark(s, "labels/1", &mark), -1);
    /* a new value replaces the old and its expiry */
    put(s, "r-1", "again", 50);
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    ck_assert_str_eq(get(s, "r-1", &expires), "again");
    ck_assert_int_eq(expires, 50);
    rv_kvstore_abort(s);
    rv_kvstore_stats st;
    rv_kvstore_stats_get(s, &st);
    ck_assert_uint_eq(st.entries, 2);
    rv_kvstore_close(s);
    remove_store(dir);
}
END_TEST

static void count_expired(void *opaque, const void *key, size_t key_len, const void *value,
                          size_t len)
{
    (void)key;
    (void)key_len;
    ck_assert_uint_eq(len, strlen(value) + 1);
    ++*(int *)opaque;
}

START_TEST(values_expire_in_expiry_order)
{
    char *dir = test_tmpdir();
    rv_kvstore *s = open_in(dir, 1 << 20);
    ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
    put(s, "late", "x", 1000);
    put(s, "early", "x", -5); /* before the clock's zero: still in order */
    put(s, "middle", "x", 500);
    put(s, "moved", "x", 10);
    put(s, "moved", "x", 2000); /* its old expiry no longer counts */
    put(s, "again", "x", 3000);
    put(s, "again", "y", 3000); /* the same expiry: its entry kept as it is */
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    int called = 0;
    ck_assert_int_eq(rv_kvstore_expire(s, 500, 100, count_expired, &called, err, sizeof err), 2);
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    ck_assert_int_eq(called, 2);
    int64_t e;
    ck_assert_ptr_null(get(s, "early", &e));
    ck_assert_ptr_null(get(s, "middle", &e));
    ck_assert_ptr_nonnull(get(s, "late", &e));
    ck_assert_ptr_nonnull(get(s, "moved", &e));
    /* at most max at a time */
    ck_assert_int_eq(rv_kvstore_expire(s, 5000, 1, NULL, NULL, err, sizeof err), 1);
    ck_assert_ptr_null(get(s, "late", &e));
    ck_assert_ptr_nonnull(get(s, "moved", &e));
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    rv_kvstore_stats st;
    rv_kvstore_stats_get(s, &st);
    ck_assert_uint_eq(st.expired, 3);
    ck_assert_uint_eq(st.entries, 2);
    const char *v = get(s, "again", &e);
    ck_assert(v && strcmp(v, "y") == 0 && e == 3000);
    ck_assert_int_eq(rv_kvstore_expire(s, 2500, 100, NULL, NULL, err, sizeof err), 1);
    ck_assert_int_eq(rv_kvstore_expire(s, 3000, 100, NULL, NULL, err, sizeof err), 1);
    ck_assert_ptr_null(get(s, "again", &e));
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    rv_kvstore_stats_get(s, &st);
    ck_assert_uint_eq(st.entries, 0);
    rv_kvstore_close(s);
    remove_store(dir);
}
END_TEST

/* 200,000 values of 200 bytes (about 50 MiB with keys and indexes) into
 * a store of 4 MiB, in batches of 1,000 as a consumer would write them,
 * each batch done again when it did not fit. */
START_TEST(a_flood_stays_within_the_bound)
{
    enum { N = 200000, BATCH = 1000, MAX = 4 << 20 };
    char *dir = test_tmpdir();
    rv_kvstore *s = open_in(dir, MAX);
    char key[32], value[200];
    memset(value, 'v', sizeof value);
    int retries = 0;
    for (int b = 0; b < N / BATCH; b++) {
        for (;;) {
            ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
            rv_kv_status st = RV_KV_OK;
            for (int i = b * BATCH; st == RV_KV_OK && i < (b + 1) * BATCH; i++) {
                int n = snprintf(key, sizeof key, "r-%d", i);
                st = rv_kvstore_put(s, key, (size_t)n, value, sizeof value, i, err, sizeof err);
            }
            if (st == RV_KV_OK)
                st = rv_kvstore_commit(s, err, sizeof err);
            ck_assert_msg(st != RV_KV_ERROR, "batch %d: %s", b, err);
            if (st == RV_KV_OK)
                break;
            retries++;
        }
    }
    rv_kvstore_stats st;
    rv_kvstore_stats_get(s, &st);
    ck_assert_uint_le(st.bytes, MAX);
    ck_assert_uint_gt(st.evicted, N / 2);
    ck_assert_uint_eq(st.entries + st.evicted, N);
    /* the newest are kept, the oldest went first */
    int64_t e;
    ck_assert_ptr_nonnull(get(s, "r-199999", &e));
    ck_assert_ptr_null(get(s, "r-0", &e));
    rv_kvstore_abort(s);
    rv_kvstore_close(s);
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_msg(sb.st_size <= MAX, "the file holds %lld bytes, bound %d", (long long)sb.st_size,
                  MAX);
    printf("flood: %d values of %zu bytes into %d bytes: %llu kept, %llu evicted, %llu bytes in "
           "use, file %lld bytes, %d batches done again\n",
           N, sizeof value, MAX, (unsigned long long)st.entries, (unsigned long long)st.evicted,
           (unsigned long long)st.bytes, (long long)sb.st_size, retries);
    remove_store(dir);
}
END_TEST

/* A transaction bigger than the store: aborted, room made, the caller told
 * to do it again; what was committed before stays consistent. */
START_TEST(a_batch_too_big_is_aborted_and_room_made)
{
    enum { MAX = 1 << 20 };
    char *dir = test_tmpdir();
    rv_kvstore *s = open_in(dir, MAX);
    char key[32], value[200];
    memset(value, 'v', sizeof value);
    ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "old-%04d", i);
        ck_assert_int_eq(rv_kvstore_put(s, key, (size_t)n, value, sizeof value, i, err, sizeof err),
                         RV_KV_OK);
    }
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    rv_kv_status st = RV_KV_OK;
    int i = 0;
    for (; st == RV_KV_OK && i < 100000; i++) {
        int n = snprintf(key, sizeof key, "new-%06d", i);
        st = rv_kvstore_put(s, key, (size_t)n, value, sizeof value, 1000 + i, err, sizeof err);
    }
    ck_assert_int_eq(st, RV_KV_RETRY);
    rv_kvstore_stats stats;
    rv_kvstore_stats_get(s, &stats);
    ck_assert_uint_le(stats.bytes, MAX / 4);
    ck_assert_uint_gt(stats.evicted, 0);
    int64_t e;
    ck_assert_ptr_null(get(s, "new-000000", &e));  /* the big batch is gone */
    ck_assert_ptr_nonnull(get(s, "old-0999", &e)); /* the newest old ones stay */
    rv_kvstore_abort(s);
    /* done again in parts, it fits */
    for (int part = 0; part < i; part += 500) {
        ck_assert_int_eq(rv_kvstore_begin(s, err, sizeof err), 0);
        for (int j = part; j < part + 500 && j < i; j++) {
            int n = snprintf(key, sizeof key, "new-%06d", j);
            ck_assert_int_eq(
                rv_kvstore_put(s, key, (size_t)n, value, sizeof value, 1000 + j, err, sizeof err),
                RV_KV_OK);
        }
        ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    }
    rv_kvstore_close(s);
    remove_store(dir);
}
END_TEST

START_TEST(bad_keys_and_dirs_are_refused)
{
    ck_assert_ptr_null(rv_kvstore_open("/proc/no/such/dir", 1 << 20, err, sizeof err));
    ck_assert_msg(strstr(err, "/proc/no/such/dir"), "%s", err);
    char *dir = test_tmpdir();
    rv_kvstore *s = open_in(dir, 1 << 20);
    char big[RV_KVSTORE_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    ck_assert_int_eq(rv_kvstore_put(s, big, sizeof big, "v", 1, 0, err, sizeof err), RV_KV_ERROR);
    ck_assert_msg(strstr(err, "key of 401 bytes"), "%s", err);
    ck_assert_int_eq(rv_kvstore_put(s, "", 0, "v", 1, 0, err, sizeof err), RV_KV_ERROR);
    rv_kvstore_close(s);
    remove_store(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kvstore");
    TCase *tc = tcase_create("kvstore");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_commit_outlives_the_process_an_abort_leaves_nothing);
    tcase_add_test(tc, values_expire_in_expiry_order);
    tcase_add_test(tc, a_flood_stays_within_the_bound);
    tcase_add_test(tc, a_batch_too_big_is_aborted_and_room_made);
    tcase_add_test(tc, bad_keys_and_dirs_are_refused);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
