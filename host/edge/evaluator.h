/*
 * evaluator.h - the live evaluation in the host: a thread reading the
 * scores, results and labels streams into pipeline/evaluation.h (see it
 * for what is joined and measured). Started when the config has an
 * evaluation section.
 */
#ifndef RV_EVALUATOR_H
#define RV_EVALUATOR_H

#include "config.h"
#include "evaluation.h"

typedef struct rv_evaluator rv_evaluator;

/* Opens the store under <state_dir>/evaluation and starts reading. NULL
 * with err set. */
rv_evaluator *rv_evaluator_start(const rv_config *cfg, const char *bootstrap, char *err,
                                 size_t err_size);
/* Commits what was read and stops. */
void rv_evaluator_stop(rv_evaluator *v);
/* For the HTTP side: snapshots and counts (thread-safe). */
rv_evaluation *rv_evaluator_evaluation(rv_evaluator *v);

#endif
