/*
 * broker_cmd.h - `rendezvous broker`: the embedded broker (librdkafka's mock
 * cluster) standalone, for tests, benchmarks and other processes.
 */
#ifndef RV_BROKER_CMD_H
#define RV_BROKER_CMD_H

/* Runs until SIGTERM; prints bootstrap=HOST:PORT first. Returns the exit
 * status. topics are NAME or NAME:PARTITIONS. */
int rv_broker_main(int n_brokers, int partitions, char **topics, int n_topics);

#endif
