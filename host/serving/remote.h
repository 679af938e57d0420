/*
 * remote.h - the join of remote models' answers. A remote model (`remote:
 * true`) is scored elsewhere — by `rendezvous scorer`, or any program that
 * writes the host's score record — and its answers come back on the scores
 * stream. Each request a remote model is to answer waits here, holding one
 * reference, until its score record arrives (then its slot is filled and
 * posted to the rendezvous like a worker's answer) or its wait ends (the
 * slot stays pending: a timeout). A score that arrives before its request
 * has been read (a scorer ahead of the host) is kept a while and joined
 * when the request comes.
 */
#ifndef RV_REMOTE_H
#define RV_REMOTE_H

#include <stdatomic.h>
#include <stdint.h>

#include "inflight.h"
#include "rendezvous.h"

/* How long a request waits past its generation's last deadline for a
 * remote answer, and how long an early score waits for its request. */
#define RV_REMOTE_GRACE_MS 1000
#define RV_REMOTE_EARLY_MS 30000
/* Early scores kept at most (the oldest go first). */
#define RV_REMOTE_EARLY_MAX 100000

/* What became of a score record read from the scores stream. */
typedef enum {
    RV_REMOTE_JOINED,  /* answered a waiting request before its decision */
    RV_REMOTE_LATE,    /* answered a waiting request already decided */
    RV_REMOTE_EARLY,   /* no such request yet: kept for a while */
    RV_REMOTE_UNKNOWN, /* dropped: its request was answered, or its wait ended */
    RV_REMOTE_IGNORED, /* not a remote model's (the host's own scores) */
    RV_REMOTE_INVALID, /* not a score record */
    RV_REMOTE_OUTCOMES
} rv_remote_outcome;

extern const char *const rv_remote_outcome_names[RV_REMOTE_OUTCOMES];

typedef struct rv_remote rv_remote;

rv_remote *rv_remote_new(rv_rendezvous *rz);
/* Ends every wait (each posted as a timeout) and frees r. */
void rv_remote_free(rv_remote *r);

/* Requests fs[0..n) wait for the answer of the model in slot `slot` of
 * their generation; one reference each is taken. Thread: the input. */
void rv_remote_expect(rv_remote *r, rv_inflight *const *fs, size_t n, size_t slot);

/* One score record (the value of a scores-stream record): joined to its
 * waiting request, kept as early, or dropped. `current` is the generation
 * serving now: only its remote models' scores are read. Thread: the scores
 * reader. */
rv_remote_outcome rv_remote_receive(rv_remote *r, const rv_generation *current, const void *value,
                                    size_t len, int64_t now_us);

/* Ends the waits that ran out by now_us (their slots stay pending) and
 * drops early scores past RV_REMOTE_EARLY_MS. */
void rv_remote_expire(rv_remote *r, int64_t now_us);

/* Requests waiting, and scores kept early, now. */
size_t rv_remote_waiting(rv_remote *r);
size_t rv_remote_early(rv_remote *r);

/* Outcome counts so far; note counts one not seen by rv_remote_receive. */
uint64_t rv_remote_count(rv_remote *r, rv_remote_outcome o);
void rv_remote_note(rv_remote *r, rv_remote_outcome o);

#endif
