/*
 * proc_poison.h - the requests a model's processes were lost on (a crash, a
 * kill at max_score_ms), with the reason, so that none of them is sent to
 * that model again: a poison request cannot crash a model twice. Keeps the
 * last RV_PROC_POISON_IDS; a lookup compares hashes first.
 *
 * Thread: the one that drives the model process (its worker).
 */
#ifndef RV_PROC_POISON_H
#define RV_PROC_POISON_H

#include <stddef.h>
#include <stdint.h>

#define RV_PROC_POISON_IDS 256

typedef struct rv_proc_poison {
    struct {
        uint64_t hash;
        char *id, *why;
    } e[RV_PROC_POISON_IDS];
    size_t next, n;
} rv_proc_poison;

/* Keeps id with why (copied; a copy that cannot be made is skipped). */
void rv_proc_poison_add(rv_proc_poison *ps, const char *id, const char *why);

/* Why a process was lost on a batch with id, or NULL. */
const char *rv_proc_poison_why(const rv_proc_poison *ps, const char *id);

void rv_proc_poison_clear(rv_proc_poison *ps);

#endif
