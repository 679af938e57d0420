/*
 * topics_cmd.h - `rendezvous topics`: the topics a config needs, checked
 * against a cluster, and with --create, the missing ones created through
 * the Admin API. What an operator runs before the first start on a real
 * cluster, where nothing is created by using it.
 */
#ifndef RV_TOPICS_CMD_H
#define RV_TOPICS_CMD_H

#include "config.h"

/* argv[0] is "topics". The exit status: 0 when every topic is there and
 * fits, 1 when not (or the cluster cannot be reached), 2 on bad usage or
 * a bad config. */
int rv_topics_main(const rv_config_env *env, int argc, char **argv);

#endif
