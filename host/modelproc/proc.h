/*
 * proc.h - one model instance in a process of its own: the same
 * binary re-executed in the model-runner role (proc_runner.h), fed through a
 * channel (proc_channel.h), watched through a pidfd, and restarted with backoff
 * when it dies.
 *
 * The host decides when a process is gone: it exited or was killed (the
 * pidfd says so at once), or a score call outran max_score_ms (the host's
 * clock says so, and kills it). Either way the batch in flight gets status
 * error with the reason and is never sent again; the next calls answer
 * "restarting" at once until a new process has been created and warmed.
 * Backoff: 100 ms, doubling to 30 s, back to 100 ms after a minute alive.
 *
 * Thread: one rv_proc is driven by one thread at a time (its worker), but
 * for rv_proc_send (below); the state fields are atomics so that
 * /v1/models can read them from another.
 */
#ifndef RV_PROC_H
#define RV_PROC_H

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "proc_spawn.h"
#include "recent.h"
#include "rendezvous_plugin.h"

typedef enum {
    RV_PROC_STARTING,   /* spawned, creating and warming */
    RV_PROC_LIVE,       /* answering */
    RV_PROC_RESTARTING, /* dead, waiting out its backoff */
    RV_PROC_WARMING,    /* restarted: scoring recent requests before traffic */
} rv_proc_state;

const char *rv_proc_state_name(rv_proc_state s);

typedef struct rv_proc rv_proc;

/* What a process is started from; copied. */
typedef struct rv_proc_spec {
    const char *model;   /* model name, for messages */
    const char *version; /* the model's version, for messages */
    const char *plugin;  /* the private copy to dlopen */
    const char *shown;   /* the plugin as configured, for messages */
    const rv_kv *params;
    size_t n_params;
    const char *const *features;
    size_t n_features;
    uint32_t instance;
    uint32_t max_batch;
    uint32_t max_body_bytes; /* sizes the channel */
    uint32_t max_score_ms;
    uint32_t max_memory_mb;
    int sandbox; /* 1: strict */
    /* A restarted process scores up to warmup_requests recent requests
     * (rv_proc_set_recent) before it takes traffic, for at most
     * warmup_budget_ms. */
    uint32_t warmup_requests, warmup_budget_ms;
} rv_proc_spec;

/* Where a record the plugin emitted goes: about is the batch index of the
 * request it is about, or -1. */
typedef int (*rv_proc_emit_fn)(void *ctx, long about, const char *stream, const void *key,
                               size_t key_len, const void *value, size_t value_len);

/* The runner binary: /proc/self/exe unless set (test programs set the
 * rendezvous binary). Call before any process starts. */
void rv_proc_set_runner(const char *path);

/* Starts a process, waits (up to 60 s) for its create and warm, and
 * returns it live with its labels in *labels (the caller frees the array
 * and each string). NULL with the reason in err. */
rv_proc *rv_proc_start(const rv_proc_spec *spec, char ***labels, uint32_t *n_labels, char *err,
                       size_t err_size);

/* Scores reqs[0..n) (split into batches of max_batch that fit the
 * channel) and fills every res[i] as a plugin's score() would, with the
 * reason as a request's error when it has none: the plugin's failed call,
 * "model process died: signal 11 (SIGSEGV)", "model process killed: score
 * ... took longer than max_score_ms", "model process restarting (...)", or
 * a request too large for the channel. Emitted records go to emit before
 * it returns. Advances a restart that is due. */
void rv_proc_score(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                   rv_proc_emit_fn emit, void *emit_ctx);

/* The hand-off that spares a wake-up: the thread that drives p, once it
 * has taken the last answers, or another thread while the driving thread
 * waits in rv_proc_idle_wait (and only then, under the caller's own lock),
 * may send reqs[0..n) to a live process as its next batch.
 * Returns how many went (as many as fit one batch), 0 when none did: the
 * process is not live, or a request of the batch is one a process was lost
 * on (rv_proc_score filters those). The driving thread then takes the
 * answers with rv_proc_collect, as rv_proc_score would. */
size_t rv_proc_send(rv_proc *p, const rv_request *const *reqs, size_t n);
void rv_proc_collect(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                     rv_proc_emit_fn emit, void *emit_ctx);

/* The driving thread's wait for work: returns when wake_fd (an eventfd)
 * is written, the process answers a batch sent by rv_proc_send (an answer
 * already taken does not wake it), or after
 * timeout_ms; 1 when woken, 0 at the timeout or when the process ended
 * (rv_proc_tick then restarts it). */
int rv_proc_idle_wait(rv_proc *p, int wake_fd, int timeout_ms);

/* The nice value of p's process, now and of every restart: 0, or the
 * errno when the running process could not take it (p keeps the value it
 * had). Any thread. */
int rv_proc_set_nice(rv_proc *p, int nice);

/* Keeps the process's first thread (the one that scores) on CPU cpu, or
 * (cpu < 0) lets what was kept there run on every CPU of `all` again (the
 * threads it started meanwhile too). A restarted process gets it once it
 * is live. 0, or the errno of the first that failed. */
int rv_proc_set_cpu(rv_proc *p, int cpu, const cpu_set_t *all);

/* What the running process's first thread has asked of a CPU so far
 * (rv_threads_demand_ns; 0 while there is none). */
unsigned long long rv_proc_demand_ns(rv_proc *p);

/* Where a restart's warm-up takes its requests from (never one of a batch
 * a process was lost on); recent must outlive p. Call before p is
 * scored: rv_workers_start does. */
void rv_proc_set_recent(rv_proc *p, rv_recent *recent);

/* Advances a restart without a batch (the worker calls it while idle):
 * reaps a process that died, starts one whose backoff is over, takes a
 * started one live. Returns the state. */
rv_proc_state rv_proc_tick(rv_proc *p);

/* Stops the process (SIGTERM, SIGKILL after grace_ms), reaps it and frees. */
void rv_proc_stop(rv_proc *p, int grace_ms);

/* For /v1/models and /metrics; any thread. */
typedef struct rv_proc_status {
    rv_proc_state state;
    pid_t pid;                 /* 0 when none */
    uint64_t restarts;         /* processes started after the first */
    char last_exit[160];       /* "signal 11 (SIGSEGV)", "" before any */
    int64_t last_exit_real_us; /* wall clock of the last exit, 0 before any */
    int last_exit_kind;        /* RV_PROC_EXIT_* or a signal, 0 before any */
    pid_t last_pid;            /* the process that ended last, 0 before any */
    uint64_t exits;            /* processes that ended (each one restarts) */
} rv_proc_status;
void rv_proc_get_status(rv_proc *p, rv_proc_status *out);

/* The count of processes that ended, and the state, without a lock: for a
 * worker that looks for changes after every batch. */
uint64_t rv_proc_exits(rv_proc *p);
rv_proc_state rv_proc_state_now(rv_proc *p);

#endif
