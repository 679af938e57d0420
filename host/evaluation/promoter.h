/*
 * promoter.h - promotion by evidence (the config's promotion section): the
 * live evaluation's decider. Each challenger (every model but the first of
 * the schedule, the canary and the decoy) races the champion (the first) on
 * the labelled requests both answered, as alerting/promotion.h decides; a
 * challenger that wins, whose answers were errors no more often than
 * max_error_rate, whose requests were shed no more often than
 * max_shed_rate and whose latency p99 is within the champion's within_ms,
 * no sooner than cooldown_s after the last change, is promoted: a record on
 * the alerts stream (`"type": "promotion"`), and with mode apply the control
 * record that puts it first. For hold_s after, the model it replaced races
 * it back (margin 0) and is put back if found better (rollback). Every
 * decision, applied or not, is a record and is listed by GET
 * /v1/promotions.
 *
 * One decider acts: the evaluator that reads partition 0 of the labels
 * (the hosts' evaluators follow the requests' partitions; `rendezvous
 * evaluate`'s members split them), on the labels it reads. It follows the
 * schedule of the config and the changes it makes itself.
 *
 * Thread: the evaluator's (joined() from the evaluation's commit, decide()
 * from its report); json() from any thread.
 */
#ifndef RV_PROMOTER_H
#define RV_PROMOTER_H

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "evaluation.h"
#include "jsonw.h"

typedef struct rv_promoter rv_promoter;

/* For cfg's promotion section (NULL without one, or out of memory: err
 * says which), feeding on ev's joins. Records go out on `out`. */
rv_promoter *rv_promoter_new(const rv_config *cfg, rv_evaluation *ev, rd_kafka_t *out, char *err,
                             size_t err_size);
void rv_promoter_free(rv_promoter *p);

/* At a report: the looks due, and what they decide, when `reader` (the
 * evaluator's consumer) reads partition 0 of the labels. */
void rv_promoter_decide(rv_promoter *p, rd_kafka_t *reader, int64_t now_ms);

/* GET /v1/promotions: the races and the decisions so far (the last 64). */
void rv_promoter_json(rv_promoter *p, rv_jw *w);

#endif
