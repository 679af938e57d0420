/*
 * pipeline_harness.h - what test_pipeline.c and test_pipeline_cpu.c share:
 * the pipeline the daemon starts between the broker and the input stage
 * (an embedded broker, the output, the rendezvous, a generation of the
 * models given), requests fed through it as input.c feeds them, and the
 * streams read back as a client reads them.
 */
#ifndef RV_PIPELINE_HARNESS_H
#define RV_PIPELINE_HARNESS_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "canary_monitor.h"
#include "config.h"
#include "generation.h"
#include "output.h"
#include "pipeline.h"
#include "rendezvous.h"
#include "stats.h"
#include "streams.h"

#define MAX_REQ 64

extern char *tmpdir;
extern rv_broker *broker;
extern char bootstrap[512];
extern rv_config *cfg;
extern rv_generation *gen;
extern rv_stats *stats;
extern rv_canary_monitor *monitor;
extern rv_output *output;
extern rv_rendezvous *rz;
extern rv_pipeline pipe_;
/* Requests released for good (their offset handed on for commit). */
extern atomic_int n_done;
extern atomic_int done_per_offset[MAX_REQ];

/* Starts everything the daemon starts between the broker and the input
 * stage, for a config whose models: and rendezvous: sections are given. */
void start(const char *models, const char *rendezvous);

/* Stops in the daemon's order: models first (their answers reach the
 * rendezvous), then the rendezvous, then the output (flushes). */
void stop(void);

/* A client config for the embedded broker with the given settings
 * (NULL-terminated name, value pairs). */
rd_kafka_conf_t *client_conf(const char *const *settings);

/* A consumer of partition 0 of topic from its beginning, in no group. */
rd_kafka_t *reader(const char *topic);

/* Reads up to max records of topic within timeout_ms; returns how many.
 * out[i] is the value as a string (the caller frees). */
int read_records(const char *topic, char **out, int max, int timeout_ms);

void free_records(char **r, int n);

/* Produces n requests {"x": i} with key (the id) r-<i>, and feeds them through the
 * input path: read back from the broker, parsed, opened, dispatched. Returns
 * the consumer they were read with, for feed_close (which waits until every
 * request is released: a message must be destroyed before its consumer). */
rd_kafka_t *feed_open(int n);

void feed_close(rd_kafka_t *rk);

void feed(int n);
/* >= 0: what feed makes are direct calls to that model (rv-model) */
extern int feed_direct;

/* Waits until every request fed has been released. */
void wait_done(int n);

/* Exactly one result per id r-0 .. r-(n-1), in results[]; each must
 * contain every string of want[] (NULL-terminated). */
void assert_one_result_each(char **results, int nres, int n, const char *const *want);

/* Feeds n requests and expects one result each, chosen from model as the
 * preferred one, within 10 s. */
void feed_expect_preferred(int n, const char *model);

int count_containing(char **r, int n, const char *s);

/* The id of this process's thread named `name` (/proc/self/task), waiting
 * up to 5 s for it to start; 0 when there is none. */
pid_t thread_named(const char *name);

#endif
