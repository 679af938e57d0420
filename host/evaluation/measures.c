/*
 * measures.c - the measures of answers against true labels, each computed
 * the way scikit-learn computes it (measures.h names which function).
 * Sums are plain doubles in the order answers came: at a million answers
 * their rounding stays far below what tells two models apart.
 */
#include "measures.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_MAX 4096 /* scores added since a table was last sorted */
#define EXACT_BITS 52    /* a double's fraction bits: nothing cut */

/* A distinct score of one label and how many answers had it, the label
 * being true (pos) or not (neg). */
typedef struct score_count {
    double score;
    uint64_t pos, neg;
} score_count;

/* One label's scores: a sorted table of distinct scores and the scores
 * added since it was last sorted. */
typedef struct score_table {
    score_count *sorted;
    size_t n;
    rv_ranked *pending;
    size_t n_pending, cap_pending;
    int bits;   /* fraction bits kept of each score: EXACT_BITS until coarsened */
    size_t max; /* distinct scores kept */
} score_table;

struct rv_measures_acc {
    size_t n_labels;
    uint64_t count, right;
    double log_loss, brier;
    uint64_t bin_count[RV_MEASURES_BINS], bin_right[RV_MEASURES_BINS];
    double bin_conf[RV_MEASURES_BINS];
    uint64_t *predicted, *actual, *hits; /* per label */
    size_t n_tables;                     /* two labels: one, of label 1 */
    score_table *tables;
};

/* A double's bits as an unsigned number in the doubles' order (negatives
 * reversed below the positives). */
static uint64_t order_key(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

/* A radix sort, a byte a pass (least significant first), skipping the
 * bytes every key shares: the scores of a flush mostly share their
 * exponent. It runs for every answer of every window, where qsort's
 * compares through a pointer were a tenth of the evaluation's time. */
static int sort_ranked(rv_ranked *v, size_t n)
{
    if (n < 2)
        return 0;
    rv_ranked *tmp = malloc(n * sizeof *tmp);
    uint64_t *keys = malloc(2 * n * sizeof *keys);
    if (!tmp || !keys) {
        free(tmp);
        free(keys);
        return -1;
    }
    uint64_t *k = keys, *k2 = keys + n, same = ~UINT64_C(0);
    for (size_t i = 0; i < n; i++) {
        k[i] = order_key(v[i].score);
        same &= ~(k[i] ^ k[0]);
    }
    rv_ranked *src = v, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        if (((same >> shift) & 0xff) == 0xff)
            continue; /* every key has this byte */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((k[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) {
            size_t at = count[(k[i] >> shift) & 0xff]++;
            dst[at] = src[i];
            k2[at] = k[i];
        }
        rv_ranked *t = src;
        src = dst;
        dst = t;
        uint64_t *tk = k;
        k = k2;
        k2 = tk;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    free(tmp);
    free(keys);
    return 0;
}

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const rv_ranked *)a)->score, y = ((const rv_ranked *)b)->score;
    return (x > y) - (x < y);
}

void rv_measures_sort(rv_ranked *v, size_t n)
{
    if (sort_ranked(v, n) != 0)
        qsort(v, n, sizeof *v, cmp_ranked); /* no memory for the radix sort's */
}

double rv_measures_auc(rv_ranked *v, size_t n)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += v[i].positive != 0;
    if (pos == 0 || pos == n)
        return NAN;
    rv_measures_sort(v, n);
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && v[e].score == v[i].score)
            e++;
        double mid = (double)(i + e + 1) / 2.0; /* ranks i+1..e, averaged */
        for (size_t t = i; t < e; t++)
            rank_sum += v[t].positive ? mid : 0;
        i = e;
    }
    double np = (double)pos, nn = (double)(n - pos);
    return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

/* The score with only its first bits fraction bits: the order of scores
 * is kept (a cut never swaps two), some become equal. */
static double cut(double score, int bits)
{
    if (bits >= EXACT_BITS)
        return score;
    uint64_t u;
    memcpy(&u, &score, sizeof u);
    u &= ~((UINT64_C(1) << (EXACT_BITS - bits)) - 1);
    memcpy(&score, &u, sizeof u);
    return score;
}

/* Merges the sorted runs a and b (scores cut to bits) into out, equal
 * scores combined; the count of entries written. */
static size_t merge_runs(const score_count *a, size_t na, const score_count *b, size_t nb, int bits,
                         score_count *out)
{
    size_t n = 0, i = 0, j = 0;
    while (i < na || j < nb) {
        score_count c;
        if (j >= nb || (i < na && a[i].score <= b[j].score))
            c = a[i++];
        else
            c = b[j++];
        c.score = cut(c.score, bits);
        if (n && out[n - 1].score == c.score) {
            out[n - 1].pos += c.pos;
            out[n - 1].neg += c.neg;
        } else
            out[n++] = c;
    }
    return n;
}

/* Fewer fraction bits until at most t->max scores stay. */
static void coarsen(score_table *t)
{
    while (t->n > t->max && t->bits > 0) {
        t->bits = t->bits > 4 ? t->bits - 4 : 0;
        t->n = merge_runs(t->sorted, t->n, NULL, 0, t->bits, t->sorted);
    }
}

/* Sorts the pending scores into the table. 0, or -1 when out of memory
 * (the table unchanged). */
static int flush(score_table *t)
{
    if (!t->n_pending)
        return 0;
    score_count *run = malloc(t->n_pending * sizeof *run);
    score_count *out = malloc((t->n + t->n_pending) * sizeof *out);
    if (!run || !out) {
        free(run);
        free(out);
        return -1;
    }
    rv_measures_sort(t->pending, t->n_pending);
    for (size_t i = 0; i < t->n_pending; i++)
        run[i] = (score_count){t->pending[i].score, t->pending[i].positive != 0,
                               t->pending[i].positive == 0};
    t->n = merge_runs(t->sorted, t->n, run, t->n_pending, t->bits, out);
    free(run);
    free(t->sorted);
    t->sorted = out;
    t->n_pending = 0;
    coarsen(t);
    return 0;
}

/* Room for one more pending score. 0 or -1. */
static int make_room(score_table *t)
{
    if (t->n_pending == PENDING_MAX && flush(t) != 0)
        return -1;
    if (t->n_pending < t->cap_pending)
        return 0;
    size_t cap = t->cap_pending ? 2 * t->cap_pending : 16;
    rv_ranked *p = realloc(t->pending, cap * sizeof *p);
    if (!p)
        return -1;
    t->pending = p;
    t->cap_pending = cap;
    return 0;
}

rv_measures_acc *rv_measures_acc_new(size_t n_labels, size_t max_scores)
{
    if (n_labels == 0)
        return NULL;
    rv_measures_acc *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->n_labels = n_labels;
    a->n_tables = n_labels == 2 ? 1 : n_labels;
    a->predicted = calloc(3 * n_labels, sizeof *a->predicted);
    a->tables = calloc(a->n_tables, sizeof *a->tables);
    if (!a->predicted || !a->tables) {
        rv_measures_acc_free(a);
        return NULL;
    }
    a->actual = a->predicted + n_labels;
    a->hits = a->actual + n_labels;
    for (size_t t = 0; t < a->n_tables; t++) {
        a->tables[t].bits = EXACT_BITS;
        a->tables[t].max = max_scores ? max_scores : RV_MEASURES_MAX_SCORES;
    }
    return a;
}

void rv_measures_acc_free(rv_measures_acc *a)
{
    if (!a)
        return;
    for (size_t t = 0; a->tables && t < a->n_tables; t++) {
        free(a->tables[t].sorted);
        free(a->tables[t].pending);
    }
    free(a->tables);
    free(a->predicted);
    free(a);
}

size_t rv_measures_acc_labels(const rv_measures_acc *a)
{
    return a->n_labels;
}

uint64_t rv_measures_acc_count(const rv_measures_acc *a)
{
    return a->count;
}

/* The label a table ranks. */
static size_t table_label(const rv_measures_acc *a, size_t t)
{
    return a->n_tables == 1 && a->n_labels == 2 ? 1 : t;
}

/* The most probable label, the first of equals (numpy's argmax). */
static uint32_t top_label(const double *row, size_t n_labels, double *top)
{
    uint32_t best = 0;
    for (uint32_t k = 1; k < n_labels; k++)
        if (row[k] > row[best])
            best = k;
    *top = row[best];
    return best;
}

/* -log of the true label's probability, after clipping and scaling the
 * row to sum 1. */
static double log_loss_of(const double *row, size_t n_labels, uint32_t truth)
{
    double sum = 0, mine = 0;
    for (size_t k = 0; k < n_labels; k++) {
        double q = fmin(fmax(row[k], DBL_EPSILON), 1 - DBL_EPSILON);
        sum += q;
        if (k == truth)
            mine = q;
    }
    return -log(mine / sum);
}

static double brier_of(const double *row, size_t n_labels, uint32_t truth)
{
    if (n_labels == 2) {
        double d = row[1] - (truth == 1);
        return d * d;
    }
    double s = 0;
    for (size_t k = 0; k < n_labels; k++) {
        double d = row[k] - (k == truth);
        s += d * d;
    }
    return s;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : NAN;
}

int rv_measures_acc_add_to(rv_measures_acc *const *accs, size_t n, const double *p, uint32_t truth)
{
    size_t first = 0;
    while (first < n && !accs[first])
        first++;
    if (first == n)
        return 0;
    size_t n_labels = accs[first]->n_labels;
    double top;
    uint32_t guess = top_label(p, n_labels, &top);
    int hit = guess == truth;
    double ll = log_loss_of(p, n_labels, truth), brier = brier_of(p, n_labels, truth);
    int bin = (int)(top * RV_MEASURES_BINS);
    bin = bin < 0 ? 0 : bin >= RV_MEASURES_BINS ? RV_MEASURES_BINS - 1 : bin;
    int rc = 0;
    for (size_t i = first; i < n; i++) {
        rv_measures_acc *a = accs[i];
        int room = a != NULL;
        for (size_t t = 0; room && t < a->n_tables; t++)
            room = make_room(&a->tables[t]) == 0;
        if (!room) {
            rc = a ? -1 : rc;
            continue;
        }
        a->count++;
        a->right += (uint64_t)hit;
        a->predicted[guess]++;
        a->actual[truth]++;
        a->hits[guess] += (uint64_t)hit;
        a->log_loss += ll;
        a->brier += brier;
        a->bin_count[bin]++;
        a->bin_conf[bin] += top;
        a->bin_right[bin] += (uint64_t)hit;
        for (size_t t = 0; t < a->n_tables; t++) {
            score_table *st = &a->tables[t];
            size_t k = table_label(a, t);
            st->pending[st->n_pending++] = (rv_ranked){cut(p[k], st->bits), truth == k};
        }
    }
    return rc;
}

int rv_measures_acc_add(rv_measures_acc *a, const double *p, uint32_t truth)
{
    return rv_measures_acc_add_to(&a, 1, p, truth);
}

int rv_measures_acc_merge(rv_measures_acc *into, rv_measures_acc *from)
{
    if (into->n_labels != from->n_labels)
        return -1;
    size_t nt = into->n_tables;
    score_count **merged = calloc(nt, sizeof *merged);
    int ok = merged != NULL;
    for (size_t t = 0; ok && t < nt; t++) {
        score_table *x = &into->tables[t], *y = &from->tables[t];
        ok = flush(x) == 0 && flush(y) == 0 &&
             (merged[t] = malloc((x->n + y->n + 1) * sizeof **merged)) != NULL;
    }
    if (!ok) {
        for (size_t t = 0; merged && t < nt; t++)
            free(merged[t]);
        free(merged);
        return -1;
    }
    for (size_t t = 0; t < nt; t++) {
        score_table *x = &into->tables[t], *y = &from->tables[t];
        x->bits = x->bits < y->bits ? x->bits : y->bits;
        x->n = merge_runs(x->sorted, x->n, y->sorted, y->n, x->bits, merged[t]);
        free(x->sorted);
        x->sorted = merged[t];
        coarsen(x);
    }
    free(merged);
    into->count += from->count;
    into->right += from->right;
    into->log_loss += from->log_loss;
    into->brier += from->brier;
    for (int b = 0; b < RV_MEASURES_BINS; b++) {
        into->bin_count[b] += from->bin_count[b];
        into->bin_right[b] += from->bin_right[b];
        into->bin_conf[b] += from->bin_conf[b];
    }
    for (size_t k = 0; k < 3 * into->n_labels; k++)
        into->predicted[k] += from->predicted[k];
    return 0;
}

/* A table's AUC (NAN unless both kinds occur) and its error bound. */
static double table_auc(const score_table *t, double *error)
{
    double pos = 0, neg = 0, u = 0, tied = 0;
    for (size_t i = 0; i < t->n; i++) {
        double p = (double)t->sorted[i].pos, q = (double)t->sorted[i].neg;
        u += p * (neg + q / 2);
        tied += p * q;
        pos += p;
        neg += q;
    }
    if (pos == 0 || neg == 0)
        return NAN;
    *error = t->bits < EXACT_BITS ? tied / 2 / (pos * neg) : 0;
    return u / (pos * neg);
}

int rv_measures_get(rv_measures_acc *a, rv_measures *m)
{
    memset(m, 0, sizeof *m);
    for (size_t t = 0; t < a->n_tables; t++)
        if (flush(&a->tables[t]) != 0)
            return -1;
    m->precision = malloc(a->n_labels * sizeof *m->precision);
    m->recall = malloc(a->n_labels * sizeof *m->recall);
    if (!m->precision || !m->recall) {
        rv_measures_clear(m);
        return -1;
    }
    uint64_t n = a->count;
    m->count = n;
    m->n_labels = a->n_labels;
    m->accuracy = ratio(a->right, n);
    m->log_loss = n ? a->log_loss / (double)n : NAN;
    m->brier = n ? a->brier / (double)n : NAN;
    double auc_sum = 0, error_sum = 0;
    size_t used = 0;
    for (size_t t = 0; t < a->n_tables; t++) {
        double error = 0, auc = table_auc(&a->tables[t], &error);
        if (!isnan(auc)) {
            auc_sum += auc;
            error_sum += error;
            used++;
        }
    }
    m->auc = used ? auc_sum / (double)used : NAN;
    m->auc_error = used ? error_sum / (double)used : 0;
    m->ece = n ? 0 : NAN;
    for (int b = 0; b < RV_MEASURES_BINS; b++) {
        rv_calibration_bin *bin = &m->bins[b];
        bin->count = a->bin_count[b];
        bin->confidence = bin->count ? a->bin_conf[b] / (double)bin->count : NAN;
        bin->accuracy = ratio(a->bin_right[b], bin->count);
        if (bin->count)
            m->ece += ratio(bin->count, n) * fabs(bin->accuracy - bin->confidence);
    }
    for (size_t k = 0; k < a->n_labels; k++) {
        m->precision[k] = ratio(a->hits[k], a->predicted[k]);
        m->recall[k] = ratio(a->hits[k], a->actual[k]);
    }
    return 0;
}

int rv_measures_compute(size_t n_labels, size_t n, const double *p, const uint32_t *truth,
                        rv_measures *m)
{
    rv_measures_acc *a = rv_measures_acc_new(n_labels, 0);
    int rc = a ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = rv_measures_acc_add(a, p + i * n_labels, truth[i]);
    if (rc == 0)
        rc = rv_measures_get(a, m);
    else
        memset(m, 0, sizeof *m);
    rv_measures_acc_free(a);
    return rc;
}

void rv_measures_clear(rv_measures *m)
{
    free(m->precision);
    free(m->recall);
    m->precision = m->recall = NULL;
}
