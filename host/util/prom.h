/*
 * prom.h - Prometheus' text exposition format (version 0.0.4), written in
 * one place: a family's HELP and TYPE lines, samples whose label values
 * are escaped here (backslash, double quote, newline) at any length, and
 * histograms from per-bucket counts. Never truncates: the text buffer
 * grows, and its out-of-memory flag is the caller's one check.
 */
#ifndef RV_PROM_H
#define RV_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

typedef struct rv_prom_label {
    const char *name; /* a valid label name, written as is */
    const char *value;
} rv_prom_label;

/* "# HELP name help" and "# TYPE name type"; help may not hold a newline. */
void rv_prom_family(rv_text *t, const char *name, const char *type, const char *help);

/* name{labels} v, the integer exactly. */
void rv_prom_counter(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                     uint64_t v);

/* name{labels} v; NaN and infinities as Prometheus spells them. */
void rv_prom_gauge(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                   double v);

/* name_bucket{labels,le="upper[i]"} for each of n_buckets counts (not
 * cumulative; the last bucket's upper bound is +Inf whatever upper holds),
 * then name_sum and name_count. */
void rv_prom_histogram(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                       const uint64_t *counts, const double *upper, size_t n_buckets, double sum);

/* A summary: name{labels,quantile="q[i]"} v[i] for each of n_q quantiles,
 * then name_sum and name_count. */
void rv_prom_summary(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                     const double *q, const double *v, size_t n_q, double sum, uint64_t count);

#endif
