/*
 * alarm.c - an alert's state from one test to the next (alarm.h).
 */
#include "alarm.h"

double rv_alarm_alpha(const rv_alarm_policy *p)
{
    double tests_a_day = 86400000.0 / (double)p->test_interval_ms;
    double alpha = p->false_alarms_per_day / (tests_a_day < 1 ? 1 : tests_a_day);
    return alpha < 1 ? alpha : 1;
}

int rv_alarm_interval_passed(int64_t last_test_ms, int64_t now_ms, const rv_alarm_policy *p)
{
    return last_test_ms == 0 || now_ms - last_test_ms >= p->test_interval_ms;
}

int rv_alarm_due(const rv_alarm *a, int64_t now_ms, const rv_alarm_policy *p)
{
    return rv_alarm_interval_passed(a->last_test_ms, now_ms, p);
}

int rv_alarm_step(rv_alarm *a, int bad, int64_t now_ms, const rv_alarm_policy *p)
{
    a->last_test_ms = now_ms;
    if (bad)
        a->last_seen_ms = now_ms;
    if (!a->firing) {
        a->streak = bad ? a->streak + 1 : 0;
        if (a->streak < p->for_tests)
            return RV_ALARM_NONE;
        a->firing = 1;
        a->streak = 0;
        a->gone = 0;
        return RV_ALARM_RAISE;
    }
    if (bad) {
        if (a->gone)
            a->flaps++; /* back before it cleared: held, not sent again */
        a->gone = 0;
        a->streak = 0;
        return RV_ALARM_NONE;
    }
    a->gone = 1;
    a->streak++;
    if (a->streak < p->for_tests || now_ms - a->last_seen_ms < p->keep_firing_ms)
        return RV_ALARM_NONE;
    a->firing = 0;
    a->streak = 0;
    a->gone = 0;
    return RV_ALARM_CLEAR;
}
