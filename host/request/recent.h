/*
 * recent.h - the last N requests the host read (id and body bytes), kept so
 * that a reload can warm new models on real recent traffic. The host owns
 * it: no plugin's instance is ever looked into for it.
 *
 * Thread: the input thread adds; a reload's builder thread visits. One
 * mutex, held for a copy on add and for the whole visit.
 */
#ifndef RV_RECENT_H
#define RV_RECENT_H

#include <stddef.h>
#include <stdint.h>

#include "feature_vector.h"
#include "rendezvous_plugin.h"

typedef struct rv_recent rv_recent;

/* A ring of up to cap requests (0: keeps none). NULL on out of memory. */
rv_recent *rv_recent_new(size_t cap);
void rv_recent_free(rv_recent *r);

/* Keeps a copy of id and body, dropping the oldest when full. A copy that
 * cannot be allocated is skipped (warm-up then sees one request fewer). */
void rv_recent_add(rv_recent *r, const char *id, const void *body, size_t len);

/* Changes the capacity, keeping the newest requests. 0, or -1 on out of
 * memory (unchanged). */
int rv_recent_set_capacity(rv_recent *r, size_t cap);

/* Calls fn on each kept request, oldest first, under the ring's lock: fn
 * must not call back into the ring. Returns how many were visited. */
typedef void (*rv_recent_visit_fn)(void *ctx, const char *id, const uint8_t *body, size_t len);
size_t rv_recent_visit(rv_recent *r, rv_recent_visit_fn fn, void *ctx);

/* The kept requests as rv_requests, owned copies with their features
 * parsed by ix (a new generation's features may differ from those that
 * read them), so that scoring them does not hold the ring's lock. A
 * request ix refuses is left out (it would be dead-lettered), and so is
 * one whose id skip (may be NULL) says yes to. */
typedef struct rv_warmup_set {
    rv_request *reqs;
    size_t n;
    /* private */
    double *features;
    char **ids;
    uint8_t **bodies;
    size_t cap, n_features;
    const rv_feature_index *ix;
    int (*skip)(void *ctx, const char *id);
    void *skip_ctx;
} rv_warmup_set;

/* Up to want of the kept requests, oldest first. 0, or -1 on out
 * of memory (then *rs is empty). recent may be NULL (none). */
int rv_warmup_build(rv_warmup_set *rs, rv_recent *recent, const rv_feature_index *ix, size_t want,
                    int (*skip)(void *ctx, const char *id), void *skip_ctx);
void rv_warmup_free(rv_warmup_set *rs);

#endif
