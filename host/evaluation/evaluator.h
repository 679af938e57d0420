/*
 * evaluator.h - the live evaluation in the host: a thread reading the
 * scores, results and labels streams into evaluation/evaluation.h (see it
 * for what is joined and measured). Started when the config has an
 * evaluation section.
 */
#ifndef RV_EVALUATOR_H
#define RV_EVALUATOR_H

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "evaluation.h"

typedef struct rv_evaluator rv_evaluator;

/* Opens the store under <state_dir>/evaluation and starts reading. With
 * requests (the host's requests consumer), it is the host's: it reads the
 * labels of that consumer's partitions, and the host tells it its answers
 * (rv_evaluation_tap on rv_evaluator_evaluation) and its deliveries
 * (rv_evaluator_delivered); NULL: a role of its own (`rendezvous
 * evaluate`), reading every stream in a group. NULL with err set. */
rv_evaluator *rv_evaluator_start(const rv_config *cfg, const char *bootstrap, rd_kafka_t *requests,
                                 char *err, size_t err_size);
/* A record the host delivered (an rv_delivery_watch_fn; ctx the evaluator). */
void rv_evaluator_delivered(void *ctx, const char *topic, int32_t partition, int64_t offset);
/* Commits what was read and stops. */
void rv_evaluator_stop(rv_evaluator *v);
/* In the host: before the requests consumer it follows is closed. From
 * then on the labels read stay those of the partitions it had. */
void rv_evaluator_unfollow(rv_evaluator *v);
/* For the HTTP side: snapshots and counts (thread-safe). */
rv_evaluation *rv_evaluator_evaluation(rv_evaluator *v);
/* Its promotion decider, NULL without a promotion section (promoter.h). */
typedef struct rv_promoter rv_promoter;
rv_promoter *rv_evaluator_promoter(rv_evaluator *v);

#endif
