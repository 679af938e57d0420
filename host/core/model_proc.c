/*
 * model_proc.c - the host's side of a model process: spawn, feed, watch,
 * kill, reap, restart. Must never block on a process beyond the deadline
 * it set itself (max_score_ms for a batch, START_TIMEOUT_MS for create and
 * warm), never fork the threaded host (posix_spawn of the runner binary,
 * from one thread that lives as long as the host, since PDEATHSIG follows
 * the spawning thread), and never resend a batch that a process died on.
 */
#include "model_proc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "poison.h"
#include "proc_spawn.h"

#define START_TIMEOUT_MS 60000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_RESET_MS 60000
#define MAX_LABELS 4096

struct rv_proc {
    /* the spec, deep-copied */
    char *model, *version, *plugin, *shown;
    char **params; /* key, value, key, value ... */
    size_t n_params;
    char **features;
    size_t n_features;
    uint32_t instance, max_batch, max_score_ms, max_memory_mb;
    size_t req_size, ans_size;
    int sandbox;
    char **labels; /* of the first start: every restart must agree */
    uint32_t n_labels;
    rv_recent *recent;
    uint32_t warmup_requests, warmup_budget_ms;
    rv_feature_index *fx; /* parses the recent requests a restart replays */
    rv_poison lost;       /* never sent again, in traffic or a replay */

    rv_channel ch;
    pid_t pid;
    int pidfd;
    uint32_t seq;
    uint32_t collected; /* the last answer taken (the driving thread's) */
    int64_t start_deadline_ms, live_since_ms, next_start_ms, backoff_ms;
    /* REPLAYING: the set, the batch in flight [at, end), its deadline */
    rv_replay warm;
    const rv_request **warm_batch;
    size_t warm_at, warm_end;
    int64_t warm_start_ms, batch_deadline_ms;

    _Atomic int state;
    atomic_uint_fast64_t restarts, exits;
    pthread_mutex_t status_lock; /* guards last_exit*, pid */
    char last_exit[160];
    int64_t last_exit_real_us;
    int last_exit_kind;
    pid_t last_pid;
};

void rv_proc_set_runner(const char *path)
{
    rv_spawn_set_runner(path);
}

const char *rv_proc_state_name(rv_proc_state s)
{
    static const char *const names[] = {"starting", "live", "restarting", "replaying"};
    return (unsigned)s < 4 ? names[s] : "?";
}

/* ---- one incarnation ---- */

/* Sends INIT: what the runner needs to load, limit, create and warm. */
static void send_init(rv_proc *p)
{
    char inst[16], mem[16], batch[16];
    snprintf(inst, sizeof inst, "%u", p->instance);
    snprintf(mem, sizeof mem, "%u", p->max_memory_mb);
    snprintf(batch, sizeof batch, "%u", p->max_batch);
    const char *head[] = {p->model, p->plugin, p->shown, inst, mem, p->sandbox ? "strict" : "off",
                          batch};
    rv_chan_hdr *h = p->ch.h;
    h->op = RV_CHAN_INIT;
    h->n = 0;
    h->req_len = 0;
    rv_chan_put_strings(&p->ch, head, sizeof head / sizeof *head);
    rv_chan_put_strings(&p->ch, (const char *const *)p->features, p->n_features);
    rv_chan_put_strings(&p->ch, (const char *const *)p->params, 2 * p->n_params);
    atomic_store_explicit(&h->req_seq, ++p->seq, memory_order_release);
    rv_chan_wake(p->ch.to_proc);
}

/* A new process: channel, spawn, pidfd, INIT sent. 0, or -1 with err. */
static int begin(rv_proc *p, char *err, size_t err_size)
{
    if (rv_chan_create(&p->ch, p->req_size, p->ans_size, err, err_size) != 0)
        return -1;
    /* INIT first: the runner reads it as soon as it is up */
    p->seq = 0;
    p->collected = 0;
    send_init(p);
    pid_t pid = rv_spawn_runner((int[3]){p->ch.memfd, p->ch.to_proc, p->ch.to_host}, p->model,
                                p->instance, p->max_memory_mb, p->sandbox, err, err_size);
    if (pid < 0) {
        rv_chan_close(&p->ch);
        return -1;
    }
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd < 0) {
        rv_errf(err, err_size, "pidfd_open: %s", strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rv_chan_close(&p->ch);
        return -1;
    }
    pthread_mutex_lock(&p->status_lock);
    p->pid = pid;
    pthread_mutex_unlock(&p->status_lock);
    p->start_deadline_ms = rv_mono_ms() + START_TIMEOUT_MS;
    atomic_store(&p->state, RV_PROC_STARTING);
    return 0;
}

/* 1 when the answer to p->seq is in: taken, from here on. */
static int answered(rv_proc *p)
{
    if (atomic_load_explicit(&p->ch.h->ans_seq, memory_order_acquire) != p->seq)
        return 0;
    p->collected = p->seq;
    return 1;
}

/* Waits for the answer to p->seq until deadline_ms (-1: only look). 1 when
 * it is there, 0 at the deadline, -1 when the process is gone without it. */
static int wait_answer(rv_proc *p, int64_t deadline_ms)
{
    for (;;) {
        if (answered(p))
            return 1;
        int64_t left = deadline_ms < 0 ? 0 : deadline_ms - rv_mono_ms();
        struct pollfd fds[2] = {{p->ch.to_host, POLLIN, 0}, {p->pidfd, POLLIN, 0}};
        int n = poll(fds, 2, left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            if (read(p->ch.to_host, &v, sizeof v) < 0) { /* reset only */
            }
        }
        if (answered(p))
            return 1;
        if (fds[1].revents & (POLLIN | POLLHUP))
            return -1;
        if (n == 0 && (deadline_ms < 0 || rv_mono_ms() >= deadline_ms))
            return 0;
    }
}

/* Keeps the requests of a batch a process was just lost on, with the
 * reason, so that none is sent to this model again, and logs their ids:
 * the poison candidates. */
static void remember_lost(rv_proc *p, const rv_request *const *reqs, size_t n)
{
    char ids[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        rv_poison_add(&p->lost, reqs[i]->id, p->last_exit);
        if (len >= sizeof ids - 40)
            continue;
        int w = snprintf(ids + len, sizeof ids - len, "%s%s", i ? ", " : "", reqs[i]->id);
        len = w < 0 || (size_t)w >= sizeof ids - len ? sizeof ids : len + (size_t)w;
    }
    rv_warn("models", "%s version %s instance %u: lost a batch of %zu (never sent again): %s%s",
            p->model, p->version, p->instance, n, ids, len >= sizeof ids - 40 ? " ..." : "");
}

static int is_lost(void *ctx, const char *id)
{
    const rv_proc *p = ctx;
    return rv_poison_why(&p->lost, id) != NULL;
}

/* The one path by which a process is gone: kill it if it still runs, reap
 * it, say why, and schedule the restart. `why` and `kind` (when not 0)
 * override the exit's own (a kill for a deadline, a failed restart). */
static void gone(rv_proc *p, const char *why, int kind)
{
    char how[128] = "gone";
    if (p->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        struct pollfd f = {p->pidfd, POLLIN, 0};
        while (poll(&f, 1, 5000) < 0 && errno == EINTR)
            ;
        int exited = rv_spawn_reap(p->pidfd, how, sizeof how);
        kind = kind ? kind : exited;
        close(p->pidfd);
        p->pidfd = -1;
    }
    pthread_mutex_lock(&p->status_lock);
    p->last_pid = p->pid;
    rv_errf(p->last_exit, sizeof p->last_exit, "%s", why ? why : how);
    p->last_exit_real_us = rv_real_us();
    p->last_exit_kind = kind ? kind : RV_PROC_EXIT_STATUS;
    pthread_mutex_unlock(&p->status_lock);
    atomic_fetch_add(&p->exits, 1);
    rv_replay_free(&p->warm);
    rv_chan_close(&p->ch);
    pthread_mutex_lock(&p->status_lock);
    p->pid = 0;
    pthread_mutex_unlock(&p->status_lock);
    int64_t now = rv_mono_ms();
    if (p->live_since_ms && now - p->live_since_ms >= HEALTHY_RESET_MS)
        p->backoff_ms = BACKOFF_FIRST_MS;
    else
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (p->backoff_ms > BACKOFF_MAX_MS)
        p->backoff_ms = BACKOFF_MAX_MS;
    p->live_since_ms = 0;
    p->next_start_ms = now + p->backoff_ms;
    atomic_store(&p->state, RV_PROC_RESTARTING);
    rv_warn("models", "%s version %s instance %u: model process %s; restart in %lld ms", p->model,
            p->version, p->instance, p->last_exit, (long long)p->backoff_ms);
}

/* INIT answered: 0 with the labels checked (or taken, on the first start),
 * or -1 with err. */
static int take_init(rv_proc *p, char *err, size_t err_size)
{
    rv_chan_hdr *h = p->ch.h;
    int32_t rc = h->rc;
    if (rc != RV_OK) {
        char why[RV_ERR_SIZE];
        memcpy(why, (const char *)h->err, sizeof why);
        why[sizeof why - 1] = '\0';
        rv_errf(err, err_size, "%s", *why ? why : "model process failed to start");
        return -1;
    }
    const char **labels = calloc(MAX_LABELS, sizeof *labels);
    if (!labels) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    int n = rv_chan_read_strings(&p->ch, 0, labels, MAX_LABELS);
    int ret = 0;
    if (n <= 0) {
        rv_errf(err, err_size,
                n == 0 ? "create declared no labels" : "model process answered malformed labels");
        ret = -1;
    } else if (p->labels) {
        int same = (uint32_t)n == p->n_labels;
        for (int i = 0; same && i < n; i++)
            same = strcmp(labels[i], p->labels[i]) == 0;
        if (!same) {
            rv_errf(err, err_size, "the restarted process declared other labels");
            ret = -1;
        }
    } else {
        p->labels = calloc((size_t)n, sizeof *p->labels);
        for (int i = 0; p->labels && i < n; i++)
            if (!(p->labels[i] = strdup(labels[i])))
                ret = -1;
        p->n_labels = (uint32_t)n;
        if (!p->labels || ret != 0) {
            rv_errf(err, err_size, "out of memory");
            ret = -1;
        }
    }
    free(labels);
    return ret;
}

/* Writes reqs[from..n) into the request area, as many as fit and
 * max_batch allows, and sends them. Returns the end of the batch: from
 * when reqs[from] alone is larger than the area (nothing sent). */
static size_t send_batch(rv_proc *p, const rv_request *const *reqs, size_t from, size_t n)
{
    rv_chan_hdr *h = p->ch.h;
    h->op = RV_CHAN_SCORE;
    h->req_len = 0;
    size_t i = from;
    while (i < n && i - from < p->max_batch && rv_chan_put_request(&p->ch, reqs[i]) == 0)
        i++;
    if (i == from)
        return from;
    h->n = (uint32_t)(i - from);
    h->ans_len = 0;
    h->n_emits = 0;
    atomic_store_explicit(&h->req_seq, ++p->seq, memory_order_release);
    rv_chan_wake(p->ch.to_proc);
    p->batch_deadline_ms = rv_mono_ms() + p->max_score_ms;
    return i;
}

static void go_live(rv_proc *p)
{
    size_t replayed = p->warm_at;
    int64_t took = p->warm.n ? rv_mono_ms() - p->warm_start_ms : 0;
    rv_replay_free(&p->warm);
    p->live_since_ms = rv_mono_ms();
    atomic_store(&p->state, RV_PROC_LIVE);
    rv_info("models",
            "%s version %s instance %u: model process %d live again (warmed on %zu "
            "recent requests in %lld ms)",
            p->model, p->version, p->instance, (int)p->pid, replayed, (long long)took);
}

/* Sends the next batch of the replay, or goes live when it is done or its
 * budget is spent. Results are not looked at: a replay warms, it does not
 * judge (the first start's replay, on reload, does). */
static void replay_next(rv_proc *p)
{
    p->warm_at = p->warm_end;
    const rv_request *const *all = (const rv_request *const *)p->warm_batch;
    while (p->warm_at < p->warm.n &&
           rv_mono_ms() - p->warm_start_ms < (int64_t)p->warmup_budget_ms) {
        size_t n = p->warm.n - p->warm_at < p->max_batch ? p->warm.n - p->warm_at : p->max_batch;
        for (size_t k = 0; k < n; k++)
            p->warm_batch[k] = &p->warm.reqs[p->warm_at + k];
        size_t end = send_batch(p, all, 0, n);
        if (end > 0) {
            p->warm_end = p->warm_at + end;
            return;
        }
        p->warm_at++; /* larger than the channel: left out */
        p->warm_end = p->warm_at;
    }
    go_live(p);
}

/* The process answered INIT: its replay of recent requests begins, or it
 * goes live at once when there is none. */
static void replay_start(rv_proc *p)
{
    p->warm_at = p->warm_end = 0;
    p->warm_start_ms = rv_mono_ms();
    if (rv_replay_build(&p->warm, p->recent, p->fx, p->warmup_requests, is_lost, p) != 0)
        rv_warn("models", "%s instance %u: no replay before traffic (out of memory)", p->model,
                p->instance);
    atomic_store(&p->state, RV_PROC_REPLAYING);
    replay_next(p);
}

rv_proc_state rv_proc_tick(rv_proc *p)
{
    int st = atomic_load(&p->state);
    if (st == RV_PROC_LIVE) {
        struct pollfd f = {p->pidfd, POLLIN, 0};
        if (poll(&f, 1, 0) > 0)
            gone(p, NULL, 0);
    } else if (st == RV_PROC_RESTARTING) {
        if (rv_mono_ms() >= p->next_start_ms) {
            char err[RV_ERR_SIZE];
            if (begin(p, err, sizeof err) != 0)
                gone(p, err, RV_PROC_EXIT_START);
            else
                atomic_fetch_add(&p->restarts, 1);
        }
    } else if (st == RV_PROC_STARTING) {
        int r = wait_answer(p, -1);
        char err[RV_ERR_SIZE];
        if (r == 1 && take_init(p, err, sizeof err) == 0)
            replay_start(p);
        else if (r == 1) {
            char why[200];
            rv_errf(why, sizeof why, "restart failed: %s", err);
            gone(p, why, RV_PROC_EXIT_START);
        } else if (r == -1)
            gone(p, NULL, 0);
        else if (rv_mono_ms() > p->start_deadline_ms)
            gone(p, "killed: create and warm took longer than 60 s", RV_PROC_EXIT_START);
    } else if (st == RV_PROC_REPLAYING) {
        int r = wait_answer(p, -1);
        if (r == 1)
            replay_next(p);
        else if (r == -1 || rv_mono_ms() > p->batch_deadline_ms) {
            /* the batch's requests outlive the replay set that gone frees */
            size_t n = p->warm_end - p->warm_at;
            rv_replay set = p->warm;
            p->warm = (rv_replay){0};
            for (size_t k = 0; k < n; k++)
                p->warm_batch[k] = &set.reqs[p->warm_at + k];
            char why[160];
            rv_errf(why, sizeof why,
                    "killed: a replayed batch of %zu took longer than max_score_ms (%u ms)", n,
                    p->max_score_ms);
            gone(p, r == -1 ? NULL : why, r == -1 ? 0 : RV_PROC_EXIT_DEADLINE);
            remember_lost(p, (const rv_request *const *)p->warm_batch, n);
            rv_replay_free(&set);
        }
    }
    return (rv_proc_state)atomic_load(&p->state);
}

/* ---- public ---- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static void proc_free(rv_proc *p)
{
    free(p->model);
    free(p->version);
    free(p->plugin);
    free(p->shown);
    for (size_t i = 0; p->params && i < 2 * p->n_params; i++)
        free(p->params[i]);
    free(p->params);
    for (size_t i = 0; p->features && i < p->n_features; i++)
        free(p->features[i]);
    free(p->features);
    for (uint32_t i = 0; p->labels && i < p->n_labels; i++)
        free(p->labels[i]);
    free(p->labels);
    rv_poison_clear(&p->lost);
    rv_replay_free(&p->warm);
    free(p->warm_batch);
    if (p->fx)
        rv_feature_index_free(p->fx);
    pthread_mutex_destroy(&p->status_lock);
    free(p);
}

rv_proc *rv_proc_start(const rv_proc_spec *s, char ***labels, uint32_t *n_labels, char *err,
                       size_t err_size)
{
    rv_proc *p = calloc(1, sizeof *p);
    if (!p) {
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->status_lock, NULL);
    p->pidfd = -1;
    p->ch = (rv_channel){.memfd = -1, .to_proc = -1, .to_host = -1};
    p->model = dup_or_empty(s->model);
    p->version = dup_or_empty(s->version);
    p->plugin = dup_or_empty(s->plugin);
    p->shown = dup_or_empty(s->shown);
    p->params = calloc(2 * s->n_params + 1, sizeof *p->params);
    p->features = calloc(s->n_features + 1, sizeof *p->features);
    int ok = p->model && p->version && p->plugin && p->shown && p->params && p->features;
    for (size_t i = 0; ok && i < s->n_params; i++) {
        ok = (p->params[2 * i] = strdup(s->params[i].key)) &&
             (p->params[2 * i + 1] = strdup(s->params[i].value));
        p->n_params = i + 1;
    }
    for (size_t i = 0; ok && i < s->n_features; i++) {
        ok = (p->features[i] = strdup(s->features[i])) != NULL;
        p->n_features = i + 1;
    }
    if (!ok) {
        rv_errf(err, err_size, "out of memory");
        proc_free(p);
        return NULL;
    }
    p->instance = s->instance;
    p->max_batch = s->max_batch ? s->max_batch : 1;
    p->max_score_ms = s->max_score_ms;
    p->max_memory_mb = s->max_memory_mb;
    p->sandbox = s->sandbox;
    p->warmup_requests = s->warmup_requests;
    p->warmup_budget_ms = s->warmup_budget_ms;
    p->fx = rv_feature_index_new(p->features, p->n_features);
    p->warm_batch = calloc(p->max_batch, sizeof *p->warm_batch);
    if (!p->fx || !p->warm_batch) {
        rv_errf(err, err_size, "out of memory");
        proc_free(p);
        return NULL;
    }
    /* a batch of bodies of the largest size fits twice over; larger
     * batches are split, a request larger than the area is refused */
    size_t body = (size_t)s->max_body_bytes + 4096;
    p->req_size = body * 2 + (size_t)p->max_batch * (1024 + s->n_features * sizeof(double));
    if (p->req_size < ((size_t)1 << 20))
        p->req_size = (size_t)1 << 20;
    p->ans_size = (size_t)p->max_batch * sizeof(rv_chan_ans) + ((size_t)1 << 20);

    if (begin(p, err, err_size) != 0) {
        proc_free(p);
        return NULL;
    }
    int r = wait_answer(p, rv_mono_ms() + START_TIMEOUT_MS);
    if (r != 1 || take_init(p, err, err_size) != 0) {
        char how[160] = "";
        if (r != 1) {
            syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
            rv_spawn_reap(p->pidfd, how, sizeof how);
            rv_errf(err, err_size, "model process %s%s", how,
                    r == 0 ? " (killed: create and warm took longer than 60 s)" : "");
        }
        rv_proc_stop(p, 0);
        return NULL;
    }
    p->live_since_ms = rv_mono_ms();
    atomic_store(&p->state, RV_PROC_LIVE);
    *labels = calloc(p->n_labels, sizeof **labels);
    for (uint32_t i = 0; *labels && i < p->n_labels; i++)
        (*labels)[i] = strdup(p->labels[i]);
    *n_labels = p->n_labels;
    return p;
}

/* Fills res[i] of requests [from, to) with an error. */
static void fail_range(rv_result *const *res, size_t from, size_t to, const char *why)
{
    for (size_t i = from; i < to; i++) {
        res[i]->status = RV_STATUS_ERROR;
        res[i]->n_answers = 0;
        rv_errf(res[i]->error, res[i]->error_size, "%s", why);
    }
}

/* Scores reqs[0..n); an emitted record's request is map[k] (or k when map
 * is NULL) of the caller's batch. reqs[0..sent) are in the process already
 * (rv_proc_send). */
static void score_some(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                       const size_t *map, size_t sent, rv_proc_emit_fn emit, void *emit_ctx)
{
    size_t i = 0;
    while (i < n) {
        size_t from = i;
        if (sent) {
            i = sent;
            sent = 0;
        } else if (rv_proc_tick(p) != RV_PROC_LIVE) {
            char why[RV_SLOT_ERROR_SIZE];
            pthread_mutex_lock(&p->status_lock);
            rv_errf(why, sizeof why, "model process restarting (last: %s)", p->last_exit);
            pthread_mutex_unlock(&p->status_lock);
            fail_range(res, i, n, why);
            return;
        } else if ((i = send_batch(p, reqs, from, n)) == from) { /* larger than the area */
            char why[RV_SLOT_ERROR_SIZE];
            rv_errf(why, sizeof why, "request of %zu bytes does not fit the model channel (%zu)",
                    rv_chan_request_size(reqs[i]), p->req_size);
            fail_range(res, i, i + 1, why);
            i++;
            continue;
        }
        rv_chan_hdr *h = p->ch.h;
        int r = wait_answer(p, p->batch_deadline_ms);
        if (r != 1) {
            char why[160];
            if (r == 0)
                rv_errf(why, sizeof why,
                        "killed: score of %u requests took longer than max_score_ms (%u ms)", h->n,
                        p->max_score_ms);
            gone(p, r == 0 ? why : NULL, r == 0 ? RV_PROC_EXIT_DEADLINE : 0);
            remember_lost(p, reqs + from, i - from);
            char text[RV_SLOT_ERROR_SIZE];
            rv_errf(text, sizeof text, "model process %s", p->last_exit);
            fail_range(res, from, i, text);
            continue;
        }
        int32_t rc = h->rc;
        char err[RV_ERR_SIZE];
        memcpy(err, (const char *)h->err, sizeof err);
        err[sizeof err - 1] = '\0';
        for (size_t k = from; k < i; k++) {
            rv_result *out = res[k];
            if (rc != RV_OK) {
                out->status = RV_STATUS_ERROR;
                rv_errf(out->error, out->error_size, "score failed (code %d): %s", rc,
                        *err ? err : "no reason given");
                continue;
            }
            rv_chan_ans a;
            rv_chan_read_answer(&p->ch, (uint32_t)(k - from), &a);
            out->status = a.status == RV_STATUS_OK ? RV_STATUS_OK : RV_STATUS_ERROR;
            out->n_answers = a.n_answers < out->max_answers ? a.n_answers : out->max_answers;
            memcpy(out->answers, a.answers, out->n_answers * sizeof *a.answers);
            rv_errf(out->error, out->error_size, "%s", a.error);
        }
        uint64_t pos = 0;
        rv_chan_emit e;
        while (emit && rv_chan_next_emit(&p->ch, h->n, &pos, &e) == 1) {
            size_t k = from + e.about;
            long about = e.about < h->n ? (long)(map ? map[k] : k) : -1;
            emit(emit_ctx, about, e.stream, e.key, e.key_len, e.value, e.value_len);
        }
    }
}

void rv_proc_score(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                   rv_proc_emit_fn emit, void *emit_ctx)
{
    size_t n_lost = 0;
    for (size_t i = 0; p->lost.n && i < n; i++)
        n_lost += rv_poison_why(&p->lost, reqs[i]->id) != NULL;
    if (!n_lost) {
        score_some(p, reqs, res, n, NULL, 0, emit, emit_ctx);
        return;
    }
    /* requests a process was lost on before: never sent again */
    const rv_request **r2 = malloc(n * sizeof *r2);
    rv_result **s2 = malloc(n * sizeof *s2);
    size_t *map = malloc(n * sizeof *map), m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = rv_poison_why(&p->lost, reqs[i]->id);
        if (why) {
            char text[RV_SLOT_ERROR_SIZE];
            rv_errf(text, sizeof text,
                    "model process %s on a batch with this request before "
                    "(never sent again)",
                    why);
            fail_range(res, i, i + 1, text);
        } else if (r2 && s2 && map) {
            r2[m] = reqs[i];
            s2[m] = res[i];
            map[m++] = i;
        } else
            fail_range(res, i, i + 1, "out of memory");
    }
    score_some(p, r2, s2, m, map, 0, emit, emit_ctx);
    free(r2);
    free(s2);
    free(map);
}

size_t rv_proc_send(rv_proc *p, const rv_request *const *reqs, size_t n)
{
    if (n == 0 || atomic_load(&p->state) != RV_PROC_LIVE)
        return 0;
    for (size_t i = 0; p->lost.n && i < n; i++)
        if (rv_poison_why(&p->lost, reqs[i]->id))
            return 0;
    return send_batch(p, reqs, 0, n);
}

void rv_proc_collect(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                     rv_proc_emit_fn emit, void *emit_ctx)
{
    score_some(p, reqs, res, n, NULL, n, emit, emit_ctx);
}

int rv_proc_idle_wait(rv_proc *p, int wake_fd, int timeout_ms)
{
    int live = atomic_load(&p->state) == RV_PROC_LIVE;
    int64_t until = rv_mono_ms() + timeout_ms;
    for (;;) {
        struct pollfd f[3] = {{wake_fd, POLLIN, 0},
                              {live ? p->ch.to_host : -1, POLLIN, 0},
                              {live ? p->pidfd : -1, POLLIN, 0}};
        int64_t left = until - rv_mono_ms();
        int n = poll(f, 3, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (f[2].revents & (POLLIN | POLLHUP)))
            return 0;
        uint64_t v;
        if ((f[0].revents & POLLIN) && read(wake_fd, &v, sizeof v) < 0) { /* reset only */
        }
        if ((f[1].revents & POLLIN) && read(f[1].fd, &v, sizeof v) < 0) {
        }
        /* an answer's count may outlive its answer, taken without waiting
         * (wait_answer): only an answer not yet taken wakes */
        if ((f[0].revents & POLLIN) ||
            atomic_load_explicit(&p->ch.h->ans_seq, memory_order_acquire) != p->collected)
            return 1;
    }
}

void rv_proc_stop(rv_proc *p, int grace_ms)
{
    if (!p)
        return;
    if (p->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGTERM, NULL, 0);
        struct pollfd f = {p->pidfd, POLLIN, 0};
        if (poll(&f, 1, grace_ms) <= 0)
            syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        char how[128];
        rv_spawn_reap(p->pidfd, how, sizeof how);
        close(p->pidfd);
    }
    rv_chan_close(&p->ch);
    proc_free(p);
}

void rv_proc_get_status(rv_proc *p, rv_proc_status *out)
{
    out->state = (rv_proc_state)atomic_load(&p->state);
    out->restarts = atomic_load(&p->restarts);
    pthread_mutex_lock(&p->status_lock);
    out->pid = p->pid;
    snprintf(out->last_exit, sizeof out->last_exit, "%s", p->last_exit);
    out->last_exit_real_us = p->last_exit_real_us;
    out->last_exit_kind = p->last_exit_kind;
    out->last_pid = p->last_pid;
    pthread_mutex_unlock(&p->status_lock);
    out->exits = atomic_load(&p->exits);
}

void rv_proc_set_recent(rv_proc *p, rv_recent *recent)
{
    p->recent = recent;
}

uint64_t rv_proc_exits(rv_proc *p)
{
    return atomic_load_explicit(&p->exits, memory_order_relaxed);
}

rv_proc_state rv_proc_state_now(rv_proc *p)
{
    return (rv_proc_state)atomic_load_explicit(&p->state, memory_order_relaxed);
}
