/*
 * topics.h - the topics a service needs: which, for what, with how many
 * partitions; what a cluster has of them; creating the missing ones. One
 * list, used by the host's start-up check, by the embedded broker's set-up
 * and by `rendezvous topics`. Never creates a topic unless asked to.
 */
#ifndef RV_TOPICS_H
#define RV_TOPICS_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "config.h"

/* How a topic's partitions must compare with the requests topic's. */
typedef enum {
    RV_PARTS_ANY,      /* written to any partition */
    RV_PARTS_AT_LEAST, /* written to the request's partition number */
    RV_PARTS_SAME,     /* joined by partition number (a remote model's scores) */
} rv_parts_rule;

#define RV_TOPICS_MAX 8
#define RV_TOPIC_NAME_MAX 256

typedef struct rv_topic_need {
    char name[RV_TOPIC_NAME_MAX];
    const char *role; /* requests, scores, results, archive, ... */
    rv_parts_rule rule;
    const char *use; /* what the service does with it, a few words */
} rv_topic_need;

/* The topics cfg needs, requests first. A scorer (`rendezvous scorer`)
 * needs only requests and scores. The count. */
size_t rv_topics_needed(const rv_config *cfg, int scorer, rv_topic_need out[RV_TOPICS_MAX]);

/* What the cluster has of one topic. */
typedef struct rv_topic_found {
    int partitions;  /* -1: no such topic (or no metadata: see error) */
    int replication; /* of partition 0, 0 when unknown */
    char error[128]; /* why there is no metadata, "" when there is */
} rv_topic_found;

/* Looks each needed topic up (waits up to timeout_ms for metadata); never
 * creates one, whatever the broker's auto-creation. 0, or -1 with err when
 * the cluster does not answer at all. */
int rv_topics_find(rd_kafka_t *rk, const rv_topic_need *need, size_t n, int timeout_ms,
                   rv_topic_found *found, char *err, size_t err_size);

/* What is wrong, all of it in one message naming each topic and how to fix
 * it: missing topics, too few (or, for a remote model's scores, other than
 * as many) partitions. Returns the requests topic's partition count when
 * all is well, else -1 with the message in err. */
int rv_topics_verdict(const rv_topic_need *need, size_t n, const rv_topic_found *found,
                      const char *config_path, char *err, size_t err_size);

/* Creates the missing ones through the Admin API (a real cluster): with as
 * many partitions as the requests topic has (or `partitions` when it is
 * missing too), `replication` replicas, and min.insync.replicas 2 when
 * replication is 3 or more. Says on out what it created. 0, or -1 with
 * err. */
int rv_topics_create(rd_kafka_t *rk, const rv_topic_need *need, size_t n,
                     const rv_topic_found *found, int partitions, int replication, int timeout_ms,
                     FILE *out, char *err, size_t err_size);

#endif
