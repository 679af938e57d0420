/*
 * proc_spawn.c - starting model processes. Never forks the threaded host: a
 * posix_spawn (vfork + exec) of the runner binary, from one thread that
 * lives as long as the host, since a child's PDEATHSIG follows the thread
 * that spawned it, not the process. Callers queue a job and wait for it.
 */
#include "proc_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errbuf.h"

extern char **environ;

static char runner_path[4096] = "/proc/self/exe";

void rv_proc_spawn_set_runner(const char *path)
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

pid_t rv_proc_spawn_runner(const int fds[3], const char *model, uint32_t instance,
                           uint32_t max_memory_mb, int sandbox, char *err, size_t err_size)
{
    pthread_once(&spawner.once, spawner_start);
    if (!spawner.ok) {
        rv_errf(err, err_size, "cannot start the process spawner");
        return -1;
    }
    char parent[32], inst[16], self[4096];
    snprintf(parent, sizeof parent, "%ld", (long)getpid());
    snprintf(inst, sizeof inst, "%u", instance);
    /* argv[0] the binary's own path and the model named, for ps */
    ssize_t n_self = strcmp(runner_path, "/proc/self/exe") == 0
                         ? readlink(runner_path, self, sizeof self - 1)
                         : -1;
    if (n_self > 0)
        self[n_self] = '\0';
    char *argv[] = {n_self > 0 ? self : runner_path,
                    "model-runner",
                    "--parent",
                    parent,
                    "--model",
                    (char *)model,
                    "--instance",
                    inst,
                    NULL};
    /* The host's environment, less what is the host's alone: the service
     * manager's socket and watchdog (a model may not speak for the host). */
    static const char *const own[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
#ifdef __SANITIZE_ADDRESS__
                                      "ASAN_OPTIONS=",
#endif
                                      NULL};
    size_t n_env = 0, k = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 2, sizeof *envp);
    if (!envp) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n_env; i++) {
        size_t o = 0;
        while (own[o] && strncmp(environ[i], own[o], strlen(own[o])) != 0)
            o++;
        if (!own[o])
            envp[k++] = environ[i];
    }
#ifdef __SANITIZE_ADDRESS__
    /* RLIMIT_AS cannot bound a sanitized process (its shadow memory is
     * terabytes of reservations): the sanitizer's own RSS limit does, and
     * the leak checker cannot run under the sandbox (it needs ptrace). */
    char asan[1024];
    const char *prev = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%shard_rss_limit_mb=%u:detect_leaks=%d",
             prev ? prev : "", prev ? ":" : "", max_memory_mb, sandbox ? 0 : 1);
    envp[k++] = asan;
#endif
    spawn_job j = {{fds[0], fds[1], fds[2]}, argv, envp, 0, 0, 0, NULL};
    pthread_mutex_lock(&spawner.lock);
    j.next = spawner.queue;
    spawner.queue = &j;
    pthread_cond_broadcast(&spawner.cond);
    while (!j.done)
        pthread_cond_wait(&spawner.cond, &spawner.lock);
    pthread_mutex_unlock(&spawner.lock);
    free(envp);
    if (j.err) {
        rv_errf(err, err_size, "cannot start %s: %s", runner_path, strerror(j.err));
        return -1;
    }
    return j.pid;
}

/* ---- reaping ---- */

static char signal_names[65][20];

static void name_signals(void)
{
    for (int i = 1; i < 65; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev)
            snprintf(signal_names[i], sizeof signal_names[i], "SIG%s", abbrev);
        else
            snprintf(signal_names[i], sizeof signal_names[i], "signal %d", i);
    }
}

const char *rv_proc_exit_kind_name(int kind)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    switch (kind) {
    case RV_PROC_EXIT_STATUS: return "exit";
    case RV_PROC_EXIT_DEADLINE: return "max_score_ms";
    case RV_PROC_EXIT_START: return "start";
    }
    if (kind < 1 || kind > 64)
        return "?";
    pthread_once(&once, name_signals);
    return signal_names[kind];
}

/* How the process ended, from its pidfd (reaps it): the words, and the
 * kind (its signal, or RV_PROC_EXIT_STATUS). */
int rv_proc_spawn_reap(int pidfd, char *out, size_t size)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) != 0) {
        rv_errf(out, size, "ended (not reaped: %s)", strerror(errno));
        return RV_PROC_EXIT_STATUS;
    }
    if (si.si_code == CLD_EXITED) {
        rv_errf(out, size, "exited with status %d", si.si_status);
        return RV_PROC_EXIT_STATUS;
    }
    rv_errf(out, size, "died: signal %d (%s)", si.si_status, rv_proc_exit_kind_name(si.si_status));
    return si.si_status >= 1 && si.si_status <= 64 ? si.si_status : RV_PROC_EXIT_STATUS;
}
