/*
 * poison.h - the requests a model's processes were lost on (a crash, a
 * kill at max_score_ms), with the reason, so that none of them is sent to
 * that model again: a poison request cannot crash a model twice. Keeps the
 * last RV_POISON_IDS; a lookup compares hashes first.
 *
 * Thread: the one that drives the model process (its worker).
 */
#ifndef RV_POISON_H
#define RV_POISON_H

#include <stddef.h>
#include <stdint.h>

#define RV_POISON_IDS 256

typedef struct rv_poison {
    struct {
        uint64_t hash;
        char *id, *why;
    } e[RV_POISON_IDS];
    size_t next, n;
} rv_poison;

/* Keeps id with why (copied; a copy that cannot be made is skipped). */
void rv_poison_add(rv_poison *ps, const char *id, const char *why);

/* Why a process was lost on a batch with id, or NULL. */
const char *rv_poison_why(const rv_poison *ps, const char *id);

void rv_poison_clear(rv_poison *ps);

#endif
