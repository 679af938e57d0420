/*
 * test_promotion.c - a race's looks (promotion.h) on synthetic streams
 * whose truth is known. Two labels, 40 % positive; a model of separation
 * mu says P(positive) = logistic(+-mu + Z), Z ~ N(0, 1) drawn for each
 * request and each model independently (+ for a positive): its accuracy is
 * Phi(mu), its AUC Phi(mu sqrt 2), its Brier score and log loss integrals
 * over Z, computed here. The champion's accuracy is 0.85. Races of the
 * policy {alpha 0.05, min_labels 500, max_labels 2000}: 4 looks, each at
 * 0.0125, run look by look until decided:
 *   an equal challenger (margin 0) is promoted in at most alpha of them;
 *   one of accuracy 0.90 (margin 0.01) in at least 90 %;
 *   one better by half the margin in at most alpha of them;
 * and the looks' numbers, the edge cases and the metrics' values by hand.
 */
#include <check.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promotion.h"
#include "stattest.h"
#include "test_helpers.h"

/* ---- a seeded stream: splitmix64, Box-Muller */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1p-53;
}

static double normal(uint64_t *s)
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2 * log1p(-u)) * cos(2 * M_PI * v);
}

static double logistic(double x)
{
    return 1 / (1 + exp(-x));
}

#define BASE_RATE 0.4

/* One request both models answered; a model's P(the truth) is
 * logistic(mu + Z) whichever the truth. */
static void draw_pair(uint64_t *s, double mu_a, double mu_b, rv_pair *x)
{
    int y = uniform(s) < BASE_RATE;
    double ta = logistic(mu_a + normal(s)), tb = logistic(mu_b + normal(s));
    x->positive = (unsigned char)y;
    x->a_truth = ta;
    x->b_truth = tb;
    x->a_pos = y ? ta : 1 - ta;
    x->b_pos = y ? tb : 1 - tb;
    x->a_correct = ta > 0.5; /* the top label is the truth */
    x->b_correct = tb > 0.5;
    x->a_brier = 2 * (1 - ta) * (1 - ta); /* both labels' squares */
    x->b_brier = 2 * (1 - tb) * (1 - tb);
}

static void draw_stream(uint64_t *s, double mu_a, double mu_b, rv_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        draw_pair(s, mu_a, mu_b, &pairs[i]);
}

/* ---- the truth */

static double softplus(double x) /* log(1 + e^x) */
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* E f(mu + Z, mu) by Simpson's rule over Z in [-12, 12], h = 0.01. */
static double expect(double (*f)(double, double), double mu)
{
    enum { STEPS = 2400 };
    double h = 24.0 / STEPS, s = 0;
    for (int i = 0; i <= STEPS; i++) {
        double z = -12 + h * i, w = i == 0 || i == STEPS ? 1 : i % 2 ? 4 : 2;
        s += w * exp(-z * z / 2) * f(mu + z, mu);
    }
    return s * h / 3 / sqrt(2 * M_PI);
}

static double brier_of(double x, double mu)
{
    return 2 * (1 - logistic(x)) * (1 - logistic(x));
}

static double brier_sq(double x, double mu)
{
    return brier_of(x, mu) * brier_of(x, mu);
}

static double log_loss_of(double x, double mu)
{
    return softplus(-x);
}

static double log_loss_sq(double x, double mu)
{
    return softplus(-x) * softplus(-x);
}

/* A positive's V10, the share of negatives below its score x (logits,
 * the negatives' N(-mu, 1)): Phi(x + mu); squared. A negative's V01 has
 * the same distribution. */
static double v10_sq(double x, double mu)
{
    double v = rv_norm_cdf(x + mu);
    return v * v;
}

/* The metric of a model of separation mu. */
static double truth(rv_metric m, double mu)
{
    switch (m) {
    case RV_METRIC_ACCURACY: return rv_norm_cdf(mu);
    case RV_METRIC_AUC: return rv_norm_cdf(mu * M_SQRT2);
    case RV_METRIC_BRIER: return expect(brier_of, mu);
    default: return expect(log_loss_of, mu);
    }
}

/* How much better than mu_a a model of separation mu_b is, in the
 * metric's units (a loss's fall). */
static double improvement(rv_metric m, double mu_a, double mu_b)
{
    double d = truth(m, mu_b) - truth(m, mu_a);
    return rv_metric_higher_is_better(m) ? d : -d;
}

/* n times the variance of the test's statistic over n pairs: of a
 * request's loss difference (the two models independent), or for the AUC
 * DeLong's (Var V10 / m + Var V01 / k, m = 0.4 n, k = 0.6 n, both models). */
static double unit_variance(rv_metric m, double mu_a, double mu_b)
{
    double v = 0, mus[2] = {mu_a, mu_b};
    for (int i = 0; i < 2; i++) {
        double t = truth(m, mus[i]);
        switch (m) {
        case RV_METRIC_ACCURACY: v += t * (1 - t); break;
        case RV_METRIC_AUC:
            v += (expect(v10_sq, mus[i]) - t * t) * (1 / BASE_RATE + 1 / (1 - BASE_RATE));
            break;
        case RV_METRIC_BRIER: v += expect(brier_sq, mus[i]) - t * t; break;
        default: v += expect(log_loss_sq, mus[i]) - t * t; break;
        }
    }
    return v;
}

/* The separation whose accuracy is acc. */
static double mu_of_accuracy(double acc)
{
    double lo = -10, hi = 10;
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        *(rv_norm_cdf(mid) < acc ? &lo : &hi) = mid;
    }
    return (lo + hi) / 2;
}

/* The challenger's separation that is better than mu_a by `by`. */
static double mu_better_by(rv_metric m, double mu_a, double by)
{
    double lo = mu_a, hi = mu_a + 2, sign = rv_metric_higher_is_better(m) ? 1 : -1;
    double want = truth(m, mu_a) + sign * by;
    for (int i = 0; i < 50; i++) {
        double mid = (lo + hi) / 2;
        *(sign * (truth(m, mid) - want) < 0 ? &lo : &hi) = mid;
    }
    return (lo + hi) / 2;
}

/* What the race should give, by its large-sample picture: the looks' sums
 * a random walk of steps N(delta min_labels, var min_labels), a look's z
 * (sum / n - margin) / sqrt(var / n) against z at alpha / looks. The share
 * promoted and the mean labels at promotion, over `sims` walks. */
static double race_expected(const rv_promotion_policy *p, double delta, double var, int sims,
                            double *labels)
{
    uint64_t s = 0xe7;
    uint32_t looks = rv_promotion_looks(p);
    double lo = -40, hi = 40, alpha_look = p->alpha / looks;
    for (int i = 0; i < 100; i++) { /* z with 1 - Phi(z) = alpha_look */
        double mid = (lo + hi) / 2;
        *(rv_norm_cdf(-mid) > alpha_look ? &lo : &hi) = mid;
    }
    double z_look = (lo + hi) / 2, won = 0, at = 0, step = p->min_labels;
    for (int r = 0; r < sims; r++) {
        double sum = 0;
        for (uint32_t k = 1; k <= looks; k++) {
            sum += delta * step + sqrt(var * step) * normal(&s);
            double n = step * k;
            if ((sum / n - p->margin) / sqrt(var / n) > z_look) {
                won++;
                at += n;
                break;
            }
        }
    }
    *labels = won ? at / won : 0;
    return won / sims;
}

/* ---- races */

/* A race on the stream, look by look (look k on its first k min_labels
 * pairs) until decided, each look's numbers checked on the way. 1 when the
 * challenger is promoted; *labels: the pairs of the deciding look. */
static int run_race(const rv_promotion_policy *p, const rv_pair *pairs, size_t *labels)
{
    uint32_t looks = rv_promotion_looks(p);
    for (uint32_t k = 1;; k++) {
        size_t n = (size_t)k * p->min_labels;
        rv_promotion_look l;
        ck_assert_int_eq(rv_promotion_look_at(p, pairs, n, &l), 0);
        ck_assert_uint_eq(l.look, k);
        ck_assert_uint_eq(l.looks, looks);
        ck_assert_uint_eq(l.labels, n);
        ck_assert(l.alpha_look == p->alpha / looks);
        ck_assert(l.p_value >= 0 && l.p_value <= 1);
        ck_assert_int_eq(l.better, l.p_value < l.alpha_look);
        ck_assert_int_eq(l.decided, l.better || k == looks);
        if (l.decided) {
            *labels = n;
            return l.better;
        }
    }
}

#define MAX_LABELS 2000
#define NULL_RACES 600
#define RACES 200
#define SIMS 10000 /* walks of race_expected */

static const rv_promotion_policy base = {RV_METRIC_ACCURACY, 0, 0.05, 500, MAX_LABELS};

/* A challenger equal to the champion, margin 0, the same streams for the
 * four metrics: promoted in at most alpha of the races, give or take the
 * estimate's error. The bound is alpha + 3 standard errors of a share of
 * NULL_RACES at alpha, sqrt(alpha (1 - alpha) / NULL_RACES) (0.0089 at
 * 600: 0.077); Bonferroni's alpha / looks at each of 4 correlated looks
 * makes the true rate near 0.033 (race_expected; 20,000 races of this
 * test gave 0.036 for accuracy, whose z-test is on a lattice, and 0.032 to
 * 0.034 for the others). */
START_TEST(an_equal_challenger_is_rarely_promoted)
{
    static rv_pair pairs[MAX_LABELS];
    double mu = mu_of_accuracy(0.85);
    uint64_t s = 0x0e0a1;
    int promoted[RV_METRICS] = {0};
    for (int r = 0; r < NULL_RACES; r++) {
        draw_stream(&s, mu, mu, pairs, MAX_LABELS);
        for (int m = 0; m < RV_METRICS; m++) {
            rv_promotion_policy p = base;
            p.metric = (rv_metric)m;
            size_t labels;
            promoted[m] += run_race(&p, pairs, &labels);
        }
    }
    double bound = base.alpha + 3 * sqrt(base.alpha * (1 - base.alpha) / NULL_RACES);
    for (int m = 0; m < RV_METRICS; m++) {
        rv_promotion_policy p = base;
        p.metric = (rv_metric)m;
        double labels,
            expected = race_expected(&p, 0, unit_variance(p.metric, mu, mu), SIMS, &labels);
        double rate = (double)promoted[m] / NULL_RACES;
        printf("equal challenger, %s: promoted in %d of %d races (%.4f; expected %.4f, "
               "bound %.4f)\n",
               rv_metric_name(p.metric), promoted[m], NULL_RACES, rate, expected, bound);
        ck_assert_msg(rate <= bound, "%s: an equal challenger promoted in %.4f of the races",
                      rv_metric_name(p.metric), rate);
    }
}
END_TEST

/* A challenger of accuracy 0.90 against 0.85 (its AUC 0.965 against 0.929,
 * Brier 0.187 against 0.242, log loss 0.328 against 0.396), margin 0.01:
 * promoted in at least 90 % of the races. Expected (race_expected, printed):
 * accuracy 0.957 at 975 labels on average, AUC 0.967 at 945, Brier 0.9996
 * at 673, log loss 0.9999 at 622. */
START_TEST(a_better_challenger_is_promoted)
{
    static rv_pair pairs[MAX_LABELS];
    double mu_a = mu_of_accuracy(0.85), mu_b = mu_of_accuracy(0.90);
    uint64_t s = 0xbe77e4;
    int promoted[RV_METRICS] = {0};
    double labels_at[RV_METRICS] = {0};
    for (int r = 0; r < RACES; r++) {
        draw_stream(&s, mu_a, mu_b, pairs, MAX_LABELS);
        for (int m = 0; m < RV_METRICS; m++) {
            rv_promotion_policy p = base;
            p.metric = (rv_metric)m;
            p.margin = 0.01;
            size_t labels;
            if (run_race(&p, pairs, &labels)) {
                promoted[m]++;
                labels_at[m] += (double)labels;
            }
        }
    }
    for (int m = 0; m < RV_METRICS; m++) {
        rv_promotion_policy p = base;
        p.metric = (rv_metric)m;
        p.margin = 0.01;
        double delta = improvement(p.metric, mu_a, mu_b), labels;
        double expected =
            race_expected(&p, delta, unit_variance(p.metric, mu_a, mu_b), SIMS, &labels);
        double power = (double)promoted[m] / RACES;
        printf("challenger better by %.4f, %s (%.4f against %.4f), margin 0.01: promoted in %d "
               "of %d races (%.3f; expected %.3f), at %.0f labels on average (expected %.0f)\n",
               delta, rv_metric_name(p.metric), truth(p.metric, mu_b), truth(p.metric, mu_a),
               promoted[m], RACES, power, expected, promoted[m] ? labels_at[m] / promoted[m] : 0,
               labels);
        ck_assert_msg(power >= 0.9, "%s: a better challenger promoted in only %.3f of the races",
                      rv_metric_name(p.metric), power);
    }
}
END_TEST

/* A challenger better by half the margin (0.005 in each metric's units),
 * margin 0.01: promoted in at most alpha of the races (the true rate is
 * below the equal challenger's at margin 0). */
START_TEST(a_challenger_better_by_less_than_the_margin_is_not)
{
    static rv_pair pairs[MAX_LABELS];
    double mu_a = mu_of_accuracy(0.85);
    uint64_t s = 0x1e55;
    for (int m = 0; m < RV_METRICS; m++) {
        rv_promotion_policy p = base;
        p.metric = (rv_metric)m;
        p.margin = 0.01;
        double mu_b = mu_better_by(p.metric, mu_a, p.margin / 2);
        double delta = improvement(p.metric, mu_a, mu_b);
        ck_assert(fabs(delta - 0.005) < 1e-9);
        int promoted = 0;
        for (int r = 0; r < RACES; r++) {
            draw_stream(&s, mu_a, mu_b, pairs, MAX_LABELS);
            size_t labels;
            promoted += run_race(&p, pairs, &labels);
        }
        double labels,
            expected = race_expected(&p, delta, unit_variance(p.metric, mu_a, mu_b), SIMS, &labels);
        printf("challenger better by 0.005, %s, margin 0.01: promoted in %d of %d races (%.3f; "
               "expected %.4f)\n",
               rv_metric_name(p.metric), promoted, RACES, (double)promoted / RACES, expected);
        ck_assert_msg(promoted <= p.alpha * RACES, "%s: promoted in %d of %d races",
                      rv_metric_name(p.metric), promoted, RACES);
    }
}
END_TEST

/* ---- by hand */

START_TEST(names_and_looks)
{
    for (int m = 0; m < RV_METRICS; m++)
        ck_assert_int_eq(rv_metric_from_name(rv_metric_name((rv_metric)m)), m);
    ck_assert_int_eq(rv_metric_from_name("f1"), RV_METRICS);
    ck_assert_int_eq(rv_metric_from_name(NULL), RV_METRICS);
    ck_assert_str_eq(rv_metric_name(RV_METRICS), "?");
    ck_assert(rv_metric_higher_is_better(RV_METRIC_ACCURACY));
    ck_assert(rv_metric_higher_is_better(RV_METRIC_AUC));
    ck_assert(!rv_metric_higher_is_better(RV_METRIC_BRIER));
    ck_assert(!rv_metric_higher_is_better(RV_METRIC_LOG_LOSS));
    static const uint32_t cases[][3] = {{500, 2000, 4}, {500, 2100, 4}, {500, 500, 1},
                                        {500, 400, 1},  {0, 2000, 1},   {100, 10000, 100}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rv_promotion_policy p = base;
        p.min_labels = cases[i][0];
        p.max_labels = cases[i][1];
        ck_assert_uint_eq(rv_promotion_looks(&p), cases[i][2]);
    }
}
END_TEST

/* The look's numbers at each look; decided at the last whatever the test
 * says; identical models never better (no spread: p 1). */
START_TEST(looks_and_the_last_look)
{
    static rv_pair pairs[MAX_LABELS];
    uint64_t s = 0x100c;
    double mu = mu_of_accuracy(0.85);
    draw_stream(&s, mu, mu, pairs, MAX_LABELS);
    for (size_t i = 0; i < MAX_LABELS; i++) { /* the challenger is the champion */
        pairs[i].b_correct = pairs[i].a_correct;
        pairs[i].b_pos = pairs[i].a_pos;
        pairs[i].b_truth = pairs[i].a_truth;
        pairs[i].b_brier = pairs[i].a_brier;
    }
    for (int m = 0; m < RV_METRICS; m++)
        for (uint32_t k = 1; k <= 4; k++) {
            rv_promotion_policy p = base;
            p.metric = (rv_metric)m;
            rv_promotion_look l;
            ck_assert_int_eq(rv_promotion_look_at(&p, pairs, k * 500u, &l), 0);
            ck_assert_uint_eq(l.look, k);
            ck_assert_uint_eq(l.looks, 4);
            ck_assert_uint_eq(l.labels, k * 500u);
            ck_assert(l.alpha_look == 0.0125);
            ck_assert(l.p_value == 1 && !l.better);
            ck_assert(l.champion == l.value);
            ck_assert_int_eq(l.decided, k == 4);
            /* better by the margin -0.01: promoted at once (p 0) */
            p.margin = -0.01;
            ck_assert_int_eq(rv_promotion_look_at(&p, pairs, k * 500u, &l), 0);
            ck_assert(l.p_value == 0 && l.better && l.decided);
        }
    /* a single look: decided at it */
    rv_promotion_policy one = base;
    one.max_labels = 500;
    rv_promotion_look l;
    ck_assert_int_eq(rv_promotion_look_at(&one, pairs, 500, &l), 0);
    ck_assert(l.look == 1 && l.looks == 1 && l.decided && !l.better && l.alpha_look == 0.05);
}
END_TEST

/* AUC with one class only and fewer than two pairs: -1 (the other metrics
 * need no two classes). */
START_TEST(edge_cases)
{
    rv_pair pairs[600];
    uint64_t s = 0xed9e;
    draw_stream(&s, 1, 1.5, pairs, 600);
    rv_promotion_policy p = base;
    p.metric = RV_METRIC_AUC;
    rv_promotion_look l;
    for (int cls = 0; cls < 2; cls++) {
        for (size_t i = 0; i < 600; i++)
            pairs[i].positive = (unsigned char)cls;
        ck_assert_int_eq(rv_promotion_look_at(&p, pairs, 500, &l), -1);
        for (int m = 0; m < RV_METRICS; m++)
            if (m != RV_METRIC_AUC) {
                p.metric = (rv_metric)m;
                ck_assert_int_eq(rv_promotion_look_at(&p, pairs, 500, &l), 0);
                p.metric = RV_METRIC_AUC;
            }
    }
    pairs[0].positive = 1;
    pairs[1].positive = 0;
    ck_assert_int_eq(rv_promotion_look_at(&p, pairs, 2, &l), 0);
    for (int m = 0; m < RV_METRICS; m++) {
        p.metric = (rv_metric)m;
        ck_assert_int_eq(rv_promotion_look_at(&p, pairs, 1, &l), -1);
        ck_assert_int_eq(rv_promotion_look_at(&p, pairs, 0, &l), -1);
    }
}
END_TEST

/* The metrics' values on four pairs worked by hand, and the direction of
 * each test: the champion better is never promoted, the roles swapped. */
START_TEST(values_by_hand)
{
    rv_pair x[4] = {
        {1, 1, 1, 0.9, 0.8, 0.9, 0.8, 0.02, 0.08},
        {0, 0, 1, 0.6, 0.3, 0.4, 0.7, 0.72, 0.18},
        {1, 0, 1, 0.4, 0.7, 0.4, 0.7, 0.72, 0.18},
        {0, 1, 1, 0.2, 0.1, 0.8, 0.9, 0.08, 0.02},
    };
    rv_promotion_policy p = base;
    p.min_labels = 2;
    p.max_labels = 4;
    rv_promotion_look l;
    p.metric = RV_METRIC_ACCURACY;
    ck_assert_int_eq(rv_promotion_look_at(&p, x, 4, &l), 0);
    ck_assert(l.champion == 0.5 && l.value == 1);
    ck_assert(l.look == 2 && l.looks == 2 && l.decided);
    /* d = 0, 1, 1, 0: mean 1/2, sd sqrt(1/3), z sqrt 3 */
    ck_assert(fabs(l.p_value - rv_norm_cdf(-sqrt(3))) < 1e-15);
    p.metric = RV_METRIC_AUC; /* a: 3/4 (0.9 above both, 0.4 above 0.2 only), b: 1 */
    ck_assert_int_eq(rv_promotion_look_at(&p, x, 4, &l), 0);
    ck_assert(l.champion == 0.75 && l.value == 1);
    p.metric = RV_METRIC_BRIER;
    ck_assert_int_eq(rv_promotion_look_at(&p, x, 4, &l), 0);
    ck_assert(fabs(l.champion - 0.385) < 1e-15 && fabs(l.value - 0.115) < 1e-15);
    p.metric = RV_METRIC_LOG_LOSS;
    ck_assert_int_eq(rv_promotion_look_at(&p, x, 4, &l), 0);
    ck_assert(fabs(l.champion - (-log(0.9) - 2 * log(0.4) - log(0.8)) / 4) < 1e-15);
    ck_assert(fabs(l.value - (-log(0.8) - 2 * log(0.7) - log(0.9)) / 4) < 1e-15);

    /* a stream where the champion is the better one, the roles swapped */
    static rv_pair pairs[MAX_LABELS];
    uint64_t s = 0x5a9;
    draw_stream(&s, mu_of_accuracy(0.9), mu_of_accuracy(0.8), pairs, MAX_LABELS);
    for (int m = 0; m < RV_METRICS; m++) {
        rv_promotion_policy q = base;
        q.metric = (rv_metric)m;
        ck_assert_int_eq(rv_promotion_look_at(&q, pairs, MAX_LABELS, &l), 0);
        ck_assert_msg(l.p_value > 0.99 && !l.better, "%s: p %g", rv_metric_name(q.metric),
                      l.p_value);
        ck_assert(rv_metric_higher_is_better(q.metric) ? l.champion > l.value
                                                       : l.champion < l.value);
    }
}
END_TEST

static Suite *promotion_suite(void)
{
    Suite *s = suite_create("promotion");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, names_and_looks);
    tcase_add_test(tc, looks_and_the_last_look);
    tcase_add_test(tc, edge_cases);
    tcase_add_test(tc, values_by_hand);
    tcase_add_test(tc, an_equal_challenger_is_rarely_promoted);
    tcase_add_test(tc, a_better_challenger_is_promoted);
    tcase_add_test(tc, a_challenger_better_by_less_than_the_margin_is_not);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(promotion_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
