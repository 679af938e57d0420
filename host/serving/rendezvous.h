/*
 * rendezvous.h - the mailbox per request, the deadline timers and the
 * decision (selection.h), by one decider at a time: the rendezvous thread,
 * or a worker posting answers while no one else decides (rendezvous.c).
 * Sends exactly one result per
 * request, at the earliest moment the rule yields one; later answers are
 * recorded on the scores stream by the workers but never change a result.
 * When every model of a request has answered, the complete set goes to the
 * canary monitor and the rendezvous drops its reference.
 */
#ifndef RV_RENDEZVOUS_H
#define RV_RENDEZVOUS_H

#include <stdint.h>

#include "inflight.h"
#include "output.h"

typedef struct rv_rendezvous rv_rendezvous;
struct rv_canary_monitor;
struct rv_evaluation;
struct rv_stats;

/* With out NULL it decides but writes no result (`rendezvous scorer`). */
rv_rendezvous *rv_rendezvous_start(rv_output *out, struct rv_canary_monitor *monitor,
                                   struct rv_stats *stats);
/* The live evaluation to tell each result (and remote answer) as it is
 * sent; NULL: none. */
void rv_rendezvous_set_evaluation(rv_rendezvous *rz, struct rv_evaluation *e);
struct rv_evaluation *rv_rendezvous_evaluation(rv_rendezvous *rz);
/* Processes what is queued, then stops the thread. */
void rv_rendezvous_stop(rv_rendezvous *rz);

/* New requests: their clocks are running. Takes over the caller's
 * reference of each. Must be called before they are dispatched to any
 * model. */
void rv_rendezvous_open(rv_rendezvous *rz, rv_inflight *const *fs, size_t n);

/* A model's answer: it is in f->slots[slot]. */
typedef struct rv_answered {
    rv_inflight *f;
    size_t slot;
} rv_answered;

/* Answers are in; passes one reference of each. Decides them on the
 * calling thread when the decider is free, else leaves them to it (one
 * wake at most for the whole batch). */
void rv_rendezvous_post(rv_rendezvous *rz, const rv_answered *a, size_t n);

/* The same, never deciding on the calling thread: for a thread that runs
 * behind others (rv_workers_prioritize), which would hold every decision
 * up while preempted in the decider's role. The thread is woken at once
 * only for an answer that makes its request decidable; the others wait
 * for the next round, 2 ms at most (their request's release with them). */
void rv_rendezvous_post_behind(rv_rendezvous *rz, const rv_answered *a, size_t n);

#endif
