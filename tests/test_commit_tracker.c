/*
 * test_commit_tracker.c - offsets are committed only over a prefix of done
 * requests, per partition; a revoked partition's late completions are
 * ignored.
 */
#include <check.h>

#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "commit_tracker.h"
#include "test_helpers.h"

static int64_t take_offset(rv_commit_tracker *t, const char *topic, int32_t p)
{
    rd_kafka_topic_partition_list_t *l = rv_commit_tracker_take(t, 0);
    int64_t off = -100;
    if (l) {
        rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(l, topic, p);
        if (e)
            off = e->offset;
        rd_kafka_topic_partition_list_destroy(l);
    }
    return off;
}

START_TEST(commits_advance_over_done_prefix_only)
{
    rv_commit_tracker *t = rv_commit_tracker_new(NULL);
    uint64_t ep = 0;
    for (int64_t o = 10; o < 15; o++)
        ep = rv_commit_tracker_add(t, "req", 0, o);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 5);
    rv_commit_tracker_done(t, "req", 0, 12, ep);
    rv_commit_tracker_done(t, "req", 0, 11, ep);
    ck_assert_int_eq(take_offset(t, "req", 0), -100); /* 10 still in flight */
    rv_commit_tracker_done(t, "req", 0, 10, ep);
    ck_assert_int_eq(take_offset(t, "req", 0), 13);   /* next to read */
    ck_assert_int_eq(take_offset(t, "req", 0), -100); /* nothing new */
    rv_commit_tracker_done(t, "req", 0, 14, ep);
    rv_commit_tracker_done(t, "req", 0, 14, ep); /* twice is harmless */
    ck_assert_int_eq(take_offset(t, "req", 0), -100);
    rv_commit_tracker_done(t, "req", 0, 13, ep);
    ck_assert_int_eq(take_offset(t, "req", 0), 15);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 0);
    rv_commit_tracker_free(t);
}
END_TEST

START_TEST(partitions_are_independent_and_revocation_starts_an_epoch)
{
    rv_commit_tracker *t = rv_commit_tracker_new(NULL);
    uint64_t e0 = rv_commit_tracker_add(t, "req", 0, 1);
    uint64_t e1 = rv_commit_tracker_add(t, "req", 1, 7);
    rv_commit_tracker_done(t, "req", 1, 7, e1);
    ck_assert_int_eq(take_offset(t, "req", 1), 8);
    rv_commit_tracker_forget(t, "req", 0);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 0);
    uint64_t e0b = rv_commit_tracker_add(t, "req", 0, 1);
    ck_assert_uint_ne(e0, e0b);
    rv_commit_tracker_done(t, "req", 0, 1, e0); /* from before the revocation */
    ck_assert_int_eq(take_offset(t, "req", 0), -100);
    rv_commit_tracker_done(t, "req", 0, 1, e0b);
    ck_assert_int_eq(take_offset(t, "req", 0), 2);
    rv_commit_tracker_free(t);
}
END_TEST

/* A failed commit is taken again (at the partition's newest offset), a
 * successful one is not, a forgotten partition is left to its new owner;
 * take(all) gives every partition that has an offset. */
START_TEST(a_failed_commit_is_taken_again)
{
    rv_commit_tracker *t = rv_commit_tracker_new(NULL);
    uint64_t e0 = rv_commit_tracker_add(t, "req", 0, 5);
    uint64_t e1 = rv_commit_tracker_add(t, "req", 1, 9);
    rv_commit_tracker_done(t, "req", 0, 5, e0);
    rv_commit_tracker_done(t, "req", 1, 9, e1);
    rd_kafka_topic_partition_list_t *l = rv_commit_tracker_take(t, 0);
    ck_assert_int_eq(l->cnt, 2);
    ck_assert_uint_eq(rv_commit_tracker_retry(t, RD_KAFKA_RESP_ERR_NO_ERROR, l), 0);
    ck_assert_ptr_null(rv_commit_tracker_take(t, 0));
    l->elems[1].err = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT; /* one partition failed */
    ck_assert_uint_eq(rv_commit_tracker_retry(t, RD_KAFKA_RESP_ERR_NO_ERROR, l), 1);
    rd_kafka_topic_partition_t *again = rd_kafka_topic_partition_list_find(l, "req", 1);
    ck_assert_int_eq(take_offset(t, "req", 1), again->offset);
    /* the whole commit failed, and partition 0 advanced meanwhile */
    uint64_t e0b = rv_commit_tracker_add(t, "req", 0, 6);
    rv_commit_tracker_done(t, "req", 0, 6, e0b);
    ck_assert_uint_eq(rv_commit_tracker_retry(t, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, l), 2);
    rv_commit_tracker_forget(t, "req", 1);
    rd_kafka_topic_partition_list_t *l2 = rv_commit_tracker_take(t, 0);
    ck_assert_int_eq(l2->cnt, 1);
    ck_assert_int_eq(l2->elems[0].offset, 7);
    rd_kafka_topic_partition_list_destroy(l2);
    ck_assert_uint_eq(rv_commit_tracker_retry(t, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, l), 1);
    rd_kafka_topic_partition_list_destroy(l);
    ck_assert_int_eq(take_offset(t, "req", 0), 7);
    l = rv_commit_tracker_take(t, 1); /* all: partition 0 only, 1 was forgotten */
    ck_assert_int_eq(l->cnt, 1);
    ck_assert_int_eq(l->elems[0].offset, 7);
    rd_kafka_topic_partition_list_destroy(l);
    rv_commit_tracker_free(t);
}
END_TEST

START_TEST(many_out_of_order)
{
    rv_commit_tracker *t = rv_commit_tracker_new(NULL);
    uint64_t ep = 0;
    for (int64_t o = 0; o < 5000; o++)
        ep = rv_commit_tracker_add(t, "req", 3, o);
    for (int64_t o = 4999; o >= 1; o--)
        rv_commit_tracker_done(t, "req", 3, o, ep);
    ck_assert_int_eq(take_offset(t, "req", 3), -100);
    rv_commit_tracker_done(t, "req", 3, 0, ep);
    ck_assert_int_eq(take_offset(t, "req", 3), 5000);
    rv_commit_tracker_free(t);
}
END_TEST

typedef struct done_later {
    rv_commit_tracker *t;
    uint64_t epoch;
} done_later;

static void *mark_done_later(void *arg)
{
    done_later *d = arg;
    usleep(50 * 1000);
    rv_commit_tracker_done(d->t, "req", 0, 2, d->epoch);
    return NULL;
}

/* The input's wait at max_in_flight: back at once when below the limit,
 * woken by the completion that brings it below, else back at the timeout. */
/* Payloads: small ints boxed, freed by counting. */
static int freed;
static void free_box(void *p)
{
    freed++;
    free(p);
}
static void *box(int v)
{
    int *p = malloc(sizeof *p);
    *p = v;
    return p;
}

/* Exactly-once: a payload comes out only once every offset before it in its
 * partition is done, in offset order, with the offsets that cover exactly
 * the payloads taken; a forgotten partition's payloads, waiting or passed
 * and not taken, are freed and never come out. */
START_TEST(payloads_come_out_in_order_with_their_offsets)
{
    freed = 0;
    rv_commit_tracker *t = rv_commit_tracker_new(free_box);
    uint64_t e0 = 0, e1 = 0;
    for (int64_t o = 0; o < 4; o++)
        e0 = rv_commit_tracker_add(t, "req", 0, o);
    e1 = rv_commit_tracker_add(t, "req", 1, 50);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 0, 2, e0, box(2)), 0);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 0, 1, e0, box(1)), 0);
    size_t n;
    rd_kafka_topic_partition_list_t *offs;
    void **ready = rv_commit_tracker_take_ready(t, &n, &offs);
    ck_assert_uint_eq(n, 0); /* 0 is still in flight: nothing passes */
    ck_assert_ptr_null(offs);
    free(ready);
    rv_commit_tracker_done(t, "req", 0, 0, e0); /* a request without records */
    ready = rv_commit_tracker_take_ready(t, &n, &offs);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(*(int *)ready[0], 1);
    ck_assert_int_eq(*(int *)ready[1], 2);
    ck_assert_ptr_nonnull(offs);
    ck_assert_int_eq(offs->cnt, 1);
    ck_assert_int_eq(rd_kafka_topic_partition_list_find(offs, "req", 0)->offset, 3);
    free_box(ready[0]);
    free_box(ready[1]);
    free(ready);
    rd_kafka_topic_partition_list_destroy(offs);
    /* an older epoch's payload stays the caller's */
    void *stale = box(9);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 1, 50, e1 + 1000, stale), -1);
    free_box(stale);
    /* passed but not taken, then forgotten: freed, and no offset comes out */
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 1, 50, e1, box(50)), 0);
    int before = freed;
    rv_commit_tracker_forget(t, "req", 1);
    ck_assert_int_eq(freed, before + 1);
    /* waiting behind an offset in flight, then forgotten: freed too */
    rv_commit_tracker_add(t, "req", 0, 4);
    rv_commit_tracker_add(t, "req", 0, 5);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 0, 5, e0, box(5)), 0);
    rv_commit_tracker_forget(t, "req", 0);
    ck_assert_int_eq(freed, before + 2);
    ready = rv_commit_tracker_take_ready(t, &n, &offs);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(offs);
    free(ready);
    /* what is left at the end is freed by the tracker */
    uint64_t e = rv_commit_tracker_add(t, "req", 2, 0);
    rv_commit_tracker_done_with(t, "req", 2, 0, e, box(0));
    rv_commit_tracker_free(t);
    ck_assert_int_eq(freed, before + 3);
}
END_TEST

/* Exactly-once: a request whose records wait for a transaction counts as
 * pending (against max_in_flight) until the transaction is over, or its
 * partition forgotten, waiting or passed. */
START_TEST(a_request_with_a_payload_is_pending_until_released)
{
    freed = 0;
    rv_commit_tracker *t = rv_commit_tracker_new(free_box);
    uint64_t e = 0;
    for (int64_t o = 0; o < 3; o++)
        e = rv_commit_tracker_add(t, "req", 0, o);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 0, 0, e, box(0)), 0);
    rv_commit_tracker_done(t, "req", 0, 1, e); /* no records: over at once */
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 0, 2, e, box(2)), 0);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 2);
    size_t n;
    rd_kafka_topic_partition_list_t *offs;
    void **ready = rv_commit_tracker_take_ready(t, &n, &offs);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 2); /* in the transaction */
    for (size_t i = 0; i < n; i++)
        free_box(ready[i]);
    free(ready);
    rd_kafka_topic_partition_list_destroy(offs);
    ck_assert_uint_eq(rv_commit_tracker_wait_below(t, 2, 10), 2);
    rv_commit_tracker_release(t, 2); /* committed */
    ck_assert_uint_eq(rv_commit_tracker_wait_below(t, 2, 5000), 0);
    /* forgotten: waiting behind one in flight, and passed but not taken */
    uint64_t e1 = 0;
    for (int64_t o = 0; o < 2; o++)
        e1 = rv_commit_tracker_add(t, "req", 1, o);
    e = rv_commit_tracker_add(t, "req", 0, 3);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 1, 1, e1, box(11)), 0);
    ck_assert_int_eq(rv_commit_tracker_done_with(t, "req", 0, 3, e, box(3)), 0);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 3);
    rv_commit_tracker_forget(t, "req", 1);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 1);
    rv_commit_tracker_forget(t, "req", 0);
    ck_assert_uint_eq(rv_commit_tracker_pending(t), 0);
    ck_assert_int_eq(freed, 4);
    rv_commit_tracker_free(t);
}
END_TEST

START_TEST(wait_below_wakes_on_the_completion_that_makes_room)
{
    rv_commit_tracker *t = rv_commit_tracker_new(NULL);
    uint64_t ep = 0;
    for (int64_t o = 0; o < 3; o++)
        ep = rv_commit_tracker_add(t, "req", 0, o);
    ck_assert_uint_eq(rv_commit_tracker_wait_below(t, 4, 5000), 3);
    int64_t t0 = rv_mono_ms();
    ck_assert_uint_eq(rv_commit_tracker_wait_below(t, 3, 30), 3);
    ck_assert_int_ge(rv_mono_ms() - t0, 30);
    done_later d = {t, ep};
    pthread_t th;
    pthread_create(&th, NULL, mark_done_later, &d);
    t0 = rv_mono_ms();
    ck_assert_uint_eq(rv_commit_tracker_wait_below(t, 3, 10000), 2);
    ck_assert_int_lt(rv_mono_ms() - t0, 5000); /* woken, not timed out */
    pthread_join(th, NULL);
    rv_commit_tracker_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("commit_tracker");
    TCase *tc = tcase_create("offsets");
    tcase_add_test(tc, commits_advance_over_done_prefix_only);
    tcase_add_test(tc, partitions_are_independent_and_revocation_starts_an_epoch);
    tcase_add_test(tc, a_failed_commit_is_taken_again);
    tcase_add_test(tc, many_out_of_order);
    tcase_add_test(tc, wait_below_wakes_on_the_completion_that_makes_room);
    tcase_add_test(tc, payloads_come_out_in_order_with_their_offsets);
    tcase_add_test(tc, a_request_with_a_payload_is_pending_until_released);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
