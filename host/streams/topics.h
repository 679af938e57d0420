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

#define RV_TOPICS_MAX 12
#define RV_TOPIC_NAME_MAX 256

typedef struct rv_topic_need {
    char name[RV_TOPIC_NAME_MAX];
    const char *role; /* requests, scores, results, archive, ... */
    rv_parts_rule rule;
    const char *use; /* what the service does with it, a few words */
} rv_topic_need;

/* The reply topic of a service's gateway (the HTTP gateway writes requests
 * that name it; the evaluator reads what is answered there). */
void rv_topics_reply_topic(const rv_config *cfg, char *out, size_t size);

/* The topics cfg needs, requests first. A scorer (`rendezvous scorer`)
 * needs only requests and scores. The count. */
size_t rv_topics_needed(const rv_config *cfg, int scorer, rv_topic_need out[RV_TOPICS_MAX]);

/* What the cluster has of one topic. */
typedef struct rv_topic_found {
    int partitions;  /* -1: no such topic, or not usable (see error) */
    int replication; /* of partition 0, 0 when unknown */
    char error[128]; /* why it is not usable (e.g. not authorized), "" when missing or fine */
} rv_topic_found;

/* Why a cluster does not answer, as its client saw it (an authentication
 * or TLS failure, a connection refused): "" until the client reports one. */
typedef struct rv_cluster_trouble {
    char why[256];
} rv_cluster_trouble;

/* A client to look topics up and create them with: a consumer (whose
 * metadata requests never create a topic) that keeps its broker errors in
 * *trouble (which must outlive it). NULL with err. */
rd_kafka_t *rv_topics_client(const rv_config *cfg, const char *bootstrap,
                             rv_cluster_trouble *trouble, char *err, size_t err_size);

/* Looks each needed topic up (waits up to timeout_ms for metadata); never
 * creates one, whatever the broker's auto-creation. 0, or -1 with err when
 * the cluster does not answer (err says why, from *trouble when the client
 * saw it: trouble may be NULL). */
int rv_topics_find(rd_kafka_t *rk, const rv_topic_need *need, size_t n, int timeout_ms,
                   const rv_cluster_trouble *trouble, rv_topic_found *found, char *err,
                   size_t err_size);

/* The host's start-up check: every topic cfg needs (a scorer's, with
 * scorer set) is there and fits. The requests topic's partition count, or
 * -1 with the whole story in err. */
int rv_topics_check(const rv_config *cfg, const char *bootstrap, int scorer, int timeout_ms,
                    char *err, size_t err_size);

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
