/*
 * broker_faults.h - fault commands for the embedded broker, one per line,
 * as `rendezvous broker` reads them from its standard input: brokers down
 * and up, round-trip time, partition leaders, and error responses pushed
 * on a request type (librdkafka's rdkafka_mock API).
 */
#ifndef RV_BROKER_FAULTS_H
#define RV_BROKER_FAULTS_H

#include <stddef.h>

#include "streams.h"

/* The commands, for usage text and for the reply to a bad one. */
#define RV_BROKER_FAULTS_USAGE                                                                     \
    "down ID|all, up ID|all, rtt ID|all MS, leader TOPIC PARTITION ID, "                           \
    "errors API COUNT CODE, clear API"

/* Applies one command line to b (n_brokers brokers, ids 1..n). Writes the
 * reply into reply: "ok <command>" once applied, "error: <why>" else.
 * Returns 0 when applied, -1 when not. A blank or # line is no command:
 * returns 1 and writes nothing. */
int rv_broker_fault(rv_broker *b, int n_brokers, const char *line, char *reply, size_t size);

#endif
