/*
 * sites.h - what a site reads of another site's streams, mirrored here by
 * MirrorMaker 2 (docs/sites.md): the checkpoints that translate a consumer
 * group's committed offsets there into offsets of the mirrored topic here,
 * the ids of the requests answered there, and its heartbeats, a sign of
 * life through the mirror. Reads only: never writes a mirrored topic.
 */
#ifndef RV_SITES_H
#define RV_SITES_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "idset.h"

/* One MirrorMaker 2 checkpoint (Checkpoint.java): group's committed offset
 * of topic's partition there (upstream) and the offset here it translates
 * to (downstream); topic is the mirrored topic's name here. */
typedef struct rv_checkpoint {
    char group[256], topic[256];
    int32_t partition;
    int64_t upstream, downstream;
} rv_checkpoint;

/* A checkpoint record's key and value (Kafka's protocol encoding: strings
 * as an int16 length and bytes, integers big-endian; the value starts with
 * an int16 version, 0). 0, or -1 when they are not one. */
int rv_checkpoint_decode(const void *key, size_t key_len, const void *value, size_t value_len,
                         rv_checkpoint *cp);

/* The downstream offsets of group's checkpoints for topic, from
 * <site>.checkpoints.internal read to its end: out[p] for p < n is the last
 * one of partition p, -1 where there is none (all of them when that topic
 * does not exist here: said in the log). 0, or -1 with err. */
int rv_site_checkpoints(const rv_config *cfg, const char *bootstrap, const char *site,
                        const char *group, const char *topic, int64_t *out, int n, char *err,
                        size_t err_size);

/* Adds to ids the key of every record of topic up to its end, of those
 * whose header `header` is `value` when header is not NULL; none when
 * topic does not exist here (not mirrored yet: said in the log). The
 * count added, or -1 with err. */
long rv_site_answered(const rv_config *cfg, const char *bootstrap, const char *topic,
                      const char *header, const char *value, rv_idset *ids, char *err,
                      size_t err_size);

/* The other site's heartbeats, mirrored here (<site>.heartbeats), read
 * from their end on a thread of its own. */
typedef struct rv_site_watch rv_site_watch;
rv_site_watch *rv_site_watch_start(const rv_config *cfg, const char *bootstrap, const char *site,
                                   char *err, size_t err_size);
/* The site it watches. */
const char *rv_site_watch_site(const rv_site_watch *w);
/* Monotonic ms of the last heartbeat read, or of the start. */
int64_t rv_site_watch_last_ms(rv_site_watch *w);
/* The last heartbeat's age when it was read here: the mirror's lag from
 * that site (ms; -1 before the first). */
int64_t rv_site_watch_lag_ms(rv_site_watch *w);
/* What /metrics says of a peer site (rv_http_sources.sites). */
typedef struct rv_site_status {
    char site[64];
    double heartbeat_age_s; /* since its last heartbeat arrived here */
    double mirror_lag_s;    /* that heartbeat's age on arrival; < 0: none yet */
} rv_site_status;

/* The peer's live evaluation as it wrote it (<site>.<evaluation stream>,
 * mirrored here; docs/records.md): the last record of each source, window
 * and schedule version. Read from the topic's last records once it exists
 * here (looked for every few seconds), then as they arrive. */
typedef struct rv_site_figure {
    char source[64], window[16], version[64], schedule_version[64];
    int64_t time_ms; /* when the peer wrote it */
    uint64_t count;
    double accuracy, auc, log_loss, brier; /* NAN where the record has none */
} rv_site_figure;
#define RV_SITE_MAX_FIGURES 64
/* Up to max of them into out, in the order first read; the count. */
size_t rv_site_watch_figures(rv_site_watch *w, rv_site_figure *out, size_t max);
/* An evaluation record's figure. 0, or -1 when the bytes are not one. */
int rv_site_figure_decode(const void *value, size_t len, rv_site_figure *f);
void rv_site_watch_stop(rv_site_watch *w);

#endif
