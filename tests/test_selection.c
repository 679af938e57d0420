/*
 * test_selection.c - the rendezvous rule (docs/design.md, 4. Selection) case by case,
 * plus an exhaustive check against a direct reading of the rule for every
 * combination of three entries' states and a range of elapsed times.
 */
#include <check.h>

#include "selection.h"
#include "test_helpers.h"

#define P RV_SLOT_PENDING
#define OK RV_SLOT_OK
#define ER RV_SLOT_ERROR
#define SH RV_SLOT_SHED

static const uint32_t within[3] = {20, 40, 40};

static rv_selection sel(rv_slot_status a, rv_slot_status b, rv_slot_status c, int64_t ms)
{
    rv_slot_status s[3] = {a, b, c};
    return rv_select(s, within, 3, ms * 1000);
}

START_TEST(preferred_answer_in_time_wins_at_once)
{
    rv_selection r = sel(OK, P, P, 1);
    ck_assert_int_eq(r.decided, 1);
    ck_assert_int_eq(r.chosen, 0);
}
END_TEST

START_TEST(fallback_waits_for_the_preferred_deadline)
{
    rv_selection r = sel(P, OK, P, 5);
    ck_assert_int_eq(r.decided, 0);
    ck_assert_int_eq(r.wake_at_us, 20000);
    r = sel(P, OK, P, 20);
    ck_assert_int_eq(r.decided, 1);
    ck_assert_int_eq(r.chosen, 1);
}
END_TEST

START_TEST(error_and_shed_resolve_at_once)
{
    rv_selection r = sel(ER, OK, P, 1);
    ck_assert_int_eq(r.chosen, 1);
    r = sel(SH, SH, OK, 1);
    ck_assert_int_eq(r.chosen, 2);
}
END_TEST

START_TEST(late_preferred_still_wins_before_the_next_answers)
{
    /* past its own deadline, entry 0 answers while entry 1 is pending */
    rv_selection r = sel(OK, P, P, 30);
    ck_assert_int_eq(r.decided, 1);
    ck_assert_int_eq(r.chosen, 0);
}
END_TEST

START_TEST(all_resolved_without_ok_is_default)
{
    rv_selection r = sel(ER, ER, SH, 1);
    ck_assert_int_eq(r.decided, 1);
    ck_assert_int_eq(r.chosen, -1);
    r = sel(P, P, P, 40);
    ck_assert_int_eq(r.decided, 1);
    ck_assert_int_eq(r.chosen, -1);
    r = sel(P, P, P, 39);
    ck_assert_int_eq(r.decided, 0);
    ck_assert_int_eq(r.wake_at_us, 40000);
}
END_TEST

START_TEST(empty_schedule_is_default)
{
    rv_selection r = rv_select(NULL, NULL, 0, 0);
    ck_assert_int_eq(r.decided, 1);
    ck_assert_int_eq(r.chosen, -1);
}
END_TEST

/* The rule read literally: the first entry with ok in hand such that every
 * entry before it is resolved. */
static int reference(const rv_slot_status *s, int64_t ms, int *decided)
{
    for (int i = 0; i < 3; i++) {
        if (s[i] != OK)
            continue;
        int before_resolved = 1;
        for (int j = 0; j < i; j++)
            if (s[j] == P && ms < within[j])
                before_resolved = 0;
        if (before_resolved) {
            *decided = 1;
            return i;
        }
    }
    int all_resolved = 1;
    for (int j = 0; j < 3; j++)
        if (s[j] == P && ms < within[j])
            all_resolved = 0;
    *decided = all_resolved;
    return -1;
}

START_TEST(exhaustive_against_the_literal_rule)
{
    const rv_slot_status states[4] = {P, OK, ER, SH};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int ms = 0; ms <= 50; ms++) {
                    rv_slot_status s[3] = {states[a], states[b], states[c]};
                    int decided;
                    int want = reference(s, ms, &decided);
                    rv_selection r = rv_select(s, within, 3, (int64_t)ms * 1000);
                    ck_assert_int_eq(r.decided, decided);
                    if (decided)
                        ck_assert_int_eq(r.chosen, want);
                    else
                        ck_assert_int_gt(r.wake_at_us, (int64_t)ms * 1000);
                }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("selection");
    TCase *tc = tcase_create("rule");
    tcase_add_test(tc, preferred_answer_in_time_wins_at_once);
    tcase_add_test(tc, fallback_waits_for_the_preferred_deadline);
    tcase_add_test(tc, error_and_shed_resolve_at_once);
    tcase_add_test(tc, late_preferred_still_wins_before_the_next_answers);
    tcase_add_test(tc, all_resolved_without_ok_is_default);
    tcase_add_test(tc, empty_schedule_is_default);
    tcase_add_test(tc, exhaustive_against_the_literal_rule);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
