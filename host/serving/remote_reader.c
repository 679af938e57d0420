/*
 * remote_reader.c - the remote scores reader's thread. It follows the
 * requests assignment by looking at it every 100 ms (not from the
 * rebalance callback, which must not wait on the broker).
 */
#include "remote_reader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "streams.h"

#define MAX_PARTITIONS 4096

/* A scores partition's state, as the input sees it (caught_up). */
enum { NOT_READ, CATCHING_UP, CAUGHT_UP };

struct rv_remote_reader {
    rd_kafka_t *rk, *requests;
    char *requests_topic, *scores_topic;
    rv_remote *remote;
    rv_generation *(*current)(void *);
    void *ctx;
    unsigned char have[MAX_PARTITIONS];
    int64_t end[MAX_PARTITIONS]; /* the partition's end when assigned: caught up there */
    atomic_uchar state[MAX_PARTITIONS];
    pthread_t thread;
    atomic_int stop;
};

/* Where a new partition is read from (`from`, in the list), and where it
 * ended then: the scores written for the requests backlog are before it. */
static void start_catching_up(rv_remote_reader *rr, int32_t p, int64_t from, int64_t end)
{
    rr->end[p] = end;
    atomic_store(&rr->state[p], from >= 0 && end > from ? CATCHING_UP : CAUGHT_UP);
}

/* A partition also counts as caught up once its read position passes its
 * end as assigned: the last records before it may never be delivered (a
 * transaction's marker, a record compacted away). */
static void catch_up_by_position(rv_remote_reader *rr)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < MAX_PARTITIONS; p++)
        if (atomic_load(&rr->state[p]) == CATCHING_UP)
            rd_kafka_topic_partition_list_add(l, rr->scores_topic, p);
    if (l->cnt > 0 && rd_kafka_position(rr->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].offset >= rr->end[l->elems[i].partition])
                atomic_store(&rr->state[l->elems[i].partition], CAUGHT_UP);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Assigns the scores partitions whose numbers the requests consumer owns
 * now, each new one from RV_REMOTE_LOOKBACK_MS ago; drops the others. */
static void sync_assignment(rv_remote_reader *rr)
{
    unsigned char want[MAX_PARTITIONS];
    if (rv_assigned_partitions(rr->requests, rr->requests_topic, want, MAX_PARTITIONS) != 0)
        return;
    rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(4),
                                    *drop = rd_kafka_topic_partition_list_new(4);
    int64_t since = rv_real_us() / 1000 - RV_REMOTE_LOOKBACK_MS;
    for (int p = 0; p < MAX_PARTITIONS; p++) {
        if (want[p] && !rr->have[p])
            rd_kafka_topic_partition_list_add(add, rr->scores_topic, p)->offset = since;
        else if (!want[p] && rr->have[p])
            rd_kafka_topic_partition_list_add(drop, rr->scores_topic, p);
    }
    if (add->cnt > 0) {
        /* the first offset at or after `since`; where there is none (or
         * the broker cannot tell, as the embedded one), the last
         * RV_REMOTE_LOOKBACK_RECORDS: too old ones are dropped as unknown */
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rr->rk, add, 5000);
        for (int i = 0; i < add->cnt; i++) {
            int32_t p = add->elems[i].partition;
            int64_t lo = 0, hi = -1;
            int known = rv_query_watermarks(rr->rk, rr->scores_topic, p, &lo, &hi, 5000) == 0;
            if (e || add->elems[i].offset < 0)
                add->elems[i].offset = !known ? RD_KAFKA_OFFSET_END
                                       : hi - lo > RV_REMOTE_LOOKBACK_RECORDS
                                           ? hi - RV_REMOTE_LOOKBACK_RECORDS
                                           : lo;
            /* an end not known: nothing to wait for (the input does not
             * hold its requests for scores that cannot be located) */
            start_catching_up(rr, p, add->elems[i].offset, known ? hi : -1);
        }
        rd_kafka_error_t *err = rd_kafka_incremental_assign(rr->rk, add);
        if (err) {
            rv_warn("remote", "cannot assign %s: %s", rr->scores_topic, rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        } else
            for (int i = 0; i < add->cnt; i++) {
                rr->have[add->elems[i].partition] = 1;
                rv_info("remote", "reading remote scores from %s [%d] at offset %lld",
                        rr->scores_topic, add->elems[i].partition, (long long)add->elems[i].offset);
            }
    }
    if (drop->cnt > 0) {
        rd_kafka_error_t *err = rd_kafka_incremental_unassign(rr->rk, drop);
        if (err) {
            rv_warn("remote", "cannot unassign %s: %s", rr->scores_topic,
                    rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        } else
            for (int i = 0; i < drop->cnt; i++) {
                rr->have[drop->elems[i].partition] = 0;
                atomic_store(&rr->state[drop->elems[i].partition], NOT_READ);
            }
    }
    rd_kafka_topic_partition_list_destroy(add);
    rd_kafka_topic_partition_list_destroy(drop);
    catch_up_by_position(rr);
}

/* Whether a record may be a remote model's: it names one (quoted). The
 * host's own score records, most of what it reads, are skipped unparsed. */
static int names_remote(const rv_generation *g, const void *value, size_t len)
{
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *m = g->models[i];
        if (!m->is_remote)
            continue;
        char quoted[300];
        int n = snprintf(quoted, sizeof quoted, "\"%s\"", m->name);
        if (n > 0 && (size_t)n < sizeof quoted && memmem(value, len, quoted, (size_t)n))
            return 1;
    }
    return 0;
}

static void *reader_loop(void *arg)
{
    rv_remote_reader *rr = arg;
    int64_t synced = 0;
    while (!atomic_load(&rr->stop)) {
        if (rv_mono_ms() - synced >= 100) {
            sync_assignment(rr);
            synced = rv_mono_ms();
        }
        rv_generation *g = rr->current(rr->ctx);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rr->rk, 20);
        for (int k = 0; m && k < 1000; k++) {
            int32_t p = m->partition;
            if (!m->err && p >= 0 && p < MAX_PARTITIONS && m->offset + 1 >= rr->end[p] &&
                atomic_load(&rr->state[p]) == CATCHING_UP)
                atomic_store(&rr->state[p], CAUGHT_UP);
            if (!m->err && g && m->payload && names_remote(g, m->payload, m->len))
                rv_remote_receive(rr->remote, g, m->payload, m->len, rv_mono_us());
            else if (!m->err)
                rv_remote_note(rr->remote, RV_REMOTE_IGNORED);
            rd_kafka_message_destroy(m);
            m = k + 1 < 1000 ? rd_kafka_consumer_poll(rr->rk, 0) : NULL;
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (g)
            rv_generation_unref(g);
        rv_remote_expire(rr->remote, rv_mono_us());
    }
    return NULL;
}

rv_remote_reader *rv_remote_reader_start(const rv_config *cfg, const char *bootstrap,
                                         rd_kafka_t *requests, rv_remote *remote,
                                         rv_generation *(*current)(void *), void *ctx, char *err,
                                         size_t err_size)
{
    rv_remote_reader *rr = calloc(1, sizeof *rr);
    char group[512], e[RV_ERR_SIZE];
    snprintf(group, sizeof group, "%s.remote-scores", cfg->service);
    if (!rr || !(rr->requests_topic = strdup(cfg->streams.requests)) ||
        !(rr->scores_topic = strdup(cfg->streams.scores))) {
        rv_errf(err, err_size, "out of memory");
        goto fail;
    }
    rr->rk = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_TAIL, group, NULL, 0, NULL, e, sizeof e);
    if (!rr->rk) {
        rv_errf(err, err_size, "remote scores: %s", e);
        goto fail;
    }
    rr->requests = requests;
    rr->remote = remote;
    rr->current = current;
    rr->ctx = ctx;
    if (pthread_create(&rr->thread, NULL, reader_loop, rr) != 0) {
        rv_errf(err, err_size, "cannot start the remote scores reader");
        rd_kafka_destroy(rr->rk);
        goto fail;
    }
    return rr;
fail:
    if (rr) {
        free(rr->requests_topic);
        free(rr->scores_topic);
    }
    free(rr);
    return NULL;
}

int rv_remote_reader_caught_up(rv_remote_reader *rr, int32_t partition)
{
    return partition >= 0 && partition < MAX_PARTITIONS &&
           atomic_load(&rr->state[partition]) == CAUGHT_UP;
}

void rv_remote_reader_stop(rv_remote_reader *rr)
{
    if (!rr)
        return;
    atomic_store(&rr->stop, 1);
    pthread_join(rr->thread, NULL);
    rd_kafka_consumer_close(rr->rk);
    rd_kafka_destroy(rr->rk);
    free(rr->requests_topic);
    free(rr->scores_topic);
    free(rr);
}
