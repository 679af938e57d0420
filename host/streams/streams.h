/*
 * streams.h - the Kafka side: the embedded broker (librdkafka's mock
 * cluster, real Kafka protocol on loopback ports, in memory), client
 * configuration from the config's streams section, and assigning whole
 * topics (topics.h checks the topics a service needs).
 */
#ifndef RV_STREAMS_H
#define RV_STREAMS_H

#include <librdkafka/rdkafka.h>

#include "config.h"

typedef struct rv_broker rv_broker;

/* Starts an embedded broker of n_brokers brokers. It keeps nothing across
 * restarts. */
rv_broker *rv_broker_start(int n_brokers, char *err, size_t err_size);
const char *rv_broker_bootstraps(const rv_broker *b);
/* Creates topics[i] with partitions[i] partitions (the embedded broker
 * does not serve the Admin API); existing ones are left alone. 0, or -1
 * with err. */
int rv_broker_create_topics(rv_broker *b, const char *const *topics, const int *partitions,
                            size_t n, char *err, size_t err_size);
void rv_broker_stop(rv_broker *b);
/* The mock cluster itself, for fault injection (rdkafka_mock.h). */
struct rd_kafka_mock_cluster_s *rv_broker_mock(rv_broker *b);

/* A client configuration: bootstrap servers, our defaults for a producer
 * or a consumer, then the config's kafka: map as is (it wins; cfg may be
 * NULL). NULL with err on a bad property. */
rd_kafka_conf_t *rv_kafka_conf(const rv_config *cfg, const char *bootstrap, int producer, char *err,
                               size_t err_size);

/* Every thread of a client made from conf runs at nice
 * RV_BACKGROUND_NICE: for work that must not slow serving. (SCHED_IDLE
 * was measured worse: a starved thread holding a lock the request path
 * needs, the kernel's or the allocator's, stalls it.) */
#define RV_BACKGROUND_NICE 10
void rv_kafka_conf_background(rd_kafka_conf_t *conf);

/* How a consumer reads. */
typedef enum {
    /* In the consumer group `group`, offsets committed by the host only
     * (never automatically), from the earliest offset when none is
     * committed: the requests consumer. */
    RV_CONSUMER_GROUP,
    /* Every partition of one topic assigned from its current end, in no
     * group (`group` is only a name librdkafka wants; nothing is ever
     * committed under it): the control stream and the gateway's replies.
     * With no topic, nothing is assigned: the caller assigns (the remote
     * scores reader). */
    RV_CONSUMER_TAIL,
} rv_consumer_kind;

/* A group consumer's callbacks (either may be NULL), served by its poll;
 * `background` applies to a tail consumer too. */
typedef struct rv_group_callbacks {
    void (*rebalance)(rd_kafka_t *, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t *, void *);
    /* the outcome of an asynchronous commit */
    void (*committed)(rd_kafka_t *, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t *, void *);
    void *opaque;
    /* work that must not slow serving: the consumer's threads at nice
     * RV_BACKGROUND_NICE (rv_kafka_conf_background), and its fetches in
     * large batches (up to 1 MiB or 500 ms), fewer for the broker to
     * answer */
    int background;
} rv_group_callbacks;

/* The partitions of topic that consumer rk is assigned now, as
 * owned[p] = 1 for p < max (owned zeroed first). -1 when the assignment
 * cannot be read. Those that follow the requests consumer's assignment
 * (the remote scores reader, the evaluation in the host) ask it this. */
int rv_assigned_partitions(rd_kafka_t *rk, const char *topic, unsigned char *owned, int max);

/* The one way the host makes a consumer: rv_kafka_conf(), then the settings
 * of its kind, every return code checked. For RV_CONSUMER_GROUP, cb (may be
 * NULL) is set and the main queue is redirected to the consumer's; for
 * RV_CONSUMER_TAIL, `topic` is assigned (waiting up to timeout_ms for its
 * metadata). NULL with the reason in err. */
rd_kafka_t *rv_consumer_new(const rv_config *cfg, const char *bootstrap, rv_consumer_kind kind,
                            const char *group, const char *topic, int timeout_ms,
                            const rv_group_callbacks *cb, char *err, size_t err_size);

/* Assigns every partition of topic to rk (no group) from its current end,
 * resolved now: OFFSET_END would be resolved at the first fetch, and a
 * record written before that would be skipped. Returns the partition
 * count, or -1 with err. */
int rv_assign_from_end(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                       size_t err_size);

/* Assigns every partition of topic to rk (no group) from its start, and
 * gives each partition's current end offset in (*ends)[p] (free it): read
 * up to those ends, a consumer has read the whole topic as it was. Returns
 * the partition count, or -1 with err. */
int rv_assign_whole(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t **ends, char *err,
                    size_t err_size);

/* The partition count of topic (metadata asked for up to timeout_ms), or
 * -1. */
int rv_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms);

/* A partition's low and high watermarks, asked again (for up to
 * timeout_ms) while the answer says the cluster is still settling: on a
 * real cluster a topic just created, or whose leader just moved, answers
 * "not leader" until its metadata has spread. */
rd_kafka_resp_err_t rv_query_watermarks(rd_kafka_t *rk, const char *topic, int32_t p, int64_t *lo,
                                        int64_t *hi, int timeout_ms);

#endif
