/*
 * remote.c - remote models' answers joined to their requests. Must never
 * touch a request after handing its reference on, and never trust a score
 * record: every field is checked, every label mapped through the model's
 * own list, before it becomes an answer.
 */
#include "remote.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "clock.h"
#include "evaluation.h"
#include "log.h"

const char *const rv_remote_outcome_names[RV_REMOTE_OUTCOMES] = {"joined",  "late",    "early",
                                                                 "unknown", "ignored", "invalid"};

/* A request waiting for one remote model, or a score waiting for its
 * request. In the hash while current; in its list until it expires. */
typedef struct entry {
    struct entry *next_hash, *next_list;
    uint64_t hash;
    const char *id, *model; /* the request's and the model's, or the copies below */
    int64_t expires_us;
    int gone;       /* out of the hash: answered or joined; freed when its list reaches it */
    rv_inflight *f; /* waiting: one reference, until gone */
    size_t slot;
    char *record; /* early: the score record, its id and model after it */
    size_t record_len;
} entry;

typedef struct list {
    entry *head, *tail;
    size_t live;
} list;

struct rv_remote {
    pthread_mutex_t lock;
    rv_rendezvous *rz;
    entry **buckets;
    size_t n_buckets, n_entries;
    list waiting, early;
    atomic_uint_fast64_t counts[RV_REMOTE_OUTCOMES];
};

/* A score record's fields, pointing into its parsed tree. */
typedef struct parsed {
    yajl_val root;
    const char *id, *model, *status, *error;
    yajl_val answers; /* array, or NULL */
} parsed;

static uint64_t hash_of(const char *id, const char *model)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = model; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static entry **find(rv_remote *r, uint64_t h, const char *id, const char *model, int early)
{
    entry **pp = &r->buckets[h & (r->n_buckets - 1)];
    for (; *pp; pp = &(*pp)->next_hash) {
        entry *e = *pp;
        if (e->hash == h && !e->record == !early && !strcmp(e->id, id) && !strcmp(e->model, model))
            return pp;
    }
    return pp;
}

static void grow(rv_remote *r)
{
    size_t n = r->n_buckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < r->n_buckets; i++)
        for (entry *e = r->buckets[i], *next; e; e = next) {
            next = e->next_hash;
            e->next_hash = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(r->buckets);
    r->buckets = b;
    r->n_buckets = n;
}

static void insert(rv_remote *r, list *l, entry *e)
{
    if (r->n_entries >= r->n_buckets * 2)
        grow(r);
    entry **b = &r->buckets[e->hash & (r->n_buckets - 1)];
    e->next_hash = *b;
    *b = e;
    r->n_entries++;
    e->next_list = NULL;
    if (l->tail)
        l->tail->next_list = e;
    else
        l->head = e;
    l->tail = e;
    l->live++;
}

/* Takes e out of the hash (it stays in its list until it expires). */
static void unhash(rv_remote *r, list *l, entry **pp)
{
    entry *e = *pp;
    *pp = e->next_hash;
    e->gone = 1;
    r->n_entries--;
    l->live--;
}

static void unhash_entry(rv_remote *r, list *l, entry *e)
{
    entry **pp = find(r, e->hash, e->id, e->model, e->record != NULL);
    while (*pp && *pp != e)
        pp = &(*pp)->next_hash;
    if (*pp)
        unhash(r, l, pp);
}

rv_remote *rv_remote_new(rv_rendezvous *rz)
{
    rv_remote *r = calloc(1, sizeof *r);
    if (!r || !(r->buckets = calloc(1024, sizeof *r->buckets))) {
        free(r);
        return NULL;
    }
    r->n_buckets = 1024;
    r->rz = rz;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static int parse(const void *value, size_t len, parsed *p)
{
    *p = (parsed){0};
    char *text = malloc(len + 1);
    if (!text)
        return -1;
    memcpy(text, value, len);
    text[len] = '\0';
    p->root = yajl_tree_parse(text, NULL, 0);
    free(text);
    if (!p->root || !YAJL_IS_OBJECT(p->root))
        return -1;
    static const char *pid[] = {"id", NULL}, *pmodel[] = {"model", NULL},
                      *pstatus[] = {"status", NULL}, *perror[] = {"error", NULL},
                      *panswers[] = {"answers", NULL};
    p->id = YAJL_GET_STRING(yajl_tree_get(p->root, pid, yajl_t_string));
    p->model = YAJL_GET_STRING(yajl_tree_get(p->root, pmodel, yajl_t_string));
    p->status = YAJL_GET_STRING(yajl_tree_get(p->root, pstatus, yajl_t_string));
    p->error = YAJL_GET_STRING(yajl_tree_get(p->root, perror, yajl_t_string));
    p->answers = yajl_tree_get(p->root, panswers, yajl_t_array);
    return p->id && p->id[0] && p->model && p->status ? 0 : -1;
}

/* Copies at most size - 1 bytes of s, not cutting a UTF-8 character. */
static void copy_text(char *dst, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Fills f's slot from p, in the terms of the slot's model (its labels);
 * publishes the status last, then tells the live evaluation, if any. */
static void fill(rv_remote *r, rv_inflight *f, size_t slot, const parsed *p, int64_t now_us)
{
    rv_model *m = f->gen->models[slot];
    rv_slot *s = &f->slots[slot];
    int status = strcmp(p->status, "ok") == 0 ? RV_SLOT_OK : RV_SLOT_ERROR;
    rv_slot_clear(s);
    size_t n = status == RV_SLOT_OK && p->answers ? YAJL_GET_ARRAY(p->answers)->len : 0;
    for (size_t i = 0; i < n && status == RV_SLOT_OK; i++) {
        yajl_val a = YAJL_GET_ARRAY(p->answers)->values[i];
        static const char *plabel[] = {"label", NULL}, *pscore[] = {"score", NULL};
        const char *label = YAJL_GET_STRING(yajl_tree_get(a, plabel, yajl_t_string));
        yajl_val sc = yajl_tree_get(a, pscore, yajl_t_number);
        uint32_t k = 0;
        while (label && k < m->n_labels && strcmp(m->labels[k], label) != 0)
            k++;
        if (!label || !sc || !isfinite(YAJL_GET_DOUBLE(sc))) {
            status = RV_SLOT_ERROR;
            rv_slot_set_error(s, "remote answer %zu has no label or no finite score", i);
        } else if (k == m->n_labels) {
            status = RV_SLOT_ERROR;
            rv_slot_set_error(s, "remote answer names an unknown label '%.64s'", label);
        } else if (s->n_answers < s->max_answers)
            s->answers[s->n_answers++] = (rv_answer){k, YAJL_GET_DOUBLE(sc)};
    }
    if (status != RV_SLOT_OK) {
        s->n_answers = 0;
        if (!s->error) {
            char text[RV_SLOT_ERROR_SIZE];
            copy_text(text, sizeof text,
                      p->error                     ? p->error
                      : strcmp(p->status, "error") ? p->status
                                                   : "error");
            rv_slot_set_error(s, "%s", text);
        }
        rv_model_set_last_error(m, s->error);
    }
    s->latency_us = now_us - f->arrival_mono_us;
    atomic_store_explicit(&s->status, status, memory_order_release);
    rv_evaluation *ev = rv_rendezvous_evaluation(r->rz);
    if (ev)
        rv_evaluation_tap_slot(ev, f->id, m, s);
}

/* Late: past the model's own deadline (its answer cannot be chosen). */
static int is_late(const rv_inflight *f, size_t slot, int64_t now_us)
{
    const rv_generation *g = f->gen;
    for (size_t i = 0; i < g->n_schedule; i++)
        if (g->schedule[i] == slot)
            return now_us - f->arrival_mono_us > (int64_t)g->within_ms[i] * 1000;
    return 0;
}

#define POST_BATCH 64

/* Adds an answer to post (a batch of POST_BATCH at most, posted when full);
 * returns the new count. */
static size_t add_posted(rv_remote *r, rv_answered *batch, size_t k, rv_inflight *f, size_t slot)
{
    batch[k++] = (rv_answered){f, slot};
    if (k < POST_BATCH)
        return k;
    rv_rendezvous_post(r->rz, batch, k);
    return 0;
}

void rv_remote_expect(rv_remote *r, rv_inflight *const *fs, size_t n, size_t slot)
{
    rv_answered joined[POST_BATCH];
    size_t k = 0;
    int64_t now = rv_mono_us();
    for (size_t i = 0; i < n; i++) {
        rv_inflight *f = fs[i];
        const rv_generation *g = f->gen;
        const char *model = g->models[slot]->name;
        uint32_t last = g->n_schedule ? g->within_ms[g->n_schedule - 1] : 0;
        uint64_t h = hash_of(f->id, model);
        rv_inflight_ref(f);
        pthread_mutex_lock(&r->lock);
        entry **early = find(r, h, f->id, model, 1);
        if (*early) { /* its score came first */
            entry *e = *early;
            parsed p;
            int ok = parse(e->record, e->record_len, &p) == 0;
            unhash(r, &r->early, early);
            pthread_mutex_unlock(&r->lock);
            if (ok) {
                fill(r, f, slot, &p, now);
                atomic_fetch_add(&r->counts[RV_REMOTE_JOINED], 1);
            }
            yajl_tree_free(p.root);
            k = add_posted(r, joined, k, f, slot);
            continue;
        }
        entry *e = calloc(1, sizeof *e);
        if (!e) { /* cannot wait: a timeout at once */
            pthread_mutex_unlock(&r->lock);
            rv_error("remote", "out of memory: request %s gets no answer from %s", f->id, model);
            k = add_posted(r, joined, k, f, slot);
            continue;
        }
        *e = (entry){.hash = h,
                     .id = f->id,
                     .model = model,
                     .expires_us = f->arrival_mono_us + ((int64_t)last + RV_REMOTE_GRACE_MS) * 1000,
                     .f = f,
                     .slot = slot};
        insert(r, &r->waiting, e);
        pthread_mutex_unlock(&r->lock);
    }
    if (k)
        rv_rendezvous_post(r->rz, joined, k);
}

/* Keeps a score whose request has not come (yet); the oldest make room. */
static rv_remote_outcome keep_early(rv_remote *r, const parsed *p, const void *value, size_t len,
                                    int64_t now_us)
{
    size_t id_len = strlen(p->id), model_len = strlen(p->model);
    entry *e = calloc(1, sizeof *e);
    char *copy = malloc(len + id_len + model_len + 2);
    if (!e || !copy) {
        free(e);
        free(copy);
        return RV_REMOTE_UNKNOWN;
    }
    memcpy(copy, value, len);
    memcpy(copy + len, p->id, id_len + 1);
    memcpy(copy + len + id_len + 1, p->model, model_len + 1);
    *e = (entry){.hash = hash_of(p->id, p->model),
                 .id = copy + len,
                 .model = copy + len + id_len + 1,
                 .expires_us = now_us + (int64_t)RV_REMOTE_EARLY_MS * 1000,
                 .record = copy,
                 .record_len = len};
    pthread_mutex_lock(&r->lock);
    entry **old = find(r, e->hash, e->id, e->model, 1);
    if (*old) /* the same score twice (at-least-once): keep one */
        unhash(r, &r->early, old);
    while (r->early.live >= RV_REMOTE_EARLY_MAX) {
        entry *x = r->early.head;
        while (x && x->gone)
            x = x->next_list;
        if (!x)
            break;
        unhash_entry(r, &r->early, x);
    }
    insert(r, &r->early, e);
    pthread_mutex_unlock(&r->lock);
    return RV_REMOTE_EARLY;
}

rv_remote_outcome rv_remote_receive(rv_remote *r, const rv_generation *current, const void *value,
                                    size_t len, int64_t now_us)
{
    parsed p;
    rv_remote_outcome out;
    if (parse(value, len, &p) != 0) {
        out = RV_REMOTE_INVALID;
        goto done;
    }
    int idx = current ? rv_generation_find(current, p.model) : -1;
    if (idx < 0 || !current->models[idx]->is_remote) {
        out = RV_REMOTE_IGNORED;
        goto done;
    }
    pthread_mutex_lock(&r->lock);
    entry **pp = find(r, hash_of(p.id, p.model), p.id, p.model, 0);
    entry *e = *pp;
    if (!e) {
        pthread_mutex_unlock(&r->lock);
        out = keep_early(r, &p, value, len, now_us);
        goto done;
    }
    unhash(r, &r->waiting, pp);
    rv_inflight *f = e->f;
    size_t slot = e->slot;
    pthread_mutex_unlock(&r->lock);
    out = is_late(f, slot, now_us) ? RV_REMOTE_LATE : RV_REMOTE_JOINED;
    fill(r, f, slot, &p, now_us);
    rv_rendezvous_post(r->rz, &(rv_answered){f, slot}, 1); /* our reference passes on */
done:
    yajl_tree_free(p.root);
    atomic_fetch_add(&r->counts[out], 1);
    return out;
}

/* Frees the expired head of l: a request still waiting is ended into
 * ended[] (up to max; its slot stays pending), an early score never joined
 * is counted unknown. Returns how many requests were ended. */
static size_t expire_list(rv_remote *r, list *l, int64_t now_us, rv_answered *ended, size_t max)
{
    size_t k = 0;
    while (l->head && l->head->expires_us <= now_us) {
        entry *e = l->head;
        if (!e->gone && e->f && k == max)
            break;
        if (!e->gone) {
            unhash_entry(r, l, e);
            if (e->f) {
                e->f->slots[e->slot].latency_us = now_us - e->f->arrival_mono_us;
                ended[k++] = (rv_answered){e->f, e->slot};
            } else
                atomic_fetch_add(&r->counts[RV_REMOTE_UNKNOWN], 1); /* never came */
        }
        l->head = e->next_list;
        if (!l->head)
            l->tail = NULL;
        free(e->record);
        free(e);
    }
    return k;
}

void rv_remote_expire(rv_remote *r, int64_t now_us)
{
    rv_answered ended[256];
    size_t k;
    do {
        pthread_mutex_lock(&r->lock);
        expire_list(r, &r->early, now_us, NULL, 0);
        k = expire_list(r, &r->waiting, now_us, ended, sizeof ended / sizeof *ended);
        pthread_mutex_unlock(&r->lock);
        if (k)
            rv_rendezvous_post(r->rz, ended, k);
    } while (k == sizeof ended / sizeof *ended);
}

size_t rv_remote_waiting(rv_remote *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->waiting.live;
    pthread_mutex_unlock(&r->lock);
    return n;
}

size_t rv_remote_early(rv_remote *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->early.live;
    pthread_mutex_unlock(&r->lock);
    return n;
}

uint64_t rv_remote_count(rv_remote *r, rv_remote_outcome o)
{
    return atomic_load(&r->counts[o]);
}

void rv_remote_note(rv_remote *r, rv_remote_outcome o)
{
    atomic_fetch_add(&r->counts[o], 1);
}

void rv_remote_free(rv_remote *r)
{
    if (!r)
        return;
    rv_remote_expire(r, INT64_MAX);
    free(r->buckets);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
