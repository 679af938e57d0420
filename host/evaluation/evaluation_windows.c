/*
 * evaluation_windows.c - the joined answers measured per source over the
 * last hour (60 minute buckets), the last day (24 hour buckets), since
 * start, since start per schedule version, and its first answers (the
 * "first" window: the first `baseline` joined, then frozen; what a model is
 * compared with later). A bucket is an accumulator
 * (evaluation/measures.h) reset when its slot comes round again; a window is its
 * live buckets merged when asked. No store, no clock: times are given.
 */
#include "evaluation_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS 60000
#define HOUR_MS 3600000
/* distinct scores a bucket keeps exactly: 60 + 24 of them per source */
#define BUCKET_SCORES 4096

typedef struct bucket {
    int64_t index; /* time / width of what it holds */
    rv_measures_acc *acc;
} bucket;

typedef struct version_acc {
    uint32_t schedule_version;
    rv_measures_acc *acc;
} version_acc;

typedef struct source {
    char name[128];
    char version[64]; /* the last seen */
    rv_measures_acc *start, *first;
    bucket minutes[60], hours[24];
    version_acc *versions;
    size_t n_versions;
} source;

struct rv_eval_windows {
    size_t n_labels;
    uint64_t baseline; /* answers in a source's first window */
    source *sources;
    size_t n_sources;
};

rv_eval_windows *rv_eval_windows_new(size_t n_labels, uint64_t baseline)
{
    rv_eval_windows *w = calloc(1, sizeof *w);
    if (w) {
        w->n_labels = n_labels;
        w->baseline = baseline;
    }
    return w;
}

static void source_free(source *s)
{
    rv_measures_acc_free(s->start);
    rv_measures_acc_free(s->first);
    for (size_t i = 0; i < 60; i++)
        rv_measures_acc_free(s->minutes[i].acc);
    for (size_t i = 0; i < 24; i++)
        rv_measures_acc_free(s->hours[i].acc);
    for (size_t i = 0; i < s->n_versions; i++)
        rv_measures_acc_free(s->versions[i].acc);
    free(s->versions);
}

void rv_eval_windows_free(rv_eval_windows *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_sources; i++)
        source_free(&w->sources[i]);
    free(w->sources);
    free(w);
}

static source *find_source(rv_eval_windows *w, const char *name)
{
    for (size_t i = 0; i < w->n_sources; i++)
        if (strcmp(w->sources[i].name, name) == 0)
            return &w->sources[i];
    source *grown = realloc(w->sources, (w->n_sources + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    w->sources = grown;
    source *s = &w->sources[w->n_sources];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (!(s->start = rv_measures_acc_new(w->n_labels, 0)) ||
        !(s->first = rv_measures_acc_new(w->n_labels, 0))) {
        source_free(s);
        return NULL;
    }
    w->n_sources++;
    return s;
}

/* bucket_for: older than the window holds (a mark, never an accumulator) */
static max_align_t too_old_mark;
#define TOO_OLD ((rv_measures_acc *)&too_old_mark)

/* The bucket of slot index % n for time index, emptied if it held an
 * older one; TOO_OLD when it holds a newer one (a time out of order, older
 * than the whole window: not counted there). NULL when out of memory. */
static rv_measures_acc *bucket_for(bucket *slots, size_t n, int64_t index, size_t n_labels)
{
    bucket *b = &slots[(size_t)(index % (int64_t)n)];
    if (b->acc && b->index == index)
        return b->acc;
    if (b->acc && b->index > index)
        return TOO_OLD;
    rv_measures_acc *fresh = rv_measures_acc_new(n_labels, BUCKET_SCORES);
    if (!fresh)
        return NULL;
    rv_measures_acc_free(b->acc);
    b->acc = fresh;
    b->index = index;
    return fresh;
}

static rv_measures_acc *version_for(rv_eval_windows *w, source *s, uint32_t schedule_version)
{
    for (size_t i = 0; i < s->n_versions; i++)
        if (s->versions[i].schedule_version == schedule_version)
            return s->versions[i].acc;
    version_acc *grown = realloc(s->versions, (s->n_versions + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    s->versions = grown;
    rv_measures_acc *acc = rv_measures_acc_new(w->n_labels, 0);
    if (!acc)
        return NULL;
    s->versions[s->n_versions++] = (version_acc){schedule_version, acc};
    return acc;
}

int rv_eval_windows_add(rv_eval_windows *w, const rv_eval_sample *x)
{
    source *s = find_source(w, x->source);
    if (!s)
        return -1;
    if (x->version[0])
        snprintf(s->version, sizeof s->version, "%s", x->version);
    int64_t t = x->time_ms < 0 ? 0 : x->time_ms;
    rv_measures_acc *accs[5] = {s->start, bucket_for(s->minutes, 60, t / MINUTE_MS, w->n_labels),
                                bucket_for(s->hours, 24, t / HOUR_MS, w->n_labels),
                                x->schedule_version ? version_for(w, s, x->schedule_version) : NULL,
                                rv_measures_acc_count(s->first) < w->baseline ? s->first : NULL};
    int rc = !accs[1] || !accs[2] ? -1 : 0; /* (a bucket out of memory) */
    for (size_t i = 1; i < 3; i++)
        if (accs[i] == TOO_OLD)
            accs[i] = NULL;
    return rv_measures_acc_add_to(accs, 5, x->p, x->truth) != 0 ? -1 : rc;
}

/* The live buckets of a window merged: those whose index is within n of
 * now's. NULL when out of memory. */
static rv_measures_acc *merged(bucket *slots, size_t n, int64_t now_index, size_t n_labels)
{
    rv_measures_acc *acc = rv_measures_acc_new(n_labels, 0);
    for (size_t i = 0; acc && i < n; i++)
        if (slots[i].acc && slots[i].index > now_index - (int64_t)n &&
            slots[i].index <= now_index && rv_measures_acc_merge(acc, slots[i].acc) != 0) {
            rv_measures_acc_free(acc);
            acc = NULL;
        }
    return acc;
}

/* Appends a figure of acc to the array. 0 or -1. */
static int figure(rv_evaluation_figure **out, size_t *n, const source *s, rv_eval_window win,
                  uint32_t schedule_version, rv_measures_acc *acc)
{
    rv_evaluation_figure *grown = realloc(*out, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *out = grown;
    rv_evaluation_figure *f = &grown[*n];
    memset(f, 0, sizeof *f);
    snprintf(f->source, sizeof f->source, "%s", s->name);
    snprintf(f->version, sizeof f->version, "%s", s->version);
    f->window = win;
    f->schedule_version = schedule_version;
    if (rv_measures_get(acc, &f->m) != 0)
        return -1;
    ++*n;
    return 0;
}

rv_evaluation_figure *rv_eval_windows_snapshot(rv_eval_windows *w, int64_t now_ms, size_t *n)
{
    rv_evaluation_figure *out = NULL;
    *n = 0;
    int64_t t = now_ms < 0 ? 0 : now_ms;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < w->n_sources; i++) {
        source *s = &w->sources[i];
        rv_measures_acc *hour = merged(s->minutes, 60, t / MINUTE_MS, w->n_labels);
        rv_measures_acc *day = merged(s->hours, 24, t / HOUR_MS, w->n_labels);
        rc = hour && day ? 0 : -1;
        if (rc == 0)
            rc = figure(&out, n, s, RV_EVAL_HOUR, 0, hour);
        if (rc == 0)
            rc = figure(&out, n, s, RV_EVAL_DAY, 0, day);
        if (rc == 0)
            rc = figure(&out, n, s, RV_EVAL_START, 0, s->start);
        if (rc == 0)
            rc = figure(&out, n, s, RV_EVAL_FIRST, 0, s->first);
        for (size_t v = 0; rc == 0 && v < s->n_versions; v++)
            rc = figure(&out, n, s, RV_EVAL_START, s->versions[v].schedule_version,
                        s->versions[v].acc);
        rv_measures_acc_free(hour);
        rv_measures_acc_free(day);
    }
    if (rc != 0) {
        rv_evaluation_figures_free(out, *n);
        *n = 0;
        return NULL;
    }
    return out ? out : calloc(1, sizeof *out);
}

rv_evaluation_series *rv_eval_windows_series(rv_eval_windows *w, int64_t now_ms, size_t *n)
{
    *n = 0;
    rv_evaluation_series *out = calloc(w->n_sources ? w->n_sources : 1, sizeof *out);
    if (!out)
        return NULL;
    int64_t now = (now_ms < 0 ? 0 : now_ms) / MINUTE_MS;
    for (size_t i = 0; i < w->n_sources; i++) {
        const source *s = &w->sources[i];
        rv_evaluation_series *x = &out[(*n)++];
        snprintf(x->source, sizeof x->source, "%s", s->name);
        for (int64_t m = now - 59; m <= now; m++) {
            const bucket *b = &s->minutes[(size_t)(m % 60)];
            rv_measures fig;
            if (m < 0 || !b->acc || b->index != m || rv_measures_acc_count(b->acc) == 0 ||
                rv_measures_get(b->acc, &fig) != 0)
                continue;
            x->points[x->n++] =
                (rv_evaluation_point){m * MINUTE_MS, fig.count, fig.accuracy, fig.auc};
            rv_measures_clear(&fig);
        }
    }
    return out;
}

void rv_evaluation_figures_free(rv_evaluation_figure *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        rv_measures_clear(&f[i].m);
    free(f);
}

const char *rv_evaluation_window_name(rv_eval_window w)
{
    static const char *const names[] = {"hour", "day", "start", "first"};
    return w < RV_EVAL_WINDOWS ? names[w] : "?";
}
