/*
 * rate_cmd.h - `rendezvous rate`: the decoy's archive through a
 * candidate config's models, offline (no broker; model processes as when
 * serving), and a report per model: answers, latency, agreement with each
 * other model and with the canary, score-distribution shift against the
 * canary; with the requests' true labels, accuracy and AUC; with the
 * results recorded live, how often the candidate's schedule would have
 * chosen another model.
 */
#ifndef RV_RATE_CMD_H
#define RV_RATE_CMD_H

#include "config.h"

/* argv[0] is "rate". Returns the exit status: 0, 1 on a failure to read
 * or score, 2 on bad usage or config. */
int rv_rate_main(const rv_config_env *env, int argc, char **argv);

#endif
