/*
 * http.h - the HTTP face of the service (libmicrohttpd), bound to the
 * config's http.listen:
 *   POST /v1/score   a request body in, its result out: the gateway produces
 *                    it to the requests stream with a reply-to route of its
 *                    own and waits for the result, so the decoy records it
 *                    and every model scores it like any other request
 *   GET  /healthz    the process is alive
 *   GET  /readyz     broker reachable and every scheduled model live; why not
 *   GET  /v1/models  models, versions, states, queues, schedule
 *   GET  /v1/evaluation  each model's measures against true labels
 *   GET  /metrics    Prometheus text format
 */
#ifndef RV_HTTP_H
#define RV_HTTP_H

#include "canary_monitor.h"
#include "evaluation.h"
#include "generation.h"
#include "output.h"
#include "promoter.h"
#include "remote.h"
#include "sites.h"
#include "stats.h"

/* What the HTTP threads may read of the running service. */
typedef struct rv_http_sources {
    /* A reference to the serving generation (caller unrefs), or NULL. */
    rv_generation *(*current)(void *ctx);
    /* The last reload failure, copied into buf ("" when none). */
    void (*last_reload_error)(void *ctx, char *buf, size_t size);
    /* Lag of the requests consumer: sum over assigned partitions, -1 while
     * it has none or has not fetched from each of them yet (not ready). */
    int64_t (*consumer_lag)(void *ctx);
    /* Requests read and not yet done (answered and acknowledged). */
    uint64_t (*in_flight)(void *ctx);
    void *ctx;
    rv_stats *stats;
    rv_canary_monitor *monitor;
    rv_output *output;
    rv_remote *remote;         /* remote models' waits and scores, for /metrics */
    int gateway;               /* POST /v1/score served (not by a scorer) */
    rv_evaluation *evaluation; /* GET /v1/evaluation, or NULL: none */
    rv_promoter *promoter;     /* GET /v1/promotions, or NULL: none */
    /* The peer sites' heartbeats through the mirror, up to max into out;
     * the count (NULL: no site section). */
    size_t (*sites)(void *ctx, rv_site_status *out, size_t max);
    /* A peer's evaluation as mirrored here, up to max into out; the count. */
    size_t (*site_figures)(void *ctx, const char *site, rv_site_figure *out, size_t max);
    /* Requests not answered here: another site had (sites.h). */
    uint64_t (*skipped)(void *ctx);
} rv_http_sources;

typedef struct rv_http rv_http;

/* Starts the server and the gateway's reply reader. reply_topic must exist
 * (the embedded broker creates it). NULL with err on failure. */
rv_http *rv_http_start(const rv_config *cfg, const char *bootstrap, const char *reply_topic,
                       const rv_http_sources *src, char *err, size_t err_size);
/* The listener of `rendezvous evaluate` on cfg's http.listen (its TLS and
 * tokens too): GET /healthz /readyz /v1/evaluation /v1/promotions /metrics. */
rv_http *rv_http_start_evaluation(const rv_config *cfg, rv_evaluation *evaluation,
                                  rv_promoter *promoter, char *err, size_t err_size);
void rv_http_stop(rv_http *h);
/* SIGHUP: the TLS certificate, key and client CAs, and the tokens file,
 * read again; what fails to load is logged and the ones in use stay. */
void rv_http_reload(rv_http *h);

#endif
