/*
 * rvbench_result.c - a result record read with yajl's event parser (only
 * the fields rvbench measures), and latency distributions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "rvbench.h"

const char *const reason_names[R_COUNT] = {"preferred", "fallback", "default", "absent", "other"};

/* Container stack of the yajl callbacks: the key that led into each. */
typedef struct frame {
    int is_map;
    char key[64];
} frame;

typedef struct pstate {
    parsed *p;
    frame stack[16];
    int depth;
    char key[64]; /* last key read in the innermost map */
} pstate;

static int at_top(const pstate *s)
{
    return s->depth == 1 && s->stack[0].is_map;
}

/* inside "models": {NAME: {...}} -> the frame of NAME's map */
static int in_model_map(const pstate *s)
{
    return s->depth == 3 && s->stack[1].is_map && strcmp(s->stack[1].key, "models") == 0 &&
           s->stack[2].is_map;
}

static void copy_str(char *dst, size_t size, const unsigned char *v, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int cb_string(void *ctx, const unsigned char *v, size_t len)
{
    pstate *s = ctx;
    if (at_top(s)) {
        if (strcmp(s->key, "id") == 0)
            copy_str(s->p->id, sizeof s->p->id, v, len);
        else if (strcmp(s->key, "model") == 0)
            copy_str(s->p->model, sizeof s->p->model, v, len);
        else if (strcmp(s->key, "reason") == 0) {
            char r[32];
            copy_str(r, sizeof r, v, len);
            s->p->reason = R_OTHER;
            for (int i = 0; i < R_NONE; i++)
                if (strcmp(r, reason_names[i]) == 0)
                    s->p->reason = i;
        } else if (strcmp(s->key, "status") == 0)
            s->p->error_status = len == 5 && memcmp(v, "error", 5) == 0;
    } else if (in_model_map(s) && strcmp(s->key, "status") == 0) {
        if (len == 4 && memcmp(v, "shed", 4) == 0)
            s->p->n_shed++;
        else if (len == 7 && memcmp(v, "timeout", 7) == 0)
            s->p->n_timeout++;
        else if (len == 5 && memcmp(v, "error", 5) == 0)
            s->p->n_error++;
    }
    return 1;
}

static int cb_integer(void *ctx, long long v)
{
    pstate *s = ctx;
    if (at_top(s)) {
        if (strcmp(s->key, "latency_us") == 0)
            s->p->latency_us = v;
        else if (strcmp(s->key, "schedule_version") == 0)
            s->p->schedule_version = v;
    } else if (in_model_map(s) && strcmp(s->key, "latency_us") == 0 && s->p->n_models > 0)
        s->p->model_latency_us[s->p->n_models - 1] = v;
    return 1;
}

static int cb_double(void *ctx, double v)
{
    (void)ctx, (void)v;
    return 1;
}
static int cb_null(void *ctx)
{
    (void)ctx;
    return 1;
}
static int cb_bool(void *ctx, int v)
{
    (void)ctx, (void)v;
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
    pstate *s = ctx;
    copy_str(s->key, sizeof s->key, k, len);
    return 1;
}

static int push_frame(pstate *s, int is_map)
{
    if (s->depth >= 16)
        return 0;
    frame *f = &s->stack[s->depth++];
    f->is_map = is_map;
    snprintf(f->key, sizeof f->key, "%s", s->depth > 1 ? s->key : "");
    /* entering NAME's map inside "models" */
    if (in_model_map(s) && s->p->n_models < MAX_MODELS) {
        int m = s->p->n_models++;
        snprintf(s->p->model_name[m], sizeof s->p->model_name[m], "%s", f->key);
        s->p->model_latency_us[m] = -1;
    }
    s->key[0] = '\0';
    return 1;
}

static int pop_frame(pstate *s)
{
    if (s->depth > 0)
        s->depth--;
    /* back in a map: the key of the container just closed is spent */
    s->key[0] = '\0';
    return 1;
}

static int cb_start_map(void *ctx)
{
    return push_frame(ctx, 1);
}
static int cb_end_map(void *ctx)
{
    return pop_frame(ctx);
}
static int cb_start_array(void *ctx)
{
    return push_frame(ctx, 0);
}
static int cb_end_array(void *ctx)
{
    return pop_frame(ctx);
}

static const yajl_callbacks callbacks = {cb_null,    cb_bool,        cb_integer,   cb_double,
                                         NULL,       cb_string,      cb_start_map, cb_map_key,
                                         cb_end_map, cb_start_array, cb_end_array};

int rvbench_parse_result(const void *buf, size_t len, parsed *p)
{
    memset(p, 0, sizeof *p);
    p->reason = R_NONE;
    p->latency_us = -1;
    p->schedule_version = -1;
    pstate s = {.p = p};
    yajl_handle h = yajl_alloc(&callbacks, NULL, &s);
    if (!h)
        return -1;
    yajl_status st = yajl_parse(h, buf, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok && p->id[0] ? 0 : -1;
}

/* ---- latency distributions ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentiles of v[0..n) (sorted in place), divided by unit. */
dist rvbench_distribution(int64_t *v, size_t n, double unit)
{
    dist d = {0};
    d.n = n;
    if (n == 0)
        return d;
    qsort(v, n, sizeof *v, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    size_t i50 = (size_t)ceil(0.50 * (double)n) - 1, i99 = (size_t)ceil(0.99 * (double)n) - 1,
           i999 = (size_t)ceil(0.999 * (double)n) - 1;
    d.p50 = (double)v[i50] / unit;
    d.p99 = (double)v[i99] / unit;
    d.p999 = (double)v[i999] / unit;
    d.max = (double)v[n - 1] / unit;
    d.mean = sum / (double)n / unit;
    return d;
}

void rvbench_json_dist(FILE *f, const char *name, const dist *d, const char *unit)
{
    if (d->n == 0) {
        fprintf(f, "\"%s\": null", name);
        return;
    }
    fprintf(f,
            "\"%s\": {\"n\": %zu, \"unit\": \"%s\", \"p50\": %.3f, \"p99\": %.3f, "
            "\"p99_9\": %.3f, \"max\": %.3f, \"mean\": %.3f}",
            name, d->n, unit, d->p50, d->p99, d->p999, d->max, d->mean);
}

void rvbench_print_dist(const char *name, const dist *d, const char *unit)
{
    if (d->n == 0) {
        printf("%-22s (not in the results)\n", name);
        return;
    }
    printf("%-22s p50 %9.3f  p99 %9.3f  p99.9 %9.3f  max %9.3f  mean %9.3f %s  (n=%zu)\n", name,
           d->p50, d->p99, d->p999, d->max, d->mean, unit, d->n);
}
