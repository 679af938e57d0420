/*
 * commit_tracker.c - per-partition deques of in-flight offsets behind one
 * mutex. Never commits by itself: the input thread, which owns the
 * consumer, takes the offsets and commits them.
 */
#include "commit_tracker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

typedef struct entry {
    int64_t offset;
    int done;
    void *payload; /* rv_commit_tracker_done_with's, until the prefix passes it */
} entry;

typedef struct partition_state {
    char *topic;
    int32_t partition;
    uint64_t epoch;
    entry *ring; /* deque of registered offsets, increasing */
    size_t cap, head, len;
    int64_t committable; /* next offset to read, -1 if none yet */
    int dirty;
} partition_state;

struct rv_commit_tracker {
    pthread_mutex_t lock;
    pthread_cond_t below; /* pending fell under wait_limit */
    partition_state *parts;
    size_t n_parts;
    uint64_t next_epoch;
    uint64_t pending;
    uint64_t wait_limit; /* 0: nobody waits */
    void (*free_payload)(void *);
    struct ready {
        void *payload;
        size_t part; /* index in parts */
    } * ready;       /* payloads the prefixes passed, in order, for take_ready */
    size_t n_ready, cap_ready;
};

rv_commit_tracker *rv_commit_tracker_new(void (*free_payload)(void *))
{
    rv_commit_tracker *t = calloc(1, sizeof *t);
    if (t) {
        t->free_payload = free_payload;
        pthread_mutex_init(&t->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&t->below, &ca);
        pthread_condattr_destroy(&ca);
        t->next_epoch = 1;
    }
    return t;
}

void rv_commit_tracker_free(rv_commit_tracker *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_parts; i++) {
        partition_state *p = &t->parts[i];
        for (size_t j = 0; j < p->len && t->free_payload; j++)
            if (p->ring[(p->head + j) % p->cap].payload)
                t->free_payload(p->ring[(p->head + j) % p->cap].payload);
        free(p->topic);
        free(p->ring);
    }
    for (size_t i = 0; i < t->n_ready; i++)
        t->free_payload(t->ready[i].payload);
    free(t->ready);
    free(t->parts);
    pthread_cond_destroy(&t->below);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static partition_state *find(rv_commit_tracker *t, const char *topic, int32_t partition, int create)
{
    for (size_t i = 0; i < t->n_parts; i++)
        if (t->parts[i].partition == partition && strcmp(t->parts[i].topic, topic) == 0)
            return &t->parts[i];
    if (!create)
        return NULL;
    partition_state *np = realloc(t->parts, (t->n_parts + 1) * sizeof *np);
    if (!np)
        return NULL;
    t->parts = np;
    partition_state *p = &t->parts[t->n_parts];
    memset(p, 0, sizeof *p);
    if (!(p->topic = strdup(topic)))
        return NULL;
    t->n_parts++;
    p->partition = partition;
    p->epoch = t->next_epoch++;
    p->committable = -1;
    return p;
}

static uint64_t add_locked(rv_commit_tracker *t, const char *topic, int32_t partition,
                           int64_t offset)
{
    partition_state *p = find(t, topic, partition, 1);
    uint64_t epoch = 0;
    if (p && p->len == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 1024;
        entry *nr = malloc(ncap * sizeof *nr);
        if (nr) {
            for (size_t i = 0; i < p->len; i++)
                nr[i] = p->ring[(p->head + i) % p->cap];
            free(p->ring);
            p->ring = nr;
            p->cap = ncap;
            p->head = 0;
        }
    }
    if (p && p->len < p->cap) {
        p->ring[(p->head + p->len) % p->cap] = (entry){offset, 0, NULL};
        p->len++;
        t->pending++;
        epoch = p->epoch;
    }
    return epoch;
}

uint64_t rv_commit_tracker_add(rv_commit_tracker *t, const char *topic, int32_t partition,
                               int64_t offset)
{
    pthread_mutex_lock(&t->lock);
    uint64_t epoch = add_locked(t, topic, partition, offset);
    pthread_mutex_unlock(&t->lock);
    return epoch;
}

void rv_commit_tracker_add_batch(rv_commit_tracker *t, rv_offset_ref *refs, size_t n)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++)
        refs[i].epoch = add_locked(t, refs[i].topic, refs[i].partition, refs[i].offset);
    pthread_mutex_unlock(&t->lock);
}

/* Appends a payload the prefix passed to the ready list; 0, or -1 out of
 * memory (the prefix stops before it). */
static int push_ready(rv_commit_tracker *t, const partition_state *p, void *payload)
{
    if (t->n_ready == t->cap_ready) {
        size_t ncap = t->cap_ready ? t->cap_ready * 2 : 256;
        struct ready *nr = realloc(t->ready, ncap * sizeof *nr);
        if (!nr)
            return -1;
        t->ready = nr;
        t->cap_ready = ncap;
    }
    t->ready[t->n_ready++] = (struct ready){payload, (size_t)(p - t->parts)};
    return 0;
}

static int done_locked(rv_commit_tracker *t, const char *topic, int32_t partition, int64_t offset,
                       uint64_t epoch, void *payload)
{
    partition_state *p = find(t, topic, partition, 0);
    if (!p || p->epoch != epoch || p->len == 0)
        return -1;
    /* offsets are increasing: binary search the deque */
    size_t lo = 0, hi = p->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->ring[(p->head + mid) % p->cap].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    entry *e = lo < p->len ? &p->ring[(p->head + lo) % p->cap] : NULL;
    if (!e || e->offset != offset || e->done)
        return -1;
    e->done = 1;
    e->payload = payload;
    /* with a payload it stays pending until the caller releases it */
    if (!payload && t->pending-- == t->wait_limit)
        pthread_cond_signal(&t->below);
    while (p->len > 0 && p->ring[p->head].done) {
        entry *h = &p->ring[p->head];
        if (h->payload && push_ready(t, p, h->payload) != 0)
            break; /* out of memory: the prefix stays here until a later done */
        h->payload = NULL;
        p->committable = h->offset + 1;
        p->dirty = 1;
        p->head = (p->head + 1) % p->cap;
        p->len--;
    }
    return 0;
}

void rv_commit_tracker_done(rv_commit_tracker *t, const char *topic, int32_t partition,
                            int64_t offset, uint64_t epoch)
{
    pthread_mutex_lock(&t->lock);
    done_locked(t, topic, partition, offset, epoch, NULL);
    pthread_mutex_unlock(&t->lock);
}

int rv_commit_tracker_done_with(rv_commit_tracker *t, const char *topic, int32_t partition,
                                int64_t offset, uint64_t epoch, void *payload)
{
    pthread_mutex_lock(&t->lock);
    int rc = done_locked(t, topic, partition, offset, epoch, payload);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void **rv_commit_tracker_take_ready(rv_commit_tracker *t, size_t *n,
                                    rd_kafka_topic_partition_list_t **offsets)
{
    pthread_mutex_lock(&t->lock);
    void **ready = t->n_ready ? malloc(t->n_ready * sizeof *ready) : NULL;
    *n = ready ? t->n_ready : 0;
    for (size_t i = 0; i < *n; i++)
        ready[i] = t->ready[i].payload;
    *offsets = NULL;
    if (t->n_ready && !ready) { /* out of memory: both wait for the next call */
        pthread_mutex_unlock(&t->lock);
        return NULL;
    }
    t->n_ready = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        partition_state *p = &t->parts[i];
        if (!p->dirty)
            continue;
        if (!*offsets)
            *offsets = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(*offsets, p->topic, p->partition)->offset =
            p->committable;
        p->dirty = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return ready;
}

rd_kafka_topic_partition_list_t *rv_commit_tracker_take(rv_commit_tracker *t, int all)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_parts; i++) {
        partition_state *p = &t->parts[i];
        if (!(p->dirty || (all && p->committable >= 0)))
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = p->committable;
        p->dirty = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return list;
}

size_t rv_commit_tracker_retry(rv_commit_tracker *t, rd_kafka_resp_err_t err,
                               const rd_kafka_topic_partition_list_t *offsets)
{
    size_t marked = 0;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *o = &offsets->elems[i];
        partition_state *p = find(t, o->topic, o->partition, 0);
        if ((err || o->err) && p && p->committable >= 0 && p->committable >= o->offset) {
            p->dirty = 1;
            marked++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return marked;
}

void rv_commit_tracker_forget(rv_commit_tracker *t, const char *topic, int32_t partition)
{
    pthread_mutex_lock(&t->lock);
    partition_state *p = find(t, topic, partition, 0);
    if (p) {
        for (size_t i = 0; i < p->len; i++) {
            entry *e = &p->ring[(p->head + i) % p->cap];
            if (!e->done || e->payload) /* in flight, or waiting with its records */
                t->pending--;
            if (e->payload)
                t->free_payload(e->payload);
        }
        /* passed by the prefix but not taken: their offsets go with them */
        size_t k = 0, me = (size_t)(p - t->parts);
        for (size_t i = 0; i < t->n_ready; i++)
            if (t->ready[i].part == me) {
                t->free_payload(t->ready[i].payload);
                t->pending--;
            } else
                t->ready[k++] = t->ready[i];
        t->n_ready = k;
        if (t->wait_limit && t->pending < t->wait_limit)
            pthread_cond_signal(&t->below);
        p->len = 0;
        p->head = 0;
        p->dirty = 0;
        p->committable = -1;
        p->epoch = t->next_epoch++;
    }
    pthread_mutex_unlock(&t->lock);
}

void rv_commit_tracker_release(rv_commit_tracker *t, uint64_t n)
{
    pthread_mutex_lock(&t->lock);
    uint64_t was = t->pending;
    t->pending = n < was ? was - n : 0;
    if (t->wait_limit && was >= t->wait_limit && t->pending < t->wait_limit)
        pthread_cond_signal(&t->below);
    pthread_mutex_unlock(&t->lock);
}

uint64_t rv_commit_tracker_pending(rv_commit_tracker *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = t->pending;
    pthread_mutex_unlock(&t->lock);
    return n;
}

uint64_t rv_commit_tracker_wait_below(rv_commit_tracker *t, uint64_t limit, int timeout_ms)
{
    struct timespec ts = rv_timespec_us(rv_mono_us() + (int64_t)timeout_ms * 1000);
    pthread_mutex_lock(&t->lock);
    t->wait_limit = limit;
    while (t->pending >= limit)
        if (pthread_cond_timedwait(&t->below, &t->lock, &ts) != 0)
            break;
    t->wait_limit = 0;
    uint64_t n = t->pending;
    pthread_mutex_unlock(&t->lock);
    return n;
}
