/*
 * evaluation.h - live evaluation: every model's answers (and the answer
 * served) joined with the true labels that arrive later on the labels
 * stream, and measured over sliding windows.
 *
 * The join: each request's answers wait in an on-disk store (kvstore) for
 * its label, up to max_label_delay_ms after the request was first seen; a
 * label that comes first waits as long for its answers. A request is
 * joined once it has both its label and its result (the result comes
 * after every answer in time; a score after it is late and not counted).
 * What cannot join is counted: a label twice (the first counts), a label
 * not among the evaluation's labels, a label whose request never showed
 * up, answers whose label never came.
 *
 * The measures (evaluation/measures.h), per source (each model, "served" for
 * the rendezvous' answer): over the last hour (minute buckets), the last
 * day (hour buckets), since start, and since start per schedule version.
 * Every joined answer is also logged in the store, so a restart rebuilds
 * the windows; "since start" is then since the oldest answer kept.
 *
 * Changes are batched: the calls below queue, rv_evaluation_commit applies
 * them in one store transaction with the consumer's offsets (marks) and
 * only then counts what joined. Thread: one feeder thread makes every call
 * but rv_evaluation_snapshot and rv_evaluation_counts, which any thread
 * may call.
 */
#ifndef RV_EVALUATION_H
#define RV_EVALUATION_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "measures.h"

struct rv_model;
struct rv_slot;

typedef struct rv_evaluation rv_evaluation;

typedef struct rv_evaluation_settings {
    const char *dir;            /* the store's directory */
    uint64_t store_bytes;       /* its bound */
    int64_t max_label_delay_ms; /* how long answers wait for a label */
    size_t n_labels;            /* the labels measured; with two, the */
    const char *const *labels;  /* second is the positive one */
    uint64_t baseline_answers;  /* in a source's "first" window */
    double sample;              /* the share of requests evaluated (0 or 1: all) */
} rv_evaluation_settings;

/* One source's answer to a request, as its record gives it. */
typedef struct rv_evaluation_answer {
    const char *source;  /* the model, or "served" */
    const char *version; /* the model's version ("" for none) */
    uint32_t schedule_version;
    size_t n;                  /* answers, best first */
    const char *const *labels; /* their labels */
    const double *scores;      /* their scores, as probabilities */
    /* no answer (a score record not ok, or no answers): the source is
     * done with the request, nothing of it is measured */
    int failed;
    /* failed because the host shed it (the model's queue was full): the
     * host's capacity, not the model's health; its latency is not kept */
    int shed;
    uint32_t latency_us; /* a model's: from reading the request to its answer; 0: unknown */
    /* a result's: the models that score the request (each writes one score
     * record, ok or not); the request joins once all of them are read (the
     * streams are read side by side, and a model not scheduled, or past its
     * deadline, answers after the result) */
    size_t n_expected;
    const char *const *expected;
} rv_evaluation_answer;

#define RV_EVALUATION_SERVED "served"

typedef struct rv_evaluation_counts {
    uint64_t answers;          /* answers taken (scores and results) */
    uint64_t labels;           /* labels taken */
    uint64_t joined;           /* requests joined with their label */
    uint64_t early_labels;     /* labels that came before their result */
    uint64_t duplicate_labels; /* a second label for a request */
    uint64_t unknown_labels;   /* a label not among the evaluation's */
    uint64_t unmatched_labels; /* labels whose request never came (expired) */
    uint64_t unlabelled;       /* requests whose label never came (expired) */
    uint64_t late_answers;     /* answers after their request was joined */
    uint64_t incomplete;       /* labelled, but an answer its result named never came */
    /* label records that are none (rv_evaluation_refuse_label) */
    uint64_t empty_labels;          /* no value, or only white space */
    uint64_t malformed_json_labels; /* not JSON: cut short, or not JSON at all */
    uint64_t not_an_object_labels;  /* JSON whose root is not an object */
    uint64_t bad_id_labels;         /* no id a request can have */
    uint64_t bad_label_labels;      /* no label, or one that is not a string */
    uint64_t store_bytes;           /* the store's pages in use */
    uint64_t store_evicted;         /* values evicted to stay within the bound */
    uint64_t dropped_answers;       /* tapped answers not kept (no memory, or far behind) */
} rv_evaluation_counts;

/* Opens the store (creating it) and rebuilds the windows from the answers
 * it logged. NULL with err set. */
rv_evaluation *rv_evaluation_open(const rv_evaluation_settings *s, int64_t now_ms, char *err,
                                  size_t err_size);
void rv_evaluation_close(rv_evaluation *e);

/* Queue a change. -1 when out of memory (nothing queued). A label's
 * time_ms is when its outcome was known (0: now): its joined answers count
 * in the hour and day windows of that time, taken within the last
 * max_label_delay_ms and not after now. */
int rv_evaluation_answer_of(rv_evaluation *e, const char *id, const rv_evaluation_answer *a,
                            int64_t now_ms);
int rv_evaluation_label(rv_evaluation *e, const char *id, const char *label, int64_t time_ms,
                        int64_t now_ms);
/* Why a label record is none: each counts under its outcome. */
typedef enum {
    RV_LABEL_EMPTY,
    RV_LABEL_MALFORMED_JSON,
    RV_LABEL_NOT_AN_OBJECT,
    RV_LABEL_BAD_ID, /* no string id, or "", or longer than RV_EVALUATION_MAX_ID */
    RV_LABEL_BAD_LABEL,
    RV_LABEL_REFUSALS
} rv_label_refusal;
/* Its outcome's name: "empty", "malformed_json", "not_an_object", "bad_id",
 * "bad_label" (the counts' are that and "_labels"). */
const char *rv_evaluation_refusal_name(rv_label_refusal why);
/* Its count among c's. */
uint64_t *rv_evaluation_refused(rv_evaluation_counts *c, rv_label_refusal why);
/* The longest id the store keeps: a label's id longer is no request's. */
#define RV_EVALUATION_MAX_ID 398
/* Queue the count of a label record that is none (committed with the
 * offsets queued after it, as a label is). -1 when out of memory. */
int rv_evaluation_refuse_label(rv_evaluation *e, rv_label_refusal why);
/* Whether request id is among those evaluated (settings.sample): by its
 * FNV-1a hash, so every record of it, on any host, agrees. */
int rv_evaluation_sampled(const rv_evaluation *e, const char *id);

/* From any thread (a serving one): an answer the host itself gives,
 * queued for the feeder (rv_evaluation_take_tapped) instead of read back
 * from the broker; an id not sampled is left out. -1 when it cannot be
 * kept (out of memory, or RV_EVAL_MAX_TAPPED waiting): counted. The
 * answer's strings are copied. */
int rv_evaluation_tap(rv_evaluation *e, const char *id, const rv_evaluation_answer *a);
/* The same for a model's answer in its slot (its score record's). */
int rv_evaluation_tap_slot(rv_evaluation *e, const char *id, const struct rv_model *m,
                           const struct rv_slot *s);
/* The feeder: queues what was tapped, as answers read; returns how many. */
size_t rv_evaluation_take_tapped(rv_evaluation *e);
/* The next offset to read of a stream's partition, committed with the
 * changes queued before it. */
int rv_evaluation_set_offset(rv_evaluation *e, const char *topic, int32_t partition,
                             int64_t offset);
/* The committed next offset, or -1 when none is stored. */
int64_t rv_evaluation_offset(rv_evaluation *e, const char *topic, int32_t partition);

/* Applies what was queued, expires what waited too long, commits, in
 * parts when the queue is long or does not fit in the store at once. 0, or
 * -1 with err set (what was not applied stays queued to try again; a
 * single change too big for the store is dropped). */
int rv_evaluation_commit(rv_evaluation *e, int64_t now_ms, char *err, size_t err_size);
/* Changes queued, not yet committed (the feeder commits early past a
 * bound, so that a backlog is not held in memory). */
size_t rv_evaluation_queued(const rv_evaluation *e);

/* first: a source's first baseline_answers joined answers, then frozen */
typedef enum {
    RV_EVAL_HOUR,
    RV_EVAL_DAY,
    RV_EVAL_START,
    RV_EVAL_FIRST,
    RV_EVAL_WINDOWS
} rv_eval_window;
const char *rv_evaluation_window_name(rv_eval_window w);

/* One source's measures over one window (schedule_version 0: every
 * version). Owns m's arrays: rv_evaluation_figures_free. */
typedef struct rv_evaluation_figure {
    char source[128];
    char version[64];
    rv_eval_window window;
    uint32_t schedule_version;
    rv_measures m;
} rv_evaluation_figure;

/* Every source's measures now: *n figures in a new array, NULL when out
 * of memory. */
rv_evaluation_figure *rv_evaluation_snapshot(rv_evaluation *e, int64_t now_ms, size_t *n);
void rv_evaluation_figures_free(rv_evaluation_figure *f, size_t n);

void rv_evaluation_counts_get(rv_evaluation *e, rv_evaluation_counts *out);

/* The labels measured (*n of them), the evaluation's own copy: valid until
 * it closes. */
const char *const *rv_evaluation_labels(const rv_evaluation *e, size_t *n);

/* Each source's last hour minute by minute (the minutes with answers),
 * for a chart over time. */
typedef struct rv_evaluation_point {
    int64_t at_ms; /* the minute's start */
    uint64_t count;
    double accuracy, auc;
} rv_evaluation_point;
typedef struct rv_evaluation_series {
    char source[128];
    size_t n;
    rv_evaluation_point points[60];
} rv_evaluation_series;
/* *n series in a new array (free()), NULL when out of memory. */
rv_evaluation_series *rv_evaluation_series_get(rv_evaluation *e, int64_t now_ms, size_t *n);

/* evaluation_json.c: f's fields (source, version, window, count, the
 * measures, per label, the reliability table) into an open JSON map. */
void rv_evaluation_figure_fields(rv_jw *w, const rv_evaluation_figure *f, const char *const *labels,
                                 size_t n_labels);

#endif
