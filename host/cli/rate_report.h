/*
 * rate_report.h - what `rendezvous rate` measures of each model over the
 * same requests, and its report (a table, or JSON).
 */
#ifndef RV_RATE_REPORT_H
#define RV_RATE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "generation.h"
#include "slot.h"

typedef struct rv_rate_model rv_rate_model;
typedef struct rv_rate_report rv_rate_report;

/* For n requests through g's models. NULL on out of memory. */
rv_rate_report *rv_rate_report_new(const rv_generation *g, size_t n);
void rv_rate_report_free(rv_rate_report *r);
/* The rows of g's model i. */
rv_rate_model *rv_rate_report_model(rv_rate_report *r, size_t i);
/* Request req's answer (ok or not) and the time its score call took. */
void rv_rate_model_add(rv_rate_model *m, size_t req, int ok, const rv_slot *s, int64_t latency_us);
/* The true labels, from a file of `id,label` lines (a first line `id,label`
 * is a header); ids[i] is request i's id. 0, or -1 with why. */
int rv_rate_report_labels(rv_rate_report *r, const char *const *ids, const char *path, char *why,
                          size_t why_size);
/* The results recorded live: JSON lines as on the results topic. 0, or -1
 * with why. */
int rv_rate_report_results(rv_rate_report *r, const char *const *ids, const char *path, char *why,
                           size_t why_size);
/* corrupt: records the archive reader skipped; skipped: records that were
 * no request the candidate would score (legacy, or a dead letter). */
void rv_rate_report_print(const rv_rate_report *r, FILE *out, int json, long corrupt, long skipped);

#endif
