/*
 * rendezvous.c - one decider at a time owns every mailbox: the thread that
 * holds `owner`. A worker that posts answers takes it when it is free and
 * decides right there (no wake of another thread between an answer and its
 * result); the rendezvous thread takes it for deadlines, for new requests
 * and for what a busy decider left behind. No lock is taken around a single
 * decision, and a request's decided flag is touched by the owner alone.
 * The owner encodes the results it decides; it produces them after letting
 * go (the outbox).
 * Must never wait on a model: it only reads slots the workers have
 * published (release/acquire on slot status).
 */
#include "rendezvous.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "canary_monitor.h"
#include "clock.h"
#include "evaluation.h"
#include "log.h"
#include "records.h"
#include "stats.h"
#include "text.h"

/* An answer, or with slot SIZE_MAX a new request. */
typedef rv_answered event;

/* Results the decider encoded, produced by the same thread once it has let
 * go of `owner`: producing can wake librdkafka's threads, and a decider
 * that loses its CPU to one of them while it holds `owner` stalls every
 * other decision. Each result holds a reference of its request. */
typedef struct outgoing {
    rv_inflight *f;
    size_t off, len; /* in bytes */
} outgoing;

typedef struct rv_outbox {
    outgoing *items;
    size_t n, cap;
    rv_text bytes;
} rv_outbox;

/* 0, or -1 when out of memory (nothing queued). */
static int outbox_add(rv_outbox *o, rv_inflight *f, const char *buf, size_t len)
{
    if (o->n == o->cap) {
        size_t ncap = o->cap ? 2 * o->cap : 64;
        outgoing *ni = realloc(o->items, ncap * sizeof *ni);
        if (!ni)
            return -1;
        o->items = ni;
        o->cap = ncap;
    }
    size_t off = o->bytes.len;
    rv_text_append(&o->bytes, buf, len);
    if (o->bytes.oom)
        return -1;
    rv_inflight_ref(f);
    o->items[o->n++] = (outgoing){f, off, len};
    return 0;
}

static void produce_result(rv_output *out, rv_inflight *f, const char *buf, size_t len)
{
    if (f->reply_to) {
        const char *key = f->reply_key ? f->reply_key : f->id;
        rv_inflight_send(out, f, RV_STREAM_RESULTS, f->reply_to,
                         f->reply_on_request_partition ? f->req.partition : RD_KAFKA_PARTITION_UA,
                         key, strlen(key), buf, len, NULL);
    } else
        rv_inflight_send(out, f, RV_STREAM_RESULTS, NULL, f->req.partition, f->id, strlen(f->id),
                         buf, len, NULL);
}

/* Produces what a round of deciding left in o (taken from the rendezvous
 * under `owner`), outside it, and frees o. */
static void outbox_flush(rv_output *out, rv_outbox *o)
{
    for (size_t i = 0; i < o->n; i++) {
        produce_result(out, o->items[i].f, o->bytes.p + o->items[i].off, o->items[i].len);
        rv_inflight_release(o->items[i].f);
    }
    free(o->items);
    rv_text_free(&o->bytes);
    *o = (rv_outbox){0};
}

struct rv_rendezvous {
    rv_output *out;
    rv_canary_monitor *monitor;
    rv_stats *stats;
    pthread_t thread;
    pthread_mutex_t lock; /* inbox, stop, earliest, thread_wake_at */
    pthread_cond_t cond;  /* wakes the rendezvous thread */
    event *inbox;
    size_t inbox_len, inbox_cap;
    int stop;
    int64_t earliest;       /* the heap's first deadline at the last drain; INT64_MAX: none */
    int any_open;           /* requests not yet complete at the last drain */
    int64_t thread_wake_at; /* what the thread sleeps until; INT64_MIN: awake */
    pthread_mutex_t owner;  /* the decider: everything below */
    event *work;
    size_t work_cap;
    rv_inflight **heap; /* deadline min-heap on wake_at_mono_us */
    size_t heap_len, heap_cap;
    rv_jw jw;          /* the result record being written */
    rv_outbox outbox;  /* results decided, not yet produced */
    size_t n_open;     /* requests opened and not yet complete */
    atomic_int behind; /* answers were posted from behind: the thread's sleep is bounded */
    _Atomic(rv_evaluation *) evaluation;
};

void rv_rendezvous_set_evaluation(rv_rendezvous *rz, rv_evaluation *e)
{
    atomic_store_explicit(&rz->evaluation, e, memory_order_release);
}

rv_evaluation *rv_rendezvous_evaluation(rv_rendezvous *rz)
{
    return atomic_load_explicit(&rz->evaluation, memory_order_acquire);
}

/* The result r as the evaluation's "served" answer: the chosen model's
 * answers, or the default; waiting for every model not expired. */
static void tap_result(rv_evaluation *e, const rv_result_fields *r, const rv_model *m,
                       const char *const *scored, size_t n_scored)
{
    const char *labels[RV_MAX_ANSWERS];
    double scores[RV_MAX_ANSWERS];
    size_t n = 0;
    if (m && r->answer)
        for (uint32_t i = 0; i < r->answer->n_answers && i < RV_MAX_ANSWERS; i++)
            if (r->answer->answers[i].label < m->n_labels) {
                labels[n] = m->labels[r->answer->answers[i].label];
                scores[n++] = r->answer->answers[i].score;
            }
    if (!m && r->default_label) {
        labels[n] = r->default_label;
        scores[n++] = r->default_score;
    }
    rv_evaluation_answer a = {.source = RV_EVALUATION_SERVED,
                              .version = "",
                              .schedule_version = r->schedule_version,
                              .n = n,
                              .labels = labels,
                              .scores = scores,
                              .n_expected = n_scored,
                              .expected = scored};
    rv_evaluation_tap(e, r->id, &a);
}

/* How long answers posted from behind (rv_rendezvous_post_behind) about
 * requests already decided may wait for a round: their request's release
 * (its commit) is late by at most this. */
#define BEHIND_LAG_US 2000

/* ---- deadline heap ---- */

static void heap_swap(rv_rendezvous *rz, size_t a, size_t b)
{
    rv_inflight *t = rz->heap[a];
    rz->heap[a] = rz->heap[b];
    rz->heap[b] = t;
    rz->heap[a]->heap_pos = a;
    rz->heap[b]->heap_pos = b;
}

static void heap_up(rv_rendezvous *rz, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (rz->heap[p]->wake_at_mono_us <= rz->heap[i]->wake_at_mono_us)
            break;
        heap_swap(rz, i, p);
        i = p;
    }
}

static void heap_down(rv_rendezvous *rz, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < rz->heap_len && rz->heap[l]->wake_at_mono_us < rz->heap[m]->wake_at_mono_us)
            m = l;
        if (r < rz->heap_len && rz->heap[r]->wake_at_mono_us < rz->heap[m]->wake_at_mono_us)
            m = r;
        if (m == i)
            return;
        heap_swap(rz, i, m);
        i = m;
    }
}

static void heap_remove(rv_rendezvous *rz, rv_inflight *f)
{
    size_t i = f->heap_pos;
    if (i == SIZE_MAX)
        return;
    rz->heap_len--;
    if (i != rz->heap_len) {
        rz->heap[i] = rz->heap[rz->heap_len];
        rz->heap[i]->heap_pos = i;
        heap_down(rz, i);
        heap_up(rz, i);
    }
    f->heap_pos = SIZE_MAX;
}

static void heap_set(rv_rendezvous *rz, rv_inflight *f, int64_t wake)
{
    if (f->heap_pos != SIZE_MAX) {
        if (f->wake_at_mono_us == wake)
            return;
        heap_remove(rz, f);
    }
    if (rz->heap_len == rz->heap_cap) {
        size_t ncap = rz->heap_cap ? 2 * rz->heap_cap : 1024;
        rv_inflight **nh = realloc(rz->heap, ncap * sizeof *nh);
        if (!nh)
            abort(); /* cannot keep the promise of a deadline */
        rz->heap = nh;
        rz->heap_cap = ncap;
    }
    f->wake_at_mono_us = wake;
    f->heap_pos = rz->heap_len;
    rz->heap[rz->heap_len++] = f;
    heap_up(rz, f->heap_pos);
}

/* ---- the decision ---- */

/* A direct call's deadline: its model's within_ms, or the schedule's last
 * when it is not in the schedule. */
static uint32_t direct_within(const rv_generation *gen, int model)
{
    for (size_t k = 0; k < gen->n_schedule; k++)
        if (gen->schedule[k] == (size_t)model)
            return gen->within_ms[k];
    return gen->n_schedule ? gen->within_ms[gen->n_schedule - 1] : 0;
}

/* A pending model's status in a result: "timeout" once its schedule
 * deadline (a direct call's) has passed, else "pending". */

static const char *status_at(const rv_generation *gen, const rv_inflight *f, size_t model,
                             int64_t elapsed)
{
    int st = atomic_load_explicit(&f->slots[model].status, memory_order_acquire);
    if (st == RV_SLOT_PENDING && f->expired)
        return "expired"; /* never given to the model */
    if (st == RV_SLOT_PENDING && f->direct >= 0)
        return elapsed >= (int64_t)direct_within(gen, f->direct) * 1000 ? "timeout" : "pending";
    if (st == RV_SLOT_PENDING)
        for (size_t k = 0; k < gen->n_schedule; k++)
            if (gen->schedule[k] == model && elapsed >= (int64_t)gen->within_ms[k] * 1000)
                return "timeout";
    return rv_slot_status_name(st);
}

static void send_result(rv_rendezvous *rz, rv_inflight *f, int chosen, int64_t elapsed)
{
    if (!rz->out) { /* a scorer's: its score records are what it writes */
        rv_latency_add(&rz->stats->e2e, elapsed);
        return;
    }
    const rv_generation *gen = f->gen;
    const rv_config *cfg = gen->cfg;
    /* the answer's model: the schedule's entry, or a direct call's model */
    int at = chosen < 0 ? -1 : f->direct >= 0 ? f->direct : (int)gen->schedule[chosen];
    const rv_model *m = at >= 0 ? gen->models[at] : NULL;
    rv_result_model models[gen->n_models ? gen->n_models : 1];
    const char *scored[gen->n_models ? gen->n_models : 1]; /* each writes a score record */
    size_t n = 0, n_scored = 0;
    for (size_t i = 0; i < gen->n_models; i++) {
        if (gen->models[i]->is_decoy || (f->direct >= 0 && (int)i != f->direct))
            continue;
        int st = atomic_load_explicit(&f->slots[i].status, memory_order_acquire);
        const char *status = status_at(gen, f, i, elapsed);
        if (strcmp(status, "expired") != 0)
            scored[n_scored++] = gen->models[i]->name;
        models[n++] = (rv_result_model){
            .json = &gen->models[i]->json,
            .status = status,
            .latency_us = st == RV_SLOT_PENDING ? -1 : f->slots[i].latency_us,
        };
    }
    rv_result_fields r = {
        .id = f->id,
        .chosen = m ? &m->json : NULL,
        .reason = f->expired            ? RV_REASON_EXPIRED
                  : f->direct >= 0 && m ? RV_REASON_DIRECT
                                        : rv_reason_of(chosen),
        .rank = f->direct >= 0 ? -1 : chosen,
        .answer = m ? &f->slots[at] : NULL,
        .default_label = cfg->rendezvous.has_default ? cfg->rendezvous.default_label : NULL,
        .default_score = cfg->rendezvous.default_score,
        .latency_us = elapsed,
        .schedule_version = gen->schedule_version,
        .models = models,
        .n_models = n,
    };
    rv_jw *w = &rz->jw;
    rv_jw_restart(w);
    rv_record_result(w, &r);
    if (w->oom) {
        rv_error("rendezvous", "out of memory: no result record for request %s", f->id);
        return;
    }
    rv_evaluation *ev = f->direct < 0 ? rv_rendezvous_evaluation(rz) : NULL;
    if (ev) /* before the record: told before it can be delivered; a direct
             * call is not the rendezvous' decision */
        tap_result(ev, &r, m, scored, n_scored);
    if (outbox_add(&rz->outbox, f, w->buf, w->len) != 0)
        produce_result(rz->out, f, w->buf, w->len); /* out of memory: at once */

    if (!m && !cfg->rendezvous.has_default)
        atomic_fetch_add(&rz->stats->results_error, 1);
    atomic_fetch_add(&rz->stats->results_by_reason[r.reason], 1);
    if (m) {
        rv_model_stats *ms = rv_stats_model(rz->stats, m->name);
        if (ms)
            atomic_fetch_add(&ms->chosen, 1);
    }
    rv_latency_add(&rz->stats->e2e, elapsed);
    if (m) /* the chosen answer in -> this result */
        rv_latency_add(&rz->stats->decision, elapsed - r.answer->latency_us);
}

/* Drops the rendezvous' own reference once the request is decided and
 * every model has answered. */
static void maybe_complete(rv_rendezvous *rz, rv_inflight *f)
{
    if (!f->decided || f->n_answered < f->n_slots)
        return;
    if (rz->monitor && f->direct < 0) /* a direct call: the canary did not score it */
        rv_canary_monitor_observe(rz->monitor, f);
    rz->n_open--;
    rv_inflight_release(f);
}

/* The selection rule on f's answers as they are now. */
static rv_selection select_now(const rv_inflight *f, int64_t now)
{
    if (f->expired)
        return (rv_selection){.decided = 1, .chosen = -1};
    const rv_generation *gen = f->gen;
    if (f->direct >= 0) { /* its model alone, as if the schedule were it */
        rv_slot_status st = atomic_load_explicit(&f->slots[f->direct].status, memory_order_acquire);
        uint32_t within = direct_within(gen, f->direct);
        return rv_select(&st, &within, 1, now - f->arrival_mono_us);
    }
    size_t n = gen->n_schedule;
    rv_slot_status status[n ? n : 1];
    for (size_t i = 0; i < n; i++)
        status[i] = atomic_load_explicit(&f->slots[gen->schedule[i]].status, memory_order_acquire);
    return rv_select(status, gen->within_ms, n, now - f->arrival_mono_us);
}

static void evaluate(rv_rendezvous *rz, rv_inflight *f, int64_t now)
{
    if (f->decided)
        return;
    int64_t elapsed = now - f->arrival_mono_us;
    rv_selection sel = select_now(f, now);
    if (!sel.decided) {
        heap_set(rz, f, f->arrival_mono_us + sel.wake_at_us);
        return;
    }
    heap_remove(rz, f);
    f->decided = 1;
    send_result(rz, f, sel.chosen, elapsed);
}

static void on_event(rv_rendezvous *rz, event *e)
{
    rv_inflight *f = e->f;
    if (e->slot == SIZE_MAX) {
        rz->n_open++;
        /* expired: only the decoy gets it; a direct call: the decoy and its
         * model. The others will not answer. */
        int asked = f->expired ? -1 : f->direct;
        if (f->expired || f->direct >= 0)
            for (size_t i = 0; i < f->n_slots; i++)
                f->n_answered += !f->gen->models[i]->is_decoy && (int)i != asked;
        evaluate(rz, f, rv_mono_us());
        maybe_complete(rz, f); /* a request of a generation with no model */
        return;
    }
    const rv_slot *s = &f->slots[e->slot];
    rv_model_stats *ms = rv_stats_model(rz->stats, f->gen->models[e->slot]->name);
    if (ms) {
        int st = atomic_load_explicit(&s->status, memory_order_acquire);
        if (st >= 0 && st < RV_SLOT_STATUS_COUNT)
            atomic_fetch_add(&ms->by_status[st], 1);
        rv_latency_add(&ms->latency, s->latency_us);
    }
    f->n_answered++;
    evaluate(rz, f, rv_mono_us());
    maybe_complete(rz, f);
    rv_inflight_release(f); /* the worker's reference */
}

/* One round of deciding, by the owner: the events queued now, then every
 * deadline that has passed. Publishes the first deadline left, and wakes
 * the thread if it sleeps past it or if events came in meanwhile (they are
 * its now). The results it decided are moved to *out, for the caller to
 * produce once it has let go of `owner`. */
static void drain(rv_rendezvous *rz, rv_outbox *out)
{
    pthread_mutex_lock(&rz->lock);
    event *batch = rz->inbox;
    size_t n = rz->inbox_len;
    rz->inbox = rz->work;
    rz->work = batch;
    size_t cap = rz->inbox_cap;
    rz->inbox_cap = rz->work_cap;
    rz->work_cap = cap;
    rz->inbox_len = 0;
    pthread_mutex_unlock(&rz->lock);

    for (size_t i = 0; i < n; i++)
        on_event(rz, &batch[i]);
    int64_t now = rv_mono_us();
    while (rz->heap_len > 0 && rz->heap[0]->wake_at_mono_us <= now) {
        rv_inflight *f = rz->heap[0];
        heap_remove(rz, f);
        evaluate(rz, f, now);
        maybe_complete(rz, f);
    }
    *out = rz->outbox;
    rz->outbox = (rv_outbox){0};
    int64_t next = rz->heap_len > 0 ? rz->heap[0]->wake_at_mono_us : INT64_MAX;
    pthread_mutex_lock(&rz->lock);
    rz->earliest = next;
    rz->any_open = rz->n_open > 0;
    if (next < rz->thread_wake_at || (rz->inbox_len > 0 && rz->thread_wake_at != INT64_MIN))
        pthread_cond_signal(&rz->cond);
    pthread_mutex_unlock(&rz->lock);
}

static void *rendezvous_loop(void *arg)
{
    rv_rendezvous *rz = arg;
    for (;;) {
        rv_outbox out;
        pthread_mutex_lock(&rz->owner);
        drain(rz, &out);
        pthread_mutex_unlock(&rz->owner);
        outbox_flush(rz->out, &out);
        pthread_mutex_lock(&rz->lock);
        if (rz->inbox_len == 0) {
            if (rz->stop && rz->earliest == INT64_MAX) {
                pthread_mutex_unlock(&rz->lock);
                break;
            }
            /* answers posted from behind wait for a round at most so long */
            int64_t until = rz->earliest;
            if (rz->any_open && atomic_load_explicit(&rz->behind, memory_order_relaxed)) {
                int64_t lag = rv_mono_us() + BEHIND_LAG_US;
                until = lag < until ? lag : until;
            }
            rz->thread_wake_at = until;
            if (until != INT64_MAX) {
                struct timespec ts = rv_timespec_us(until);
                pthread_cond_timedwait(&rz->cond, &rz->lock, &ts);
            } else
                pthread_cond_wait(&rz->cond, &rz->lock);
            rz->thread_wake_at = INT64_MIN;
        }
        pthread_mutex_unlock(&rz->lock);
    }
    return NULL;
}

rv_rendezvous *rv_rendezvous_start(rv_output *out, rv_canary_monitor *monitor, rv_stats *stats)
{
    rv_rendezvous *rz = calloc(1, sizeof *rz);
    if (!rz)
        return NULL;
    rz->out = out;
    rz->monitor = monitor;
    rz->stats = stats;
    pthread_mutex_init(&rz->lock, NULL);
    pthread_mutex_init(&rz->owner, NULL);
    rz->earliest = INT64_MAX;
    rz->thread_wake_at = INT64_MIN;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rz->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&rz->thread, NULL, rendezvous_loop, rz) != 0) {
        rv_jw_free(&rz->jw);
        free(rz);
        return NULL;
    }
    return rz;
}

void rv_rendezvous_stop(rv_rendezvous *rz)
{
    if (!rz)
        return;
    pthread_mutex_lock(&rz->lock);
    rz->stop = 1;
    pthread_cond_signal(&rz->cond);
    pthread_mutex_unlock(&rz->lock);
    pthread_join(rz->thread, NULL);
    outbox_flush(rz->out, &rz->outbox); /* empty: the thread's last round took it */
    pthread_mutex_destroy(&rz->lock);
    pthread_mutex_destroy(&rz->owner);
    pthread_cond_destroy(&rz->cond);
    free(rz->inbox);
    free(rz->work);
    free(rz->heap);
    rv_jw_free(&rz->jw);
    free(rz);
}

/* Queues n events under one lock. Wakes the thread if it sleeps past
 * wake_by (INT64_MAX: never) and the inbox was empty (else a wake or a
 * drain is already due). */
static void push(rv_rendezvous *rz, const rv_answered *a, size_t n, int64_t wake_by)
{
    pthread_mutex_lock(&rz->lock);
    if (rz->inbox_len + n > rz->inbox_cap) {
        size_t ncap = rz->inbox_cap ? rz->inbox_cap : 1024;
        while (ncap < rz->inbox_len + n)
            ncap *= 2;
        event *ni = realloc(rz->inbox, ncap * sizeof *ni);
        if (!ni)
            abort(); /* losing an answer would lose a request */
        rz->inbox = ni;
        rz->inbox_cap = ncap;
    }
    int was_empty = rz->inbox_len == 0;
    for (size_t i = 0; i < n; i++)
        rz->inbox[rz->inbox_len++] = a[i];
    if (was_empty && n > 0 && rz->thread_wake_at != INT64_MIN && rz->thread_wake_at > wake_by)
        pthread_cond_signal(&rz->cond);
    pthread_mutex_unlock(&rz->lock);
}

void rv_rendezvous_open(rv_rendezvous *rz, rv_inflight *const *fs, size_t n)
{
    /* The input does not decide: the first to drain arms the deadlines,
     * a worker with an answer or the thread. The thread is woken only if it
     * would sleep past the earliest moment a new request can need it (its
     * first deadline; at once when it has no model). */
    int64_t wake_by = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const rv_generation *g = fs[i]->gen;
        /* deadlines never decrease along a schedule (config and control
         * refuse it): the first entry's is the earliest */
        int64_t first = fs[i]->arrival_mono_us + (g->n_schedule ? g->within_ms[0] * 1000ll : 0);
        if (first < wake_by)
            wake_by = first;
    }
    rv_answered a[64];
    for (size_t done = 0; done < n;) {
        size_t k = 0;
        for (; k < 64 && done + k < n; k++)
            a[k] = (rv_answered){fs[done + k], SIZE_MAX};
        push(rz, a, k, wake_by);
        done += k;
    }
}

/* Wakes the thread if it sleeps with answers in the inbox: they may have
 * come after the decider's last look at it. */
static void wake_for_inbox(rv_rendezvous *rz)
{
    pthread_mutex_lock(&rz->lock);
    if (rz->inbox_len > 0 && rz->thread_wake_at != INT64_MIN)
        pthread_cond_signal(&rz->cond);
    pthread_mutex_unlock(&rz->lock);
}

void rv_rendezvous_post(rv_rendezvous *rz, const rv_answered *a, size_t n)
{
    push(rz, a, n, INT64_MAX);
    /* Decide here when no one else is: one round, and what arrived
     * meanwhile is left to the thread (drain wakes it). */
    if (pthread_mutex_trylock(&rz->owner) == 0) {
        rv_outbox out;
        drain(rz, &out);
        pthread_mutex_unlock(&rz->owner);
        outbox_flush(rz->out, &out);
        return;
    }
    wake_for_inbox(rz);
}

void rv_rendezvous_post_behind(rv_rendezvous *rz, const rv_answered *a, size_t n)
{
    /* The thread is woken at once for an answer that makes its request
     * decidable (say the preferred model failed), and for the first answer
     * ever posted from behind (its sleep was not bounded yet). The others
     * only complete their request: the thread's next round (BEHIND_LAG_US
     * at most) or a decider's takes them. Looked at before the push, which
     * passes on the references. */
    int wake = !atomic_load_explicit(&rz->behind, memory_order_relaxed) &&
               !atomic_exchange(&rz->behind, 1);
    int64_t now = rv_mono_us();
    for (size_t i = 0; i < n && !wake; i++)
        wake = !atomic_load_explicit(&a[i].f->decided, memory_order_relaxed) &&
               select_now(a[i].f, now).decided;
    push(rz, a, n, INT64_MAX);
    if (wake)
        wake_for_inbox(rz);
}
