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
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
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

#define START_TIMEOUT_MS 60000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_RESET_MS 60000
#define MAX_LABELS 4096

extern char **environ;

struct rv_proc {
    /* the spec, deep-copied */
    char *model, *plugin, *shown;
    char **params; /* key, value, key, value ... */
    size_t n_params;
    char **features;
    size_t n_features;
    uint32_t instance, max_batch, max_score_ms, max_memory_mb;
    size_t req_size, ans_size;
    int sandbox;
    char **labels; /* of the first start: every restart must agree */
    uint32_t n_labels;

    rv_channel ch;
    pid_t pid;
    int pidfd;
    uint32_t seq;
    int64_t start_deadline_ms, live_since_ms, next_start_ms, backoff_ms;

    _Atomic int state;
    atomic_uint_fast64_t restarts;
    pthread_mutex_t status_lock; /* guards last_exit, last_exit_real_us, pid */
    char last_exit[160];
    int64_t last_exit_real_us;
};

const char *rv_proc_state_name(rv_proc_state s)
{
    static const char *const names[] = {"starting", "live", "restarting"};
    return (unsigned)s < 3 ? names[s] : "?";
}

/* ---- the spawning thread ---- */

static char runner_path[4096] = "/proc/self/exe";

void rv_proc_set_runner(const char *path)
{
    snprintf(runner_path, sizeof runner_path, "%s", path);
}

typedef struct spawn_job {
    int fds[3]; /* memfd, to_proc, to_host */
    char *const *argv;
    char *const *envp;
    pid_t pid;
    int err, done;
    struct spawn_job *next;
} spawn_job;

static struct {
    pthread_once_t once;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    spawn_job *queue;
    int ok;
} spawner = {PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};

static int spawn_now(spawn_job *j)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int hi[3] = {-1, -1, -1}, rc;
    /* Above the targets first, so that no dup2 overwrites a source. */
    for (int i = 0; i < 3; i++)
        if ((hi[i] = fcntl(j->fds[i], F_DUPFD_CLOEXEC, 10)) < 0) {
            rc = errno;
            goto out;
        }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    for (int i = 0; i < 3; i++)
        posix_spawn_file_actions_adddup2(&fa, hi[i], 3 + i);
    posix_spawn_file_actions_addclosefrom_np(&fa, 6);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&dfl, sigs[i]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    /* its own process group: a terminal's Ctrl-C reaches the host, which
     * drains and then stops its models */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    rc = posix_spawn(&j->pid, runner_path, &fa, &at, j->argv, j->envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
out:
    for (int i = 0; i < 3; i++)
        if (hi[i] >= 0)
            close(hi[i]);
    return rc;
}

static void *spawner_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&spawner.lock);
    for (;;) {
        while (!spawner.queue)
            pthread_cond_wait(&spawner.cond, &spawner.lock);
        spawn_job *j = spawner.queue;
        spawner.queue = j->next;
        pthread_mutex_unlock(&spawner.lock);
        int err = spawn_now(j);
        pthread_mutex_lock(&spawner.lock);
        j->err = err;
        j->done = 1;
        pthread_cond_broadcast(&spawner.cond);
    }
    return NULL;
}

/* A fork of the host (a test harness does it) has no spawning thread: the
 * child starts its own on first use. */
static void spawner_forget(void)
{
    pthread_mutex_init(&spawner.lock, NULL);
    pthread_cond_init(&spawner.cond, NULL);
    spawner.queue = NULL;
    spawner.ok = 0;
    spawner.once = (pthread_once_t)PTHREAD_ONCE_INIT;
}

static void spawner_start(void)
{
    static int registered;
    if (!registered++)
        pthread_atfork(NULL, NULL, spawner_forget);
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    /* every signal blocked: the children start from a clean mask anyway */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    spawner.ok = pthread_create(&t, &a, spawner_loop, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
}

static pid_t spawn_runner(rv_proc *p, char *err, size_t err_size)
{
    pthread_once(&spawner.once, spawner_start);
    if (!spawner.ok) {
        rv_errf(err, err_size, "cannot start the process spawner");
        return -1;
    }
    char parent[32];
    snprintf(parent, sizeof parent, "%ld", (long)getpid());
    char *argv[] = {runner_path, "model-runner", "--parent", parent, NULL};
    char **envp = environ;
#ifdef __SANITIZE_ADDRESS__
    /* RLIMIT_AS cannot bound a sanitized process (its shadow memory is
     * terabytes of reservations): the sanitizer's own RSS limit does, and
     * the leak checker cannot run under the sandbox (it needs ptrace). */
    char asan[1024];
    const char *prev = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%shard_rss_limit_mb=%u:detect_leaks=%d",
             prev ? prev : "", prev ? ":" : "", p->max_memory_mb ? p->max_memory_mb : 0,
             p->sandbox ? 0 : 1);
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **env2 = calloc(n_env + 2, sizeof *env2);
    if (!env2) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
            env2[k++] = environ[i];
    env2[k++] = asan;
    envp = env2;
#endif
    spawn_job j = {{p->ch.memfd, p->ch.to_proc, p->ch.to_host}, argv, envp, 0, 0, 0, NULL};
    pthread_mutex_lock(&spawner.lock);
    j.next = spawner.queue;
    spawner.queue = &j;
    pthread_cond_broadcast(&spawner.cond);
    while (!j.done)
        pthread_cond_wait(&spawner.cond, &spawner.lock);
    pthread_mutex_unlock(&spawner.lock);
#ifdef __SANITIZE_ADDRESS__
    free(env2);
#endif
    if (j.err) {
        rv_errf(err, err_size, "cannot start %s: %s", runner_path, strerror(j.err));
        return -1;
    }
    return j.pid;
}

/* ---- one incarnation ---- */

static void set_exit(rv_proc *p, const char *why)
{
    pthread_mutex_lock(&p->status_lock);
    rv_errf(p->last_exit, sizeof p->last_exit, "%s", why);
    p->last_exit_real_us = rv_real_us();
    pthread_mutex_unlock(&p->status_lock);
}

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
    send_init(p);
    pid_t pid = spawn_runner(p, err, err_size);
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

/* Waits for the answer to p->seq until deadline_ms (-1: only look). 1 when
 * it is there, 0 at the deadline, -1 when the process is gone without it. */
static int wait_answer(rv_proc *p, int64_t deadline_ms)
{
    for (;;) {
        if (atomic_load_explicit(&p->ch.h->ans_seq, memory_order_acquire) == p->seq)
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
        if (atomic_load_explicit(&p->ch.h->ans_seq, memory_order_acquire) == p->seq)
            return 1;
        if (fds[1].revents & (POLLIN | POLLHUP))
            return -1;
        if (n == 0 && (deadline_ms < 0 || rv_mono_ms() >= deadline_ms))
            return 0;
    }
}

/* How the process ended, from its pidfd (reaps it). */
static void exit_reason(rv_proc *p, char *out, size_t size)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED) != 0) {
        rv_errf(out, size, "ended (not reaped: %s)", strerror(errno));
        return;
    }
    if (si.si_code == CLD_EXITED)
        rv_errf(out, size, "exited with status %d", si.si_status);
    else {
        const char *abbrev = sigabbrev_np(si.si_status);
        rv_errf(out, size, "died: signal %d (SIG%s)", si.si_status, abbrev ? abbrev : "?");
    }
}

/* The one path by which a process is gone: kill it if it still runs, reap
 * it, say why, and schedule the restart. `why` overrides the exit reason
 * (a kill for a deadline). */
static void gone(rv_proc *p, const char *why)
{
    if (p->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
        struct pollfd f = {p->pidfd, POLLIN, 0};
        while (poll(&f, 1, 5000) < 0 && errno == EINTR)
            ;
        char how[128];
        exit_reason(p, how, sizeof how);
        char text[160];
        rv_errf(text, sizeof text, "%s", why ? why : how);
        set_exit(p, text);
        close(p->pidfd);
        p->pidfd = -1;
    }
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
    rv_warn("models", "%s instance %u: model process %s; restart in %lld ms", p->model, p->instance,
            p->last_exit, (long long)p->backoff_ms);
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

rv_proc_state rv_proc_tick(rv_proc *p)
{
    int st = atomic_load(&p->state);
    if (st == RV_PROC_LIVE) {
        struct pollfd f = {p->pidfd, POLLIN, 0};
        if (poll(&f, 1, 0) > 0)
            gone(p, NULL);
    } else if (st == RV_PROC_RESTARTING) {
        if (rv_mono_ms() >= p->next_start_ms) {
            char err[RV_ERR_SIZE];
            if (begin(p, err, sizeof err) != 0) {
                set_exit(p, err);
                gone(p, NULL);
            } else
                atomic_fetch_add(&p->restarts, 1);
        }
    } else if (st == RV_PROC_STARTING) {
        int r = wait_answer(p, -1);
        char err[RV_ERR_SIZE];
        if (r == 1 && take_init(p, err, sizeof err) == 0) {
            p->live_since_ms = rv_mono_ms();
            atomic_store(&p->state, RV_PROC_LIVE);
            rv_info("models", "%s instance %u: model process %d live again", p->model, p->instance,
                    (int)p->pid);
        } else if (r == 1) {
            char why[200];
            rv_errf(why, sizeof why, "restart failed: %s", err);
            gone(p, why);
        } else if (r == -1)
            gone(p, NULL);
        else if (rv_mono_ms() > p->start_deadline_ms)
            gone(p, "killed: create and warm took longer than 60 s");
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
    p->plugin = dup_or_empty(s->plugin);
    p->shown = dup_or_empty(s->shown);
    p->params = calloc(2 * s->n_params + 1, sizeof *p->params);
    p->features = calloc(s->n_features + 1, sizeof *p->features);
    int ok = p->model && p->plugin && p->shown && p->params && p->features;
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
            exit_reason(p, how, sizeof how);
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

/* Logs the ids of a batch a process was lost on: the poison candidates. */
static void log_batch(const rv_proc *p, const rv_request *const *reqs, size_t n)
{
    char ids[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof ids - 40; i++) {
        int w = snprintf(ids + len, sizeof ids - len, "%s%s", i ? ", " : "", reqs[i]->id);
        if (w < 0 || (size_t)w >= sizeof ids - len) {
            len = sizeof ids;
            break;
        }
        len += (size_t)w;
    }
    rv_warn("models", "%s instance %u: lost a batch of %zu (never sent again): %s%s", p->model,
            p->instance, n, ids, len >= sizeof ids - 40 ? " ..." : "");
}

void rv_proc_score(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                   rv_proc_emit_fn emit, void *emit_ctx)
{
    size_t i = 0;
    while (i < n) {
        if (rv_proc_tick(p) != RV_PROC_LIVE) {
            char why[RV_SLOT_ERROR_SIZE];
            pthread_mutex_lock(&p->status_lock);
            rv_errf(why, sizeof why, "model process restarting (last: %s)", p->last_exit);
            pthread_mutex_unlock(&p->status_lock);
            fail_range(res, i, n, why);
            return;
        }
        rv_chan_hdr *h = p->ch.h;
        h->op = RV_CHAN_SCORE;
        h->req_len = 0;
        size_t from = i;
        while (i < n && i - from < p->max_batch && rv_chan_put_request(&p->ch, reqs[i]) == 0)
            i++;
        if (i == from) { /* larger than the whole area */
            char why[RV_SLOT_ERROR_SIZE];
            rv_errf(why, sizeof why, "request of %zu bytes does not fit the model channel (%zu)",
                    rv_chan_request_size(reqs[i]), p->req_size);
            fail_range(res, i, i + 1, why);
            i++;
            continue;
        }
        h->n = (uint32_t)(i - from);
        h->ans_len = 0;
        h->n_emits = 0;
        atomic_store_explicit(&h->req_seq, ++p->seq, memory_order_release);
        rv_chan_wake(p->ch.to_proc);
        int r = wait_answer(p, rv_mono_ms() + p->max_score_ms);
        if (r != 1) {
            char why[160];
            if (r == 0)
                rv_errf(why, sizeof why,
                        "killed: score of %u requests took longer than max_score_ms (%u ms)", h->n,
                        p->max_score_ms);
            log_batch(p, reqs + from, i - from);
            gone(p, r == 0 ? why : NULL);
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
            long about = e.about < h->n ? (long)(from + e.about) : -1;
            emit(emit_ctx, about, e.stream, e.key, e.key_len, e.value, e.value_len);
        }
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
        exit_reason(p, how, sizeof how);
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
    pthread_mutex_unlock(&p->status_lock);
}
