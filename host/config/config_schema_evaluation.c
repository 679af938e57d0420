/*
 * config_schema_evaluation.c - the keys of the evaluation section (live
 * evaluation against true labels), of the alerts section (how the canary's
 * and the evaluation's alerts decide) and of the promotion section (a
 * challenger put first by evidence), rows as in config_schema.c.
 */
#include "config_internal.h"

#include <stddef.h>
#include <string.h>

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

static void check_mode(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    const char *s = cf_slot_text(k, base);
    if (s && strcmp(s, "propose") != 0 && strcmp(s, "apply") != 0)
        cy_report(l, v, kp, "'%s' is neither propose nor apply", s);
}

static void check_metric(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    static const char *const metrics[] = {"accuracy", "auc", "brier", "log_loss"};
    const char *s = cf_slot_text(k, base);
    for (size_t i = 0; s && i < sizeof metrics / sizeof *metrics; i++)
        if (strcmp(s, metrics[i]) == 0)
            return;
    if (s)
        cy_report(l, v, kp, "'%s' is not accuracy, auc, brier or log_loss", s);
}

static void check_alpha(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                        void *base)
{
    double d = *(const double *)cf_slot(base, k);
    if (!(d > 0 && d <= 0.5))
        cy_report(l, v, kp, "%g is not a level: above 0, at most 0.5", d);
}

/* The whole section: it judges on the evaluation's labels, names models of
 * the config, and its race has room for a look. */
static void check_promotion(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                            void *base)
{
    (void)k;
    const rv_config *c = base;
    if (!c->evaluation.labels)
        cy_report(l, m, kp, "needs the evaluation section: it decides on live labels");
    else if (c->promotion.metric && !strcmp(c->promotion.metric, "auc") &&
             c->evaluation.n_labels != 2)
        cy_report(l, m, kp, "metric auc needs two labels (evaluation.labels has %zu)",
                  c->evaluation.n_labels);
    if (c->promotion.max_labels < c->promotion.min_labels)
        cy_report(l, m, kp, "max_labels (%u) is below min_labels (%u): no look would be made",
                  c->promotion.max_labels, c->promotion.min_labels);
    for (size_t i = 0; i < c->promotion.n_pinned; i++) {
        size_t j = 0;
        while (j < c->n_models && strcmp(c->models[j].name, c->promotion.pinned[i]) != 0)
            j++;
        if (j == c->n_models)
            cy_report(l, m, kp, "pinned: '%s' is not a model of this config",
                      c->promotion.pinned[i]);
    }
}

static const cf_key promotion_keys[] = {
    {.name = "metric",
     .type = CF_STRING,
     .offset = C(promotion.metric),
     .flags = CF_REQUIRED,
     .check = check_metric,
     .help = "What a challenger must be better at: `accuracy`, `auc` (two labels), `brier` or "
             "`log_loss`, on the same labelled requests as the champion (the schedule's first "
             "model)."},
    {.name = "mode",
     .type = CF_STRING,
     .offset = C(promotion.mode),
     .def = "propose",
     .check = check_mode,
     .help = "`propose`: each decision is a record on the alerts stream (and "
             "`GET /v1/promotions`); `apply`: also the control record that puts the challenger "
             "first (signed with `control.key_file` when there is one), which every host "
             "follows."},
    {.name = "margin",
     .type = CF_NUMBER,
     .offset = C(promotion.margin),
     .def = "0.01",
     .check = check_fraction,
     .help = "How much better, in the metric's units, a challenger must be: H0 of the test is "
             "that it is better by at most this."},
    {.name = "alpha",
     .type = CF_NUMBER,
     .offset = C(promotion.alpha),
     .def = "0.01",
     .check = check_alpha,
     .help = "The probability that a race promotes a challenger that is not better by the "
             "margin, however many looks it takes (each look at alpha / looks)."},
    {.name = "min_labels",
     .type = CF_U32,
     .offset = C(promotion.min_labels),
     .flags = CF_POSITIVE,
     .def = "1000",
     .help = "Labelled requests both models answered before a race's first look, and between "
             "two looks."},
    {.name = "max_labels",
     .type = CF_U32,
     .offset = C(promotion.max_labels),
     .flags = CF_POSITIVE,
     .def = "10000",
     .help = "A race's labelled requests at most: after max_labels / min_labels looks without "
             "evidence the challenger has lost (a record says so) until it or the champion "
             "changes."},
    {.name = "max_error_rate",
     .type = CF_NUMBER,
     .offset = C(promotion.max_error_rate),
     .def = "0.01",
     .check = check_fraction,
     .help = "A challenger whose answers were errors more often than this over its race is "
             "not promoted, however good its answers. Answers the host shed (a full queue) are "
             "not errors: max_shed_rate bounds them."},
    {.name = "max_shed_rate",
     .type = CF_NUMBER,
     .offset = C(promotion.max_shed_rate),
     .def = "0.1",
     .check = check_fraction,
     .help = "A challenger whose requests the host shed (its queue full) more often than this "
             "over its race is not promoted. Apart from errors and looser: a challenger scores "
             "at background priority, so on a busy host its queue is the first to fill; one too "
             "slow to keep up is blocked by its latency, which counts the wait in its queue."},
    {.name = "cooldown_s",
     .type = CF_U32,
     .offset = C(promotion.cooldown_s),
     .def = "3600",
     .help = "No schedule change sooner than this after the last one this decider made."},
    {.name = "hold_s",
     .type = CF_U32,
     .offset = C(promotion.hold_s),
     .def = "3600",
     .help = "For this long after a promotion, the model it replaced races the promoted one "
             "(margin 0): if it is found better, it is put back (rollback)."},
    {.name = "pinned",
     .type = CF_LIST,
     .offset = C(promotion.pinned),
     .n_offset = C(promotion.n_pinned),
     .flags = CF_UNIQUE,
     .many = "a sequence of model names",
     .one = "model",
     .help = "Models never demoted: while one is first, no challenger races it."},
    {0},
};

const cf_section cf_promotion_section = {
    .path = "promotion",
    .help = "Promotion by evidence: a challenger better than the champion on live labels, by a "
            "paired test, is proposed or put first; a promotion that regresses is rolled back "
            "(docs/evaluating.md); none without this section.",
    .keys = promotion_keys,
    .check = check_promotion,
};
