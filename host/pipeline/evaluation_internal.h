/*
 * evaluation_internal.h - what evaluation.c (the join over the store) and
 * evaluation_windows.c (the measures over time) share.
 */
#ifndef RV_EVALUATION_INTERNAL_H
#define RV_EVALUATION_INTERNAL_H

#include "evaluation.h"

/* One answer joined with its request's true label. */
typedef struct rv_eval_sample {
    const char *source;
    const char *version;
    uint32_t schedule_version; /* of the request's result */
    uint32_t truth;            /* index among the evaluation's labels */
    const double *p;           /* each label's probability */
    int64_t time_ms;           /* when it was joined */
} rv_eval_sample;

typedef struct rv_eval_windows rv_eval_windows;

rv_eval_windows *rv_eval_windows_new(size_t n_labels);
void rv_eval_windows_free(rv_eval_windows *w);
/* 0, or -1 when out of memory (then some windows may miss it). */
int rv_eval_windows_add(rv_eval_windows *w, const rv_eval_sample *x);
rv_evaluation_figure *rv_eval_windows_snapshot(rv_eval_windows *w, int64_t now_ms, size_t *n);

#endif
