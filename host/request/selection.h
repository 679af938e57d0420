/*
 * selection.h - the rendezvous rule (docs/design.md, 4. Selection), as a pure
 * function of the schedule's state and the elapsed time, so that it can be
 * tested exhaustively apart from threads and clocks.
 *
 * The chosen answer is that of the first schedule entry, in order, that has
 * an ok answer in hand, provided every entry before it is resolved: it
 * answered with an error, was shed, or its within_ms has passed.
 */
#ifndef RV_SELECTION_H
#define RV_SELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "slot.h"

/* Why a result carries the answer it carries. */
typedef enum {
    RV_REASON_PREFERRED, /* the first schedule entry's answer */
    RV_REASON_FALLBACK,  /* a later entry's answer */
    RV_REASON_DEFAULT,   /* no entry answered ok: the default answer, or an error */
    RV_REASON_EXPIRED,   /* older than input.max_age_ms when read: the default, unscored */
    RV_REASON_DIRECT,    /* a direct call (rv-model): the answer of the model it named */
    RV_REASON_COUNT
} rv_reason;

const char *rv_reason_name(rv_reason r);

/* The reason for a decision that chose schedule position `chosen` (-1:
 * none). */
static inline rv_reason rv_reason_of(int chosen)
{
    return chosen < 0 ? RV_REASON_DEFAULT : chosen == 0 ? RV_REASON_PREFERRED : RV_REASON_FALLBACK;
}

typedef struct rv_selection {
    int decided;        /* 1: chosen or default; 0: wait */
    int chosen;         /* schedule position, -1 when no entry answered ok */
    int64_t wake_at_us; /* when not decided: elapsed time of the next deadline */
} rv_selection;

/* status[i] and within_ms[i] describe schedule entry i. */
rv_selection rv_select(const rv_slot_status *status, const uint32_t *within_ms, size_t n,
                       int64_t elapsed_us);

#endif
