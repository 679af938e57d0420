/*
 * scoring.h - one batch call of a model's score(), and what its answers
 * mean: the one place that turns a plugin's results into slots, for the
 * workers and for the warm-up on recent traffic alike.
 */
#ifndef RV_SCORING_H
#define RV_SCORING_H

#include <stddef.h>

#include "model.h"
#include "slot.h"

/* Arrays for batches of up to cap requests; one per thread that scores. */
typedef struct rv_score_batch {
    size_t cap;
    const rv_request **reqs; /* caller fills [0, n): the requests */
    rv_slot **slots;         /* caller fills [0, n): where answer i goes */
    int *status;             /* out: RV_SLOT_OK or RV_SLOT_ERROR per request */
    rv_result *res;
    rv_result **resp;
    char (*errors)[RV_SLOT_ERROR_SIZE]; /* what the plugin says of a failed request */
    int sent; /* caller sets: the n requests are in the model process already (rv_proc_send) */
} rv_score_batch;

/* 0, or -1 on out of memory (nothing left allocated). */
int rv_score_batch_init(rv_score_batch *b, size_t cap);
void rv_score_batch_free(rv_score_batch *b);

/* Calls score() once on instance for the first n requests of b (n <= cap)
 * and writes answer i into b->slots[i] (answers, n_answers, error; the slot
 * has its answers' room, max_answers, and its error text is replaced) and its
 * outcome into b->status[i]: a failed call, a request the plugin marked as
 * failed, or an answer with an undeclared label is an error with its
 * reason. The model's last_error follows. A slot's status field is not
 * touched: publishing the answer is the caller's. */
void rv_model_score(rv_model *m, void *instance, rv_score_batch *b, size_t n);

#endif
