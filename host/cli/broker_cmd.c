/*
 * broker_cmd.c - the standalone embedded broker. It keeps nothing across
 * restarts, and says so. Fault commands arrive on standard input, one per
 * line, and each is answered on standard output once applied.
 */
#include "broker_cmd.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_faults.h"
#include "errbuf.h"
#include "log.h"
#include "signals.h"
#include "streams.h"

/* Reads fault commands from standard input until a stop signal; at the end
 * of input (a broker started in the background) only waits for the signal. */
static void serve_commands(rv_broker *b, int n_brokers)
{
    char line[1024];
    size_t len = 0;
    int open = 1;
    while (!rv_signals_stop()) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (!open || poll(&p, 1, 200) <= 0) {
            if (!open)
                pause();
            continue;
        }
        ssize_t r = read(STDIN_FILENO, line + len, sizeof line - 1 - len);
        if (r <= 0) {
            open = r < 0 && (errno == EINTR || errno == EAGAIN);
            continue;
        }
        len += (size_t)r;
        char *start = line, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - line)))) {
            *nl = '\0';
            char reply[600];
            if (rv_broker_fault(b, n_brokers, start, reply, sizeof reply) <= 0) {
                printf("%s\n", reply);
                fflush(stdout);
            }
            start = nl + 1;
        }
        len -= (size_t)(start - line);
        memmove(line, start, len);
        if (len == sizeof line - 1) { /* a line longer than any command */
            printf("error: line longer than %zu bytes\n", sizeof line - 1);
            fflush(stdout);
            len = 0;
        }
    }
}

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
    serve_commands(b, n_brokers);
    rv_broker_stop(b);
    return 0;
}
