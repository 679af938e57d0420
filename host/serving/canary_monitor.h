/*
 * canary_monitor.h - compares every scoring model with the canary on the
 * same requests, and every model (the canary included) with its own
 * reference window, and raises an alert record when a test finds the
 * evidence, and a clear record when it is gone (docs/alerts.md).
 *
 * Per model, tumbling windows of `window` requests on which both the model
 * and the canary answered ok; each model's scores are those of one label,
 * the canary's last (the positive one of two). A window is tested when
 * `alerts.test_interval_s` has passed since the last test (the others are
 * shown, not tested); each test is made at level alpha =
 * alerts.false_alarms_per_day / tests a day (alarm.h):
 *   agreement    share of requests whose top label equals the canary's:
 *                evidence when the binomial test finds it below
 *                min_agreement (P(X <= agreed | n, min_agreement) < alpha);
 *   score_shift  the Kolmogorov-Smirnov distance between the model's and the
 *                canary's scores: evidence when even the least distance the
 *                window allows (D - 2 eps, eps from the DKW inequality at
 *                alpha) is above max_score_shift;
 *   drift        a model: its scores minus the canary's, against those of its
 *                first reference_windows windows (its reference), by the
 *                two-sample KS test: the model changed, not the input; the
 *                canary: its scores against its reference (input_drift): the
 *                input changed.
 * The alert's life (raised after `alerts.for` tests, held while it flaps,
 * cleared after it was gone as long) is alarm.h's. The canary's params give
 * window (default 1000), reference_windows (5), min_agreement (0.9) and
 * max_score_shift (0.1);
 * the config's alerts section the rest, both read per generation.
 * Thread: the rendezvous thread calls observe(); snapshot() from any thread.
 */
#ifndef RV_CANARY_MONITOR_H
#define RV_CANARY_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "inflight.h"

typedef struct rv_canary_monitor rv_canary_monitor;

/* Where alert and clear records go: the alerts stream in the daemon, a
 * buffer in tests. key is the model's name. Thread: the rendezvous thread;
 * must not block. */
typedef void (*rv_alert_sink)(void *ctx, const char *key, const void *record, size_t len);

rv_canary_monitor *rv_canary_monitor_new(rv_alert_sink sink, void *sink_ctx);

/* The clock the tests are timed by (milliseconds; default the monotonic
 * one): a simulation's or a unit test's. */
void rv_canary_monitor_set_clock(rv_canary_monitor *m, int64_t (*now_ms)(void *), void *ctx);
void rv_canary_monitor_free(rv_canary_monitor *m);

/* A request whose every model has answered. */
void rv_canary_monitor_observe(rv_canary_monitor *m, const rv_inflight *f);

#define RV_CANARY_DECILES 9

typedef struct rv_canary_gauge {
    char model[128];
    double agreement;   /* last full window, NaN before the first */
    double score_shift; /* KS distance to the canary's scores */
    double drift;       /* KS distance to the reference window's; NaN before it */
    double p_drift;     /* its p-value at the last test; NaN before one */
    int alerting;       /* any check in alert */
    char alerts[64];    /* the checks in alert, comma-separated */
    uint64_t compared;  /* requests compared so far */
    uint64_t tests;     /* windows tested so far */
    uint64_t flaps;     /* alerts held: their evidence gone and back before they cleared */
    /* deciles (p10..p90) of the last full window, for a Q-Q plot: the
     * model's score and the canary's for the canary's top label */
    double q_model[RV_CANARY_DECILES], q_canary[RV_CANARY_DECILES];
} rv_canary_gauge;

/* Copies up to max gauges; returns how many models are tracked. */
size_t rv_canary_monitor_snapshot(rv_canary_monitor *m, rv_canary_gauge *out, size_t max);

#endif
