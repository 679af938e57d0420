/*
 * topics_cmd.c - `rendezvous topics -c FILE [-b BROKERS] [--create]`. Only
 * reads unless --create is given, and then only creates what is missing:
 * it never changes a topic that exists.
 */
#include "topics_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "streams.h"
#include "topics.h"

static const char *const rule_words[] = {
    [RV_PARTS_ANY] = "any",
    [RV_PARTS_AT_LEAST] = ">= requests",
    [RV_PARTS_SAME] = "= requests",
};

static void print_table(FILE *out, const rv_topic_need *need, size_t n, const rv_topic_found *found)
{
    fprintf(out, "  %-32s %-16s %-11s %-12s %s\n", "topic", "role", "partitions", "replication",
            "partitions needed");
    for (size_t i = 0; i < n; i++) {
        char parts[32], repl[32];
        if (found[i].partitions < 0) {
            snprintf(parts, sizeof parts, "missing");
            snprintf(repl, sizeof repl, "-");
        } else {
            snprintf(parts, sizeof parts, "%d", found[i].partitions);
            snprintf(repl, sizeof repl, "%d", found[i].replication);
        }
        fprintf(out, "  %-32s %-16s %-11s %-12s %s (%s)\n", need[i].name, need[i].role, parts, repl,
                i == 0 ? "any" : rule_words[need[i].rule], need[i].use);
    }
}

/* The cluster's broker count, or 0 when it does not answer. */
static int broker_count(rd_kafka_t *rk)
{
    const rd_kafka_metadata_t *md = NULL;
    if (rd_kafka_metadata(rk, 0, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || !md)
        return 0;
    int n = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

int rv_topics_main(const rv_config_env *env, int argc, char **argv)
{
    const char *file = NULL, *brokers = NULL;
    int create = 0, replication = 0, bad = 0;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"brokers", required_argument, 0, 'b'},
                                         {"create", no_argument, 0, 'C'},
                                         {"replication", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:", opts, NULL)) != -1) {
        if (c == 'c')
            file = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'C')
            create = 1;
        else if (c != 'r' || (replication = atoi(optarg)) <= 0)
            bad = 1;
    }
    if (bad || !file || optind != argc) {
        fprintf(stderr, "usage: rendezvous topics -c FILE [-b BROKERS] [--create] "
                        "[--replication N]\n");
        return 2;
    }
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(file, env, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    if (!cfg)
        return 2;
    rv_topic_need need[RV_TOPICS_MAX];
    rv_topic_found found[RV_TOPICS_MAX];
    size_t n = rv_topics_needed(cfg, 0, need);
    if (!brokers)
        brokers = cfg->streams.brokers;
    if (strcmp(brokers, "embedded") == 0) {
        printf("service %s: streams.brokers is embedded, where the host creates these topics "
               "itself (%u partitions each); give -b BROKERS to check a cluster:\n",
               cfg->service, cfg->streams.partitions);
        for (size_t i = 0; i < n; i++)
            printf("  %-32s %s\n", need[i].name, need[i].role);
        rv_config_free(cfg);
        return 0;
    }
    char err[RV_ERR_SIZE];
    int rc = 1;
    rv_cluster_trouble trouble;
    rd_kafka_t *rk = rv_topics_client(cfg, brokers, &trouble, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rendezvous topics: %s\n", err);
        goto out;
    }
    if (rv_topics_find(rk, need, n, 10000, &trouble, found, err, sizeof err) != 0) {
        fprintf(stderr, "rendezvous topics: %s\n", err);
        goto out;
    }
    int nodes = broker_count(rk);
    printf("service %s on %s (%d broker(s)):\n", cfg->service, brokers, nodes);
    print_table(stdout, need, n, found);
    if (create) {
        if (!replication)
            replication = nodes < 3 ? (nodes > 0 ? nodes : 1) : 3;
        if (rv_topics_create(rk, need, n, found, (int)cfg->streams.partitions, replication, 30000,
                             stdout, err, sizeof err) != 0 ||
            rv_topics_find(rk, need, n, 10000, &trouble, found, err, sizeof err) != 0) {
            fprintf(stderr, "rendezvous topics: %s\n", err);
            goto out;
        }
    }
    if (rv_topics_verdict(need, n, found, file, err, sizeof err) < 0) {
        fprintf(stderr, "rendezvous topics: %s\n", err);
        goto out;
    }
    printf("%s: every topic is there and fits\n", file);
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    rv_config_free(cfg);
    return rc;
}
