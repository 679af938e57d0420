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
#include "stats.h"
#include "streams.h"
#include "watch.h"

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
    rv_reloader *reloader;
    rv_watch *watch;
    rv_http *http;
    rv_colocate colocate;     /* the preferred model's path on one CPU at low load */
    pthread_mutex_t gen_lock; /* for readers off the control loop (http) */
} daemon_state;

#endif
