/*
 * streams.c - broker and client set-up. Must never hide a misconfiguration:
 * a bad kafka property or a partition mismatch stops the start with the
 * property or topic named.
 */
#include "streams.h"

#include "clock.h"
#include "errbuf.h"
#include "threads.h"

#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rv_broker {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
};

rv_broker *rv_broker_start(int n_brokers, char *err, size_t err_size)
{
    rv_broker *b = calloc(1, sizeof *b);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    /* A plain client owns the cluster. (Creating it through
     * test.mock.num.brokers instead makes topic creation stall for a
     * second now and then.) */
    if (!b || rd_kafka_conf_set(conf, "log_level", "3", e, sizeof e)) {
        rv_errf(err, err_size, "embedded broker: %s", b ? e : "out of memory");
        rd_kafka_conf_destroy(conf);
        free(b);
        return NULL;
    }
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!b->rk) {
        rv_errf(err, err_size, "embedded broker: %s", e);
        rd_kafka_conf_destroy(conf);
        free(b);
        return NULL;
    }
    b->mc = rd_kafka_mock_cluster_new(b->rk, n_brokers);
    if (!b->mc) {
        rv_errf(err, err_size, "embedded broker: cannot start the mock cluster");
        rd_kafka_destroy(b->rk);
        free(b);
        return NULL;
    }
    return b;
}

const char *rv_broker_bootstraps(const rv_broker *b)
{
    return rd_kafka_mock_cluster_bootstraps(b->mc);
}

typedef struct create_job {
    rv_broker *b;
    const char *topic;
    int partitions;
    rd_kafka_resp_err_t err;
    pthread_t thread;
} create_job;

static void *create_one(void *arg)
{
    create_job *j = arg;
    j->err = rd_kafka_mock_topic_create(j->b->mc, j->topic, j->partitions, 1);
    return NULL;
}

int rv_broker_create_topics(rv_broker *b, const char *const *topics, const int *partitions,
                            size_t n, char *err, size_t err_size)
{
    /* librdkafka 2.0's mock cluster now and then misses the wake-up of a
     * topic creation and serves it a second later; creating the topics in
     * parallel keeps start-up at one such second at most. */
    create_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (create_job){b, topics[i], partitions[i], 0, 0};
        if (pthread_create(&jobs[i].thread, NULL, create_one, &jobs[i]) != 0)
            create_one(&jobs[i]), jobs[i].thread = 0;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].thread)
            pthread_join(jobs[i].thread, NULL);
        if (jobs[i].err && jobs[i].err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && rc == 0) {
            rv_errf(err, err_size, "cannot create topic %s: %s", topics[i],
                    rd_kafka_err2str(jobs[i].err));
            rc = -1;
        }
    }
    free(jobs);
    return rc;
}

rd_kafka_mock_cluster_t *rv_broker_mock(rv_broker *b)
{
    return b->mc;
}

void rv_broker_stop(rv_broker *b)
{
    if (!b)
        return;
    rd_kafka_mock_cluster_destroy(b->mc);
    rd_kafka_destroy(b->rk);
    free(b);
}

/* A property whose value is a file's content (a final newline dropped).
 * The value is a secret: it is never put in a message, and its copies are
 * wiped once librdkafka has its own. */
static int set_from_file(rd_kafka_conf_t *conf, const rv_config *cfg, const rv_kv *kv, char *err,
                         size_t err_size)
{
    char value[4096], e[512];
    FILE *f = fopen(kv->value, "r");
    size_t n = f ? fread(value, 1, sizeof value, f) : 0;
    int failed = !f || ferror(f) || n == sizeof value;
    if (f)
        fclose(f);
    if (failed) {
        rv_errf(err, err_size, "%s: streams.kafka_files.%s: cannot read %s%s", cfg->path, kv->key,
                kv->value, n == sizeof value ? ": over 4 KiB" : "");
        explicit_bzero(value, sizeof value);
        return -1;
    }
    while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == '\r'))
        n--;
    value[n] = 0;
    int rc = rd_kafka_conf_set(conf, kv->key, value, e, sizeof e) == RD_KAFKA_CONF_OK ? 0 : -1;
    explicit_bzero(value, sizeof value);
    if (rc)
        rv_errf(err, err_size, "%s: streams.kafka_files.%s: %s", cfg->path, kv->key, e);
    return rc;
}

rd_kafka_conf_t *rv_kafka_conf(const rv_config *cfg, const char *bootstrap, int producer, char *err,
                               size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, e, sizeof e) ||
        rd_kafka_conf_set(conf, "log_level", "4", e, sizeof e)) {
        rv_errf(err, err_size, "kafka: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* Defaults that a kafka: entry in the config overrides:
     * - producers batch for 1 ms, not librdkafka's 5: decisioning is
     *   latency-bound;
     * - a consumer's fetch waits up to fetch.wait.max.ms for data, and the
     *   embedded broker does not end that wait when data arrives, so a lone
     *   request would sit up to 500 ms: 10 ms, at a few fetches per second
     *   more;
     * - a consumer's session is 6 s (the least a Kafka broker accepts by
     *   default, group.min.session.timeout.ms), not 45 s, so that a host
     *   killed -9 and restarted gets its partitions back in seconds. Set
     *   group.instance.id for static membership;
     * - a consumer prefetches at most 16 MiB, not 64: at
     *   rendezvous.max_in_flight the input stops reading and this queue
     *   holds what the broker sent meanwhile, so it bounds the memory. */
    static const char *const producer_defaults[] = {"linger.ms", "1", NULL};
    static const char *const consumer_defaults[] = {"fetch.wait.max.ms",
                                                    "10",
                                                    "session.timeout.ms",
                                                    "6000",
                                                    "heartbeat.interval.ms",
                                                    "2000",
                                                    "queued.max.messages.kbytes",
                                                    "16384",
                                                    NULL};
    for (const char *const *d = producer ? producer_defaults : consumer_defaults; *d; d += 2)
        if (rd_kafka_conf_set(conf, d[0], d[1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            rv_errf(err, err_size, "kafka: %s", e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    for (size_t i = 0; cfg && i < cfg->streams.n_kafka_files; i++)
        if (set_from_file(conf, cfg, &cfg->streams.kafka_files[i], err, err_size) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    for (size_t i = 0; cfg && i < cfg->streams.n_kafka; i++)
        if (rd_kafka_conf_set(conf, cfg->streams.kafka[i].key, cfg->streams.kafka[i].value, e,
                              sizeof e) != RD_KAFKA_CONF_OK) {
            rv_errf(err, err_size, "%s: streams.kafka.%s: %s", cfg->path, cfg->streams.kafka[i].key,
                    e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    return conf;
}

static int partition_count(const rd_kafka_metadata_t *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            return md->topics[i].err ? -1 : md->topics[i].partition_cnt;
    return -1;
}

int rv_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int n = -1;
    if (t && rd_kafka_metadata(rk, 0, t, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = partition_count(md, topic);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

rd_kafka_resp_err_t rv_query_watermarks(rd_kafka_t *rk, const char *topic, int32_t p, int64_t *lo,
                                        int64_t *hi, int timeout_ms)
{
    int64_t until = rv_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = until - rv_mono_ms();
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, left > 0 ? (int)left : 1);
        int settling = e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                       e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                       e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                       e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
        if (!settling || rv_mono_ms() + 100 >= until)
            return e;
        rv_sleep_ms(100);
    }
}

/* Assigns every partition of topic to rk, from its current end or, when
 * ends is not NULL, from its start, with each partition's current end in
 * (*ends)[p] (allocated). The partition count, or -1 with err. */
static int assign_all(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t **ends, char *err,
                      size_t err_size)
{
    rd_kafka_resp_err_t e;
    int parts = rv_topic_partitions(rk, topic, timeout_ms);
    if (parts <= 0) {
        rv_errf(err, err_size, "topic %s does not exist or has no partitions", topic);
        return -1;
    }
    int64_t *hi_of = ends ? calloc((size_t)parts, sizeof *hi_of) : NULL;
    if (ends && !hi_of) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        int64_t lo = 0, hi = 0;
        e = rv_query_watermarks(rk, topic, p, &lo, &hi, timeout_ms);
        if (e) {
            rv_errf(err, err_size, "topic %s [%d]: cannot read its end offset: %s", topic, p,
                    rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(l);
            free(hi_of);
            return -1;
        }
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = ends ? lo : hi;
        if (ends)
            hi_of[p] = hi;
    }
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        rv_errf(err, err_size, "topic %s: assign failed: %s", topic, rd_kafka_err2str(e));
        free(hi_of);
        return -1;
    }
    if (ends)
        *ends = hi_of;
    return parts;
}

int rv_assign_from_end(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                       size_t err_size)
{
    return assign_all(rk, topic, timeout_ms, NULL, err, err_size);
}

int rv_assign_whole(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t **ends, char *err,
                    size_t err_size)
{
    return assign_all(rk, topic, timeout_ms, ends, err, err_size);
}

static rd_kafka_resp_err_t background_thread(rd_kafka_t *rk, rd_kafka_thread_type_t type,
                                             const char *name, void *opaque)
{
    (void)rk, (void)type, (void)name, (void)opaque;
    return rv_threads_nice(gettid(), RV_BACKGROUND_NICE) == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
                                                              : RD_KAFKA_RESP_ERR__FAIL;
}

static rd_kafka_resp_err_t background_client(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                             void *opaque, char *errstr, size_t errstr_size)
{
    (void)conf, (void)opaque, (void)errstr, (void)errstr_size;
    return rd_kafka_interceptor_add_on_thread_start(rk, "rv-background", background_thread, NULL);
}

void rv_kafka_conf_background(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_interceptor_add_on_new(conf, "rv-background", background_client, NULL);
}

int rv_assigned_partitions(rd_kafka_t *rk, const char *topic, unsigned char *owned, int max)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return -1;
    memset(owned, 0, (size_t)max);
    for (int i = 0; i < l->cnt; i++)
        if (!strcmp(l->elems[i].topic, topic) && l->elems[i].partition >= 0 &&
            l->elems[i].partition < max)
            owned[l->elems[i].partition] = 1;
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}

rd_kafka_t *rv_consumer_new(const rv_config *cfg, const char *bootstrap, rv_consumer_kind kind,
                            const char *group, const char *topic, int timeout_ms,
                            const rv_group_callbacks *cb, char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rv_kafka_conf(cfg, bootstrap, 0, err, err_size);
    if (!conf)
        return NULL;
    const char *settings[][2] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
    };
    char e[RV_ERR_SIZE];
    size_t n = sizeof settings / sizeof *settings;
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], e, sizeof e) !=
            RD_KAFKA_CONF_OK) {
            rv_errf(err, err_size, "consumer %s: %s", group, e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    if (kind == RV_CONSUMER_GROUP && cb) {
        if (cb->rebalance)
            rd_kafka_conf_set_rebalance_cb(conf, cb->rebalance);
        if (cb->committed)
            rd_kafka_conf_set_offset_commit_cb(conf, cb->committed);
        rd_kafka_conf_set_opaque(conf, cb->opaque);
    }
    if (cb && cb->background) {
        rv_kafka_conf_background(conf);
        if (rd_kafka_conf_set(conf, "fetch.wait.max.ms", "500", e, sizeof e) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "fetch.min.bytes", "1048576", e, sizeof e) !=
                RD_KAFKA_CONF_OK) {
            rv_errf(err, err_size, "consumer %s: %s", group, e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        rv_errf(err, err_size, "cannot create consumer %s: %s", group, e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (kind == RV_CONSUMER_GROUP) {
        rd_kafka_poll_set_consumer(rk);
        return rk;
    }
    if (topic && rv_assign_from_end(rk, topic, timeout_ms, e, sizeof e) < 0) {
        rv_errf(err, err_size, "%s", e);
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}
