/*
 * recent.c - a ring of owned copies. A slot's buffer is reused while it is
 * large enough, so a steady stream of similar bodies costs no allocation.
 * Must never hand out a pointer that outlives the lock.
 */
#include "recent.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct kept {
    char *id;
    size_t id_cap;
    uint8_t *body;
    size_t len, body_cap;
} kept;

struct rv_recent {
    pthread_mutex_t lock;
    kept *ring;
    size_t cap, head, count; /* head: where the next one goes */
};

rv_recent *rv_recent_new(size_t cap)
{
    rv_recent *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (cap && !(r->ring = calloc(cap, sizeof *r->ring))) {
        free(r);
        return NULL;
    }
    r->cap = cap;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void free_ring(kept *ring, size_t cap)
{
    for (size_t i = 0; i < cap; i++) {
        free(ring[i].id);
        free(ring[i].body);
    }
    free(ring);
}

void rv_recent_free(rv_recent *r)
{
    if (!r)
        return;
    free_ring(r->ring, r->cap);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Makes *buf hold at least need bytes; 0 or -1. */
static int fit(void **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return 0;
    void *nb = realloc(*buf, need);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = need;
    return 0;
}

void rv_recent_add(rv_recent *r, const char *id, const void *body, size_t len)
{
    pthread_mutex_lock(&r->lock);
    if (r->cap == 0) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    kept *k = &r->ring[r->head];
    size_t id_len = strlen(id) + 1;
    if (fit((void **)&k->id, &k->id_cap, id_len) != 0 ||
        fit((void **)&k->body, &k->body_cap, len ? len : 1) != 0) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    memcpy(k->id, id, id_len);
    if (len)
        memcpy(k->body, body, len);
    k->len = len;
    r->head = (r->head + 1) % r->cap;
    if (r->count < r->cap)
        r->count++;
    pthread_mutex_unlock(&r->lock);
}

int rv_recent_set_capacity(rv_recent *r, size_t cap)
{
    pthread_mutex_lock(&r->lock);
    if (cap == r->cap) {
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    kept *ring = cap ? calloc(cap, sizeof *ring) : NULL;
    if (cap && !ring) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    /* move the newest min(count, cap) over, oldest first */
    size_t n = r->count < cap ? r->count : cap;
    for (size_t i = 0; i < n; i++) {
        size_t from = (r->head + r->cap - n + i) % r->cap;
        ring[i] = r->ring[from];
        r->ring[from] = (kept){0};
    }
    free_ring(r->ring, r->cap);
    r->ring = ring;
    r->cap = cap;
    r->count = n;
    r->head = cap ? n % cap : 0;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

size_t rv_recent_visit(rv_recent *r, rv_recent_visit_fn fn, void *ctx)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->count;
    for (size_t i = 0; i < n; i++) {
        const kept *k = &r->ring[(r->head + r->cap - n + i) % r->cap];
        fn(ctx, k->id, k->body, k->len);
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* ---- warm-up sets ---- */

static void keep_for_warmup(void *ctx, const char *id, const uint8_t *body, size_t len)
{
    rv_warmup_set *rs = ctx;
    if (rs->n == rs->cap || (rs->skip && rs->skip(rs->skip_ctx, id)))
        return;
    double *f = rs->features + rs->n * rs->n_features;
    char err[256];
    if (rv_features_parse(rs->ix, body, len, f, err, sizeof err) != 0)
        return;
    char *idc = strdup(id);
    uint8_t *bc = malloc(len ? len : 1);
    if (!idc || !bc) {
        free(idc);
        free(bc);
        return;
    }
    if (len)
        memcpy(bc, body, len);
    rs->ids[rs->n] = idc;
    rs->bodies[rs->n] = bc;
    rs->reqs[rs->n++] = (rv_request){.id = idc,
                                     .body = bc,
                                     .body_len = len,
                                     .features = f,
                                     .n_features = rs->n_features,
                                     .offset = -1,
                                     .timestamp_ms = -1,
                                     .partition = -1};
}

void rv_warmup_free(rv_warmup_set *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->ids[i]);
        free(rs->bodies[i]);
    }
    free(rs->reqs);
    free(rs->features);
    free(rs->ids);
    free(rs->bodies);
    *rs = (rv_warmup_set){0};
}

int rv_warmup_build(rv_warmup_set *rs, rv_recent *recent, const rv_feature_index *ix, size_t want,
                    int (*skip)(void *ctx, const char *id), void *skip_ctx)
{
    size_t nf = rv_feature_index_size(ix);
    *rs = (rv_warmup_set){
        .cap = want, .n_features = nf, .ix = ix, .skip = skip, .skip_ctx = skip_ctx};
    if (want == 0 || !recent)
        return 0;
    rs->reqs = calloc(want, sizeof *rs->reqs);
    rs->features = calloc(want * (nf ? nf : 1), sizeof *rs->features);
    rs->ids = calloc(want, sizeof *rs->ids);
    rs->bodies = calloc(want, sizeof *rs->bodies);
    if (!rs->reqs || !rs->features || !rs->ids || !rs->bodies) {
        rv_warmup_free(rs);
        return -1;
    }
    rv_recent_visit(recent, keep_for_warmup, rs);
    return 0;
}
