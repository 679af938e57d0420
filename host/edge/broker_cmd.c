/*
 * broker_cmd.c - the standalone embedded broker. It keeps nothing across
 * restarts, and says so.
 */
#include "broker_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"
#include "signals.h"
#include "streams.h"

int rv_broker_main(int n_brokers, int partitions, char **topics, int n_topics)
{
    rv_signals_install();
    char err[RV_ERR_SIZE];
    rv_broker *b = rv_broker_start(n_brokers, err, sizeof err);
    if (!b) {
        fprintf(stderr, "rendezvous broker: %s\n", err);
        return 1;
    }
    /* --topic NAME or NAME:PARTITIONS */
    char **names = calloc((size_t)n_topics + 1, sizeof *names);
    int *parts = calloc((size_t)n_topics + 1, sizeof *parts);
    int rc = names && parts ? 0 : 1;
    for (int i = 0; i < n_topics && rc == 0; i++) {
        const char *colon = strrchr(topics[i], ':');
        names[i] = colon ? strndup(topics[i], (size_t)(colon - topics[i])) : strdup(topics[i]);
        parts[i] = colon ? atoi(colon + 1) : partitions;
        if (!names[i] || parts[i] <= 0) {
            fprintf(stderr, "rendezvous broker: bad --topic %s\n", topics[i]);
            rc = 2;
        }
    }
    if (rc == 0 && rv_broker_create_topics(b, (const char *const *)names, parts, (size_t)n_topics,
                                           err, sizeof err) != 0) {
        fprintf(stderr, "rendezvous broker: %s\n", err);
        rc = 1;
    }
    for (int i = 0; names && i < n_topics; i++)
        free(names[i]);
    free(names);
    free(parts);
    if (rc != 0) {
        rv_broker_stop(b);
        return rc;
    }
    printf("bootstrap=%s\n", rv_broker_bootstraps(b));
    fflush(stdout);
    rv_info("broker",
            "embedded broker with %d broker(s) up (in memory, keeps nothing "
            "across restarts); SIGTERM stops it",
            n_brokers);
    while (!rv_signals_stop())
        pause();
    rv_broker_stop(b);
    return 0;
}
