/*
 * evaluation_internal.h - what evaluation.c (the join over the store),
 * evaluation_queue.c (the changes waiting for it) and evaluation_windows.c
 * (the measures over time) share.
 */
#ifndef RV_EVALUATION_INTERNAL_H
#define RV_EVALUATION_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "evaluation.h"
#include "kvstore.h"

/* One answer joined with its request's true label. */
typedef struct rv_eval_sample {
    const char *source;
    const char *version;
    uint32_t schedule_version; /* of the request's result */
    uint32_t truth;            /* index among the evaluation's labels */
    const double *p;           /* each label's probability */
    int64_t time_ms;           /* when it was joined */
} rv_eval_sample;

#define RV_EVAL_MAX_LABELS 64
#define RV_EVAL_MAX_SOURCES 64 /* answers kept per request */
#define RV_EVAL_RESULT 1u      /* rv_eval_state.flags: its result is read */
#define RV_EVAL_LABEL 2u       /* its label is read */
#define RV_EVAL_JOINED 4u      /* joined: what is left tells a label twice */
#define RV_EVAL_TIMED 8u       /* truth_ms is stored (states of older stores lack it) */

/* A request's state in the store, decoded. */
typedef struct rv_eval_state {
    unsigned flags;
    uint32_t truth;
    int64_t truth_ms; /* when its outcome was known (with RV_EVAL_TIMED) */
    uint32_t schedule_version;
    size_t n;
    struct {
        char source[128];
        char version[64];
        int seen; /* 0: named by the result, not read yet; 1: an answer; 2: none */
        double p[RV_EVAL_MAX_LABELS];
    } e[RV_EVAL_MAX_SOURCES];
} rv_eval_state;

/* A growing buffer the encoders write into. */
typedef struct rv_eval_buf {
    unsigned char *b;
    size_t cap;
} rv_eval_buf;

/* evaluation_codec.c: a request's state and a logged answer as bytes.
 * Encoders return the length written to out->b (0: out of memory);
 * decoders 0, or -1 when the bytes are not one. */
size_t rv_eval_state_encode(const rv_eval_state *s, size_t n_labels, rv_eval_buf *out);
int rv_eval_state_decode(const void *bytes, size_t len, size_t n_labels, rv_eval_state *s);
/* x's strings and probabilities are copied into source, version (256
 * bytes each) and p (n_labels). */
int rv_eval_sample_decode(const void *bytes, size_t len, size_t n_labels, rv_eval_sample *x,
                          char *source, char *version, double *p);
/* A log value holds samples in a row. Append: x after the *len bytes in
 * out, *len grown; 0 or -1. Next: the sample at *at (then past it) as
 * rv_eval_sample_decode; -1 at the end or when the bytes are not one. */
int rv_eval_samples_append(const rv_eval_sample *x, size_t n_labels, rv_eval_buf *out, size_t *len);
int rv_eval_samples_next(const void *bytes, size_t len, size_t *at, size_t n_labels,
                         rv_eval_sample *x, char *source, char *version, double *p);

typedef struct rv_eval_windows rv_eval_windows;

/* ---- the join's state (evaluation.c), its queue (evaluation_queue.c) */

/* OP_REFUSED: a label record that is none, its rv_label_refusal in value */
typedef enum { OP_ANSWER, OP_LABEL, OP_OFFSET, OP_REFUSED } op_kind;

/* A queued change. */
typedef struct op {
    op_kind kind;
    char *id;      /* the request's; the mark's name for OP_OFFSET */
    char *source;  /* OP_ANSWER */
    char *version; /* OP_ANSWER */
    uint32_t schedule_version;
    uint32_t truth;  /* OP_LABEL */
    int64_t value;   /* OP_OFFSET, OP_REFUSED */
    int failed;      /* OP_ANSWER: no answer */
    char **expected; /* OP_ANSWER of the result (the strings in the op's block) */
    size_t n_expected;
    int64_t now;
    int64_t at;    /* OP_LABEL: when the outcome was known */
    size_t seq;    /* its place in the queue */
    uint64_t hash; /* of id (rv_eval_id_hash) */
    double p[];    /* OP_ANSWER: n_labels probabilities */
} op;

/* Each model's answers as they come (counted once rv_evaluation_count_answers
 * was called): how many, how many failed (of them, how many the host shed),
 * and their latency in buckets (bucket b: up to 2^(b/4) microseconds). */
#define RV_EVAL_LATENCY_BUCKETS 128
typedef struct rv_eval_answer_stats {
    uint64_t answers, failed, shed;
    uint64_t latency[RV_EVAL_LATENCY_BUCKETS]; /* of those with a latency */
} rv_eval_answer_stats;
void rv_evaluation_count_answers(rv_evaluation *e);
/* source's counts so far (zero when none came). */
void rv_evaluation_answer_stats(rv_evaluation *e, const char *source, rv_eval_answer_stats *out);
/* The q-quantile of the latencies counted in now and not in before, in
 * milliseconds (a bucket's upper edge); NAN when there are none. */
double rv_eval_latency_quantile(const rv_eval_answer_stats *now, const rv_eval_answer_stats *before,
                                double q);

/* Called after each commit, once per request joined, with its answers
 * (every source that answered ok, the truth in each); on the feeder's
 * thread, under the evaluation's lock: it must not call back into e. */
typedef void (*rv_eval_joined_fn)(void *ctx, const rv_eval_sample *x, size_t n);
void rv_evaluation_on_joined(rv_evaluation *e, rv_eval_joined_fn fn, void *ctx);

struct rv_evaluation {
    rv_evaluation_settings set;
    rv_eval_joined_fn on_joined;
    void *on_joined_ctx;
    char **labels;
    rv_kvstore *store;
    op **queue;
    size_t n_queue, cap_queue;
    uint32_t seq;         /* of the log's keys within a millisecond */
    pthread_mutex_t lock; /* windows and counts */
    rv_eval_windows *windows;
    rv_evaluation_counts counts;
    rv_eval_state st; /* scratch of the feeder thread */
    rv_eval_buf buf;
    uint32_t sample_cut;      /* an id is evaluated when its hash % 1e6 is below */
    pthread_mutex_t tap_lock; /* tap_in, tap_len: answers from serving threads */
    rv_eval_buf tap_in;       /* tap_len bytes of records (evaluation_queue.c) */
    size_t tap_len;
    rv_eval_buf tap_out; /* the feeder's: the buffer taken last, swapped back in empty */
    atomic_uint_fast64_t tap_dropped; /* tapped answers not kept (no memory, or too many) */
    int count_answers;                /* stats below kept, under tap_lock */
    size_t n_stats;
    struct {
        char source[128];
        rv_eval_answer_stats s;
    } stats[RV_EVAL_MAX_SOURCES];
};

/* Bytes of answers tapped and not taken yet, at most (the feeder is far
 * behind): about 1 million answers */
#define RV_EVAL_MAX_TAPPED (256u << 20)

/* evaluation_queue.c: a change made and queued; freed. */
void rv_eval_op_free(op *o);
/* An id's FNV-1a hash: what the sample and the queue's order go by. */
uint64_t rv_eval_id_hash(const char *id);

rv_eval_windows *rv_eval_windows_new(size_t n_labels, uint64_t baseline);
void rv_eval_windows_free(rv_eval_windows *w);
/* 0, or -1 when out of memory (then some windows may miss it). */
int rv_eval_windows_add(rv_eval_windows *w, const rv_eval_sample *x);
rv_evaluation_figure *rv_eval_windows_snapshot(rv_eval_windows *w, int64_t now_ms, size_t *n);
rv_evaluation_series *rv_eval_windows_series(rv_eval_windows *w, int64_t now_ms, size_t *n);

#endif
