/*
 * streams.c - broker and client set-up. Must never hide a misconfiguration:
 * a bad kafka property or a partition mismatch stops the start with the
 * property or topic named.
 */
#include "streams.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rv_broker {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
};

rv_broker *rv_broker_start(int n_brokers, char *err, size_t err_size)
{
    rv_broker *b = calloc(1, sizeof *b);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char n[16], e[512];
    snprintf(n, sizeof n, "%d", n_brokers);
    if (!b || rd_kafka_conf_set(conf, "test.mock.num.brokers", n, e, sizeof e) ||
        rd_kafka_conf_set(conf, "log_level", "3", e, sizeof e)) {
        snprintf(err, err_size, "embedded broker: %s", b ? e : "out of memory");
        rd_kafka_conf_destroy(conf);
        free(b);
        return NULL;
    }
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!b->rk) {
        snprintf(err, err_size, "embedded broker: %s", e);
        rd_kafka_conf_destroy(conf);
        free(b);
        return NULL;
    }
    b->mc = rd_kafka_handle_mock_cluster(b->rk);
    if (!b->mc) {
        snprintf(err, err_size, "embedded broker: this librdkafka has no mock cluster");
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

int rv_broker_create_topic(rv_broker *b, const char *topic, int partitions, char *err,
                           size_t err_size)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->mc, topic, partitions, 1);
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(err, err_size, "cannot create topic %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void rv_broker_stop(rv_broker *b)
{
    if (!b)
        return;
    rd_kafka_destroy(b->rk);
    free(b);
}

rd_kafka_conf_t *rv_kafka_conf(const rv_config *cfg, const char *bootstrap, int producer,
                               char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, e, sizeof e) ||
        rd_kafka_conf_set(conf, "log_level", "4", e, sizeof e)) {
        snprintf(err, err_size, "kafka: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* Decisioning is latency-bound: batch for 1 ms, not librdkafka's 5. A
     * kafka: entry in the config overrides this. */
    if (producer && rd_kafka_conf_set(conf, "linger.ms", "1", e, sizeof e)) {
        snprintf(err, err_size, "kafka: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < cfg->streams.n_kafka; i++)
        if (rd_kafka_conf_set(conf, cfg->streams.kafka[i].key, cfg->streams.kafka[i].value, e,
                              sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, err_size, "%s: streams.kafka.%s: %s", cfg->path,
                     cfg->streams.kafka[i].key, e);
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

int rv_check_partitions(rd_kafka_t *rk, const rv_config *cfg, int timeout_ms, char *err,
                        size_t err_size)
{
    const char *names[3] = {cfg->streams.requests, cfg->streams.scores, cfg->streams.results};
    int counts[3];
    for (int i = 0; i < 3; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, names[i], NULL);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
        counts[i] = e ? -1 : partition_count(md, names[i]);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        if (counts[i] <= 0) {
            snprintf(err, err_size, "topic %s: no metadata (%s)", names[i],
                     e ? rd_kafka_err2str(e) : "topic missing or without partitions");
            return -1;
        }
    }
    for (int i = 1; i < 3; i++)
        if (counts[i] < counts[0]) {
            snprintf(err, err_size,
                     "topic %s has %d partitions but %s has %d: scores and results go to "
                     "the request's partition number, so they need at least as many",
                     names[i], counts[i], names[0], counts[0]);
            return -1;
        }
    return counts[0];
}
