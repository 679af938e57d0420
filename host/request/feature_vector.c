/*
 * feature_vector.c - one-pass body parsing with yajl's event parser. Runs once per
 * request on the input thread: no tree, no allocation per field, and the
 * body bytes are only read, never changed.
 */
#include "feature_vector.h"

#include "errbuf.h"
#include "numparse.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct rv_feature_index {
    size_t n;
    size_t mask;    /* table size - 1, a power of two */
    char **names;   /* n copies */
    size_t *lens;   /* their lengths */
    int32_t *slots; /* -1 or feature number; open addressing */
};

static uint64_t fnv1a(const unsigned char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

rv_feature_index *rv_feature_index_new(char *const *names, size_t n)
{
    rv_feature_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    size_t size = 8;
    while (size < 2 * n)
        size *= 2;
    ix->n = n;
    ix->mask = size - 1;
    ix->names = calloc(n ? n : 1, sizeof *ix->names);
    ix->lens = calloc(n ? n : 1, sizeof *ix->lens);
    ix->slots = malloc(size * sizeof *ix->slots);
    if (!ix->names || !ix->lens || !ix->slots) {
        rv_feature_index_free(ix);
        return NULL;
    }
    for (size_t i = 0; i < size; i++)
        ix->slots[i] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!(ix->names[i] = strdup(names[i]))) {
            rv_feature_index_free(ix);
            return NULL;
        }
        ix->lens[i] = strlen(names[i]);
        size_t h = fnv1a((const unsigned char *)names[i], ix->lens[i]) & ix->mask;
        while (ix->slots[h] >= 0)
            h = (h + 1) & ix->mask;
        ix->slots[h] = (int32_t)i;
    }
    return ix;
}

void rv_feature_index_free(rv_feature_index *ix)
{
    if (!ix)
        return;
    if (ix->names)
        for (size_t i = 0; i < ix->n; i++)
            free(ix->names[i]);
    free(ix->names);
    free(ix->lens);
    free(ix->slots);
    free(ix);
}

size_t rv_feature_index_size(const rv_feature_index *ix)
{
    return ix->n;
}

static int lookup(const rv_feature_index *ix, const unsigned char *key, size_t len)
{
    size_t h = fnv1a(key, len) & ix->mask;
    for (;;) {
        int32_t f = ix->slots[h];
        if (f < 0)
            return -1;
        if (ix->lens[f] == len && memcmp(ix->names[f], key, len) == 0)
            return f;
        h = (h + 1) & ix->mask;
    }
}

typedef struct parse_state {
    const rv_feature_index *ix;
    double *out;
    int depth;   /* 0 outside, 1 inside the top-level object */
    int current; /* feature of the last depth-1 key, or -1 */
    int last;    /* the last depth-1 key that was a feature, or -1 */
    char *err;
    size_t err_size;
    int failed;
} parse_state;

/* A value at depth 1 for a declared feature that is not a number. */
static int wrong_type(parse_state *st, const char *type)
{
    if (st->depth == 0) {
        snprintf(st->err, st->err_size, "body is a JSON %s, expected an object", type);
        st->failed = 1;
        return 0;
    }
    if (st->depth == 1 && st->current >= 0) {
        snprintf(st->err, st->err_size, "feature '%s' is a %s, expected a number",
                 st->ix->names[st->current], type);
        st->failed = 1;
        return 0;
    }
    return 1;
}

static int on_null(void *ctx)
{
    parse_state *st = ctx;
    if (st->depth == 0)
        return wrong_type(st, "null");
    if (st->depth == 1 && st->current >= 0)
        st->out[st->current] = NAN;
    return 1;
}

static int on_bool(void *ctx, int v)
{
    return wrong_type(ctx, "boolean");
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    return wrong_type(ctx, "string");
}

/* Every number, as its text: read by rv_parse_number, and only for a
 * declared feature (other numbers are not ours to convert). Overflow is
 * refused with yajl's own words, as before. */
static int on_number(void *ctx, const char *s, size_t len)
{
    parse_state *st = ctx;
    if (st->depth == 0)
        return wrong_type(st, "number");
    if (st->depth != 1 || st->current < 0)
        return 1;
    rv_num_status ns = rv_parse_number(s, len, &st->out[st->current]);
    if (ns == RV_NUM_OK)
        return 1;
    snprintf(st->err, st->err_size, "body is not valid JSON: parse error: %s",
             ns == RV_NUM_INT_OVERFLOW ? "integer overflow" : "numeric (floating point) overflow");
    st->failed = 1;
    return 0;
}

static int on_start_map(void *ctx)
{
    parse_state *st = ctx;
    if (st->depth == 1 && !wrong_type(st, "object"))
        return 0;
    st->depth++;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    parse_state *st = ctx;
    if (st->depth != 1)
        return 1;
    /* Services write their features in one order, most often the config's:
     * the feature after the last one is tried before the table. */
    const rv_feature_index *ix = st->ix;
    size_t next = (size_t)(st->last + 1);
    if (next < ix->n && ix->lens[next] == len && memcmp(ix->names[next], key, len) == 0)
        st->current = (int)next;
    else
        st->current = lookup(ix, key, len);
    if (st->current >= 0)
        st->last = st->current;
    return 1;
}

static int on_end_map(void *ctx)
{
    parse_state *st = ctx;
    st->depth--;
    st->current = -1;
    return 1;
}

static int on_start_array(void *ctx)
{
    parse_state *st = ctx;
    if (st->depth <= 1 && !wrong_type(st, "array"))
        return 0;
    st->depth++;
    return 1;
}

static int on_end_array(void *ctx)
{
    parse_state *st = ctx;
    st->depth--;
    return 1;
}

/* yajl allocates its handle, lexer and stacks for every body: from a
 * per-thread arena that each parse starts empty (yajl frees everything by
 * the end of a parse), with malloc behind it for what does not fit. */
#define ARENA_SIZE 65536
#define ARENA_ALIGN 16

typedef struct arena {
    unsigned char *buf;
    size_t used;
} arena;

static _Thread_local arena parse_arena;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key; /* frees a thread's arena when it ends */

static void make_arena_key(void)
{
    pthread_key_create(&arena_key, free);
}

static arena *thread_arena(void)
{
    arena *a = &parse_arena;
    if (!a->buf && (a->buf = aligned_alloc(ARENA_ALIGN, ARENA_SIZE))) {
        pthread_once(&arena_once, make_arena_key);
        pthread_setspecific(arena_key, a->buf);
    }
    a->used = 0; /* NULL buf: malloc alone */
    return a;
}

static int in_arena(const arena *a, const void *p)
{
    return a->buf && (const unsigned char *)p >= a->buf &&
           (const unsigned char *)p < a->buf + ARENA_SIZE;
}

static void *arena_malloc(void *ctx, size_t n)
{
    arena *a = ctx;
    size_t need = ARENA_ALIGN + ((n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
    if (!a->buf || n > ARENA_SIZE || a->used + need > ARENA_SIZE)
        return malloc(n);
    unsigned char *p = a->buf + a->used;
    memcpy(p, &n, sizeof n); /* its size, for realloc */
    a->used += need;
    return p + ARENA_ALIGN;
}

static void *arena_realloc(void *ctx, void *ptr, size_t n)
{
    arena *a = ctx;
    if (!ptr)
        return arena_malloc(ctx, n);
    if (!in_arena(a, ptr))
        return realloc(ptr, n);
    size_t old;
    memcpy(&old, (unsigned char *)ptr - ARENA_ALIGN, sizeof old);
    void *q = arena_malloc(ctx, n);
    if (q)
        memcpy(q, ptr, old < n ? old : n);
    return q;
}

static void arena_free(void *ctx, void *ptr)
{
    if (!in_arena(ctx, ptr))
        free(ptr);
}

static const yajl_callbacks callbacks = {
    on_null,      on_bool,    NULL,       NULL,           on_number,    on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array,
};

int rv_features_parse(const rv_feature_index *ix, const uint8_t *body, size_t len, double *out,
                      char *err, size_t err_size)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
        i++;
    if (i == len) {
        rv_errf(err, err_size, "empty body");
        return -1;
    }
    for (size_t f = 0; f < ix->n; f++)
        out[f] = NAN;
    parse_state st = {ix, out, 0, -1, -1, err, err_size, 0};
    arena *a = thread_arena();
    yajl_alloc_funcs funcs = {arena_malloc, arena_realloc, arena_free, a};
    yajl_handle h = yajl_alloc(&callbacks, &funcs, &st);
    if (!h) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    /* Features are numbers; the bytes of other strings are not ours to
     * judge, and the decoy records them as they are. */
    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status s = yajl_parse(h, body, len);
    if (s == yajl_status_ok)
        s = yajl_complete_parse(h);
    int rc = 0;
    if (s != yajl_status_ok) {
        rc = -1;
        if (!st.failed) {
            unsigned char *msg = yajl_get_error(h, 0, body, len);
            rv_errf(err, err_size, "body is not valid JSON: %s", (const char *)msg);
            /* yajl ends its message with a newline */
            size_t l = strlen(err);
            while (l && (err[l - 1] == '\n' || err[l - 1] == ' '))
                err[--l] = '\0';
            yajl_free_error(h, msg);
        }
    }
    yajl_free(h);
    return rc;
}
