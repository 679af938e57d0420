/*
 * evaluate_cmd.h - `rendezvous evaluate -c FILE`: the live evaluation as a
 * process of its own (evaluation.in_host: false in the hosts' config), so
 * that joining and measuring never take a host's CPU. It reads the scores,
 * results and labels streams in the group `<group>.evaluation`, like the
 * host's evaluation thread, and writes the same evaluation and alert
 * records; several of them split the partitions (range assignment keeps
 * each partition number's three streams together).
 */
#ifndef RV_EVALUATE_CMD_H
#define RV_EVALUATE_CMD_H

#include "config.h"

/* argv[0] is "evaluate". Exit status 0, 1 (runtime) or 2 (usage, config). */
int rv_evaluate_main(const rv_config_env *env, int argc, char **argv);

#endif
