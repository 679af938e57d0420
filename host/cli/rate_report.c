/*
 * rate_report.c - the measures of a rating. Labels are compared by name
 * (each model numbers its own); a score a model did not give for a label
 * counts as 0.
 */
#include "rate_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "measures.h"
#include "stats.h"

struct rv_rate_model {
    const rv_model *m;
    int scored;
    unsigned char *ok; /* per request */
    int32_t *top;      /* the first answer's label, -1 when none */
    double *scores;    /* [request * n_labels + label] */
    size_t n_ok, n_error;
    rv_latency_hist latency;
};

struct rv_rate_report {
    const rv_generation *g;
    size_t n;
    rv_rate_model *models;
    char **truth; /* per request, or NULL: no label given */
    char **live;  /* per request: the model chosen live, "" for none */
    int has_truth, has_live;
};

rv_rate_report *rv_rate_report_new(const rv_generation *g, size_t n)
{
    rv_rate_report *r = calloc(1, sizeof *r);
    if (!r || !(r->models = calloc(g->n_models, sizeof *r->models)) ||
        !(r->truth = calloc(n + 1, sizeof *r->truth)) ||
        !(r->live = calloc(n + 1, sizeof *r->live))) {
        rv_rate_report_free(r);
        return NULL;
    }
    r->g = g;
    r->n = n;
    for (size_t i = 0; i < g->n_models; i++) {
        rv_rate_model *m = &r->models[i];
        m->m = g->models[i];
        m->ok = calloc(n + 1, 1);
        m->top = malloc((n + 1) * sizeof *m->top);
        m->scores = calloc((n + 1) * (m->m->n_labels ? m->m->n_labels : 1), sizeof *m->scores);
        if (!m->ok || !m->top || !m->scores) {
            rv_rate_report_free(r);
            return NULL;
        }
        for (size_t j = 0; j < n; j++)
            m->top[j] = -1;
    }
    return r;
}

void rv_rate_report_free(rv_rate_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->models && i < r->g->n_models; i++) {
        free(r->models[i].ok);
        free(r->models[i].top);
        free(r->models[i].scores);
    }
    for (size_t j = 0; j < r->n; j++) {
        free(r->truth ? r->truth[j] : NULL);
        free(r->live ? r->live[j] : NULL);
    }
    free(r->models);
    free(r->truth);
    free(r->live);
    free(r);
}

rv_rate_model *rv_rate_report_model(rv_rate_report *r, size_t i)
{
    return &r->models[i];
}

void rv_rate_model_add(rv_rate_model *m, size_t req, int ok, const rv_slot *s, int64_t latency_us)
{
    m->scored = 1;
    m->ok[req] = (unsigned char)ok;
    ok ? m->n_ok++ : m->n_error++;
    rv_latency_add(&m->latency, latency_us);
    if (!ok)
        return;
    uint32_t nl = m->m->n_labels;
    for (uint32_t a = 0; a < s->n_answers; a++)
        if (s->answers[a].label < nl)
            m->scores[req * nl + s->answers[a].label] = s->answers[a].score;
    m->top[req] = s->n_answers ? (int32_t)s->answers[0].label : -1;
}

static const char *top_name(const rv_rate_model *m, size_t j)
{
    return m->ok[j] && m->top[j] >= 0 ? m->m->labels[m->top[j]] : NULL;
}

/* Requests i and j... of two models with the same top label, over those
 * both answered; -1 when none. */
static double agreement(const rv_rate_report *r, const rv_rate_model *a, const rv_rate_model *b)
{
    size_t both = 0, same = 0;
    for (size_t j = 0; j < r->n; j++) {
        const char *x = top_name(a, j), *y = top_name(b, j);
        if (x && y) {
            both++;
            same += strcmp(x, y) == 0;
        }
    }
    return both ? (double)same / (double)both : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int label_of(const rv_model *m, const char *name)
{
    for (uint32_t k = 0; k < m->n_labels; k++)
        if (strcmp(m->labels[k], name) == 0)
            return (int)k;
    return -1;
}

/* The two-sample Kolmogorov-Smirnov statistic between a's and b's scores
 * for a's first label (which b must have); -1 when it cannot be told. */
static double shift(const rv_rate_report *r, const rv_rate_model *a, const rv_rate_model *b)
{
    if (!a->m->n_labels)
        return -1;
    int ka = 0, kb = label_of(b->m, a->m->labels[0]);
    if (kb < 0)
        return -1;
    double *x = malloc((r->n + 1) * sizeof *x), *y = malloc((r->n + 1) * sizeof *y);
    size_t nx = 0, ny = 0;
    for (size_t j = 0; x && y && j < r->n; j++) {
        if (a->ok[j])
            x[nx++] = a->scores[j * a->m->n_labels + (size_t)ka];
        if (b->ok[j])
            y[ny++] = b->scores[j * b->m->n_labels + (size_t)kb];
    }
    double d = -1;
    if (nx && ny) {
        qsort(x, nx, sizeof *x, cmp_double);
        qsort(y, ny, sizeof *y, cmp_double);
        d = 0;
        for (size_t i = 0, k = 0; i < nx || k < ny;) {
            double v = i < nx && (k >= ny || x[i] <= y[k]) ? x[i] : y[k];
            while (i < nx && x[i] <= v)
                i++;
            while (k < ny && y[k] <= v)
                k++;
            double gap = fabs((double)i / (double)nx - (double)k / (double)ny);
            d = gap > d ? gap : d;
        }
    }
    free(x);
    free(y);
    return d;
}

/* Accuracy of the top label, and the one-vs-rest AUC averaged over the
 * labels that have both positives and negatives (Mann-Whitney, ties
 * halved), over the requests with a true label; -1 when none. */
static void accuracy_auc(const rv_rate_report *r, const rv_rate_model *m, double *acc, double *auc)
{
    size_t n = 0, right = 0, labels_used = 0;
    double auc_sum = 0;
    rv_ranked *v = malloc((r->n + 1) * sizeof *v);
    for (size_t j = 0; j < r->n; j++)
        if (r->truth[j] && m->ok[j]) {
            n++;
            right += top_name(m, j) && strcmp(top_name(m, j), r->truth[j]) == 0;
        }
    for (uint32_t k = 0; v && k < m->m->n_labels; k++) {
        size_t c = 0;
        for (size_t j = 0; j < r->n; j++)
            if (r->truth[j] && m->ok[j]) {
                v[c].score = m->scores[j * m->m->n_labels + k];
                v[c++].positive = strcmp(r->truth[j], m->m->labels[k]) == 0;
            }
        double label_auc = rv_measures_auc(v, c);
        if (isnan(label_auc))
            continue;
        auc_sum += label_auc;
        labels_used++;
    }
    free(v);
    *acc = n ? (double)right / (double)n : -1;
    *auc = labels_used ? auc_sum / (double)labels_used : -1;
}

/* Request index of each id, by binary search over a sorted copy. */
typedef struct id_ix {
    const char *id;
    size_t i;
} id_ix;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const id_ix *)a)->id, ((const id_ix *)b)->id);
}

static id_ix *index_ids(const char *const *ids, size_t n)
{
    id_ix *ix = malloc((n + 1) * sizeof *ix);
    for (size_t i = 0; ix && i < n; i++)
        ix[i] = (id_ix){ids[i], i};
    if (ix)
        qsort(ix, n, sizeof *ix, cmp_id);
    return ix;
}

static long find_id(const id_ix *ix, size_t n, const char *id)
{
    id_ix key = {id, 0};
    const id_ix *hit = bsearch(&key, ix, n, sizeof *ix, cmp_id);
    return hit ? (long)hit->i : -1;
}

/* One line of a per-request file: *id and *value point into the line or
 * into *tree (freed by the caller). 0, 1 to skip the line, -1 when it is
 * not what the file holds. */
typedef int (*line_fn)(char *line, long no, const char **id, const char **value, yajl_val *tree);

/* `id,label`; a first line `id,label` is a header. */
static int label_line(char *line, long no, const char **id, const char **value, yajl_val *tree)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *comma = strrchr(line, ',');
    if (!comma)
        return -1;
    *comma = '\0';
    *id = line;
    *value = comma + 1;
    return no == 1 && strcmp(line, "id") == 0;
}

/* A result record: its id and chosen model ("" for none). */
static int result_line(char *line, long no, const char **id, const char **value, yajl_val *tree)
{
    static const char *pid[] = {"id", NULL}, *pmodel[] = {"model", NULL};
    (void)no;
    *tree = yajl_tree_parse(line, NULL, 0);
    yajl_val i = *tree ? yajl_tree_get(*tree, pid, yajl_t_string) : NULL;
    yajl_val m = *tree ? yajl_tree_get(*tree, pmodel, yajl_t_any) : NULL;
    if (!i || !m)
        return -1;
    *id = YAJL_GET_STRING(i);
    *value = YAJL_IS_STRING(m) ? YAJL_GET_STRING(m) : "";
    return 0;
}

/* Reads path line by line into out[request] (the first value of each
 * request id; ids of no request are ignored). 0, or -1 with why. */
static int read_per_request(rv_rate_report *r, const char *const *ids, const char *path,
                            line_fn parse, const char *expected, char **out, char *why,
                            size_t why_size)
{
    FILE *f = fopen(path, "r");
    id_ix *ix = f ? index_ids(ids, r->n) : NULL;
    if (!f || !ix) {
        snprintf(why, why_size, "%s: cannot read", path);
        if (f)
            fclose(f);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        const char *id = NULL, *value = NULL;
        yajl_val tree = NULL;
        int got = parse(line, ++no, &id, &value, &tree);
        if (got < 0) {
            snprintf(why, why_size, "%s:%ld: %s", path, no, expected);
            rc = -1;
        } else if (got == 0) {
            long k = find_id(ix, r->n, id);
            if (k >= 0 && !out[k] && !(out[k] = strdup(value))) {
                snprintf(why, why_size, "out of memory");
                rc = -1;
            }
        }
        yajl_tree_free(tree);
    }
    free(line);
    free(ix);
    fclose(f);
    return rc;
}

int rv_rate_report_labels(rv_rate_report *r, const char *const *ids, const char *path, char *why,
                          size_t why_size)
{
    r->has_truth = 1;
    return read_per_request(r, ids, path, label_line, "expected id,label", r->truth, why, why_size);
}

int rv_rate_report_results(rv_rate_report *r, const char *const *ids, const char *path, char *why,
                           size_t why_size)
{
    r->has_live = 1;
    return read_per_request(r, ids, path, result_line, "not a result record", r->live, why,
                            why_size);
}

/* The candidate schedule's choice offline: the first entry that answered
 * ok (deadlines aside: offline times are not serving times), "" for none. */
static const char *candidate_choice(const rv_rate_report *r, size_t j)
{
    for (size_t i = 0; i < r->g->n_schedule; i++) {
        const rv_rate_model *m = &r->models[r->g->schedule[i]];
        if (m->scored && m->ok[j])
            return m->m->name;
    }
    return "";
}

static void num(yajl_gen j, const char *name, double v)
{
    rv_json_string(j, name);
    if (v < 0 || !isfinite(v))
        yajl_gen_null(j);
    else
        yajl_gen_double(j, v);
}

void rv_rate_report_print(const rv_rate_report *r, FILE *out, int json, long corrupt, long skipped)
{
    const rv_generation *g = r->g;
    const rv_rate_model *canary = g->canary >= 0 ? &r->models[g->canary] : NULL;
    size_t compared = 0, differ = 0;
    for (size_t j = 0; r->has_live && j < r->n; j++)
        if (r->live[j]) {
            compared++;
            differ += strcmp(r->live[j], candidate_choice(r, j)) != 0;
        }
    yajl_gen jg = json ? rv_json_gen_new() : NULL;
    if (jg) {
        yajl_gen_config(jg, yajl_gen_beautify, 1);
        yajl_gen_map_open(jg);
        rv_json_string(jg, "service");
        rv_json_string(jg, g->cfg->service);
        num(jg, "requests", (double)r->n);
        num(jg, "corrupt", (double)corrupt);
        num(jg, "skipped", (double)skipped);
        rv_json_string(jg, "models");
        yajl_gen_array_open(jg);
    } else {
        fprintf(out, "rating of %zu request(s) through %s (%ld corrupt, %ld not requests)\n", r->n,
                g->cfg->path, corrupt, skipped);
        fprintf(out, "%-16s %8s %8s %8s %9s %9s %8s %8s %8s %8s\n", "model", "requests", "ok",
                "error", "p50 us", "p99 us", "~canary", "shift", "accuracy", "auc");
    }
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_rate_model *m = &r->models[i];
        if (!m->scored)
            continue;
        double agree = canary && m != canary ? agreement(r, m, canary) : -1;
        double ks = canary && m != canary ? shift(r, m, canary) : -1;
        double acc = -1, auc = -1;
        if (r->has_truth)
            accuracy_auc(r, m, &acc, &auc);
        double p50 = rv_latency_quantile(&m->latency, 0.5),
               p99 = rv_latency_quantile(&m->latency, 0.99);
        if (!jg) {
            char c[4][16];
            double v[4] = {agree, ks, acc, auc};
            for (int k = 0; k < 4; k++)
                snprintf(c[k], sizeof c[k], v[k] < 0 ? "-" : "%.4f", v[k]);
            fprintf(out, "%-16s %8zu %8zu %8zu %9.0f %9.0f %8s %8s %8s %8s\n", m->m->name, r->n,
                    m->n_ok, m->n_error, p50, p99, c[0], c[1], c[2], c[3]);
            continue;
        }
        yajl_gen_map_open(jg);
        rv_json_string(jg, "name");
        rv_json_string(jg, m->m->name);
        rv_json_string(jg, "version");
        rv_json_string(jg, m->m->version);
        num(jg, "ok", (double)m->n_ok);
        num(jg, "error", (double)m->n_error);
        num(jg, "latency_p50_us", p50);
        num(jg, "latency_p99_us", p99);
        num(jg, "canary_agreement", agree);
        num(jg, "canary_shift_ks", ks);
        num(jg, "accuracy", acc);
        num(jg, "auc", auc);
        rv_json_string(jg, "agreement");
        yajl_gen_map_open(jg);
        for (size_t k = 0; k < g->n_models; k++)
            if (k != i && r->models[k].scored)
                num(jg, r->models[k].m->name, agreement(r, m, &r->models[k]));
        yajl_gen_map_close(jg);
        yajl_gen_map_close(jg);
    }
    if (jg) {
        yajl_gen_array_close(jg);
        if (r->has_live) {
            rv_json_string(jg, "results");
            yajl_gen_map_open(jg);
            num(jg, "compared", (double)compared);
            num(jg, "chosen_differently", (double)differ);
            yajl_gen_map_close(jg);
        }
        yajl_gen_map_close(jg);
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(jg, &buf, &len);
        fwrite(buf, 1, len, out);
        yajl_gen_free(jg);
        return;
    }
    fprintf(out, "agreement of top labels (over requests both answered):\n%-16s", "");
    for (size_t k = 0; k < g->n_models; k++)
        if (r->models[k].scored)
            fprintf(out, " %12.12s", r->models[k].m->name);
    fputc('\n', out);
    for (size_t i = 0; i < g->n_models; i++) {
        if (!r->models[i].scored)
            continue;
        fprintf(out, "%-16s", r->models[i].m->name);
        for (size_t k = 0; k < g->n_models; k++)
            if (r->models[k].scored)
                fprintf(out, " %12.4f", agreement(r, &r->models[i], &r->models[k]));
        fputc('\n', out);
    }
    if (r->has_live)
        fprintf(out,
                "against the results recorded live: %zu compared, the candidate schedule "
                "chooses another model for %zu (%.1f%%)\n",
                compared, differ, compared ? 100.0 * (double)differ / (double)compared : 0.0);
}
