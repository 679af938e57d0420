/*
 * stats.h - counters of the running service, shared by every thread:
 * results by reason, per-model statuses and latency histograms. Read by the
 * shutdown summary and the metrics endpoint. Lock-free atomics only.
 */
#ifndef RV_STATS_H
#define RV_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "model_proc.h"
#include "selection.h"

#define RV_STATS_MAX_MODELS 64
#define RV_LATENCY_BUCKETS 24 /* 1 us .. ~8 s, powers of two */

typedef struct rv_latency_hist {
    atomic_uint_fast64_t bucket[RV_LATENCY_BUCKETS];
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
    rv_latency_hist e2e;
    atomic_int n_models;
    rv_model_stats models[RV_STATS_MAX_MODELS];
} rv_stats;

/* The stats of a model by name, added on first use (NULL when full).
 * Thread: any; names are never removed. */
rv_model_stats *rv_stats_model(rv_stats *s, const char *name);
void rv_latency_add(rv_latency_hist *h, int64_t us);
/* Approximate quantile (upper bucket bound), 0 when empty. */
int64_t rv_latency_quantile(const rv_latency_hist *h, double q);
void rv_stats_print(rv_stats *s, FILE *out);

#endif
