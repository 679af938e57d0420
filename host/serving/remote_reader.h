/*
 * remote_reader.h - reads remote models' score records: the scores
 * partitions whose numbers are those of the requests partitions this host
 * owns (co-partitioned: a score goes to its request's partition number),
 * each from a little before it was assigned, so that a score written while
 * the partition changed hands is still joined. Runs while any remote model
 * is configured; ends the waits of remote.h that run out.
 */
#ifndef RV_REMOTE_READER_H
#define RV_REMOTE_READER_H

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "generation.h"
#include "remote.h"

/* How far back a newly assigned scores partition is read: by time, or
 * where the broker cannot look offsets up by time, by count. */
#define RV_REMOTE_LOOKBACK_MS 10000
#define RV_REMOTE_LOOKBACK_RECORDS 20000

typedef struct rv_remote_reader rv_remote_reader;

/* Follows the assignment of `requests` (the host's group consumer) on the
 * scores topic of cfg; current() gives a reference to the serving
 * generation (whose remote models are read). NULL with err. */
rv_remote_reader *rv_remote_reader_start(const rv_config *cfg, const char *bootstrap,
                                         rd_kafka_t *requests, rv_remote *remote,
                                         rv_generation *(*current)(void *), void *ctx, char *err,
                                         size_t err_size);
/* Whether the scores partition numbered like requests partition
 * `partition` is read up to where it ended when this host was assigned it:
 * from then on, the scores written for that partition's backlog are in
 * hand, and its requests can be read without their deadlines running out
 * while the reader catches up. 0 until then, and for a partition it does
 * not follow (yet). Any thread. */
int rv_remote_reader_caught_up(rv_remote_reader *rr, int32_t partition);
void rv_remote_reader_stop(rv_remote_reader *rr);

#endif
