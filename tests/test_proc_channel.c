/*
 * test_proc_channel.c - the shared memory between the host and a model
 * process, both sides in one test: a batch arrives as it was sent, its
 * features one row-major matrix (rv_batch_features finds it); a batch ends
 * before a request with another number of features or without room; a
 * process that rewrites the shared header moves no host read or write out
 * of the areas; a batch whose matrix overruns the area is refused.
 */
#include <check.h>

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "proc_channel.h"
#include "test_helpers.h"

#define N 5
#define COLS 3

typedef struct batch {
    rv_request reqs[N];
    const rv_request *ptrs[N];
    double features[N][COLS + 1];
    char ids[N][16], bodies[N][32];
    rv_header headers[2];
} batch;

/* Requests with everything set: one without a key, one with two headers,
 * NaN among the features. */
static void fill(batch *b, size_t cols)
{
    b->headers[0] = (rv_header){"traceparent", "00-abc", 6};
    b->headers[1] = (rv_header){"rv-model", "a", 1};
    for (size_t i = 0; i < N; i++) {
        snprintf(b->ids[i], sizeof b->ids[i], "r-%zu", i);
        int len = snprintf(b->bodies[i], sizeof b->bodies[i], "{\"x\":%zu}", i);
        for (size_t f = 0; f < cols; f++)
            b->features[i][f] = f == 1 && i == 2 ? NAN : (double)i * 10 + (double)f;
        b->reqs[i] = (rv_request){.id = b->ids[i],
                                  .body = (const uint8_t *)b->bodies[i],
                                  .body_len = (size_t)len,
                                  .features = b->features[i],
                                  .n_features = cols,
                                  .arrival_us = 1000 + (int64_t)i,
                                  .topic = "svc.requests",
                                  .partition = (int32_t)i % 2,
                                  .offset = 40 + (int64_t)i,
                                  .timestamp_ms = -1,
                                  .key = i == 3 ? NULL : (const uint8_t *)"k",
                                  .key_len = i == 3 ? 0 : 1,
                                  .headers = i == 1 ? b->headers : NULL,
                                  .n_headers = i == 1 ? 2 : 0};
        b->ptrs[i] = &b->reqs[i];
    }
}

/* A channel with b's N requests written by the host, and the process's
 * side of it: the same memory through a second mapping. */
static void sent(rv_proc_channel *host, rv_proc_channel *proc, batch *b)
{
    char err[RV_ERR_SIZE];
    ck_assert_int_eq(rv_proc_channel_create(host, 1 << 16, 1 << 16, err, sizeof err), 0);
    fill(b, COLS);
    ck_assert_uint_eq(rv_proc_channel_put_batch(host, b->ptrs, N, 16), N);
    ck_assert_int_eq(rv_proc_channel_attach(proc, dup(host->memfd), -1, -1, err, sizeof err), 0);
}

START_TEST(a_batch_arrives_as_sent_with_its_features_one_matrix)
{
    rv_proc_channel host, proc;
    batch b;
    sent(&host, &proc, &b);
    ck_assert_uint_eq(proc.h->n, N);
    ck_assert_uint_eq(rv_proc_channel_count_headers(&proc), 2);
    rv_request got[N];
    rv_header hdrs[2];
    ck_assert_int_eq(rv_proc_channel_get_requests(&proc, got, hdrs), 0);
    const rv_request *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        const rv_request *w = &b.reqs[i], *g = &got[i];
        ptrs[i] = g;
        ck_assert_str_eq(g->id, w->id);
        ck_assert_str_eq(g->topic, w->topic);
        ck_assert_uint_eq(g->body_len, w->body_len);
        ck_assert_int_eq(memcmp(g->body, w->body, w->body_len), 0);
        ck_assert_int_eq(g->key == NULL, w->key == NULL);
        ck_assert_uint_eq(g->key_len, w->key_len);
        ck_assert_int_eq(g->partition, w->partition);
        ck_assert_int_eq(g->offset, w->offset);
        ck_assert_int_eq(g->timestamp_ms, w->timestamp_ms);
        ck_assert_int_eq(g->arrival_us, w->arrival_us);
        ck_assert_uint_eq(g->n_features, COLS);
        for (size_t f = 0; f < COLS; f++)
            if (isnan(w->features[f]))
                ck_assert(isnan(g->features[f]));
            else
                ck_assert_double_eq(g->features[f], w->features[f]);
        ck_assert_uint_eq(g->n_headers, w->n_headers);
    }
    ck_assert_str_eq(got[1].headers[1].name, "rv-model");
    ck_assert_uint_eq(got[1].headers[1].value_len, 1);
    ck_assert_int_eq(memcmp(got[1].headers[0].value, "00-abc", 6), 0);
    /* the rows are one matrix, in the shared memory itself */
    const double *m = rv_batch_features(ptrs, N, COLS);
    ck_assert_ptr_eq(m, got[0].features);
    ck_assert_ptr_eq(m, (const double *)proc.req);
    ck_assert_double_eq(m[4 * COLS + 2], 42);
    /* the host's own requests lie apart: no matrix */
    ck_assert_ptr_null(rv_batch_features(b.ptrs, N, COLS));
    ck_assert_ptr_eq(rv_batch_features(b.ptrs, 1, COLS), b.reqs[0].features);
    ck_assert_ptr_null(rv_batch_features(ptrs, N, COLS + 1)); /* another width */
    rv_proc_channel_close(&proc);
    rv_proc_channel_close(&host);
}
END_TEST

START_TEST(a_batch_ends_before_other_features_or_no_room)
{
    char err[RV_ERR_SIZE];
    rv_proc_channel host;
    ck_assert_int_eq(rv_proc_channel_create(&host, 1 << 16, 1 << 16, err, sizeof err), 0);
    batch b;
    fill(&b, COLS);
    b.reqs[3].n_features = COLS + 1;
    ck_assert_uint_eq(rv_proc_channel_put_batch(&host, b.ptrs, N, 16), 3);
    ck_assert_uint_eq(host.h->n, 3);
    ck_assert_uint_eq(host.h->cols, COLS);
    ck_assert_uint_eq(rv_proc_channel_put_batch(&host, b.ptrs + 3, 2, 16), 1);
    ck_assert_uint_eq(host.h->cols, COLS + 1);
    ck_assert_uint_eq(rv_proc_channel_put_batch(&host, b.ptrs, N, 2), 2);
    rv_proc_channel_close(&host);

    /* room for two requests: the third waits for the next batch */
    fill(&b, COLS);
    size_t two =
        rv_proc_channel_request_size(&b.reqs[0]) + rv_proc_channel_request_size(&b.reqs[1]);
    ck_assert_int_eq(rv_proc_channel_create(&host, two, 1 << 16, err, sizeof err), 0);
    ck_assert_uint_eq(rv_proc_channel_put_batch(&host, b.ptrs, N, 16), 2);
    ck_assert_uint_le(host.h->req_len, two);
    /* a body larger than the area: not even alone */
    static uint8_t big[1 << 12];
    b.reqs[0].body = big;
    b.reqs[0].body_len = sizeof big;
    ck_assert_uint_eq(rv_proc_channel_put_batch(&host, b.ptrs, N, 16), 0);
    rv_proc_channel_close(&host);
}
END_TEST

START_TEST(a_process_rewriting_the_header_moves_no_host_access)
{
    char err[RV_ERR_SIZE];
    rv_proc_channel host;
    ck_assert_int_eq(rv_proc_channel_create(&host, 1 << 16, 1 << 16, err, sizeof err), 0);
    rv_proc_channel_hdr *h = host.h;
    /* what a hostile plugin can write at any moment */
    h->req_len = UINT64_MAX - 4;
    h->req_size = UINT64_MAX;
    h->ans_size = UINT64_MAX;
    h->ans_len = UINT64_MAX;
    h->size = 1;
    batch b;
    fill(&b, COLS);
    ck_assert_uint_eq(rv_proc_channel_put_batch(&host, b.ptrs, N, 16), N);
    ck_assert_int_eq(rv_proc_channel_put_strings(&host, (const char *[]){"a", "b"}, 2), 0);
    rv_proc_channel_ans a;
    rv_proc_channel_read_answer(&host, 1u << 30, &a);
    ck_assert_int_eq(a.status, RV_STATUS_ERROR);
    ck_assert_str_eq(a.error, "model process: answer outside its area");
    uint64_t pos = 0;
    rv_proc_channel_emit e;
    int r;
    while ((r = rv_proc_channel_next_emit(&host, N, &pos, &e)) == 1) /* garbage, bounded */
        ;
    ck_assert_int_le(r, 0);
    const char *labels[4];
    ck_assert_int_le(rv_proc_channel_read_strings(&host, 0, labels, 4), 4);
    rv_proc_channel_close(&host); /* unmaps the whole mapping, not h->size */
}
END_TEST

START_TEST(a_matrix_overrunning_the_area_is_refused)
{
    rv_proc_channel host, proc;
    batch b;
    sent(&host, &proc, &b);
    rv_request got[N + 1];
    rv_header hdrs[2];
    host.h->cols = UINT32_MAX;
    ck_assert_uint_eq(rv_proc_channel_count_headers(&proc), 0);
    ck_assert_int_eq(rv_proc_channel_get_requests(&proc, got, hdrs), -1);
    host.h->cols = COLS;
    host.h->n = N + 1; /* one request more than written */
    ck_assert_int_eq(rv_proc_channel_get_requests(&proc, got, hdrs), -1);
    rv_proc_channel_close(&proc);
    rv_proc_channel_close(&host);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proc_channel");
    TCase *tc = tcase_create("channel");
    tcase_add_test(tc, a_batch_arrives_as_sent_with_its_features_one_matrix);
    tcase_add_test(tc, a_batch_ends_before_other_features_or_no_room);
    tcase_add_test(tc, a_process_rewriting_the_header_moves_no_host_access);
    tcase_add_test(tc, a_matrix_overrunning_the_area_is_refused);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
