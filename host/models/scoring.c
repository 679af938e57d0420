/*
 * scoring.c - a batch through score(). Must never trust a plugin's answer
 * beyond what it declared: counts are clamped and label indexes checked.
 */
#include "scoring.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "errbuf.h"
#include "proc.h"

int rv_score_batch_init(rv_score_batch *b, size_t cap)
{
    *b = (rv_score_batch){.cap = cap};
    b->reqs = calloc(cap, sizeof *b->reqs);
    b->slots = calloc(cap, sizeof *b->slots);
    b->status = calloc(cap, sizeof *b->status);
    b->res = calloc(cap, sizeof *b->res);
    b->resp = calloc(cap, sizeof *b->resp);
    b->errors = calloc(cap, sizeof *b->errors);
    if (!b->reqs || !b->slots || !b->status || !b->res || !b->resp || !b->errors) {
        rv_score_batch_free(b);
        return -1;
    }
    return 0;
}

void rv_score_batch_free(rv_score_batch *b)
{
    free(b->reqs);
    free(b->slots);
    free(b->status);
    free(b->res);
    free(b->resp);
    free(b->errors);
    *b = (rv_score_batch){0};
}

typedef struct proc_emit_ctx {
    rv_model *m;
    rv_score_batch *b;
} proc_emit_ctx;

/* A record a model process emitted, on the scoring thread: to the model's
 * sink as if the plugin had called emit() here. */
static int proc_emit(void *ctx, long about, const char *stream, const void *key, size_t key_len,
                     const void *value, size_t value_len)
{
    proc_emit_ctx *c = ctx;
    if (!c->m->sink)
        return RV_OK;
    return c->m->sink->emit(c->m->sink->ctx, c->m, about >= 0 ? c->b->reqs[about] : NULL, stream,
                            key, key_len, value, value_len);
}

void rv_model_score(rv_model *m, void *instance, rv_score_batch *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rv_slot *s = b->slots[i];
        rv_slot_clear(s);
        b->errors[i][0] = '\0';
        b->res[i] = (rv_result){RV_STATUS_ERROR,    0, s->max_answers, s->answers, b->errors[i],
                                sizeof b->errors[i]};
        b->resp[i] = &b->res[i];
    }
    char err[RV_ERR_SIZE] = "";
    int rc = RV_OK;
    if (m->isolated) {
        proc_emit_ctx ctx = {m, b};
        if (b->sent)
            rv_proc_collect(instance, b->reqs, b->resp, n, proc_emit, &ctx);
        else
            rv_proc_score(instance, b->reqs, b->resp, n, proc_emit, &ctx);
    } else
        rc = m->module->desc->score(instance, b->reqs, b->resp, n, err, sizeof err);
    for (size_t i = 0; i < n; i++) {
        rv_slot *s = b->slots[i];
        int status = RV_SLOT_OK;
        if (rc != RV_OK) {
            rv_slot_set_error(s, "score failed (code %d): %s", rc, *err ? err : "no reason given");
            status = RV_SLOT_ERROR;
        } else if (b->res[i].status != RV_STATUS_OK) {
            b->errors[i][sizeof b->errors[i] - 1] = '\0'; /* the plugin's text */
            rv_slot_set_error(s, "%s", b->errors[i][0] ? b->errors[i] : "model gave no reason");
            status = RV_SLOT_ERROR;
        } else {
            uint32_t k = b->res[i].n_answers;
            s->n_answers = k > s->max_answers ? s->max_answers : k;
            for (uint32_t a = 0; a < s->n_answers; a++)
                if (!isfinite(s->answers[a].score)) {
                    /* a record cannot carry it, and no rule can rank it */
                    rv_slot_set_error(
                        s, "model answered a score that is not a finite number for label %u",
                        s->answers[a].label);
                    s->n_answers = 0;
                    status = RV_SLOT_ERROR;
                    break;
                } else if (s->answers[a].label >= m->n_labels) {
                    rv_slot_set_error(s, "model answered label index %u, it declared %u labels",
                                      s->answers[a].label, m->n_labels);
                    s->n_answers = 0;
                    status = RV_SLOT_ERROR;
                    break;
                }
        }
        if (status != RV_SLOT_OK)
            rv_model_set_last_error(m, rv_slot_error(s));
        b->status[i] = status;
    }
}
