/*
 * proc.c - the host's side of a model process: spawn, watch, kill,
 * reap, restart, warm up again (its traffic: proc_batch.c). Must never
 * block on a process beyond the deadline it set itself (max_score_ms for a
 * batch, START_TIMEOUT_MS for create and warm), never fork the threaded
 * host (posix_spawn of the runner binary, from one thread that lives as
 * long as the host, since PDEATHSIG follows the spawning thread), and
 * never resend a batch that a process died on.
 */
#include "proc.h"
#include "proc_internal.h"

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

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "proc_poison.h"
#include "proc_spawn.h"
#include "threads.h"

#define START_TIMEOUT_MS 60000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_RESET_MS 60000
#define MAX_LABELS 4096

void rv_proc_set_runner(const char *path)
{
    rv_proc_spawn_set_runner(path);
}

const char *rv_proc_state_name(rv_proc_state s)
{
    static const char *const names[] = {"starting", "live", "restarting", "warming"};
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
    rv_proc_channel_hdr *h = p->ch.h;
    rv_proc_channel_begin(&p->ch, RV_CHAN_INIT);
    rv_proc_channel_put_strings(&p->ch, head, sizeof head / sizeof *head);
    rv_proc_channel_put_strings(&p->ch, (const char *const *)p->features, p->n_features);
    rv_proc_channel_put_strings(&p->ch, (const char *const *)p->params, 2 * p->n_params);
    atomic_store_explicit(&h->req_seq, ++p->seq, memory_order_release);
    rv_proc_channel_wake(p->ch.to_proc);
}

/* A new process: channel, spawn, pidfd, INIT sent. 0, or -1 with err. */
static int begin(rv_proc *p, char *err, size_t err_size)
{
    if (rv_proc_channel_create(&p->ch, p->req_size, p->ans_size, err, err_size) != 0)
        return -1;
    /* INIT first: the runner reads it as soon as it is up */
    p->seq = 0;
    p->collected = 0;
    send_init(p);
    pid_t pid = rv_proc_spawn_runner((int[3]){p->ch.memfd, p->ch.to_proc, p->ch.to_host}, p->model,
                                     p->instance, p->max_memory_mb, p->sandbox, err, err_size);
    if (pid < 0) {
        rv_proc_channel_close(&p->ch);
        return -1;
    }
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd < 0) {
        rv_errf(err, err_size, "pidfd_open: %s", strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rv_proc_channel_close(&p->ch);
        return -1;
    }
    pthread_mutex_lock(&p->status_lock);
    p->pid = pid;
    if (p->nice != 0) /* raising it is always allowed */
        rv_threads_renice(pid, p->nice);
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

int rv_proc_wait_answer(rv_proc *p, int64_t deadline_ms)
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

size_t rv_proc_send_batch(rv_proc *p, const rv_request *const *reqs, size_t from, size_t n)
{
    rv_proc_channel_hdr *h = p->ch.h;
    size_t i = from + rv_proc_channel_put_batch(&p->ch, reqs + from, n - from, p->max_batch);
    if (i == from)
        return from;
    h->ans_len = 0;
    h->n_emits = 0;
    atomic_store_explicit(&h->req_seq, ++p->seq, memory_order_release);
    rv_proc_channel_wake(p->ch.to_proc);
    p->batch_deadline_ms = rv_mono_ms() + p->max_score_ms;
    return i;
}

void rv_proc_remember_lost(rv_proc *p, const rv_request *const *reqs, size_t n)
{
    char ids[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        rv_proc_poison_add(&p->lost, reqs[i]->id, p->last_exit);
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
    return rv_proc_poison_why(&p->lost, id) != NULL;
}

void rv_proc_gone(rv_proc *p, const char *why, int kind)
{
    char how[128] = "gone";
    if (p->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        struct pollfd f = {p->pidfd, POLLIN, 0};
        while (poll(&f, 1, 5000) < 0 && errno == EINTR)
            ;
        int exited = rv_proc_spawn_reap(p->pidfd, how, sizeof how);
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
    rv_warmup_free(&p->warm);
    rv_proc_channel_close(&p->ch);
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
    rv_proc_channel_hdr *h = p->ch.h;
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
    int n = rv_proc_channel_read_strings(&p->ch, 0, labels, MAX_LABELS);
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

/* A process goes live on the CPU it was given: not earlier, so that the
 * plugin sizes its own thread pools on every CPU while it starts. */
static void pin_live(rv_proc *p)
{
    pthread_mutex_lock(&p->status_lock);
    if (p->cpu >= 0)
        rv_threads_pin(p->pid, p->cpu);
    pthread_mutex_unlock(&p->status_lock);
}

static void go_live(rv_proc *p)
{
    size_t warmed = p->warm_at;
    int64_t took = p->warm.n ? rv_mono_ms() - p->warm_start_ms : 0;
    rv_warmup_free(&p->warm);
    p->live_since_ms = rv_mono_ms();
    pin_live(p);
    atomic_store(&p->state, RV_PROC_LIVE);
    rv_info("models",
            "%s version %s instance %u: model process %d live again (warmed on %zu "
            "recent requests in %lld ms)",
            p->model, p->version, p->instance, (int)p->pid, warmed, (long long)took);
}

/* Sends the next batch of the warm-up, or goes live when it is done or its
 * budget is spent. Results are not looked at: a warm-up warms, it does not
 * judge (the first start's warm-up, on reload, does). */
static void warmup_next(rv_proc *p)
{
    p->warm_at = p->warm_end;
    const rv_request *const *all = (const rv_request *const *)p->warm_batch;
    while (p->warm_at < p->warm.n &&
           rv_mono_ms() - p->warm_start_ms < (int64_t)p->warmup_budget_ms) {
        size_t n = p->warm.n - p->warm_at < p->max_batch ? p->warm.n - p->warm_at : p->max_batch;
        for (size_t k = 0; k < n; k++)
            p->warm_batch[k] = &p->warm.reqs[p->warm_at + k];
        size_t end = rv_proc_send_batch(p, all, 0, n);
        if (end > 0) {
            p->warm_end = p->warm_at + end;
            return;
        }
        p->warm_at++; /* larger than the channel: left out */
        p->warm_end = p->warm_at;
    }
    go_live(p);
}

/* The process answered INIT: its warm-up on recent requests begins, or it
 * goes live at once when there is none. */
static void warmup_start(rv_proc *p)
{
    p->warm_at = p->warm_end = 0;
    p->warm_start_ms = rv_mono_ms();
    if (rv_warmup_build(&p->warm, p->recent, p->fx, p->warmup_requests, is_lost, p) != 0)
        rv_warn("models", "%s instance %u: no warm-up before traffic (out of memory)", p->model,
                p->instance);
    atomic_store(&p->state, RV_PROC_WARMING);
    warmup_next(p);
}

rv_proc_state rv_proc_tick(rv_proc *p)
{
    int st = atomic_load(&p->state);
    if (st == RV_PROC_LIVE) {
        struct pollfd f = {p->pidfd, POLLIN, 0};
        if (poll(&f, 1, 0) > 0)
            rv_proc_gone(p, NULL, 0);
    } else if (st == RV_PROC_RESTARTING) {
        if (rv_mono_ms() >= p->next_start_ms) {
            char err[RV_ERR_SIZE];
            if (begin(p, err, sizeof err) != 0)
                rv_proc_gone(p, err, RV_PROC_EXIT_START);
            else
                atomic_fetch_add(&p->restarts, 1);
        }
    } else if (st == RV_PROC_STARTING) {
        int r = rv_proc_wait_answer(p, -1);
        char err[RV_ERR_SIZE];
        if (r == 1 && take_init(p, err, sizeof err) == 0)
            warmup_start(p);
        else if (r == 1) {
            char why[200];
            rv_errf(why, sizeof why, "restart failed: %s", err);
            rv_proc_gone(p, why, RV_PROC_EXIT_START);
        } else if (r == -1)
            rv_proc_gone(p, NULL, 0);
        else if (rv_mono_ms() > p->start_deadline_ms)
            rv_proc_gone(p, "killed: create and warm took longer than 60 s", RV_PROC_EXIT_START);
    } else if (st == RV_PROC_WARMING) {
        int r = rv_proc_wait_answer(p, -1);
        if (r == 1)
            warmup_next(p);
        else if (r == -1 || rv_mono_ms() > p->batch_deadline_ms) {
            /* the batch's requests outlive the warm-up set that gone frees */
            size_t n = p->warm_end - p->warm_at;
            rv_warmup_set set = p->warm;
            p->warm = (rv_warmup_set){0};
            for (size_t k = 0; k < n; k++)
                p->warm_batch[k] = &set.reqs[p->warm_at + k];
            char why[160];
            rv_errf(why, sizeof why,
                    "killed: a warm-up batch of %zu took longer than max_score_ms (%u ms)", n,
                    p->max_score_ms);
            rv_proc_gone(p, r == -1 ? NULL : why, r == -1 ? 0 : RV_PROC_EXIT_DEADLINE);
            rv_proc_remember_lost(p, (const rv_request *const *)p->warm_batch, n);
            rv_warmup_free(&set);
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
    rv_proc_poison_clear(&p->lost);
    rv_warmup_free(&p->warm);
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
    p->cpu = -1;
    p->pidfd = -1;
    p->ch = (rv_proc_channel){.memfd = -1, .to_proc = -1, .to_host = -1};
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
    p->ans_size = (size_t)p->max_batch * sizeof(rv_proc_channel_ans) + ((size_t)1 << 20);

    if (begin(p, err, err_size) != 0) {
        proc_free(p);
        return NULL;
    }
    int r = rv_proc_wait_answer(p, rv_mono_ms() + START_TIMEOUT_MS);
    if (r != 1 || take_init(p, err, err_size) != 0) {
        char how[160] = "";
        if (r != 1) {
            syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
            rv_proc_spawn_reap(p->pidfd, how, sizeof how);
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
        rv_proc_spawn_reap(p->pidfd, how, sizeof how);
        close(p->pidfd);
    }
    rv_proc_channel_close(&p->ch);
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

int rv_proc_set_cpu(rv_proc *p, int cpu, const cpu_set_t *all)
{
    pthread_mutex_lock(&p->status_lock);
    int failed = 0, live = atomic_load(&p->state) == RV_PROC_LIVE;
    if (p->cpu != cpu && p->pid > 0 && live)
        failed = cpu >= 0 ? rv_threads_pin(p->pid, cpu) : rv_threads_unpin(p->pid, p->cpu, all);
    if (!failed)
        p->cpu = cpu;
    pthread_mutex_unlock(&p->status_lock);
    return failed;
}

unsigned long long rv_proc_demand_ns(rv_proc *p)
{
    pthread_mutex_lock(&p->status_lock);
    unsigned long long ns = p->pid > 0 ? rv_threads_demand_ns(p->pid, p->pid) : 0;
    pthread_mutex_unlock(&p->status_lock);
    return ns;
}

int rv_proc_set_nice(rv_proc *p, int nice)
{
    pthread_mutex_lock(&p->status_lock);
    int failed = p->nice != nice && p->pid > 0 ? rv_threads_renice(p->pid, nice) : 0;
    if (!failed)
        p->nice = nice;
    pthread_mutex_unlock(&p->status_lock);
    return failed;
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
