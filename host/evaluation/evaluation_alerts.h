/*
 * evaluation_alerts.h - when a source's accuracy over the last hour is
 * below the canary's, or below its own first window's, by more than a
 * margin: an alert, and a clear once it is back. Pure: given the figures
 * of each report and the time, it says what changed.
 *
 * "Below by more than the margin" is decided by a test on the joined
 * counts, not read off the two accuracies: the one-sided two-proportion
 * z-test of H0 "accuracy >= the reference's - margin" (a non-inferiority
 * test), evidence when its p-value is below the policy's alpha. Against
 * the canary, whose answers are to the same requests (positively
 * correlated), the unpaired variance is larger than the true one: the test
 * is conservative there. The alert's life is alarm.h's.
 *
 * A source is compared once its last hour holds min_answers joined answers
 * (and the canary's as many, for that check; and its first window is full,
 * for the other). The canary is not compared with itself.
 */
#ifndef RV_EVALUATION_ALERTS_H
#define RV_EVALUATION_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "alarm.h"
#include "config.h"
#include "evaluation.h"

typedef struct rv_eval_alerts rv_eval_alerts;

/* The config's alerts section as the alarms take it (the canary's too). */
rv_alarm_policy rv_alarm_policy_of(const rv_config *cfg);

/* canary: the canary model's name, NULL when there is none. NULL when out
 * of memory. */
rv_eval_alerts *rv_eval_alerts_new(const char *canary, double margin, uint64_t min_answers,
                                   uint64_t baseline_answers, const rv_alarm_policy *policy);
void rv_eval_alerts_free(rv_eval_alerts *a);

typedef enum { RV_EVAL_BELOW_CANARY, RV_EVAL_BELOW_FIRST, RV_EVAL_CHECKS } rv_eval_check;
const char *rv_eval_check_name(rv_eval_check c);

/* A change: raised, or cleared. */
typedef struct rv_eval_alert {
    int raised;
    rv_eval_check check;
    char source[128];
    char version[64];
    char reference[128];      /* the canary, or the source itself */
    double value;             /* the source's accuracy over the last hour */
    double threshold;         /* the reference's minus the margin */
    double p_value;           /* the test's */
    double alpha;             /* the level it was made at */
    uint32_t for_tests;       /* tests in a row the evidence held (or was gone) */
    uint64_t count;           /* joined answers in the source's last hour */
    uint64_t reference_count; /* the reference's */
} rv_eval_alert;

/* The p-value of H0 "the source's accuracy >= the reference's - margin"
 * from the joined counts (one-sided two-proportion z-test). */
double rv_eval_below_p(double accuracy, uint64_t n, double reference, uint64_t n_reference,
                       double margin);

/* Tests the figures of one snapshot taken at now_ms (the checks due); the
 * alerts to send go into out (at most max; call again with the same
 * figures for the rest, which are then not tested again). Returns how
 * many. */
size_t rv_eval_alerts_check(rv_eval_alerts *a, const rv_evaluation_figure *f, size_t n,
                            int64_t now_ms, rv_eval_alert *out, size_t max);

#endif
