/*
 * test_evaluation.c - the join of answers with true labels: each source's
 * measures are those of its answers against the labels (evaluation/measures.c,
 * itself checked against scikit-learn); a label before its answers, twice,
 * unknown, never matched; answers never labelled, or late; a restart in
 * the middle keeps every joined answer, every waiting one and the offsets;
 * the hour window forgets what is older; answers tapped from serving
 * threads count as the same answers read.
 */
#include <check.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evaluation.h"
#include "evaluation_alerts.h"
#include "evaluation_internal.h"
#include "kvstore.h"
#include "test_helpers.h"

#define DAY_MS 86400000LL
static const char *const LABELS[] = {"benign", "malignant"};
static char err[512];

static rv_evaluation *open_at(const char *dir, int64_t now)
{
    rv_evaluation_settings s = {dir, 8 << 20, 30 * DAY_MS, 2, LABELS, 4, 1};
    rv_evaluation *e = rv_evaluation_open(&s, now, err, sizeof err);
    ck_assert_msg(e, "open: %s", err);
    return e;
}

/* source answers id with P(malignant) = pm, as a binary model does: one
 * answer, its top label. */
static void answer(rv_evaluation *e, const char *id, const char *source, double pm, int64_t now)
{
    const char *label = pm >= 0.5 ? "malignant" : "benign";
    double score = pm >= 0.5 ? pm : 1 - pm;
    rv_evaluation_answer a = {.source = source,
                              .version = "v1",
                              .schedule_version = 7,
                              .n = 1,
                              .labels = &label,
                              .scores = &score};
    ck_assert_int_eq(rv_evaluation_answer_of(e, id, &a, now), 0);
}

static void commit(rv_evaluation *e, int64_t now)
{
    ck_assert_msg(rv_evaluation_commit(e, now, err, sizeof err) == 0, "commit: %s", err);
}

/* The since-start figure (every schedule version) of source, or NULL. */
static const rv_measures *since_start(const rv_evaluation_figure *f, size_t n, const char *source)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].window == RV_EVAL_START && f[i].schedule_version == 0 &&
            strcmp(f[i].source, source) == 0)
            return &f[i].m;
    return NULL;
}

static const rv_measures *in_window(const rv_evaluation_figure *f, size_t n, const char *source,
                                    rv_eval_window w)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].window == w && f[i].schedule_version == 0 && strcmp(f[i].source, source) == 0)
            return &f[i].m;
    return NULL;
}

START_TEST(each_source_is_measured_on_its_answers)
{
    enum { N = 400 };
    char *dir = test_tmpdir();
    rv_evaluation *e = open_at(dir, 1000);
    double pa[2 * N], ps[2 * N];
    uint32_t truth[N];
    uint64_t seed = 7;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "r-%d", i);
        truth[i] = (uint32_t)(test_xorshift(&seed) % 2);
        double u = (double)(test_xorshift(&seed) % 1000) / 1000.0;
        double a = truth[i] ? 0.3 + 0.7 * u : 0.7 * u;             /* model a: informative */
        double c = (double)(test_xorshift(&seed) % 1000) / 1000.0; /* canary: noise */
        /* as the host reads a one-answer record: the rest of 1 to the other */
        pa[2 * i] = 1 - a;
        pa[2 * i + 1] = a >= 0.5 ? a : 1 - (1 - a);
        ps[2 * i] = 1 - c;
        ps[2 * i + 1] = c >= 0.5 ? c : 1 - (1 - c);
        answer(e, id, "a", a, 1000 + i);
        answer(e, id, "canary", c, 1000 + i);
        answer(e, id, RV_EVALUATION_SERVED, a, 1000 + i);
        /* half the labels come in the same batch, half in the next */
        if (i % 2 == 0)
            ck_assert_int_eq(rv_evaluation_label(e, id, LABELS[truth[i]], 0, 1000 + i), 0);
    }
    commit(e, 2000);
    for (int i = 1; i < N; i += 2) {
        char id[32];
        snprintf(id, sizeof id, "r-%d", i);
        ck_assert_int_eq(rv_evaluation_label(e, id, LABELS[truth[i]], 0, 3000), 0);
    }
    commit(e, 3000);
    rv_evaluation_counts c;
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.joined, N);
    ck_assert_uint_eq(c.labels, N);
    ck_assert_uint_eq(c.answers, 3 * N);
    ck_assert_uint_eq(c.early_labels, 0);

    rv_measures want_a, want_c;
    ck_assert_int_eq(rv_measures_compute(2, N, pa, truth, &want_a), 0);
    ck_assert_int_eq(rv_measures_compute(2, N, ps, truth, &want_c), 0);
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(e, 3000, &n);
    ck_assert_ptr_nonnull(f);
    const rv_measures *a = since_start(f, n, "a"), *s = since_start(f, n, RV_EVALUATION_SERVED);
    const rv_measures *k = since_start(f, n, "canary");
    ck_assert(a && s && k);
    ck_assert_uint_eq(a->count, N);
    ck_assert(a->auc == want_a.auc && a->accuracy == want_a.accuracy);
    ck_assert(fabs(a->log_loss - want_a.log_loss) < 1e-12 && fabs(a->brier - want_a.brier) < 1e-12);
    ck_assert(s->auc == want_a.auc); /* served: a's answers */
    ck_assert(k->auc == want_c.auc && k->auc < a->auc);
    /* per schedule version too */
    int per_version = 0;
    for (size_t i = 0; i < n; i++)
        per_version +=
            f[i].schedule_version == 7 && strcmp(f[i].source, "a") == 0 && f[i].m.count == N;
    ck_assert_int_eq(per_version, 1);
    rv_evaluation_figures_free(f, n);
    rv_measures_clear(&want_a);
    rv_measures_clear(&want_c);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

START_TEST(early_duplicate_unknown_late_and_unmatched_are_counted)
{
    char *dir = test_tmpdir();
    rv_evaluation *e = open_at(dir, 0);
    /* early: the label first, the answers after */
    ck_assert_int_eq(rv_evaluation_label(e, "early", "malignant", 0, 10), 0);
    commit(e, 10);
    answer(e, "early", "a", 0.9, 20);
    answer(e, "early", RV_EVALUATION_SERVED, 0.9, 20);
    /* twice: the first counts */
    answer(e, "twice", "a", 0.2, 20);
    answer(e, "twice", RV_EVALUATION_SERVED, 0.2, 20);
    ck_assert_int_eq(rv_evaluation_label(e, "twice", "benign", 0, 30), 0);
    ck_assert_int_eq(rv_evaluation_label(e, "twice", "malignant", 0, 40), 0);
    /* a label the evaluation does not know */
    ck_assert_int_eq(rv_evaluation_label(e, "twice", "cat", 0, 40), 0);
    commit(e, 50);
    /* an answer after the join: late, not measured */
    answer(e, "twice", "b", 0.9, 60);
    /* answers never labelled, a label never answered */
    answer(e, "lonely", "a", 0.5, 60);
    ck_assert_int_eq(rv_evaluation_label(e, "ghost", "benign", 0, 60), 0);
    commit(e, 60);
    rv_evaluation_counts c;
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.joined, 2);
    ck_assert_uint_eq(c.early_labels, 2); /* "early", and "ghost" so far */
    ck_assert_uint_eq(c.duplicate_labels, 1);
    ck_assert_uint_eq(c.unknown_labels, 1);
    ck_assert_uint_eq(c.late_answers, 1);
    ck_assert_uint_eq(c.unlabelled + c.unmatched_labels, 0);
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(e, 60, &n);
    const rv_measures *a = since_start(f, n, "a");
    ck_assert(a && a->count == 2 && a->accuracy == 1.0); /* "twice" kept "benign" */
    ck_assert_ptr_null(since_start(f, n, "b"));
    rv_evaluation_figures_free(f, n);
    /* 30 days on, what waited expires */
    commit(e, 60 + 30 * DAY_MS + 1);
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.unlabelled, 1);
    ck_assert_uint_eq(c.unmatched_labels, 1);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

/* The streams are read side by side: a result may be read before the
 * scores of the models it says had answered; the join waits for them. */
/* Answers tapped by serving threads (rv_evaluation_tap, from four threads
 * at once) join and measure as the same answers read (answer_of). */
typedef struct tapper {
    rv_evaluation *e;
    int from, step, n;
    const double *pm;
} tapper;

static void as_answer(const char *source, double pm, const char **label, double *score,
                      rv_evaluation_answer *a)
{
    *label = pm >= 0.5 ? "malignant" : "benign";
    *score = pm >= 0.5 ? pm : 1 - pm;
    *a = (rv_evaluation_answer){.source = source,
                                .version = "v1",
                                .schedule_version = 7,
                                .n = 1,
                                .labels = label,
                                .scores = score};
}

static void *tap_some(void *arg)
{
    const tapper *t = arg;
    static const char *const named[] = {"a"};
    for (int i = t->from; i < t->n; i += t->step) {
        char id[32];
        snprintf(id, sizeof id, "r-%d", i);
        const char *label;
        double score;
        rv_evaluation_answer a;
        as_answer("a", t->pm[i], &label, &score, &a);
        if (rv_evaluation_tap(t->e, id, &a) != 0)
            return (void *)1;
        as_answer(RV_EVALUATION_SERVED, t->pm[i], &label, &score, &a);
        a.n_expected = 1;
        a.expected = named;
        if (rv_evaluation_tap(t->e, id, &a) != 0)
            return (void *)1;
    }
    return NULL;
}

START_TEST(tapped_answers_join_as_read_ones)
{
    enum { N = 2000, THREADS = 4 };
    char *dir_read = test_tmpdir(), *dir_tap = test_tmpdir();
    int64_t now = (int64_t)time(NULL) * 1000;
    rv_evaluation *read = open_at(dir_read, now), *tapped = open_at(dir_tap, now);
    static double pm[N];
    uint64_t seed = 11;
    for (int i = 0; i < N; i++)
        pm[i] = (double)(test_xorshift(&seed) % 1000) / 1000.0;
    static const char *const named[] = {"a"};
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "r-%d", i);
        const char *label;
        double score;
        rv_evaluation_answer a;
        as_answer("a", pm[i], &label, &score, &a);
        ck_assert_int_eq(rv_evaluation_answer_of(read, id, &a, now), 0);
        as_answer(RV_EVALUATION_SERVED, pm[i], &label, &score, &a);
        a.n_expected = 1;
        a.expected = named;
        ck_assert_int_eq(rv_evaluation_answer_of(read, id, &a, now), 0);
    }
    pthread_t th[THREADS];
    tapper t[THREADS];
    for (int k = 0; k < THREADS; k++) {
        t[k] = (tapper){tapped, k, THREADS, N, pm};
        ck_assert_int_eq(pthread_create(&th[k], NULL, tap_some, &t[k]), 0);
    }
    size_t taken = 0;
    for (int k = 0; k < THREADS; k++) {
        void *failed;
        pthread_join(th[k], &failed);
        ck_assert_ptr_null(failed);
        taken += rv_evaluation_take_tapped(tapped); /* while the others still tap */
    }
    taken += rv_evaluation_take_tapped(tapped);
    ck_assert_uint_eq(taken, 2 * N);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "r-%d", i);
        const char *truth = LABELS[(i * 7) % 3 == 0];
        ck_assert_int_eq(rv_evaluation_label(read, id, truth, 0, now), 0);
        ck_assert_int_eq(rv_evaluation_label(tapped, id, truth, 0, now), 0);
    }
    commit(read, now);
    commit(tapped, now);
    rv_evaluation_counts cr, ct;
    rv_evaluation_counts_get(read, &cr);
    rv_evaluation_counts_get(tapped, &ct);
    ck_assert_uint_eq(ct.joined, N);
    ck_assert_uint_eq(ct.answers, 2 * N);
    ck_assert_uint_eq(ct.dropped_answers, 0);
    ck_assert_uint_eq(cr.joined, N);
    size_t nr, nt;
    rv_evaluation_figure *fr = rv_evaluation_snapshot(read, now, &nr),
                         *ft = rv_evaluation_snapshot(tapped, now, &nt);
    const char *sources[] = {"a", RV_EVALUATION_SERVED};
    for (int k = 0; k < 2; k++) {
        const rv_measures *r = since_start(fr, nr, sources[k]),
                          *x = since_start(ft, nt, sources[k]);
        ck_assert(r && x);
        ck_assert_uint_eq(x->count, N);
        ck_assert(x->auc == r->auc && x->accuracy == r->accuracy && x->log_loss == r->log_loss &&
                  x->brier == r->brier);
    }
    rv_evaluation_figures_free(fr, nr);
    rv_evaluation_figures_free(ft, nt);
    rv_evaluation_close(read);
    rv_evaluation_close(tapped);
    test_rmdir(dir_read);
    test_rmdir(dir_tap);
}
END_TEST

/* A model's answers as the promotion's guardrails see them: shed ones are
 * failed but counted apart, their latency (the moment of the shed) left out. */
START_TEST(shed_answers_are_counted_apart_from_errors)
{
    char *dir = test_tmpdir(), id[32];
    rv_evaluation *e = open_at(dir, (int64_t)time(NULL) * 1000);
    rv_evaluation_count_answers(e);
    const char *label = "malignant";
    double score = 0.7;
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "r-%d", i);
        int error = i % 20 == 1, shed = i % 20 == 2; /* shed at once, its queue full */
        rv_evaluation_answer a = {.source = "a",
                                  .n = !error && !shed,
                                  .labels = &label,
                                  .scores = &score,
                                  .failed = error || shed,
                                  .shed = shed,
                                  .latency_us = shed ? 10 : 1000};
        ck_assert_int_eq(
            i % 2 ? rv_evaluation_tap(e, id, &a) : rv_evaluation_answer_of(e, id, &a, 0), 0);
    }
    rv_eval_answer_stats st;
    rv_evaluation_answer_stats(e, "a", &st);
    ck_assert(st.answers == 100 && st.failed == 10 && st.shed == 5);
    double fastest = rv_eval_latency_quantile(&st, NULL, 0.001);
    ck_assert_msg(fastest >= 1.0 && fastest < 1.2, "fastest answer %g ms", fastest);
    rv_evaluation_take_tapped(e);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

START_TEST(a_result_read_first_waits_for_the_answers_it_names)
{
    char *dir = test_tmpdir();
    rv_evaluation *e = open_at(dir, 0);
    const char *label = "malignant", *named[] = {"a", "b"};
    double score = 0.9;
    rv_evaluation_answer served = {.source = RV_EVALUATION_SERVED,
                                   .version = "",
                                   .n = 1,
                                   .labels = &label,
                                   .scores = &score,
                                   .n_expected = 2,
                                   .expected = named};
    ck_assert_int_eq(rv_evaluation_answer_of(e, "r-1", &served, 10), 0);
    ck_assert_int_eq(rv_evaluation_label(e, "r-1", "malignant", 0, 10), 0);
    answer(e, "r-1", "a", 0.8, 10);
    commit(e, 10);
    rv_evaluation_counts c;
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.joined, 0); /* b's answer is not read yet */
    answer(e, "r-1", "b", 0.3, 20);
    commit(e, 20);
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.joined, 1);
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(e, 20, &n);
    ck_assert(since_start(f, n, "a") && since_start(f, n, "b") &&
              since_start(f, n, RV_EVALUATION_SERVED));
    ck_assert(since_start(f, n, "b")->accuracy == 0.0);
    rv_evaluation_figures_free(f, n);
    /* one whose named answer never comes: counted when it expires */
    ck_assert_int_eq(rv_evaluation_answer_of(e, "r-2", &served, 30), 0);
    ck_assert_int_eq(rv_evaluation_label(e, "r-2", "benign", 0, 30), 0);
    commit(e, 30);
    commit(e, 31 + 30 * DAY_MS);
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.incomplete, 1);
    ck_assert_uint_eq(c.joined, 1);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

START_TEST(a_restart_keeps_what_was_joined_and_what_waits)
{
    char *dir = test_tmpdir();
    rv_evaluation *e = open_at(dir, 0);
    answer(e, "r-1", "a", 0.8, 100);
    answer(e, "r-1", RV_EVALUATION_SERVED, 0.8, 100);
    ck_assert_int_eq(rv_evaluation_set_offset(e, "svc.labels", 3, 41), 0);
    ck_assert_int_eq(rv_evaluation_set_offset(e, "svc.labels", 5, 7), 0);
    ck_assert_int_eq(rv_evaluation_label(e, "r-1", "malignant", 0, 100), 0);
    answer(e, "r-2", "a", 0.3, 100);
    answer(e, "r-2", RV_EVALUATION_SERVED, 0.3, 100);
    ck_assert_int_eq(rv_evaluation_set_offset(e, "svc.labels", 3, 42), 0);
    commit(e, 100);
    /* queued, never committed: lost with the process, read again */
    ck_assert_int_eq(rv_evaluation_label(e, "r-2", "malignant", 0, 150), 0);
    ck_assert_int_eq(rv_evaluation_set_offset(e, "svc.labels", 3, 43), 0);
    rv_evaluation_close(e);

    e = open_at(dir, 200);
    ck_assert_int_eq(rv_evaluation_offset(e, "svc.labels", 3), 42);
    ck_assert_int_eq(rv_evaluation_offset(e, "svc.labels", 4), -1);
    ck_assert_int_eq(rv_evaluation_offset(e, "svc.labels", 5), 7);
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(e, 200, &n);
    const rv_measures *a = since_start(f, n, "a");
    ck_assert(a && a->count == 1);
    rv_evaluation_figures_free(f, n);
    ck_assert_int_eq(rv_evaluation_label(e, "r-2", "benign", 0, 200), 0);
    commit(e, 200);
    f = rv_evaluation_snapshot(e, 200, &n);
    a = since_start(f, n, "a");
    ck_assert(a && a->count == 2 && a->accuracy == 1.0);
    rv_evaluation_figures_free(f, n);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

/* A store written before the log was batched holds one joined answer a
 * value ("s/<time><seq>"): it is rebuilt from as well, before the
 * batches. */
START_TEST(a_store_with_answers_logged_one_by_one_is_rebuilt)
{
    char *dir = test_tmpdir();
    rv_kvstore *s = rv_kvstore_open(dir, 8 << 20, err, sizeof err);
    ck_assert_msg(s, "%s", err);
    /* time i64, schedule version u32, truth u32, source and version (u8
     * length, bytes), the labels' probabilities */
    unsigned char v[18 + 1 + 2 + 2 * sizeof(double)], *b = v;
    int64_t time_ms = 50;
    uint32_t sv = 7, truth = 1;
    double p[2] = {0.2, 0.8};
    memcpy(b, &time_ms, 8);
    memcpy(b + 8, &sv, 4);
    memcpy(b + 12, &truth, 4);
    memcpy(b + 16, "\001a\002v1", 5);
    memcpy(b + 21, p, sizeof p);
    unsigned char key[14] = {'s', '/', 0x80};
    ck_assert_int_eq(rv_kvstore_put(s, key, sizeof key, v, sizeof v, 30 * DAY_MS, err, sizeof err),
                     RV_KV_OK);
    ck_assert_int_eq(rv_kvstore_commit(s, err, sizeof err), RV_KV_OK);
    rv_kvstore_close(s);

    rv_evaluation *e = open_at(dir, 100);
    answer(e, "r-2", "a", 0.3, 100);
    answer(e, "r-2", RV_EVALUATION_SERVED, 0.3, 100);
    ck_assert_int_eq(rv_evaluation_label(e, "r-2", "benign", 0, 100), 0);
    commit(e, 100);
    rv_evaluation_close(e);
    e = open_at(dir, 200);
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(e, 200, &n);
    const rv_measures *a = since_start(f, n, "a");
    ck_assert(a && a->count == 2 && a->accuracy == 1.0);
    ck_assert_double_eq_tol(a->log_loss, -(log(0.8) + log(0.7)) / 2, 1e-12);
    rv_evaluation_figures_free(f, n);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

START_TEST(the_hour_forgets_what_the_day_keeps)
{
    char *dir = test_tmpdir();
    int64_t t0 = 10 * DAY_MS;
    rv_evaluation *e = open_at(dir, t0);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "r-%d", i);
        int64_t t = t0 + (i < 5 ? 0 : 2 * 3600000LL); /* five now, five two hours on */
        answer(e, id, "a", 0.9, t);
        answer(e, id, RV_EVALUATION_SERVED, 0.9, t);
        ck_assert_int_eq(rv_evaluation_label(e, id, "malignant", 0, t), 0);
        commit(e, t);
    }
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(e, t0 + 2 * 3600000LL, &n);
    ck_assert_uint_eq(in_window(f, n, "a", RV_EVAL_HOUR)->count, 5);
    ck_assert_uint_eq(in_window(f, n, "a", RV_EVAL_DAY)->count, 10);
    ck_assert_uint_eq(in_window(f, n, "a", RV_EVAL_START)->count, 10);
    rv_evaluation_figures_free(f, n);
    f = rv_evaluation_snapshot(e, t0 + 2 * DAY_MS, &n);
    ck_assert_uint_eq(in_window(f, n, "a", RV_EVAL_HOUR)->count, 0);
    ck_assert_uint_eq(in_window(f, n, "a", RV_EVAL_DAY)->count, 0);
    ck_assert_uint_eq(in_window(f, n, "a", RV_EVAL_START)->count, 10);
    rv_evaluation_figures_free(f, n);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

/* A source's first window holds its first baseline_answers (4 here) and
 * then no more, also when rebuilt from the store's log at open. */
/* A label's time places its joined answers in the windows: a backlog of
 * labels read late lands in the hours they belong to, also after a
 * restart; a time in the future counts as now, one older than the delay
 * as the delay's start; and an answer older than a window's span (out of
 * order) does not empty the newer bucket in its slot. */
START_TEST(a_labels_time_places_its_answers)
{
    char *dir = test_tmpdir();
    const int64_t H = 3600000, now = 10 * DAY_MS;
    rv_evaluation *e = open_at(dir, now);
    const char *ids[] = {"now", "2h-ago", "25h-ago", "future", "ancient"};
    const int64_t times[] = {0, now - 2 * H, now - 25 * H, now + 5 * H, 1};
    for (size_t i = 0; i < 5; i++) {
        answer(e, ids[i], "a", 0.9, now);
        answer(e, ids[i], RV_EVALUATION_SERVED, 0.9, now);
        ck_assert_int_eq(rv_evaluation_label(e, ids[i], "malignant", times[i], now), 0);
    }
    /* an hour ago: the minute slot of now, an hour older; joined after the
     * others (a commit takes requests in the order of their ids) */
    answer(e, "x-60m-ago", "a", 0.9, now);
    answer(e, "x-60m-ago", RV_EVALUATION_SERVED, 0.9, now);
    ck_assert_int_eq(rv_evaluation_label(e, "x-60m-ago", "malignant", now - 60 * 60000, now), 0);
    commit(e, now);
    for (int restarted = 0; restarted < 2; restarted++) {
        size_t n;
        rv_evaluation_figure *f = rv_evaluation_snapshot(e, now, &n);
        const rv_measures *hour = in_window(f, n, "a", RV_EVAL_HOUR),
                          *day = in_window(f, n, "a", RV_EVAL_DAY);
        ck_assert(hour && day && since_start(f, n, "a"));
        ck_assert_uint_eq(hour->count, 2); /* now and the future one */
        ck_assert_uint_eq(day->count, 4);  /* and 2 h, 60 min ago */
        ck_assert_uint_eq(since_start(f, n, "a")->count, 6);
        rv_evaluation_figures_free(f, n);
        rv_evaluation_close(e);
        e = open_at(dir, now);
    }
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

START_TEST(the_first_window_keeps_the_first_answers)
{
    char *dir = test_tmpdir();
    int64_t t0 = 10 * DAY_MS;
    rv_evaluation *e = open_at(dir, t0);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "r-%d", i);
        answer(e, id, "a", i < 4 ? 0.9 : 0.1, t0 + i); /* right four times, then wrong */
        answer(e, id, RV_EVALUATION_SERVED, 0.9, t0 + i);
        ck_assert_int_eq(rv_evaluation_label(e, id, "malignant", 0, t0 + i), 0);
        commit(e, t0 + i);
    }
    for (int reopened = 0; reopened < 2; reopened++) {
        size_t n;
        rv_evaluation_figure *f = rv_evaluation_snapshot(e, t0 + 10, &n);
        const rv_measures *first = in_window(f, n, "a", RV_EVAL_FIRST);
        const rv_measures *start = in_window(f, n, "a", RV_EVAL_START);
        ck_assert(first && start);
        ck_assert_uint_eq(first->count, 4);
        ck_assert_double_eq(first->accuracy, 1.0);
        ck_assert_uint_eq(start->count, 10);
        ck_assert_double_eq_tol(start->accuracy, 0.4, 1e-12);
        rv_evaluation_figures_free(f, n);
        rv_evaluation_close(e);
        e = open_at(dir, t0 + 20);
    }
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

/* A backlog bigger than the store (a flood of labels for requests never
 * seen) commits in parts, evicting the oldest waits; it used to be
 * refused whole, again and again. */
START_TEST(a_backlog_larger_than_the_store_commits)
{
    char *dir = test_tmpdir();
    int64_t t0 = 10 * DAY_MS;
    rv_evaluation *e = open_at(dir, t0);
    for (int i = 0; i < 200000; i++) {
        char id[32];
        snprintf(id, sizeof id, "flood-%d", i);
        ck_assert_int_eq(rv_evaluation_label(e, id, "benign", 0, t0 + i / 1000), 0);
    }
    commit(e, t0 + 200);
    ck_assert_uint_eq(rv_evaluation_queued(e), 0);
    rv_evaluation_counts c;
    rv_evaluation_counts_get(e, &c);
    ck_assert_uint_eq(c.labels, 200000);
    ck_assert_uint_gt(c.store_evicted, 0);
    ck_assert_uint_le(c.store_bytes, 4u << 20); /* half of the 8 MiB bound */
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

/* A figure of the last hour or the first window, for the alerts. */
static rv_evaluation_figure fig(const char *source, rv_eval_window w, uint64_t count, double acc)
{
    rv_evaluation_figure f = {.window = w};
    snprintf(f.source, sizeof f.source, "%s", source);
    snprintf(f.version, sizeof f.version, "v1");
    f.m.count = count;
    f.m.accuracy = acc;
    return f;
}

/* Below the canary by more than the margin, as the test on the counts
 * finds it: raised once, cleared once; below its own first window: the
 * same; a gap the counts cannot tell from chance, too few answers, or a
 * first window not yet full: no alert. One test per check per 10 s. */
START_TEST(alerts_are_raised_and_cleared_once)
{
    rv_alarm_policy policy = {.false_alarms_per_day = 0.01,
                              .test_interval_ms = 10000,
                              .for_tests = 1,
                              .keep_firing_ms = 0};
    rv_eval_alerts *a = rv_eval_alerts_new("canary", 0.05, 100, 1000, &policy);
    rv_eval_alert out[8];
    int64_t now = 1000000;
    /* a: 0.88 against the canary's 0.96 (threshold 0.91) over 100 answers
     * each: below it, but p = 0.21; its first window is not full (999) */
    rv_evaluation_figure f[] = {
        fig("canary", RV_EVAL_HOUR, 100, 0.96), fig("a", RV_EVAL_HOUR, 100, 0.88),
        fig("a", RV_EVAL_FIRST, 999, 0.99), fig("b", RV_EVAL_HOUR, 99, 0.10),
        fig("canary", RV_EVAL_FIRST, 1000, 0.1)};
    size_t n = sizeof f / sizeof *f;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now, out, 8), 0);
    ck_assert_double_eq_tol(rv_eval_below_p(0.88, 100, 0.96, 100, 0.05), 0.2146, 1e-4);
    /* 0.80 over 2000 against 0.96 over 2000: p ~ 1e-28 */
    f[0].m.count = f[1].m.count = 2000;
    f[1].m.accuracy = 0.80;
    now += 10000;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now, out, 8), 1);
    ck_assert_int_eq(out[0].raised, 1);
    ck_assert_int_eq(out[0].check, RV_EVAL_BELOW_CANARY);
    ck_assert_str_eq(out[0].source, "a");
    ck_assert_str_eq(out[0].reference, "canary");
    ck_assert_double_eq_tol(out[0].threshold, 0.91, 1e-12);
    ck_assert_double_lt(out[0].p_value, 1e-20);
    ck_assert_double_eq_tol(out[0].alpha, 0.01 / 8640, 1e-15);
    ck_assert_uint_eq(out[0].count, 2000);
    ck_assert_uint_eq(out[0].reference_count, 2000);
    now += 10000;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now, out, 8), 0); /* still below: said once */
    /* the first window full at 0.99: a is below that too */
    f[2].m.count = 1000;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now + 1, out, 8), 1);
    ck_assert_int_eq(out[0].check, RV_EVAL_BELOW_FIRST);
    ck_assert_str_eq(out[0].reference, "a");
    /* recovered against the canary only (0.92 > 0.91; < 0.94), told at
     * the next test, 10 s after the last */
    f[1].m.accuracy = 0.92;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now + 9999, out, 8), 0);
    now += 10000;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now, out, 8), 1);
    ck_assert_int_eq(out[0].raised, 0);
    ck_assert_int_eq(out[0].check, RV_EVAL_BELOW_CANARY);
    /* and against its first window */
    f[1].m.accuracy = 0.96;
    now += 10000;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now, out, 8), 1);
    ck_assert_int_eq(out[0].raised, 0);
    ck_assert_int_eq(out[0].check, RV_EVAL_BELOW_FIRST);
    /* the canary with too few answers compares nothing: no change */
    f[0].m.count = 50;
    f[1].m.accuracy = 0.5;
    now += 10000;
    ck_assert_uint_eq(rv_eval_alerts_check(a, f, n, now, out, 8), 1); /* below first only */
    ck_assert_int_eq(out[0].check, RV_EVAL_BELOW_FIRST);
    rv_eval_alerts_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evaluation");
    TCase *tc = tcase_create("evaluation");
    tcase_add_test(tc, each_source_is_measured_on_its_answers);
    tcase_add_test(tc, the_first_window_keeps_the_first_answers);
    tcase_add_test(tc, alerts_are_raised_and_cleared_once);
    tcase_add_test(tc, a_backlog_larger_than_the_store_commits);
    tcase_add_test(tc, early_duplicate_unknown_late_and_unmatched_are_counted);
    tcase_add_test(tc, a_result_read_first_waits_for_the_answers_it_names);
    tcase_add_test(tc, tapped_answers_join_as_read_ones);
    tcase_add_test(tc, shed_answers_are_counted_apart_from_errors);
    tcase_add_test(tc, a_restart_keeps_what_was_joined_and_what_waits);
    tcase_add_test(tc, a_store_with_answers_logged_one_by_one_is_rebuilt);
    tcase_add_test(tc, the_hour_forgets_what_the_day_keeps);
    tcase_add_test(tc, a_labels_time_places_its_answers);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
