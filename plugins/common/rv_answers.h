/*
 * rv_answers.h - helpers shared by the model plugins of this tree (not part
 * of the ABI): parameter lookup and "top answers, best first".
 */
#ifndef RV_ANSWERS_H
#define RV_ANSWERS_H

#include <string.h>

#include "rendezvous_plugin.h"

static inline const char *rv_param_get(const rv_create_args *args, const char *key)
{
    for (size_t i = 0; i < args->n_params; i++)
        if (strcmp(args->params[i].key, key) == 0)
            return args->params[i].value;
    return NULL;
}

/* Writes up to res->max_answers (label, probability) pairs, highest first;
 * ties keep label order, so the output is deterministic. */
static inline void rv_fill_top_answers(rv_result *res, const double *probs, size_t n)
{
    uint32_t k = 0;
    while (k < res->max_answers && k < n) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (uint32_t j = 0; j < k; j++)
                if (res->answers[j].label == i)
                    taken = 1;
            if (!taken && (best == n || probs[i] > probs[best]))
                best = i;
        }
        res->answers[k].label = (uint32_t)best;
        res->answers[k].score = probs[best];
        k++;
    }
    res->n_answers = k;
    res->status = RV_STATUS_OK;
}

#endif
