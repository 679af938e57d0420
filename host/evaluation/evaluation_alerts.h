/*
 * evaluation_alerts.h - when a source's accuracy over the last hour falls
 * below the canary's, or below its own first window's, by more than a
 * margin: an alert, and a clear once it is back. Pure: given the figures
 * of each report, it says what changed.
 *
 * A source is compared once its last hour holds min_answers joined answers
 * (and the canary's as many, for that check; and its first window is full,
 * for the other). The canary is not compared with itself.
 */
#ifndef RV_EVALUATION_ALERTS_H
#define RV_EVALUATION_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "evaluation.h"

typedef struct rv_eval_alerts rv_eval_alerts;

/* canary: the canary model's name, NULL when there is none. NULL when out
 * of memory. */
rv_eval_alerts *rv_eval_alerts_new(const char *canary, double margin, uint64_t min_answers,
                                   uint64_t baseline_answers);
void rv_eval_alerts_free(rv_eval_alerts *a);

typedef enum { RV_EVAL_BELOW_CANARY, RV_EVAL_BELOW_FIRST, RV_EVAL_CHECKS } rv_eval_check;
const char *rv_eval_check_name(rv_eval_check c);

/* A change: raised, or cleared. */
typedef struct rv_eval_alert {
    int raised;
    rv_eval_check check;
    char source[128];
    char version[64];
    char reference[128]; /* the canary, or the source itself */
    double value;        /* the source's accuracy over the last hour */
    double threshold;    /* the reference's minus the margin */
    uint64_t count;      /* joined answers in the source's last hour */
} rv_eval_alert;

/* Compares the figures of one snapshot; the changes since the last call
 * go into out (at most max; the rest wait for the next call). Returns how
 * many. */
size_t rv_eval_alerts_check(rv_eval_alerts *a, const rv_evaluation_figure *f, size_t n,
                            rv_eval_alert *out, size_t max);

#endif
