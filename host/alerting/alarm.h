/*
 * alarm.h - an alert's life, as alerting systems keep it (Prometheus'
 * `for:` and `keep_firing_for:`): each test of a check says whether its
 * evidence holds; the alert is raised once it held for `for_tests` tests in
 * a row, and cleared once it was gone for as many tests and for
 * keep_firing_ms since it was last seen. An alert whose evidence comes and
 * goes (it flaps) therefore stays raised and is not sent again; its flaps
 * are counted.
 *
 * The false alarms a check may give are a rate per day, not per test: a
 * check is tested at most once per test_interval_ms, so at most
 * 86400 s / test_interval tests a day, and each test is made at level
 * false_alarms_per_day / that (Bonferroni's bound: whatever the tests'
 * dependence, the expected false alarms a day are at most the rate).
 */
#ifndef RV_ALARM_H
#define RV_ALARM_H

#include <stdint.h>

typedef struct rv_alarm_policy {
    double false_alarms_per_day; /* per check and model, > 0 */
    int64_t test_interval_ms;    /* at most one test per check this often, > 0 */
    uint32_t for_tests;          /* tests in a row the evidence must hold (or be gone), >= 1 */
    int64_t keep_firing_ms;      /* raised: cleared no sooner than this after last seen */
} rv_alarm_policy;

/* The level of one test: the probability of a false alarm it may have. */
double rv_alarm_alpha(const rv_alarm_policy *p);

typedef struct rv_alarm {
    int firing;
    uint32_t streak;      /* tests in a row against the state (evidence, or none) */
    int64_t last_seen_ms; /* the evidence last held */
    int64_t last_test_ms; /* 0: never tested */
    uint64_t flaps;       /* raised, the evidence gone and back before it cleared */
    int gone;             /* raised and its evidence gone at the last test */
} rv_alarm;

/* Whether a test is due at now_ms: test_interval_ms since the last, made at
 * last_test_ms (0: never); rv_alarm_due for one alarm's own tests. */
int rv_alarm_interval_passed(int64_t last_test_ms, int64_t now_ms, const rv_alarm_policy *p);
int rv_alarm_due(const rv_alarm *a, int64_t now_ms, const rv_alarm_policy *p);

enum { RV_ALARM_NONE, RV_ALARM_RAISE, RV_ALARM_CLEAR };

/* One test's outcome at now_ms (bad: its evidence holds). Returns
 * RV_ALARM_RAISE or RV_ALARM_CLEAR when the alert is to be sent, else
 * RV_ALARM_NONE. */
int rv_alarm_step(rv_alarm *a, int bad, int64_t now_ms, const rv_alarm_policy *p);

#endif
