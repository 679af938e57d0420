/*
 * canary_monitor.h - compares every scoring model with the canary on the
 * same requests, and every model (the canary included) with its own
 * reference window, and raises an alert record when a threshold is
 * crossed, and a clear record when it recovers.
 *
 * Per model and tumbling window of `window` requests on which both the
 * model and the canary answered ok:
 *   agreement    share of requests whose top label equals the canary's;
 *   score_shift  largest gap between the model's and the canary's score
 *                quantiles (p10, p50, p90) for the canary's top label;
 *   drift        for the canary: largest gap between this window's
 *                quantiles and its first full window (its reference): the
 *                input data changed. For a model: how far its quantiles
 *                moved from its reference beyond what the canary's moved
 *                on the same requests: the model changed.
 * Settings are the canary's params (its builtin's monitor_settings:
 * window 200, min_agreement 0.9, max_score_shift 0.1), checked when the
 * canary is created.
 * Thread: the rendezvous thread calls observe(); snapshot() from any thread.
 */
#ifndef RV_CANARY_MONITOR_H
#define RV_CANARY_MONITOR_H

#include <stddef.h>

#include "inflight.h"

typedef struct rv_canary_monitor rv_canary_monitor;

/* Where alert and clear records go: the alerts stream in the daemon, a
 * buffer in tests. key is the model's name. Thread: the rendezvous thread;
 * must not block. */
typedef void (*rv_alert_sink)(void *ctx, const char *key, const void *record, size_t len);

rv_canary_monitor *rv_canary_monitor_new(rv_alert_sink sink, void *sink_ctx);
void rv_canary_monitor_free(rv_canary_monitor *m);

/* A request whose every model has answered. */
void rv_canary_monitor_observe(rv_canary_monitor *m, const rv_inflight *f);

#define RV_CANARY_DECILES 9

typedef struct rv_canary_gauge {
    char model[128];
    double agreement; /* last full window, NaN before the first */
    double score_shift;
    double drift;
    int alerting;      /* any check in alert */
    char alerts[64];   /* the checks in alert, comma-separated */
    uint64_t compared; /* requests compared so far */
    /* deciles (p10..p90) of the last full window, for a Q-Q plot: the
     * model's score and the canary's for the canary's top label */
    double q_model[RV_CANARY_DECILES], q_canary[RV_CANARY_DECILES];
} rv_canary_gauge;

/* Copies up to max gauges; returns how many models are tracked. */
size_t rv_canary_monitor_snapshot(rv_canary_monitor *m, rv_canary_gauge *out, size_t max);

#endif
