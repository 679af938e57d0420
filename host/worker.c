/*
 * worker.c - model worker threads. Must never block on another model: the
 * only waits are on its own queue. Writes each answer into the request's
 * slot, sends the score record, and posts the answer to the rendezvous.
 */
#include "worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "records.h"
#include "rendezvous.h"

typedef struct item {
    rv_inflight *f;
    size_t slot;
} item;

typedef struct rv_worker {
    rv_model *model;
    void *instance;
    rv_pipeline *pipe;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    item *ring;
    size_t cap, head, len;
    int stop;
    yajl_gen gen;
    /* per-batch arrays, max_batch long, used by this worker's thread only */
    const rv_request **reqs;
    rv_result *res;
    rv_result **resp;
} rv_worker;

struct rv_workers {
    size_t n;
    size_t next;          /* round-robin start for dispatch */
    yajl_gen dispatch_gen; /* for shed records, on the dispatching thread */
    rv_worker w[];
};

/* The batch being scored on this thread, so that emit() can tell which
 * request a record is about. */
typedef struct batch {
    item *items;
    size_t n;
} batch;
static _Thread_local const batch *current_batch;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_score(rv_pipeline *pipe, yajl_gen g, rv_model *m, rv_inflight *f,
                       size_t slot)
{
    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);
    rv_record_score(g, f->id, m->name, m->version, &f->slots[slot], m->labels);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    rv_output_send(pipe->output, RV_STREAM_SCORES, NULL, f->req.partition, f->id,
                   strlen(f->id), buf, len, NULL, f);
}

/* Every answer ends here: slot filled, record sent, rendezvous told. The
 * item's reference passes to the rendezvous. */
static void finish(rv_pipeline *pipe, yajl_gen g, rv_model *m, rv_inflight *f, size_t slot,
                   int status)
{
    rv_slot *s = &f->slots[slot];
    s->latency_us = mono_us() - f->arrival_mono_us;
    atomic_store_explicit(&s->status, status, memory_order_release);
    /* The rendezvous hears of the answer before the score record is
     * encoded, so the decision does not wait on it; our own reference
     * keeps f alive for the record. */
    rv_inflight_ref(f);
    rv_rendezvous_post(pipe->rendezvous, f, slot);
    if (!m->is_decoy) /* the decoy records; it does not score */
        send_score(pipe, g, m, f, slot);
    rv_inflight_release(f);
}

static void score_batch(rv_worker *wk, item *items, size_t n)
{
    rv_model *m = wk->model;
    const rv_request **reqs = wk->reqs;
    rv_result *res = wk->res;
    rv_result **resp = wk->resp;
    for (size_t i = 0; i < n; i++) {
        rv_slot *s = &items[i].f->slots[items[i].slot];
        s->error[0] = '\0';
        s->n_answers = 0;
        reqs[i] = &items[i].f->req;
        res[i] = (rv_result){RV_STATUS_ERROR, 0, RV_MAX_ANSWERS, s->answers, s->error,
                             sizeof s->error};
        resp[i] = &res[i];
    }
    char err[256] = "";
    batch b = {items, n};
    current_batch = &b;
    int rc = m->module->desc->score(wk->instance, reqs, resp, n, err, sizeof err);
    current_batch = NULL;
    for (size_t i = 0; i < n; i++) {
        rv_slot *s = &items[i].f->slots[items[i].slot];
        int status = RV_SLOT_OK;
        if (rc != RV_OK) {
            snprintf(s->error, sizeof s->error, "score failed (code %d): %s", rc,
                     *err ? err : "no reason given");
            status = RV_SLOT_ERROR;
        } else if (res[i].status != RV_STATUS_OK) {
            if (!s->error[0])
                snprintf(s->error, sizeof s->error, "model gave no reason");
            status = RV_SLOT_ERROR;
        } else {
            s->n_answers = res[i].n_answers > RV_MAX_ANSWERS ? RV_MAX_ANSWERS : res[i].n_answers;
            for (uint32_t a = 0; a < s->n_answers; a++)
                if (s->answers[a].label >= m->n_labels) {
                    snprintf(s->error, sizeof s->error,
                             "model answered label index %u, it declared %u labels",
                             s->answers[a].label, m->n_labels);
                    s->n_answers = 0;
                    status = RV_SLOT_ERROR;
                    break;
                }
        }
        if (status != RV_SLOT_OK) {
            pthread_mutex_lock(&m->error_lock);
            snprintf(m->last_error, sizeof m->last_error, "%s", s->error);
            pthread_mutex_unlock(&m->error_lock);
        }
        finish(wk->pipe, wk->gen, m, items[i].f, items[i].slot, status);
    }
}

static void *worker_loop(void *arg)
{
    rv_worker *wk = arg;
    size_t max = wk->model->max_batch;
    item *batch_items = calloc(max, sizeof *batch_items);
    for (;;) {
        pthread_mutex_lock(&wk->lock);
        while (wk->len == 0 && !wk->stop)
            pthread_cond_wait(&wk->cond, &wk->lock);
        if (wk->len == 0 && wk->stop) {
            pthread_mutex_unlock(&wk->lock);
            break;
        }
        size_t n = 0;
        while (n < max && wk->len > 0) {
            batch_items[n++] = wk->ring[wk->head];
            wk->head = (wk->head + 1) % wk->cap;
            wk->len--;
        }
        pthread_mutex_unlock(&wk->lock);
        score_batch(wk, batch_items, n);
    }
    free(batch_items);
    return NULL;
}

int rv_workers_start(rv_model *m, rv_pipeline *pipe, char *err, size_t err_size)
{
    size_t n = m->n_instances;
    rv_workers *ws = calloc(1, sizeof *ws + n * sizeof(rv_worker));
    if (!ws || !(ws->dispatch_gen = rv_json_gen_new())) {
        free(ws);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        rv_worker *wk = &ws->w[i];
        wk->model = m;
        /* a reentrant plugin has one instance shared by every worker */
        wk->instance = m->instances[i % m->n_created];
        wk->pipe = pipe;
        wk->cap = m->queue_size;
        wk->ring = calloc(wk->cap, sizeof *wk->ring);
        wk->gen = rv_json_gen_new();
        wk->reqs = calloc(m->max_batch, sizeof *wk->reqs);
        wk->res = calloc(m->max_batch, sizeof *wk->res);
        wk->resp = calloc(m->max_batch, sizeof *wk->resp);
        pthread_mutex_init(&wk->lock, NULL);
        pthread_cond_init(&wk->cond, NULL);
        if (!wk->ring || !wk->gen || !wk->reqs || !wk->res || !wk->resp ||
            pthread_create(&wk->thread, NULL, worker_loop, wk) != 0) {
            snprintf(err, err_size, "cannot start worker %zu of model %s", i, m->name);
            ws->n = i;
            free(wk->ring);
            free(wk->reqs);
            free(wk->res);
            free(wk->resp);
            if (wk->gen)
                yajl_gen_free(wk->gen);
            rv_workers_stop(ws);
            return -1;
        }
        ws->n = i + 1;
    }
    m->workers = ws;
    return 0;
}

void rv_workers_stop(rv_workers *ws)
{
    if (!ws)
        return;
    for (size_t i = 0; i < ws->n; i++) {
        rv_worker *wk = &ws->w[i];
        pthread_mutex_lock(&wk->lock);
        wk->stop = 1;
        pthread_cond_signal(&wk->cond);
        pthread_mutex_unlock(&wk->lock);
    }
    for (size_t i = 0; i < ws->n; i++) {
        rv_worker *wk = &ws->w[i];
        pthread_join(wk->thread, NULL);
        free(wk->ring);
        free(wk->reqs);
        free(wk->res);
        free(wk->resp);
        yajl_gen_free(wk->gen);
        pthread_mutex_destroy(&wk->lock);
        pthread_cond_destroy(&wk->cond);
    }
    yajl_gen_free(ws->dispatch_gen);
    free(ws);
}

int rv_workers_dispatch(rv_workers *ws, rv_inflight *f, size_t slot)
{
    /* the least loaded worker, starting round-robin so ties spread */
    size_t start = ws->next++ % ws->n;
    rv_worker *best = NULL;
    size_t best_len = SIZE_MAX;
    for (size_t k = 0; k < ws->n; k++) {
        rv_worker *wk = &ws->w[(start + k) % ws->n];
        size_t len = __atomic_load_n(&wk->len, __ATOMIC_RELAXED);
        if (len < best_len) {
            best = wk;
            best_len = len;
        }
    }
    rv_inflight_ref(f);
    pthread_mutex_lock(&best->lock);
    if (best->len < best->cap) {
        best->ring[(best->head + best->len) % best->cap] = (item){f, slot};
        best->len++;
        pthread_cond_signal(&best->cond);
        pthread_mutex_unlock(&best->lock);
        return 0;
    }
    pthread_mutex_unlock(&best->lock);
    snprintf(f->slots[slot].error, sizeof f->slots[slot].error,
             "queue full (%zu requests): shed", best->cap);
    finish(best->pipe, ws->dispatch_gen, best->model, f, slot, RV_SLOT_SHED);
    return -1;
}

size_t rv_workers_queued(rv_workers *ws)
{
    size_t n = 0;
    for (size_t i = 0; i < ws->n; i++) {
        pthread_mutex_lock(&ws->w[i].lock);
        n += ws->w[i].len;
        pthread_mutex_unlock(&ws->w[i].lock);
    }
    return n;
}

int rv_worker_emit(void *ctx, const rv_model *model, const rv_request *about,
                   const char *stream, const void *key, size_t key_len, const void *value,
                   size_t value_len)
{
    rv_pipeline *pipe = ctx;
    rv_inflight *f = NULL;
    const batch *b = current_batch;
    if (about && b)
        for (size_t i = 0; i < b->n && !f; i++)
            if (&b->items[i].f->req == about)
                f = b->items[i].f;
    rv_stream s;
    int known = rv_output_stream_by_name(stream, &s) == 0;
    int32_t partition = f ? f->req.partition : RD_KAFKA_PARTITION_UA;
    int rc = rv_output_send(pipe->output, known ? s : RV_STREAM_ARCHIVE, known ? NULL : stream,
                            partition, key, key_len, value, value_len, NULL, f);
    return rc == 0 ? RV_OK : RV_EIO;
}
