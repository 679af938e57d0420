/*
 * evaluator_read.c - the evaluation's fields of a record, by yajl's
 * callbacks. Depth 1 is the root object; an answer's or a model's object
 * is at depth 3.
 */
#include "evaluator_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

typedef enum { IN_NONE, IN_ANSWERS, IN_MODELS } within;

typedef struct reader {
    rv_eval_record *r;
    int depth;
    char key1[24]; /* the root key whose value is being read ("" when none of ours) */
    char key3[16]; /* the key inside an answer's or a model's object */
    within in;     /* which root array or object depth 2 belongs to */
    unsigned seen; /* root keys met: their first occurrence only counts */
    /* the answer or model being read */
    const char *label, *model, *status;
    int has_score;
    double score;
    int full; /* a string did not fit */
} reader;

enum { SEEN_ANSWERS = 1, SEEN_MODELS = 2, SEEN_SV = 4, SEEN_TIME = 8, SEEN_LATENCY = 16 };

static const char *keep(reader *x, const unsigned char *s, size_t n)
{
    rv_eval_record *r = x->r;
    if (r->used + n + 1 > r->cap) { /* not with a store as long as the record */
        x->full = 1;
        return NULL;
    }
    char *out = r->store + r->used;
    memcpy(out, s, n);
    out[n] = '\0';
    r->used += n + 1;
    return out;
}

static void set_key(char *dst, size_t size, const unsigned char *s, size_t n)
{
    if (n >= size || memchr(s, '\0', n))
        n = 0; /* longer than any key we read: none of ours */
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    reader *x = ctx;
    if (x->depth == 1) {
        struct {
            const char *key;
            const char **slot;
        } roots[] = {{"id", &x->r->id},
                     {"model", &x->r->model},
                     {"version", &x->r->version},
                     {"status", &x->r->status},
                     {"label", &x->r->label}};
        for (size_t i = 0; i < sizeof roots / sizeof *roots; i++)
            if (strcmp(x->key1, roots[i].key) == 0 && !*roots[i].slot)
                *roots[i].slot = keep(x, s, n);
    } else if (x->depth == 3 && x->in == IN_ANSWERS && strcmp(x->key3, "label") == 0 && !x->label)
        x->label = keep(x, s, n);
    else if (x->depth == 3 && x->in == IN_MODELS && strcmp(x->key3, "status") == 0 && !x->status)
        x->status = keep(x, s, n);
    return !x->full;
}

static int on_number(void *ctx, const char *s, size_t n)
{
    reader *x = ctx;
    char text[64];
    if (n >= sizeof text)
        return 1;
    memcpy(text, s, n);
    text[n] = '\0';
    int sv = strcmp(x->key1, "schedule_version") == 0, time = strcmp(x->key1, "time") == 0,
        lat = strcmp(x->key1, "latency_us") == 0;
    unsigned bit = sv ? SEEN_SV : time ? SEEN_TIME : lat ? SEEN_LATENCY : 0;
    if (x->depth == 1 && bit && !(x->seen & bit)) {
        x->seen |= bit;
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*end && errno == 0) {
            *(sv ? &x->r->has_schedule_version : time ? &x->r->has_time : &x->r->has_latency) = 1;
            *(sv ? &x->r->schedule_version : time ? &x->r->time : &x->r->latency_us) = v;
        }
    } else if (x->depth == 3 && x->in == IN_ANSWERS && strcmp(x->key3, "score") == 0 &&
               !x->has_score) {
        x->has_score = 1;
        x->score = strtod(text, NULL);
    }
    return 1;
}

static int on_scalar(void *ctx)
{
    (void)ctx;
    return 1;
}

static int on_bool(void *ctx, int b)
{
    (void)b;
    return on_scalar(ctx);
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
    reader *x = ctx;
    if (x->depth == 1)
        set_key(x->key1, sizeof x->key1, s, n);
    else if (x->depth == 2 && x->in == IN_MODELS) {
        x->model = keep(x, s, n);
        x->status = NULL;
    } else if (x->depth == 3)
        set_key(x->key3, sizeof x->key3, s, n);
    return !x->full;
}

/* A root key's value that is a container: ours when it is the first. */
static within container_of(reader *x, int is_array)
{
    if (x->depth != 1)
        return x->in;
    unsigned bit = strcmp(x->key1, "answers") == 0  ? SEEN_ANSWERS
                   : strcmp(x->key1, "models") == 0 ? SEEN_MODELS
                                                    : 0;
    if (!bit || (x->seen & bit))
        return IN_NONE;
    x->seen |= bit;
    return bit == SEEN_ANSWERS ? (is_array ? IN_ANSWERS : IN_NONE)
                               : (is_array ? IN_NONE : IN_MODELS);
}

static int on_start_map(void *ctx)
{
    reader *x = ctx;
    if (x->depth == 1)
        x->in = container_of(x, 0);
    if (x->depth == 2 && x->in == IN_ANSWERS) {
        x->label = NULL;
        x->has_score = 0;
    }
    x->key3[0] = '\0';
    x->depth++;
    return 1;
}

static int on_end_map(void *ctx)
{
    reader *x = ctx;
    x->depth--;
    rv_eval_record *r = x->r;
    if (x->depth == 2 && x->in == IN_ANSWERS && x->label && x->has_score &&
        r->n_answers < RV_EVAL_READ_ANSWERS) {
        r->labels[r->n_answers] = x->label;
        r->scores[r->n_answers++] = x->score;
    } else if (x->depth == 2 && x->in == IN_MODELS && x->model && x->status &&
               r->n_models < RV_EVAL_READ_MODELS) {
        r->models[r->n_models] = x->model;
        r->model_status[r->n_models++] = x->status;
    }
    if (x->depth == 1)
        x->in = IN_NONE;
    return 1;
}

static int on_start_array(void *ctx)
{
    reader *x = ctx;
    if (x->depth == 1)
        x->in = container_of(x, 1);
    x->depth++;
    return 1;
}

static int on_end_array(void *ctx)
{
    reader *x = ctx;
    x->depth--;
    if (x->depth == 1)
        x->in = IN_NONE;
    return 1;
}

static const yajl_callbacks callbacks = {
    on_scalar,    on_bool, NULL,       NULL,           on_number,    on_string,
    on_start_map, on_key,  on_end_map, on_start_array, on_end_array,
};

/* Whether json is JSON, whatever its root (only checked: no callbacks). */
static int is_json(const unsigned char *json, size_t len)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    int ok =
        h && yajl_parse(h, json, len) == yajl_status_ok && yajl_complete_parse(h) == yajl_status_ok;
    if (h)
        yajl_free(h);
    return ok;
}

rv_eval_read rv_eval_record_read(const void *json, size_t len, rv_eval_record *r)
{
    memset(r, 0, offsetof(rv_eval_record, store));
    r->used = 0;
    const unsigned char *p = json;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i == len)
        return RV_EVAL_READ_EMPTY;
    /* a root that is not an object is not a record: its first byte says */
    if (p[i] != '{')
        return is_json(p, len) ? RV_EVAL_READ_NOT_OBJECT : RV_EVAL_READ_MALFORMED;
    /* a string kept takes fewer bytes than its text in the record (its
     * quotes at least): len + 1 bytes hold them all */
    if (len + 1 > r->cap) {
        size_t cap = len + 1 > RV_EVAL_READ_STORE ? len + 1 : RV_EVAL_READ_STORE;
        free(r->store);
        r->cap = 0;
        if (!(r->store = malloc(cap)))
            return RV_EVAL_READ_NO_MEMORY;
        r->cap = cap;
    }
    reader x = {.r = r};
    yajl_handle h = yajl_alloc(&callbacks, NULL, &x);
    if (!h)
        return RV_EVAL_READ_NO_MEMORY;
    yajl_status st = yajl_parse(h, p, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok ? RV_EVAL_READ_OK
           : x.full             ? RV_EVAL_READ_NO_MEMORY
                                : RV_EVAL_READ_MALFORMED;
}

/* The one place a label record's outcome is decided when it is no label
 * (the join decides the others). */
int rv_eval_label_read(const void *json, size_t len, rv_eval_record *r, rv_label_refusal *why)
{
    rv_eval_read st = rv_eval_record_read(json, len, r);
    if (st == RV_EVAL_READ_NO_MEMORY)
        return -1;
    if (st == RV_EVAL_READ_EMPTY)
        *why = RV_LABEL_EMPTY;
    else if (st == RV_EVAL_READ_MALFORMED)
        *why = RV_LABEL_MALFORMED_JSON;
    else if (st == RV_EVAL_READ_NOT_OBJECT)
        *why = RV_LABEL_NOT_AN_OBJECT;
    else if (!r->id || !r->id[0] || strlen(r->id) > RV_EVALUATION_MAX_ID)
        *why = RV_LABEL_BAD_ID;
    else if (!r->label)
        *why = RV_LABEL_BAD_LABEL;
    else
        return 0;
    return 1;
}

void rv_eval_record_free(rv_eval_record *r)
{
    free(r->store);
    memset(r, 0, sizeof *r);
}
