/*
 * evaluation.c - the join of answers with true labels, over the on-disk
 * store (evaluation/kvstore.h). Keys: "r/<id>" a request's state (its answers as
 * probabilities over the evaluation's labels, its label, whether it joined)
 * and "j/<time><seq>" the answers a commit joined (the log the windows are
 * rebuilt from; "s/<time><seq>", one answer each, in older stores). Both
 * expire max_label_delay_ms after they were made. Changes are queued and
 * applied at commit, so that a transaction the store had to abort for room
 * is simply applied again.
 */
#include "evaluation_internal.h"

/* Changes committed in one store transaction at most. */
#define COMMIT_PART 16384

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "kvstore.h"

/* ---------------------------------------------------------------- apply */

/* An answer joined, kept until the commit holds. */
typedef struct joined {
    char source[128];
    char version[64];
    uint32_t schedule_version, truth;
    int64_t time_ms;
    uint64_t request; /* the batch's joins so far when it joined: one per request */
    double p[];
} joined;

/* What one attempt at a commit did. */
typedef struct batch {
    rv_evaluation_counts delta;
    joined **joined;
    size_t n_joined, cap_joined;
    char *err;
    size_t err_size;
} batch;

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n_joined; i++)
        free(b->joined[i]);
    b->n_joined = 0;
    memset(&b->delta, 0, sizeof b->delta);
}

_Static_assert(RV_EVALUATION_MAX_ID + 2 == RV_KVSTORE_MAX_KEY, "an id's key is r/<id>");

static int request_key(char *key, size_t size, const char *id)
{
    size_t n = strlen(id) + 2;
    if (n >= size || n > RV_KVSTORE_MAX_KEY)
        return -1;
    memcpy(key, "r/", 2);
    memcpy(key + 2, id, n - 2 + 1);
    return (int)n;
}

/* s into dst[size], cut to fit (as snprintf "%s", without its cost: this
 * runs for every answer). */
static void copy(char *dst, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* The request's state into e->st (empty when none); its expiry. */
static void load(rv_evaluation *e, const char *key, size_t key_len, int64_t now, int64_t *expires)
{
    size_t len;
    const void *v = rv_kvstore_get(e->store, key, key_len, &len, expires);
    if (!v || rv_eval_state_decode(v, len, e->set.n_labels, &e->st) != 0) {
        memset(&e->st, 0, offsetof(rv_eval_state, e));
        *expires = now + e->set.max_label_delay_ms;
    }
}

/* Answer i of the request in e->st joined: kept in the batch, logged at
 * the end of the commit (log_batch). */
static rv_kv_status log_joined(rv_evaluation *e, batch *b, size_t i, int64_t now)
{
    size_t k = e->set.n_labels;
    joined *j = calloc(1, sizeof *j + k * sizeof(double));
    if (!j)
        return RV_KV_ERROR;
    if (b->n_joined == b->cap_joined) {
        size_t cap = b->cap_joined ? 2 * b->cap_joined : 64;
        joined **grown = realloc(b->joined, cap * sizeof *grown);
        if (!grown) {
            free(j);
            return RV_KV_ERROR;
        }
        b->joined = grown;
        b->cap_joined = cap;
    }
    copy(j->source, sizeof j->source, e->st.e[i].source);
    copy(j->version, sizeof j->version, e->st.e[i].version);
    j->schedule_version = e->st.schedule_version;
    j->truth = e->st.truth;
    j->request = b->delta.joined;
    /* in the windows when its outcome was known; in the log's order and
     * expiry when it joined */
    j->time_ms = e->st.flags & RV_EVAL_TIMED ? e->st.truth_ms : now;
    memcpy(j->p, e->st.e[i].p, k * sizeof(double));
    b->joined[b->n_joined++] = j;
    return RV_KV_OK;
}

/* The answers the batch joined, as one value of the log ("j/<time><seq>"):
 * one insert a commit instead of one an answer. */
static rv_kv_status log_batch(rv_evaluation *e, batch *b, int64_t now)
{
    if (!b->n_joined)
        return RV_KV_OK;
    size_t len = 0;
    for (size_t i = 0; i < b->n_joined; i++) {
        joined *j = b->joined[i];
        rv_eval_sample x = {j->source, j->version, j->schedule_version, j->truth, j->p, j->time_ms};
        if (rv_eval_samples_append(&x, e->set.n_labels, &e->buf, &len) != 0)
            return RV_KV_ERROR;
    }
    unsigned char key[14] = {'j', '/'};
    uint64_t t = (uint64_t)now ^ (UINT64_C(1) << 63);
    for (int c = 0; c < 8; c++)
        key[2 + c] = (unsigned char)(t >> (56 - 8 * c));
    uint32_t seq = e->seq++;
    for (int c = 0; c < 4; c++)
        key[10 + c] = (unsigned char)(seq >> (24 - 8 * c));
    return rv_kvstore_put(e->store, key, sizeof key, e->buf.b, len, now + e->set.max_label_delay_ms,
                          b->err, b->err_size);
}

/* The request in e->st has its label and its result: each answer joins. */
static rv_kv_status join(rv_evaluation *e, batch *b, int64_t now)
{
    for (size_t i = 0; i < e->st.n; i++) {
        rv_kv_status st = e->st.e[i].seen == 1 ? log_joined(e, b, i, now) : RV_KV_OK;
        if (st != RV_KV_OK)
            return st;
    }
    e->st.flags |= RV_EVAL_JOINED;
    e->st.n = 0;
    b->delta.joined++;
    return RV_KV_OK;
}

/* The entry of source in st, added (not seen) when absent; RV_EVAL_MAX_SOURCES
 * when there is no room. */
static size_t entry(rv_eval_state *st, const char *source)
{
    size_t i = 0;
    while (i < st->n && strcmp(st->e[i].source, source) != 0)
        i++;
    if (i == st->n && i < RV_EVAL_MAX_SOURCES) {
        st->n++;
        copy(st->e[i].source, sizeof st->e[i].source, source);
        st->e[i].version[0] = '\0';
        st->e[i].seen = 0;
    }
    return i;
}

static int all_seen(const rv_eval_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        if (!st->e[i].seen)
            return 0;
    return 1;
}

/* One change to the request's state in e->st (loaded): 1 when it changed
 * the state, 0 when not (counted only), or the join's failure as -1. */
static int change(rv_evaluation *e, batch *b, const op *o)
{
    rv_eval_state *st = &e->st;
    if (o->kind == OP_ANSWER) {
        if (st->flags & RV_EVAL_JOINED) {
            b->delta.late_answers++;
            return 0;
        }
        b->delta.answers++;
        size_t i = entry(st, o->source);
        if (i == RV_EVAL_MAX_SOURCES)
            return 0;
        copy(st->e[i].version, sizeof st->e[i].version, o->version);
        memcpy(st->e[i].p, o->p, e->set.n_labels * sizeof(double));
        st->e[i].seen = o->failed ? 2 : 1;
        if (strcmp(o->source, RV_EVALUATION_SERVED) == 0) {
            st->flags |= RV_EVAL_RESULT;
            st->schedule_version = o->schedule_version;
            for (size_t x = 0; x < o->n_expected; x++)
                entry(st, o->expected[x]); /* waits for it, unless read */
        }
    } else {
        if (st->flags & (RV_EVAL_JOINED | RV_EVAL_LABEL)) {
            b->delta.duplicate_labels++;
            return 0;
        }
        b->delta.labels++;
        st->flags |= RV_EVAL_LABEL | RV_EVAL_TIMED;
        st->truth = o->truth;
        st->truth_ms = o->at;
        if (!(st->flags & RV_EVAL_RESULT))
            b->delta.early_labels++;
    }
    if ((st->flags & RV_EVAL_RESULT) && (st->flags & RV_EVAL_LABEL) &&
        !(st->flags & RV_EVAL_JOINED) && all_seen(st) && join(e, b, o->now) != RV_KV_OK)
        return -1;
    return 1;
}

/* The changes ops[0..n) (one request's, in the order they were queued):
 * its state loaded once, changed, stored once. */
static rv_kv_status apply(rv_evaluation *e, batch *b, op *const *ops, size_t n)
{
    char key[RV_KVSTORE_MAX_KEY + 8];
    int key_len = request_key(key, sizeof key, ops[0]->id);
    if (key_len < 0)
        return RV_KV_OK; /* an id too long to keep: never joins */
    int64_t expires;
    load(e, key, (size_t)key_len, ops[0]->now, &expires);
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i]->kind == OP_LABEL && ops[i]->truth >= e->set.n_labels) {
            b->delta.unknown_labels++;
            continue;
        }
        int c = change(e, b, ops[i]);
        if (c < 0)
            return RV_KV_ERROR;
        changed |= c;
    }
    if (!changed)
        return RV_KV_OK;
    size_t len = rv_eval_state_encode(&e->st, e->set.n_labels, &e->buf);
    if (!len)
        return RV_KV_ERROR;
    return rv_kvstore_put(e->store, key, (size_t)key_len, e->buf.b, len, expires, b->err,
                          b->err_size);
}

/* The queue grouped by request (by its id's hash, then the id; each
 * request's changes in the order they came), so that a request's state is
 * read and written once a commit. */
static int by_request(const void *pa, const void *pb)
{
    const op *a = *(op *const *)pa, *b = *(op *const *)pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    int c = strcmp(a->id, b->id);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* The offsets among q[0..nq), each stream partition's last (a label
 * read queues its partition's next offset: thousands a second of one mark);
 * *n the other changes. */
static rv_kv_status apply_offsets(rv_evaluation *e, batch *b, op **q, size_t nq, size_t *n)
{
    size_t n_offsets = 0, size = 16;
    for (size_t i = 0; i < nq; i++)
        n_offsets += q[i]->kind == OP_OFFSET;
    *n = nq - n_offsets;
    if (!n_offsets)
        return RV_KV_OK;
    while (size < 2 * n_offsets)
        size *= 2;
    const op **set = calloc(size, sizeof *set); /* the names set, by hash */
    if (!set)
        return RV_KV_ERROR;
    rv_kv_status st = RV_KV_OK;
    for (size_t i = nq; i-- > 0 && st == RV_KV_OK;) {
        if (q[i]->kind != OP_OFFSET)
            continue;
        size_t h = (size_t)q[i]->hash & (size - 1);
        while (set[h] && (set[h]->hash != q[i]->hash || strcmp(set[h]->id, q[i]->id) != 0))
            h = (h + 1) & (size - 1);
        if (set[h])
            continue; /* a later offset of the same partition is set */
        set[h] = q[i];
        st = rv_kvstore_set_mark(e->store, q[i]->id, q[i]->value, b->err, b->err_size);
    }
    free(set);
    return st;
}

/* The queued changes q[0..nq): the offsets and the label records refused,
 * then each request's. */
static rv_kv_status apply_queue(rv_evaluation *e, batch *b, op **q, size_t nq)
{
    size_t n;
    for (size_t i = 0; i < nq; i++)
        q[i]->seq = i;
    rv_kv_status st = apply_offsets(e, b, q, nq, &n);
    op **sorted = n ? malloc(n * sizeof *sorted) : NULL;
    if (n && !sorted)
        return RV_KV_ERROR;
    size_t k = 0;
    for (size_t i = 0; i < nq; i++)
        if (q[i]->kind == OP_REFUSED)
            (*rv_evaluation_refused(&b->delta, (rv_label_refusal)q[i]->value))++;
        else if (q[i]->kind != OP_OFFSET)
            sorted[k++] = q[i];
    n = k;
    if (n)
        qsort(sorted, n, sizeof *sorted, by_request);
    for (size_t i = 0, j; st == RV_KV_OK && i < n; i = j) {
        for (j = i + 1; j < n && sorted[j]->hash == sorted[i]->hash &&
                        strcmp(sorted[j]->id, sorted[i]->id) == 0;
             j++)
            ;
        st = apply(e, b, sorted + i, j - i);
    }
    free(sorted);
    return st;
}

typedef struct expiring {
    rv_evaluation *e;
    batch *b;
} expiring;

static void on_expired(void *opaque, const void *key, size_t key_len, const void *value, size_t len)
{
    expiring *x = opaque;
    if (key_len < 2 || memcmp(key, "r/", 2) != 0 ||
        rv_eval_state_decode(value, len, x->e->set.n_labels, &x->e->st) != 0)
        return;
    unsigned f = x->e->st.flags;
    if (f & RV_EVAL_JOINED)
        return;
    if ((f & RV_EVAL_LABEL) && !(f & RV_EVAL_RESULT))
        x->b->delta.unmatched_labels++;
    else if (!(f & RV_EVAL_LABEL))
        x->b->delta.unlabelled++;
    else
        x->b->delta.incomplete++;
}

/* The counts kept in the store (all but the store's own figures), by
 * name, so that a restart goes on counting. */
/* clang-format off */
#define COUNT_FIELDS(X) \
    X(answers) X(labels) X(joined) X(early_labels) X(duplicate_labels) X(unknown_labels) \
    X(unmatched_labels) X(unlabelled) X(late_answers) X(incomplete) X(empty_labels) \
    X(malformed_json_labels) X(not_an_object_labels) X(bad_id_labels) X(bad_label_labels)
/* clang-format on */

static rv_kv_status store_counts(rv_evaluation *e, const rv_evaluation_counts *c, batch *b)
{
    rv_kv_status st = RV_KV_OK;
#define STORE(f)                                                                                   \
    if (st == RV_KV_OK)                                                                            \
        st = rv_kvstore_set_mark(e->store, "count/" #f, (int64_t)c->f, b->err, b->err_size);
    COUNT_FIELDS(STORE)
#undef STORE
    return st;
}

static void load_counts(rv_evaluation *e)
{
    int64_t v;
#define LOAD(f)                                                                                    \
    if (rv_kvstore_mark(e->store, "count/" #f, &v) == 0)                                           \
        e->counts.f = (uint64_t)v;
    COUNT_FIELDS(LOAD)
#undef LOAD
}

static void add_counts(rv_evaluation_counts *to, const rv_evaluation_counts *d)
{
#define ADD(f) to->f += d->f;
    COUNT_FIELDS(ADD)
#undef ADD
}

/* One attempt: the queued changes q[0..n), the expired, the commit. */
static rv_kv_status attempt(rv_evaluation *e, batch *b, op **q, size_t n, int64_t now)
{
    rv_kv_status st = rv_kvstore_begin(e->store, b->err, b->err_size) ? RV_KV_ERROR : RV_KV_OK;
    if (st == RV_KV_OK)
        st = apply_queue(e, b, q, n);
    if (st == RV_KV_OK)
        st = log_batch(e, b, now);
    if (st == RV_KV_OK) {
        expiring x = {e, b};
        if (rv_kvstore_expire(e->store, now, 100000, on_expired, &x, b->err, b->err_size) < 0)
            st = RV_KV_ERROR;
    }
    if (st == RV_KV_OK)
        st = rv_kvstore_set_mark(e->store, "log/seq", e->seq, b->err, b->err_size);
    if (st == RV_KV_OK) {
        rv_evaluation_counts c = e->counts; /* only this thread changes them */
        add_counts(&c, &b->delta);
        st = store_counts(e, &c, b);
    }
    if (st == RV_KV_OK)
        st = rv_kvstore_commit(e->store, b->err, b->err_size);
    if (st != RV_KV_OK)
        rv_kvstore_abort(e->store);
    return st;
}

/* q[0..n) committed in one store transaction (tried again while room is
 * being made): RV_KV_OK, RV_KV_RETRY when they do not fit, or an error. */
static rv_kv_status commit_part(rv_evaluation *e, op **q, size_t n, int64_t now_ms, char *err,
                                size_t err_size)
{
    batch b = {.err = err, .err_size = err_size};
    uint32_t seq = e->seq;
    rv_kv_status st = RV_KV_RETRY;
    for (int tries = 0; st == RV_KV_RETRY && tries < 4; tries++) {
        batch_clear(&b);
        e->seq = seq;
        st = attempt(e, &b, q, n, now_ms);
    }
    if (st == RV_KV_OK) {
        rv_kvstore_stats ks;
        rv_kvstore_stats_get(e->store, &ks);
        pthread_mutex_lock(&e->lock);
        rv_eval_sample xs[RV_EVAL_MAX_SOURCES];
        size_t nx = 0;
        for (size_t i = 0; i < b.n_joined; i++) {
            joined *j = b.joined[i];
            rv_eval_sample x = {j->source, j->version, j->schedule_version,
                                j->truth,  j->p,       j->time_ms};
            rv_eval_windows_add(e->windows, &x);
            if (!e->on_joined)
                continue;
            if (nx < RV_EVAL_MAX_SOURCES)
                xs[nx++] = x;
            if (i + 1 == b.n_joined || b.joined[i + 1]->request != j->request) {
                e->on_joined(e->on_joined_ctx, xs, nx); /* a request's answers */
                nx = 0;
            }
        }
        add_counts(&e->counts, &b.delta);
        e->counts.store_bytes = ks.bytes;
        e->counts.store_evicted = ks.evicted;
        pthread_mutex_unlock(&e->lock);
    } else
        e->seq = seq;
    batch_clear(&b);
    free(b.joined);
    return st;
}

int rv_evaluation_commit(rv_evaluation *e, int64_t now_ms, char *err, size_t err_size)
{
    /* in parts of at most COMMIT_PART changes, halved while a part does not
     * fit in the store: a backlog (a flood of labels, a restart far behind)
     * is committed as far as it fits instead of never */
    size_t done = 0, part = COMMIT_PART;
    int rc = 0;
    do {
        size_t n = e->n_queue - done < part ? e->n_queue - done : part;
        rv_kv_status st = commit_part(e, e->queue + done, n, now_ms, err, err_size);
        if (st == RV_KV_OK)
            done += n;
        else if (st == RV_KV_RETRY && n > 1)
            part = n / 2;
        else if (st == RV_KV_RETRY) {
            rv_errf(err, err_size, "evaluation store: a change does not fit in %llu bytes: dropped",
                    (unsigned long long)e->set.store_bytes);
            done += n;
            rc = -1;
        } else {
            rc = -1;
            break;
        }
    } while (done < e->n_queue);
    if (done) { /* (an empty queue may have no array yet) */
        for (size_t i = 0; i < done; i++)
            rv_eval_op_free(e->queue[i]);
        memmove(e->queue, e->queue + done, (e->n_queue - done) * sizeof *e->queue);
        e->n_queue -= done;
    }
    return rc;
}

size_t rv_evaluation_queued(const rv_evaluation *e)
{
    return e->n_queue;
}

/* ---------------------------------------------------------------- open */

/* Logged answers back into the windows (at open): "s/" one answer a value
 * (stores written before the log was batched), "j/" a commit's. */
static int rebuild(void *opaque, const void *key, size_t key_len, const void *value, size_t len)
{
    rv_evaluation *e = opaque;
    char source[256], version[256];
    double p[RV_EVAL_MAX_LABELS];
    rv_eval_sample x;
    if (key_len && *(const char *)key == 's') {
        if (rv_eval_sample_decode(value, len, e->set.n_labels, &x, source, version, p) == 0)
            rv_eval_windows_add(e->windows, &x);
        return 0;
    }
    for (size_t at = 0;
         rv_eval_samples_next(value, len, &at, e->set.n_labels, &x, source, version, p) == 0;)
        rv_eval_windows_add(e->windows, &x);
    return 0;
}

rv_evaluation *rv_evaluation_open(const rv_evaluation_settings *s, int64_t now_ms, char *err,
                                  size_t err_size)
{
    (void)now_ms;
    if (s->n_labels < 2 || s->n_labels > RV_EVAL_MAX_LABELS) {
        rv_errf(err, err_size, "evaluation: %zu labels (2 to %d)", s->n_labels, RV_EVAL_MAX_LABELS);
        return NULL;
    }
    rv_evaluation *e = calloc(1, sizeof *e);
    if (!e || !(e->labels = calloc(s->n_labels, sizeof *e->labels))) {
        free(e);
        rv_errf(err, err_size, "evaluation: out of memory");
        return NULL;
    }
    e->set = *s;
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->tap_lock, NULL);
    e->sample_cut =
        s->sample > 0 && s->sample < 1 ? (uint32_t)(s->sample * 1000000 + 0.5) : 1000000;
    for (size_t k = 0; k < s->n_labels; k++)
        if (!(e->labels[k] = strdup(s->labels[k]))) {
            rv_evaluation_close(e);
            rv_errf(err, err_size, "evaluation: out of memory");
            return NULL;
        }
    if (!(e->windows = rv_eval_windows_new(s->n_labels, s->baseline_answers)) ||
        !(e->store = rv_kvstore_open(s->dir, s->store_bytes, err, err_size))) {
        if (!e->windows)
            rv_errf(err, err_size, "evaluation: out of memory");
        rv_evaluation_close(e);
        return NULL;
    }
    int64_t seq = 0;
    if (rv_kvstore_begin(e->store, err, err_size) != 0 ||
        rv_kvstore_scan(e->store, "s/", 2, rebuild, e, err, err_size) < 0 ||
        rv_kvstore_scan(e->store, "j/", 2, rebuild, e, err, err_size) < 0) {
        rv_evaluation_close(e);
        return NULL;
    }
    if (rv_kvstore_mark(e->store, "log/seq", &seq) == 0)
        e->seq = (uint32_t)seq;
    load_counts(e);
    rv_kvstore_abort(e->store);
    return e;
}

void rv_evaluation_close(rv_evaluation *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_queue; i++)
        rv_eval_op_free(e->queue[i]);
    free(e->queue);
    free(e->tap_in.b);
    free(e->tap_out.b);
    pthread_mutex_destroy(&e->tap_lock);
    rv_kvstore_close(e->store);
    rv_eval_windows_free(e->windows);
    for (size_t k = 0; e->labels && k < e->set.n_labels; k++)
        free(e->labels[k]);
    free(e->labels);
    free(e->buf.b);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

rv_evaluation_figure *rv_evaluation_snapshot(rv_evaluation *e, int64_t now_ms, size_t *n)
{
    pthread_mutex_lock(&e->lock);
    rv_evaluation_figure *f = rv_eval_windows_snapshot(e->windows, now_ms, n);
    pthread_mutex_unlock(&e->lock);
    return f;
}

rv_evaluation_series *rv_evaluation_series_get(rv_evaluation *e, int64_t now_ms, size_t *n)
{
    pthread_mutex_lock(&e->lock);
    rv_evaluation_series *x = rv_eval_windows_series(e->windows, now_ms, n);
    pthread_mutex_unlock(&e->lock);
    return x;
}

void rv_evaluation_counts_get(rv_evaluation *e, rv_evaluation_counts *out)
{
    pthread_mutex_lock(&e->lock);
    *out = e->counts;
    pthread_mutex_unlock(&e->lock);
    out->dropped_answers = atomic_load(&e->tap_dropped);
}

const char *const *rv_evaluation_labels(const rv_evaluation *e, size_t *n)
{
    *n = e->set.n_labels;
    return (const char *const *)e->labels;
}

void rv_evaluation_on_joined(rv_evaluation *e, rv_eval_joined_fn fn, void *ctx)
{
    e->on_joined = fn;
    e->on_joined_ctx = ctx;
}
