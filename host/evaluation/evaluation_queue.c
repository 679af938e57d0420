/*
 * evaluation_queue.c - the changes waiting for the next commit: answers,
 * labels and read positions from the feeder thread, and answers tapped
 * from serving threads (the host's own, when the evaluation runs in it:
 * nothing read back from the broker), which the feeder takes in.
 */
#include "evaluation_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "model.h"
#include "slot.h"

static int enqueue(rv_evaluation *e, op *o)
{
    if (e->n_queue == e->cap_queue) {
        size_t cap = e->cap_queue ? 2 * e->cap_queue : 256;
        op **q = realloc(e->queue, cap * sizeof *q);
        if (!q)
            return -1;
        e->queue = q;
        e->cap_queue = cap;
    }
    e->queue[e->n_queue++] = o;
    return 0;
}

void rv_eval_op_free(op *o)
{
    free(o);
}

uint64_t rv_eval_id_hash(const char *id)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* A string of a change: n bytes at s. */
typedef struct piece {
    const char *s;
    size_t n;
} piece;

static piece piece_of(const char *s)
{
    return (piece){s ? s : "", s ? strlen(s) : 0};
}

static char *put_text(char **at, piece t)
{
    char *start = *at;
    if (t.n)
        memcpy(start, t.s, t.n);
    start[t.n] = '\0';
    *at += t.n + 1;
    return start;
}

/* A change in one allocation: the op, an answer's probabilities (left 0),
 * its expected names' array, then its strings. NULL when out of memory. */
static op *op_make(rv_evaluation *e, op_kind kind, int64_t now, piece id, piece source,
                   piece version, const piece *expected, size_t n_expected)
{
    size_t np = kind == OP_ANSWER ? e->set.n_labels : 0, text = id.n + 1;
    if (kind == OP_ANSWER)
        text += source.n + 1 + version.n + 1;
    for (size_t i = 0; i < n_expected; i++)
        text += expected[i].n + 1;
    op *o = calloc(1, sizeof *o + np * sizeof(double) + n_expected * sizeof(char *) + text);
    if (!o)
        return NULL;
    o->kind = kind;
    o->now = now;
    o->expected = (char **)((char *)(o + 1) + np * sizeof(double));
    char *at = (char *)(o->expected + n_expected);
    o->id = put_text(&at, id);
    o->hash = rv_eval_id_hash(o->id);
    if (kind == OP_ANSWER) {
        o->source = put_text(&at, source);
        o->version = put_text(&at, version);
    }
    for (; o->n_expected < n_expected; o->n_expected++)
        o->expected[o->n_expected] = put_text(&at, expected[o->n_expected]);
    return o;
}

static op *op_new(rv_evaluation *e, op_kind kind, const char *id, int64_t now)
{
    piece none = {"", 0};
    return op_make(e, kind, now, piece_of(id), none, none, NULL, 0);
}

static int label_index(const rv_evaluation *e, const char *label)
{
    for (size_t k = 0; k < e->set.n_labels; k++)
        if (strcmp(e->labels[k], label) == 0)
            return (int)k;
    return -1;
}

/* The answer as a probability per evaluation label: the scores given; the
 * rest of 1 shared evenly by the labels not given. */
static void probabilities(const rv_evaluation *e, const rv_evaluation_answer *a, double *p)
{
    size_t k = e->set.n_labels, given = 0;
    double sum = 0;
    unsigned char has[RV_EVAL_MAX_LABELS] = {0};
    for (size_t i = 0; i < a->n; i++) {
        int j = label_index(e, a->labels[i]);
        if (j < 0 || has[j] || !isfinite(a->scores[i]))
            continue;
        has[j] = 1;
        p[j] = a->scores[i];
        sum += a->scores[i];
        given++;
    }
    double rest = given < k && sum < 1 ? (1 - sum) / (double)(k - given) : 0;
    for (size_t j = 0; j < k; j++)
        if (!has[j])
            p[j] = rest;
}

/* An answer as a change, its probabilities over the evaluation's labels. */
static op *answer_op(rv_evaluation *e, const char *id, const rv_evaluation_answer *a,
                     int64_t now_ms)
{
    piece expected[RV_EVAL_MAX_SOURCES];
    size_t n_expected = a->n_expected < RV_EVAL_MAX_SOURCES ? a->n_expected : RV_EVAL_MAX_SOURCES;
    for (size_t i = 0; i < n_expected; i++)
        expected[i] = piece_of(a->expected[i]);
    op *o = op_make(e, OP_ANSWER, now_ms, piece_of(id), piece_of(a->source), piece_of(a->version),
                    expected, n_expected);
    if (!o)
        return NULL;
    o->schedule_version = a->schedule_version;
    o->failed = a->failed || a->n == 0;
    probabilities(e, a, o->p);
    return o;
}

void rv_evaluation_count_answers(rv_evaluation *e)
{
    pthread_mutex_lock(&e->tap_lock);
    e->count_answers = 1;
    pthread_mutex_unlock(&e->tap_lock);
}

/* A model's answer counted (tap_lock held). */
static void count_answer(rv_evaluation *e, const rv_evaluation_answer *a)
{
    if (!e->count_answers || !a->source || strcmp(a->source, RV_EVALUATION_SERVED) == 0)
        return;
    size_t i = 0;
    while (i < e->n_stats && strcmp(e->stats[i].source, a->source) != 0)
        i++;
    if (i == e->n_stats) {
        if (i == RV_EVAL_MAX_SOURCES)
            return;
        e->n_stats++;
        snprintf(e->stats[i].source, sizeof e->stats[i].source, "%s", a->source);
    }
    rv_eval_answer_stats *st = &e->stats[i].s;
    st->answers++;
    st->failed += a->failed != 0 || a->shed != 0;
    st->shed += a->shed != 0;
    if (a->latency_us && !a->shed) {
        int b = (int)ceil(4 * log2((double)a->latency_us));
        st->latency[b < 0 ? 0 : b >= RV_EVAL_LATENCY_BUCKETS ? RV_EVAL_LATENCY_BUCKETS - 1 : b]++;
    }
}

void rv_evaluation_answer_stats(rv_evaluation *e, const char *source, rv_eval_answer_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&e->tap_lock);
    for (size_t i = 0; i < e->n_stats; i++)
        if (strcmp(e->stats[i].source, source) == 0)
            *out = e->stats[i].s;
    pthread_mutex_unlock(&e->tap_lock);
}

double rv_eval_latency_quantile(const rv_eval_answer_stats *now, const rv_eval_answer_stats *before,
                                double q)
{
    uint64_t total = 0, seen = 0;
    for (int b = 0; b < RV_EVAL_LATENCY_BUCKETS; b++)
        total += now->latency[b] - (before ? before->latency[b] : 0);
    if (!total)
        return NAN;
    uint64_t want = (uint64_t)ceil(q * (double)total);
    for (int b = 0; b < RV_EVAL_LATENCY_BUCKETS; b++) {
        seen += now->latency[b] - (before ? before->latency[b] : 0);
        if (seen >= want)
            return pow(2, b / 4.0) / 1000;
    }
    return pow(2, (RV_EVAL_LATENCY_BUCKETS - 1) / 4.0) / 1000;
}

int rv_evaluation_answer_of(rv_evaluation *e, const char *id, const rv_evaluation_answer *a,
                            int64_t now_ms)
{
    pthread_mutex_lock(&e->tap_lock);
    count_answer(e, a);
    pthread_mutex_unlock(&e->tap_lock);
    op *o = answer_op(e, id, a, now_ms);
    if (!o || enqueue(e, o) != 0) {
        rv_eval_op_free(o);
        return -1;
    }
    return 0;
}

int rv_evaluation_sampled(const rv_evaluation *e, const char *id)
{
    return e->sample_cut >= 1000000 || rv_eval_id_hash(id) % 1000000 < e->sample_cut;
}

/* A tapped answer in the tap buffer: this head, then n_labels doubles
 * (its probabilities), its id, source and version, then each expected
 * model's name after its uint16_t length; padded to 8 bytes. */
typedef struct tap_head {
    uint32_t size; /* of the whole record */
    uint32_t schedule_version;
    int64_t now;
    uint16_t id_len, source_len, version_len, n_expected;
    uint8_t failed;
} tap_head;

static size_t text_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n < UINT16_MAX ? n : UINT16_MAX;
}

static unsigned char *put(unsigned char *at, const void *bytes, size_t n)
{
    if (n)
        memcpy(at, bytes, n);
    return at + n;
}

/* Serving threads allocate and free nothing here: the record is copied
 * into a buffer that only grows (to the backlog's size, the first few
 * intervals), and the feeder, which takes it, makes the changes in its own
 * memory. */
int rv_evaluation_tap(rv_evaluation *e, const char *id, const rv_evaluation_answer *a)
{
    if (!rv_evaluation_sampled(e, id))
        return 0;
    double p[RV_EVAL_MAX_LABELS];
    probabilities(e, a, p);
    tap_head h = {
        .schedule_version = a->schedule_version,
        .now = rv_real_us() / 1000,
        .id_len = (uint16_t)text_len(id),
        .source_len = (uint16_t)text_len(a->source),
        .version_len = (uint16_t)text_len(a->version),
        .n_expected =
            (uint16_t)(a->n_expected < RV_EVAL_MAX_SOURCES ? a->n_expected : RV_EVAL_MAX_SOURCES),
        .failed = a->failed || a->n == 0};
    size_t size =
        sizeof h + e->set.n_labels * sizeof(double) + h.id_len + h.source_len + h.version_len;
    for (size_t i = 0; i < h.n_expected; i++)
        size += sizeof(uint16_t) + text_len(a->expected[i]);
    size = (size + 7) & ~(size_t)7;
    h.size = (uint32_t)size;
    pthread_mutex_lock(&e->tap_lock);
    count_answer(e, a);
    int kept = e->tap_len + size <= RV_EVAL_MAX_TAPPED;
    if (kept && e->tap_len + size > e->tap_in.cap) {
        size_t cap = e->tap_in.cap ? 2 * e->tap_in.cap : 1 << 20;
        while (cap < e->tap_len + size)
            cap *= 2;
        unsigned char *b = realloc(e->tap_in.b, cap);
        if ((kept = b != NULL)) {
            e->tap_in.b = b;
            e->tap_in.cap = cap;
        }
    }
    if (kept) {
        unsigned char *at = e->tap_in.b + e->tap_len;
        at = put(at, &h, sizeof h);
        at = put(at, p, e->set.n_labels * sizeof(double));
        at = put(at, id, h.id_len);
        at = put(at, a->source, h.source_len);
        at = put(at, a->version, h.version_len);
        for (size_t i = 0; i < h.n_expected; i++) {
            uint16_t n = (uint16_t)text_len(a->expected[i]);
            at = put(at, &n, sizeof n);
            at = put(at, a->expected[i], n);
        }
        e->tap_len += size;
    } else
        atomic_fetch_add(&e->tap_dropped, 1);
    pthread_mutex_unlock(&e->tap_lock);
    return kept ? 0 : -1;
}

int rv_evaluation_tap_slot(rv_evaluation *e, const char *id, const rv_model *m, const rv_slot *s)
{
    int status = atomic_load_explicit(&s->status, memory_order_acquire);
    const char *labels[RV_MAX_ANSWERS];
    double scores[RV_MAX_ANSWERS];
    size_t n = 0;
    for (uint32_t i = 0; status == RV_SLOT_OK && i < s->n_answers && i < RV_MAX_ANSWERS; i++)
        if (s->answers[i].label < m->n_labels) {
            labels[n] = m->labels[s->answers[i].label];
            scores[n++] = s->answers[i].score;
        }
    rv_evaluation_answer a = {.source = m->name,
                              .version = m->version,
                              .n = n,
                              .labels = labels,
                              .scores = scores,
                              .failed = status != RV_SLOT_OK,
                              .shed = status == RV_SLOT_SHED,
                              .latency_us = s->latency_us > 0 && s->latency_us < UINT32_MAX
                                                ? (uint32_t)s->latency_us
                                                : 0};
    return rv_evaluation_tap(e, id, &a);
}

/* The next n bytes of a tapped record as a piece. */
static piece take_piece(const unsigned char **at, size_t n)
{
    piece t = {(const char *)*at, n};
    *at += n;
    return t;
}

/* A tapped record as an answer change, or NULL when out of memory. */
static op *tapped_op(rv_evaluation *e, const unsigned char *at)
{
    tap_head h;
    memcpy(&h, at, sizeof h);
    at += sizeof h;
    const unsigned char *p = at;
    at += e->set.n_labels * sizeof(double);
    piece id = take_piece(&at, h.id_len), source = take_piece(&at, h.source_len),
          version = take_piece(&at, h.version_len), expected[RV_EVAL_MAX_SOURCES];
    for (size_t i = 0; i < h.n_expected; i++) {
        uint16_t n;
        memcpy(&n, at, sizeof n);
        at += sizeof n;
        expected[i] = take_piece(&at, n);
    }
    op *o = op_make(e, OP_ANSWER, h.now, id, source, version, expected, h.n_expected);
    if (!o)
        return NULL;
    o->schedule_version = h.schedule_version;
    o->failed = h.failed;
    memcpy(o->p, p, e->set.n_labels * sizeof(double));
    return o;
}

size_t rv_evaluation_take_tapped(rv_evaluation *e)
{
    pthread_mutex_lock(&e->tap_lock);
    rv_eval_buf taken = e->tap_in;
    size_t len = e->tap_len;
    e->tap_in = e->tap_out; /* empty: its room is used again */
    e->tap_len = 0;
    pthread_mutex_unlock(&e->tap_lock);
    size_t n = 0;
    for (size_t off = 0; off < len; n++) {
        uint32_t size;
        memcpy(&size, taken.b + off, sizeof size);
        op *o = tapped_op(e, taken.b + off);
        if (!o || enqueue(e, o) != 0) {
            rv_eval_op_free(o);
            atomic_fetch_add(&e->tap_dropped, 1);
        }
        off += size;
    }
    e->tap_out = taken;
    return n;
}

int rv_evaluation_label(rv_evaluation *e, const char *id, const char *label, int64_t time_ms,
                        int64_t now_ms)
{
    int j = label_index(e, label);
    op *o = op_new(e, OP_LABEL, id, now_ms);
    if (!o)
        return -1;
    o->truth = (uint32_t)j; /* -1: unknown, counted at commit */
    int64_t oldest = now_ms - e->set.max_label_delay_ms;
    o->at = time_ms <= 0 || time_ms > now_ms ? now_ms : time_ms < oldest ? oldest : time_ms;
    if (enqueue(e, o) != 0) {
        rv_eval_op_free(o);
        return -1;
    }
    return 0;
}

const char *rv_evaluation_refusal_name(rv_label_refusal why)
{
    static const char *const name[RV_LABEL_REFUSALS] = {
        [RV_LABEL_EMPTY] = "empty",
        [RV_LABEL_MALFORMED_JSON] = "malformed_json",
        [RV_LABEL_NOT_AN_OBJECT] = "not_an_object",
        [RV_LABEL_BAD_ID] = "bad_id",
        [RV_LABEL_BAD_LABEL] = "bad_label",
    };
    return (size_t)why < sizeof name / sizeof *name ? name[why] : "?";
}

uint64_t *rv_evaluation_refused(rv_evaluation_counts *c, rv_label_refusal why)
{
    uint64_t *count[] = {
        [RV_LABEL_EMPTY] = &c->empty_labels,
        [RV_LABEL_MALFORMED_JSON] = &c->malformed_json_labels,
        [RV_LABEL_NOT_AN_OBJECT] = &c->not_an_object_labels,
        [RV_LABEL_BAD_ID] = &c->bad_id_labels,
        [RV_LABEL_BAD_LABEL] = &c->bad_label_labels,
    };
    _Static_assert(sizeof count / sizeof *count == RV_LABEL_REFUSALS, "a count each");
    return count[why];
}

int rv_evaluation_refuse_label(rv_evaluation *e, rv_label_refusal why)
{
    op *o = op_new(e, OP_REFUSED, "", 0);
    if (!o)
        return -1;
    o->value = why;
    if (enqueue(e, o) != 0) {
        rv_eval_op_free(o);
        return -1;
    }
    return 0;
}

static void offset_name(char *out, size_t size, const char *topic, int32_t partition)
{
    snprintf(out, size, "offset/%s/%d", topic, (int)partition);
}

int rv_evaluation_set_offset(rv_evaluation *e, const char *topic, int32_t partition, int64_t offset)
{
    char name[300];
    offset_name(name, sizeof name, topic, partition);
    op *o = op_new(e, OP_OFFSET, name, 0);
    if (!o)
        return -1;
    o->value = offset;
    if (enqueue(e, o) != 0) {
        rv_eval_op_free(o);
        return -1;
    }
    return 0;
}

int64_t rv_evaluation_offset(rv_evaluation *e, const char *topic, int32_t partition)
{
    char name[300], err[256];
    int64_t v = -1;
    offset_name(name, sizeof name, topic, partition);
    if (rv_kvstore_begin(e->store, err, sizeof err) != 0 ||
        rv_kvstore_mark(e->store, name, &v) != 0)
        v = -1;
    rv_kvstore_abort(e->store);
    return v;
}
