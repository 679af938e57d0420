/*
 * stats.h - counters of the running service, shared by every thread:
 * results by reason, per-model statuses and latency histograms (in-host,
 * decision interval, per model). Read by the
 * shutdown summary and the metrics endpoint. Lock-free atomics only.
 */
#ifndef RV_STATS_H
#define RV_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "proc.h"
#include "selection.h"

#define RV_STATS_MAX_MODELS 64
/* Latencies in microseconds, log-linear (as HdrHistogram): 0..31 us
 * exactly, above that every power of two split into 32 equal sub-buckets,
 * so a percentile is known within 1/64 of its value; up to 2^34 us. */
#define RV_LATENCY_SUB 32
#define RV_LATENCY_SLOTS (RV_LATENCY_SUB * 30)
/* The Prometheus histogram's bounds: powers of two, 1 us .. ~8 s. */
#define RV_LATENCY_BUCKETS 24

typedef struct rv_latency_hist {
    atomic_uint_fast64_t slot[RV_LATENCY_SLOTS];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
} rv_latency_hist;

typedef struct rv_model_stats {
    char name[128];
    atomic_uint_fast64_t by_status[RV_SLOT_STATUS_COUNT]; /* by rv_slot_status */
    atomic_uint_fast64_t chosen;
    rv_latency_hist latency;
    /* model processes that ended (and restart), by RV_PROC_EXIT_* kind */
    atomic_uint_fast64_t restarts_by[RV_PROC_EXIT_KINDS];
} rv_model_stats;

typedef struct rv_stats {
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t dead_letters;
    atomic_uint_fast64_t results_by_reason[RV_REASON_COUNT]; /* by rv_reason */
    atomic_uint_fast64_t results_error;
    atomic_uint_fast64_t reloads_ok, reloads_failed, schedule_changes;
    atomic_uint_fast64_t control_refused; /* unsigned or wrongly signed control records */
    /* exactly-once: transactions committed, aborted, producers made again */
    atomic_uint_fast64_t txn_commits, txn_aborts, txn_restarts;
    rv_latency_hist e2e;        /* in-host: reading the request -> its result */
    rv_latency_hist decision;   /* the chosen answer in -> its result */
    rv_latency_hist txn_commit; /* exactly-once: sending the offsets and committing */
    atomic_int n_models;
    rv_model_stats models[RV_STATS_MAX_MODELS];
    /* the preferred model's path (colocate.h): kept on one CPU, and what
     * it asked of a CPU over the last window, in thousandths of one */
    atomic_int path_kept;
    atomic_uint path_share_permille;
} rv_stats;

/* The stats of a model by name, added on first use (NULL when full).
 * Thread: any; names are never removed. */
rv_model_stats *rv_stats_model(rv_stats *s, const char *name);
void rv_latency_add(rv_latency_hist *h, int64_t us);
/* The q-quantile (0..1) in us: the middle of the sub-bucket holding it
 * (exact under 32 us), 0 when empty. */
double rv_latency_quantile(const rv_latency_hist *h, double q);
/* How many values are below 2^b us (the Prometheus buckets), b <= 34. */
uint64_t rv_latency_below_pow2(const rv_latency_hist *h, int b);
void rv_stats_print(rv_stats *s, FILE *out);

#endif
