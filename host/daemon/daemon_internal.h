/*
 * daemon_internal.h - the serving process's state, the serve loop's
 * (daemon.c). Not for other files.
 *
 * Threads: the main thread runs the loop and the input (it owns input,
 * control, watch, reloader and swaps gen under gen_lock); the HTTP
 * threads read gen under gen_lock; the output's poll thread reports
 * deliveries to the commit tracker (its own lock).
 */
#ifndef RV_DAEMON_INTERNAL_H
#define RV_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "canary_monitor.h"
#include "colocate.h"
#include "commit_tracker.h"
#include "daemon.h"
#include "generation.h"
#include "http.h"
#include "input.h"
#include "output.h"
#include "pipeline.h"
#include "recent.h"
#include "remote.h"
#include "evaluator.h"
#include "remote_reader.h"
#include "reload.h"
#include "rendezvous.h"
#include "sites.h"
#include "stats.h"
#include "streams.h"
#include "watch.h"

/* The other sites (daemon_sites.c; the main thread's) */
typedef struct daemon_sites {
    rv_idset *answered;    /* requests another site answered: skipped; NULL: none */
    int64_t *start;        /* a takeover: per partition, the lost site's checkpoint */
    int n_start;           /* (-1: none, from the beginning); NULL: not a takeover */
    rv_site_watch *watch;  /* the lost site's heartbeats (--when-silent) */
    rv_site_watch **peers; /* each peer's heartbeats, for /metrics (site.peers) */
    size_t n_peers;
    int automatic;         /* taken over for their silence: ends when they are back */
    int64_t beating_since; /* monotonic ms: heartbeats again since; 0: silent */
} daemon_sites;

typedef struct daemon_state {
    const rv_serve_options *opts;
    rv_broker *broker;
    rv_output *output;
    rv_stats *stats;
    rv_canary_monitor *monitor;
    rv_rendezvous *rz;
    rv_recent *recent;
    rv_pipeline pipe;
    rv_generation *gen;
    rv_commit_tracker *tracker;
    rv_input *input;     /* the requests consumer and what it feeds */
    rd_kafka_t *control; /* every control record, no group */
    pthread_t watchdog;  /* bounds the shutdown (daemon.c) */
    int has_watchdog;
    struct timespec shutdown_until;  /* CLOCK_REALTIME */
    rv_remote *remote;               /* remote models' waits (remote.h) */
    rv_remote_reader *remote_reader; /* while any remote model is configured */
    rv_evaluator *evaluator;         /* with an evaluation section */
    char bootstrap[1024];
    int request_partitions; /* the requests topic's, checked at start */
    atomic_int started;     /* serve_start has returned (daemon.c's start-up guard) */
    daemon_sites sites;
    rv_reloader *reloader;
    rv_watch *watch;
    rv_http *http;
    rv_colocate colocate;     /* the preferred model's path on one CPU at low load */
    pthread_mutex_t gen_lock; /* for readers off the control loop (http) */
} daemon_state;

/* daemon_sites.c: the other sites. Before the input starts: an automatic
 * takeover's wait, what another site answered, the checkpoints. 0 or -1
 * (logged). */
int rv_sites_start(daemon_state *d, const rv_config *cfg);
/* Whether an automatic takeover's site is back (its heartbeats again). */
int rv_sites_back(daemon_state *d);
void rv_sites_stop(daemon_state *d);
/* rv_http_sources.sites, .site_figures and .skipped (any thread). */
size_t rv_sites_status(void *ctx, rv_site_status *out, size_t max);
size_t rv_sites_figures(void *ctx, const char *site, rv_site_figure *out, size_t max);
uint64_t rv_sites_skipped(void *ctx);

#endif
