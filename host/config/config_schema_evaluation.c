/*
 * config_schema_evaluation.c - the keys of the evaluation section (live
 * evaluation against true labels) and of the alerts section (how the
 * canary's and the evaluation's alerts decide), rows as in config_schema.c.
 */
#include "config_internal.h"

#include <stddef.h>

#define C(f) offsetof(rv_config, f)

static void check_fraction(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                           void *base)
{
    double d = *(const double *)cf_slot(base, k);
    if (!(d >= 0 && d <= 1))
        cy_report(l, v, kp, "%g is not between 0 and 1", d);
}

static void check_sample(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    double d = *(const double *)cf_slot(base, k);
    if (!(d > 0 && d <= 1))
        cy_report(l, v, kp, "%g is not a share of the requests: above 0, at most 1", d);
}

static const cf_key evaluation_keys[] = {
    {.name = "labels",
     .type = CF_LIST,
     .offset = C(evaluation.labels),
     .n_offset = C(evaluation.n_labels),
     .flags = CF_REQUIRED | CF_NONEMPTY | CF_UNIQUE,
     .check = cf_check_evaluation_labels,
     .many = "a sequence of labels",
     .one = "label",
     .help = "The labels measured, at least two; with two, the second is the positive one "
             "(AUC, Brier score). A true label not among them is counted and left out."},
    {.name = "max_label_delay_s",
     .type = CF_U32,
     .offset = C(evaluation.max_label_delay_s),
     .flags = CF_POSITIVE,
     .def = "2592000",
     .help = "How long a request's answers wait for its label (and a label for its "
             "answers), in seconds: 30 days by default."},
    {.name = "store_mb",
     .type = CF_U32,
     .offset = C(evaluation.store_mb),
     .flags = CF_POSITIVE,
     .max = 1048576,
     .def = "1024",
     .help = "The on-disk join store's bound (`<state_dir>/evaluation`, LMDB), in MiB: past "
             "half of it, the answers soonest to expire are evicted (counted)."},
    {.name = "interval_ms",
     .type = CF_U32,
     .offset = C(evaluation.interval_ms),
     .flags = CF_POSITIVE,
     .max = 3600000,
     .def = "1000",
     .help = "How often what was read is joined, stored and measured."},
    {.name = "report_s",
     .type = CF_U32,
     .offset = C(evaluation.report_s),
     .flags = CF_POSITIVE,
     .def = "60",
     .help = "How often each source's figures are written to the evaluation stream (one "
             "record per source and window) and the alerts checked, in seconds."},
    {.name = "baseline_answers",
     .type = CF_U32,
     .offset = C(evaluation.baseline_answers),
     .flags = CF_POSITIVE,
     .def = "1000",
     .help = "A source's first window: its first this many joined answers, then frozen; what "
             "its last hour is compared with."},
    {.name = "alert_margin",
     .type = CF_NUMBER,
     .offset = C(evaluation.alert_margin),
     .def = "0.05",
     .check = check_fraction,
     .help = "An `alert` (check `accuracy_below_canary` or `accuracy_below_first`) when a "
             "source's accuracy over the last hour is below the canary's, or below its own first "
             "window's, by more than this; a `clear` once it is not."},
    {.name = "alert_min_answers",
     .type = CF_U32,
     .offset = C(evaluation.alert_min_answers),
     .flags = CF_POSITIVE,
     .def = "100",
     .help = "Joined answers the last hour must hold (the source's and the canary's) before "
             "it is compared; a first window is compared once it is full."},
    {.name = "sample",
     .type = CF_NUMBER,
     .offset = C(evaluation.sample),
     .def = "1",
     .check = check_sample,
     .help = "The share of requests evaluated, chosen by a hash of the request id (the same on "
             "every host, the role and after a restart): 0.1 keeps a tenth of the store and "
             "of the work. Counts and figures are of those requests."},
    {.name = "in_host",
     .type = CF_BOOL,
     .offset = C(evaluation.in_host),
     .def = "true",
     .help = "Run the evaluation in the host; `false` when `rendezvous evaluate` runs it "
             "(a process of its own, so that evaluation never slows serving)."},
    {0},
};

const cf_section cf_evaluation_section = {
    .path = "evaluation",
    .help = "Live evaluation: each model's answers, and the one served, joined with the true "
            "labels of the labels stream and measured; none without this section.",
    .keys = evaluation_keys,
};

static void check_rate(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    double d = *(const double *)cf_slot(base, k);
    if (!(d > 0 && d <= 86400))
        cy_report(l, v, kp, "%g is not a rate of false alarms a day: above 0, at most 86400", d);
}

static const cf_key alerts_keys[] = {
    {.name = "false_alarms_per_day",
     .type = CF_NUMBER,
     .offset = C(alerts.false_alarms_per_day),
     .def = "0.01",
     .check = check_rate,
     .help = "The false alarms each check of each model may give a day on traffic that does "
             "not change (0.01: one in a hundred days). Each test is made at this divided by "
             "the tests a day (`86400 / test_interval_s`), so that the bound holds a day, "
             "however many windows pass (docs/alerts.md)."},
    {.name = "test_interval_s",
     .type = CF_U32,
     .offset = C(alerts.test_interval_s),
     .flags = CF_POSITIVE,
     .max = 86400,
     .def = "10",
     .help = "At most one test of each check of each model this often, in seconds: the "
             "canary's windows that close in between are shown (`/v1/stats`), not tested."},
    {.name = "for",
     .type = CF_U32,
     .offset = C(alerts.for_tests),
     .flags = CF_POSITIVE,
     .max = 1000,
     .def = "3",
     .help = "An alert is raised once its test found the evidence this many times in a row, "
             "and cleared once it found none as many times in a row (Prometheus' `for`)."},
    {.name = "keep_firing_for_s",
     .type = CF_U32,
     .offset = C(alerts.keep_firing_for_s),
     .def = "300",
     .help = "A raised alert is cleared no sooner than this after its evidence was last "
             "found, in seconds: one that comes and goes stays raised and is not sent again "
             "(Prometheus' `keep_firing_for`)."},
    {0},
};

const cf_section cf_alerts_section = {
    .path = "alerts",
    .help = "How the canary monitor's and the live evaluation's alerts decide: a statistical "
            "test at a level set by the false alarms a day, raised after its evidence held "
            "for some tests, cleared after it was gone as long (docs/alerts.md).",
    .keys = alerts_keys,
};
