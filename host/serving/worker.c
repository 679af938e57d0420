/*
 * worker.c - model worker threads. Must never block on another model: the
 * only waits are on its own queue. Writes each answer into the request's
 * slot, sends the score record, and posts the answer to the rendezvous.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "evaluation.h"
#include "generation.h"
#include "log.h"
#include "proc.h"
#include "pipeline.h"
#include "remote.h"
#include "records.h"
#include "rendezvous.h"
#include "scoring.h"
#include "threads.h"

/* How often an idle worker looks after its model process: live, and
 * while it restarts (its warm-up advances a batch per tick). */
#define PROC_TICK_MS 20
#define PROC_TICK_RESTART_MS 2

/* A request queued for this model: its slot f->slots[slot]. */
typedef rv_answered item;

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
    rv_jw jw;             /* its score and alert records */
    rv_score_batch batch; /* max_batch long, this worker's thread only */
    item *taken;          /* max_batch long: the batch taken off the ring */
    uint32_t index;       /* an isolated model's worker i drives its instance i */
    uint64_t seen_exits;  /* of its model process, alerted */
    int seen_live;        /* its model process was live when last looked at */
    pid_t tid;            /* its thread's, once running; with nice and cpu, under lock */
    int nice;
    int cpu;           /* the one CPU it is kept on (rv_workers_set_cpu), -1: any */
    atomic_int behind; /* nice > 0: it posts answers but never decides them */
    /* An isolated model's: the thread waits on wake_fd and its process
     * (rv_proc_idle_wait), not on cond. While it waits (idle), the
     * dispatcher sends a batch to the process itself and leaves it in
     * sent[0..n_sent): the process's answer is then the only wake-up. The
     * thread does the same with its next batch once it has posted the
     * answers of the last (send_next). */
    int wake_fd;
    int idle;
    item *sent;
    size_t n_sent;
    const rv_request **send_reqs; /* the dispatcher's, max_batch long */
} rv_worker;

struct rv_workers {
    rv_remote *remote; /* a remote model's: no threads, its requests wait there */
    size_t n;
    size_t next;       /* round-robin start for dispatch */
    rv_jw dispatch_jw; /* for shed records, on the dispatching thread */
    rv_worker w[];
};

/* The batch being scored on this thread, so that emit() can tell which
 * request a record is about. */
typedef struct batch {
    item *items;
    size_t n;
} batch;
static _Thread_local const batch *current_batch;

static void send_score(rv_pipeline *pipe, rv_jw *w, rv_model *m, rv_inflight *f, size_t slot)
{
    rv_jw_restart(w);
    rv_record_score(w, &m->json, f->id, &f->slots[slot]);
    if (w->oom) {
        rv_error("models", "%s: out of memory: no score record for request %s", m->name, f->id);
        return;
    }
    rv_evaluation *ev = atomic_load_explicit(&pipe->evaluation, memory_order_acquire);
    if (ev) /* before the record: told before it can be delivered */
        rv_evaluation_tap_slot(ev, f->id, m, &f->slots[slot]);
    rv_inflight_send(pipe->output, f, RV_STREAM_SCORES, NULL, f->req.partition, f->id,
                     strlen(f->id), w->buf, w->len, NULL);
}

/* Publishes an answer in its slot (the status last: the rendezvous reads
 * the slot once it sees it). */
static void publish(rv_inflight *f, size_t slot, int status, int64_t now)
{
    rv_slot *s = &f->slots[slot];
    s->latency_us = now - f->arrival_mono_us;
    atomic_store_explicit(&s->status, status, memory_order_release);
}

/* Every answer ends here, published: the rendezvous is told of the whole
 * batch at once, before any score record is encoded, so no decision waits
 * on them (post); then the records (write_records). Each item's reference
 * passes to the rendezvous; our own keeps f alive for its record. */
static void post(rv_pipeline *pipe, const item *items, size_t n, int behind)
{
    for (size_t i = 0; i < n; i++)
        rv_inflight_ref(items[i].f);
    if (behind)
        rv_rendezvous_post_behind(pipe->rendezvous, items, n);
    else
        rv_rendezvous_post(pipe->rendezvous, items, n);
}

static void write_records(rv_pipeline *pipe, rv_jw *w, rv_model *m, const item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!m->is_decoy) /* the decoy records; it does not score */
            send_score(pipe, w, m, items[i].f, items[i].slot);
        rv_inflight_release(items[i].f);
    }
}

static void send_process_alert(rv_worker *wk, const rv_proc_status *st, int raised)
{
    rv_model *m = wk->model;
    uint32_t inst = wk->index;
    char msg[512];
    if (raised)
        rv_errf(msg, sizeof msg, "model %s instance %u: model process %s; it restarts", m->name,
                inst, st->last_exit);
    else
        rv_errf(msg, sizeof msg,
                "model %s instance %u: model process %d live again after %llu "
                "restart(s)",
                m->name, inst, (int)st->pid, (unsigned long long)st->restarts);
    rv_process_alert_fields a = {
        raised,        m->name,      m->version, inst, (int)(raised ? st->last_pid : st->pid),
        st->last_exit, st->restarts, msg};
    rv_jw_restart(&wk->jw);
    rv_record_process_alert(&wk->jw, &a);
    if (wk->pipe->output && !wk->jw.oom)
        rv_output_send(wk->pipe->output, RV_STREAM_ALERTS, NULL, RD_KAFKA_PARTITION_UA, m->name,
                       strlen(m->name), wk->jw.buf, wk->jw.len, NULL, NULL);
}

/* After every batch and tick of an isolated model: a process that ended
 * is counted by reason and alerted, one live again is cleared. */
static void watch_process(rv_worker *wk)
{
    rv_proc *p = wk->instance;
    uint64_t exits = rv_proc_exits(p);
    int live = rv_proc_state_now(p) == RV_PROC_LIVE;
    if (exits == wk->seen_exits && live == wk->seen_live)
        return;
    rv_proc_status st;
    rv_proc_get_status(p, &st);
    if (exits != wk->seen_exits) {
        rv_model_stats *ms =
            wk->pipe->stats ? rv_stats_model(wk->pipe->stats, wk->model->name) : NULL;
        if (ms && st.last_exit_kind > 0 && st.last_exit_kind < RV_PROC_EXIT_KINDS)
            atomic_fetch_add(&ms->restarts_by[st.last_exit_kind], exits - wk->seen_exits);
        if (wk->seen_live) /* one alert per outage, not per failed restart */
            send_process_alert(wk, &st, 1);
        wk->seen_exits = exits;
    }
    if (live && !wk->seen_live)
        send_process_alert(wk, &st, 0);
    wk->seen_live = live;
}

/* With wk->lock held, the channel free: sends the head of its queue to its
 * model process, where the worker will collect the answers. 0 when the
 * process took none (the worker scores them itself). */
static int send_head(rv_worker *wk)
{
    size_t k = wk->len < wk->model->max_batch ? wk->len : wk->model->max_batch;
    for (size_t i = 0; i < k; i++)
        wk->send_reqs[i] = &wk->ring[(wk->head + i) % wk->cap].f->req;
    size_t sent = rv_proc_send(wk->instance, wk->send_reqs, k);
    for (size_t i = 0; i < sent; i++) {
        wk->sent[i] = wk->ring[wk->head];
        wk->head = (wk->head + 1) % wk->cap;
    }
    wk->len -= sent;
    wk->n_sent = sent;
    return sent > 0;
}

/* An isolated model's, its answers posted: the next batch goes to the
 * process before the records of this one are written, so that the
 * process scores while this thread writes them. */
static void send_next(rv_worker *wk)
{
    pthread_mutex_lock(&wk->lock);
    if (wk->n_sent == 0 && wk->len > 0)
        send_head(wk);
    pthread_mutex_unlock(&wk->lock);
}

/* Scores items[0..n); sent when they are in the model process already. */
static void score_batch(rv_worker *wk, item *items, size_t n, int sent)
{
    rv_score_batch *sb = &wk->batch;
    for (size_t i = 0; i < n; i++) {
        sb->reqs[i] = &items[i].f->req;
        sb->slots[i] = &items[i].f->slots[items[i].slot];
    }
    sb->sent = sent;
    batch b = {items, n};
    current_batch = &b;
    rv_model_score(wk->model, wk->instance, sb, n);
    current_batch = NULL;
    int64_t now = rv_mono_us();
    for (size_t i = 0; i < n; i++)
        publish(items[i].f, items[i].slot, sb->status[i], now);
    post(wk->pipe, items, n, atomic_load_explicit(&wk->behind, memory_order_relaxed));
    if (wk->model->isolated)
        send_next(wk);
    write_records(wk->pipe, &wk->jw, wk->model, items, n);
    if (wk->model->isolated)
        watch_process(wk);
}

static void wake(rv_worker *wk)
{
    if (!wk->model->isolated) {
        pthread_cond_signal(&wk->cond);
        return;
    }
    uint64_t one = 1; /* a busy worker looks at its queue before it waits */
    if (wk->idle && write(wk->wake_fd, &one, sizeof one) < 0) { /* already due */
    }
}

/* An isolated model's wait for work, with wk->lock held: its process is
 * watched meanwhile, a death seen at once and a restart advanced within a
 * tick, not at the next request. */
static void wait_isolated(rv_worker *wk)
{
    wk->idle = 1;
    pthread_mutex_unlock(&wk->lock);
    int woken = rv_proc_idle_wait(wk->instance, wk->wake_fd,
                                  wk->seen_live ? PROC_TICK_MS : PROC_TICK_RESTART_MS);
    pthread_mutex_lock(&wk->lock);
    wk->idle = 0;
    if (!woken && wk->n_sent == 0) {
        pthread_mutex_unlock(&wk->lock);
        rv_proc_tick(wk->instance);
        watch_process(wk);
        pthread_mutex_lock(&wk->lock);
    }
}

/* With wk->lock held: wk's thread at that nice value (once it runs; until
 * then kept for its start), and whether it posts from behind. 0, or the
 * errno when the thread could not take it (it keeps the one it had). */
static int set_nice_locked(rv_worker *wk, int nice)
{
    int failed = wk->nice != nice && wk->tid != 0 ? rv_threads_nice(wk->tid, nice) : 0;
    if (!failed)
        wk->nice = nice;
    atomic_store(&wk->behind, wk->nice > 0);
    return failed;
}

static void *worker_loop(void *arg)
{
    rv_worker *wk = arg;
    char name[16]; /* "w:<model>" in top -H and perf; the kernel keeps 15 */
    snprintf(name, sizeof name, "w:%s", wk->model->name);
    prctl(PR_SET_NAME, name);
    pthread_mutex_lock(&wk->lock);
    wk->tid = gettid();
    int nice = wk->nice; /* set before the thread ran: raising is always allowed */
    wk->nice = 0;
    set_nice_locked(wk, nice);
    if (wk->cpu >= 0) /* kept before the thread ran */
        rv_threads_pin(wk->tid, wk->cpu);
    pthread_mutex_unlock(&wk->lock);
    size_t max = wk->model->max_batch;
    item *batch_items = wk->taken;
    for (;;) {
        pthread_mutex_lock(&wk->lock);
        while (wk->len == 0 && wk->n_sent == 0 && !wk->stop) {
            if (wk->model->isolated)
                wait_isolated(wk);
            else
                pthread_cond_wait(&wk->cond, &wk->lock);
        }
        size_t n = 0;
        int sent = wk->n_sent > 0;
        if (sent) { /* handed to the process by the dispatcher */
            for (; n < wk->n_sent; n++)
                batch_items[n] = wk->sent[n];
            wk->n_sent = 0;
        } else if (wk->len == 0) { /* and stopping */
            pthread_mutex_unlock(&wk->lock);
            break;
        }
        while (!sent && n < max && wk->len > 0) {
            batch_items[n++] = wk->ring[wk->head];
            wk->head = (wk->head + 1) % wk->cap;
            wk->len--;
        }
        pthread_mutex_unlock(&wk->lock);
        score_batch(wk, batch_items, n, sent);
    }
    return NULL;
}

static void worker_free(rv_worker *wk)
{
    free(wk->ring);
    free(wk->taken);
    free(wk->sent);
    free(wk->send_reqs);
    if (wk->wake_fd >= 0)
        close(wk->wake_fd);
    rv_score_batch_free(&wk->batch);
    rv_jw_free(&wk->jw);
    pthread_mutex_destroy(&wk->lock);
    pthread_cond_destroy(&wk->cond);
}

int rv_workers_start(rv_model *m, rv_pipeline *pipe, char *err, size_t err_size)
{
    size_t n = m->is_remote ? 0 : m->n_instances;
    if (m->is_remote && !pipe->remote) {
        rv_errf(err, err_size, "model %s is remote, and nothing here reads remote scores", m->name);
        return -1;
    }
    rv_workers *ws = calloc(1, sizeof *ws + n * sizeof(rv_worker));
    if (!ws) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    ws->remote = m->is_remote ? pipe->remote : NULL;
    for (size_t i = 0; i < n; i++) {
        rv_worker *wk = &ws->w[i];
        wk->model = m;
        wk->index = (uint32_t)i;
        wk->cpu = -1;
        /* a reentrant plugin has one instance shared by every worker */
        wk->instance = m->instances[i % m->n_created];
        wk->seen_live = 1;
        wk->wake_fd = -1;
        if (m->isolated) {
            rv_proc_set_recent(wk->instance, pipe->recent);
            wk->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            wk->sent = calloc(m->max_batch, sizeof *wk->sent);
            wk->send_reqs = calloc(m->max_batch, sizeof *wk->send_reqs);
        }
        int isolated_ok = !m->isolated || (wk->wake_fd >= 0 && wk->sent && wk->send_reqs);
        wk->pipe = pipe;
        wk->cap = m->queue_size;
        wk->ring = calloc(wk->cap, sizeof *wk->ring);
        wk->taken = calloc(m->max_batch, sizeof *wk->taken);
        int batch_ok = rv_score_batch_init(&wk->batch, m->max_batch) == 0;
        pthread_mutex_init(&wk->lock, NULL);
        pthread_cond_init(&wk->cond, NULL);
        if (!wk->ring || !wk->taken || !batch_ok || !isolated_ok ||
            pthread_create(&wk->thread, NULL, worker_loop, wk) != 0) {
            rv_errf(err, err_size, "cannot start worker %zu of model %s", i, m->name);
            ws->n = i;
            worker_free(wk);
            rv_workers_stop(ws);
            return -1;
        }
        ws->n = i + 1;
    }
    m->workers = ws;
    m->release_workers = rv_workers_stop;
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
        wake(wk);
        pthread_mutex_unlock(&wk->lock);
    }
    for (size_t i = 0; i < ws->n; i++) {
        pthread_join(ws->w[i].thread, NULL);
        worker_free(&ws->w[i]);
    }
    rv_jw_free(&ws->dispatch_jw);
    free(ws);
}

/* The least loaded worker, starting round-robin so that ties spread. */
static rv_worker *least_loaded(rv_workers *ws)
{
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
    return best;
}

/* With wk->lock held: room for at least `need` queued requests, the queue
 * in order from index 0, for a model that never sheds (the decoy): its
 * queue holds only requests in flight anyway (16 bytes each, bounded by
 * rendezvous.max_in_flight and what a rewind leaves queued). Out of
 * memory: it stays as it is (and sheds). */
static void grow(rv_worker *wk, size_t need)
{
    size_t cap = wk->cap;
    while (cap < need)
        cap *= 2;
    item *ring = calloc(cap, sizeof *ring);
    if (!ring)
        return;
    for (size_t i = 0; i < wk->len; i++)
        ring[i] = wk->ring[(wk->head + i) % wk->cap];
    free(wk->ring);
    wk->ring = ring;
    wk->head = 0;
    wk->cap = cap;
}

/* The dispatcher's: a waiting worker's process gets the batch at once. */
static int hand_off(rv_worker *wk)
{
    return wk->idle && wk->model->isolated && send_head(wk);
}

size_t rv_workers_dispatch(rv_workers *ws, rv_inflight *const *fs, size_t n, size_t slot)
{
    if (ws->remote) {
        rv_remote_expect(ws->remote, fs, n, slot);
        return 0;
    }
    size_t shed = 0, per = (n + ws->n - 1) / ws->n;
    for (size_t done = 0; done < n;) {
        size_t want = n - done < per ? n - done : per;
        rv_worker *best = least_loaded(ws);
        pthread_mutex_lock(&best->lock);
        if (best->model->never_shed && best->cap - best->len < want)
            grow(best, best->len + want);
        size_t take = best->cap - best->len < want ? best->cap - best->len : want;
        for (size_t j = 0; j < take; j++) {
            rv_inflight_ref(fs[done + j]);
            best->ring[(best->head + best->len + j) % best->cap] = (item){fs[done + j], slot};
        }
        /* a worker waits only on an empty queue: one wake for the chunk,
         * or none when its model process takes the chunk at once */
        int was_empty = best->len == 0 && best->n_sent == 0;
        best->len += take;
        if (was_empty && take > 0 && !hand_off(best))
            wake(best);
        pthread_mutex_unlock(&best->lock);
        for (size_t j = take; j < want; j++) { /* the least loaded is full: all are */
            rv_inflight *f = fs[done + j];
            rv_slot_set_error(&f->slots[slot], "queue full (%zu requests): shed", best->cap);
            publish(f, slot, RV_SLOT_SHED, rv_mono_us());
            rv_inflight_ref(f);
            item it = {f, slot};
            post(best->pipe, &it, 1, 0);
            write_records(best->pipe, &ws->dispatch_jw, best->model, &it, 1);
            shed++;
        }
        done += want;
    }
    return shed;
}

/* Sets the nice value of the model's workers and model processes: 0, or
 * the errno of the first that could not take it. */
static int workers_set_nice(rv_workers *ws, int nice)
{
    int first = 0;
    for (size_t i = 0; i < ws->n; i++) {
        rv_worker *wk = &ws->w[i];
        pthread_mutex_lock(&wk->lock);
        int failed = set_nice_locked(wk, nice);
        pthread_mutex_unlock(&wk->lock);
        if (!failed && wk->model->isolated)
            failed = rv_proc_set_nice(wk->instance, nice);
        if (!first)
            first = failed;
    }
    return first;
}

int rv_workers_prioritize(const rv_generation *g, int background_nice, char *err, size_t err_size)
{
    int failed = 0;
    for (size_t i = 0; i < g->n_models; i++) {
        rv_model *m = g->models[i];
        int nice = g->n_schedule > 0 && g->schedule[0] == i ? 0 : background_nice;
        int e = m->workers ? workers_set_nice(m->workers, nice) : 0;
        if (e && !failed++)
            rv_errf(err, err_size, "model %s: nice %d: %s%s", m->name, nice, strerror(e),
                    e == EACCES || e == EPERM
                        ? " (lowering a nice value needs CAP_SYS_NICE or LimitNICE)"
                        : "");
    }
    return failed ? -1 : 0;
}

int rv_workers_set_cpu(rv_workers *ws, int cpu, const cpu_set_t *all)
{
    int first = 0;
    for (size_t i = 0; i < ws->n; i++) {
        rv_worker *wk = &ws->w[i];
        pthread_mutex_lock(&wk->lock);
        wk->cpu = cpu;
        int failed = cpu >= 0 && wk->tid != 0 ? rv_threads_pin(wk->tid, cpu) : 0;
        pthread_mutex_unlock(&wk->lock);
        if (!failed && wk->model->isolated)
            failed = rv_proc_set_cpu(wk->instance, cpu, all);
        if (!first)
            first = failed;
    }
    return first;
}

unsigned long long rv_workers_demand_ns(rv_workers *ws)
{
    unsigned long long ns = 0;
    for (size_t i = 0; i < ws->n; i++) {
        rv_worker *wk = &ws->w[i];
        pthread_mutex_lock(&wk->lock);
        pid_t tid = wk->tid;
        pthread_mutex_unlock(&wk->lock);
        ns += tid ? rv_threads_demand_ns(getpid(), tid) : 0;
        if (wk->model->isolated)
            ns += rv_proc_demand_ns(wk->instance);
    }
    return ns;
}

size_t rv_workers_queued(rv_workers *ws)
{
    if (ws->remote)
        return rv_remote_waiting(ws->remote);
    size_t n = 0;
    for (size_t i = 0; i < ws->n; i++) {
        pthread_mutex_lock(&ws->w[i].lock);
        n += ws->w[i].len + ws->w[i].n_sent;
        pthread_mutex_unlock(&ws->w[i].lock);
    }
    return n;
}

int rv_worker_emit(void *ctx, const rv_model *model, const rv_request *about, const char *stream,
                   const void *key, size_t key_len, const void *value, size_t value_len)
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
    rv_stream to = known ? s : RV_STREAM_ARCHIVE;
    const char *topic = known ? NULL : stream;
    /* A record on the archive stream is a copy of its request: it carries
     * the request's headers and where it came from. */
    rd_kafka_headers_t *h =
        known && s == RV_STREAM_ARCHIVE && about ? rv_record_archive_headers(about) : NULL;
    int rc = f ? rv_inflight_send(pipe->output, f, to, topic, partition, key, key_len, value,
                                  value_len, h)
               : rv_output_send(pipe->output, to, topic, partition, key, key_len, value, value_len,
                                h, NULL);
    return rc == 0 ? RV_OK : RV_EIO;
}
