/*
 * proc_internal.h - what the two halves of the host's side of a model
 * process share, and nothing outside host/modelproc/proc*.c may include:
 * the process's state, the lifecycle's (proc.c: spawn, watch, kill,
 * restart, warm-up) and the traffic's (proc_batch.c: a batch in, its
 * answers out).
 */
#ifndef RV_PROC_INTERNAL_H
#define RV_PROC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc_channel.h"
#include "proc.h"
#include "proc_poison.h"

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
    rv_feature_index *fx; /* parses the recent requests a restart warms up on */
    rv_proc_poison lost;  /* never sent again, in traffic or a warm-up */

    rv_proc_channel ch;
    pid_t pid;
    int pidfd;
    uint32_t seq;
    uint32_t collected; /* the last answer taken (the driving thread's) */
    int64_t start_deadline_ms, live_since_ms, next_start_ms, backoff_ms;
    /* WARMING: the set, the batch in flight [at, end), its deadline */
    rv_warmup_set warm;
    const rv_request **warm_batch;
    size_t warm_at, warm_end;
    int64_t warm_start_ms, batch_deadline_ms;

    _Atomic int state;
    atomic_uint_fast64_t restarts, exits;
    pthread_mutex_t status_lock; /* guards last_exit*, pid, nice, cpu */
    int nice;                    /* of every process started (rv_proc_set_nice) */
    int cpu;                     /* its first thread's, once live; -1: any (rv_proc_set_cpu) */
    char last_exit[160];
    int64_t last_exit_real_us;
    int last_exit_kind;
    pid_t last_pid;
};

/* The one path by which a process is gone: kill it if it still runs, reap
 * it, say why, and schedule the restart. `why` and `kind` (when not 0)
 * override the exit's own (a kill for a deadline, a failed restart). */
void rv_proc_gone(rv_proc *p, const char *why, int kind);
/* Keeps the requests of a batch a process was just lost on, with the
 * reason, so that none is sent to this model again, and logs their ids:
 * the poison candidates. */
void rv_proc_remember_lost(rv_proc *p, const rv_request *const *reqs, size_t n);

/* Writes reqs[from..n) into the request area, as many as fit and
 * max_batch allows, and sends them. Returns the end of the batch: from
 * when reqs[from] alone is larger than the area (nothing sent). */
size_t rv_proc_send_batch(rv_proc *p, const rv_request *const *reqs, size_t from, size_t n);
/* Waits for the answer to p->seq until deadline_ms (-1: only look). 1 when
 * it is there, 0 at the deadline, -1 when the process is gone without it. */
int rv_proc_wait_answer(rv_proc *p, int64_t deadline_ms);

#endif
