/*
 * passthrough.c - the limit the host is measured against: bare librdkafka,
 * no models, no parsing. Consumes each request and produces as many output
 * records as the host writes per request (--records K: K-1 to the scores
 * topic, then the result {"id": "<key>"} to the results topic, all to the
 * request's partition number), with the host's producer settings
 * (enable.idempotence, acks=all, linger.ms=1) and its consumer settings
 * (a group, manual commits, fetch.wait.max.ms=10, a 16 MiB prefetch
 * queue). A request's offset is committed, in offset order per partition
 * every 20 ms, once all of its records are acknowledged: the host's
 * delivery rule. At --max-in-flight unacknowledged requests it stops
 * consuming until some are acknowledged: the host's backpressure rule
 * (--pause: pause the partitions at the bound and resume at half, the rule
 * the host had before, kept to measure what it cost).
 *
 * By default the records are small (a score record ~50 bytes, the result
 * ~20). With --archive TOPIC, --score-bytes N and --result-bytes N it writes
 * the bytes the host writes: the record before the result is the request's
 * exact copy (key, value, its headers plus the five provenance headers) to
 * TOPIC, the others padded to N bytes, so the limit carries what the host's
 * producer carries.
 *
 * Runs until SIGTERM/SIGINT (or --max-seconds), then drains, commits and
 * prints a one-line summary on stderr.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define MAX_PARTITIONS 256

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig)
{
    stop_requested = sig;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request: outstanding deliveries; a FIFO per partition in offset order. */
typedef struct pending {
    struct pending *next;
    int64_t offset;
    int remaining;
    int failed;
} pending;

typedef struct fifo {
    pending *head, *tail;
} fifo;

static fifo queues[MAX_PARTITIONS];
static uint64_t in_flight, delivered_requests, delivery_failures;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk, (void)opaque;
    pending *p = msg->_private;
    if (!p)
        return;
    if (msg->err) {
        delivery_failures++;
        p->failed = 1; /* never committed: read again after a restart */
    }
    p->remaining--;
}

/* Commits, per partition, the offsets after the longest prefix of
 * fully-acknowledged requests. */
static void commit_done(rd_kafka_t *consumer, const char *topic, int sync)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int part = 0; part < MAX_PARTITIONS; part++) {
        fifo *q = &queues[part];
        int64_t next = -1;
        while (q->head && q->head->remaining == 0 && !q->head->failed) {
            pending *p = q->head;
            next = p->offset + 1;
            q->head = p->next;
            if (!q->head)
                q->tail = NULL;
            free(p);
            in_flight--;
            delivered_requests++;
        }
        if (next >= 0) {
            if (!l)
                l = rd_kafka_topic_partition_list_new(4);
            rd_kafka_topic_partition_list_add(l, topic, part)->offset = next;
        }
    }
    if (l) {
        rd_kafka_commit(consumer, l, !sync);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Logs the assignment (the scripts wait for it) and takes it. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        fprintf(stderr, "passthrough: assigned %d partition(s)\n", parts->cnt);
        rd_kafka_assign(rk, parts);
    } else {
        fprintf(stderr, "passthrough: revoked %d partition(s)\n", parts->cnt);
        rd_kafka_assign(rk, NULL);
    }
}

/* headers: NULL or owned by the record once produced */
static int produce(rd_kafka_t *rk, const char *topic, int32_t partition, const void *key,
                   size_t key_len, const void *value, size_t value_len, rd_kafka_headers_t *headers,
                   pending *p)
{
    int64_t give_up = mono_ms() + 30000;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY((void *)key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || mono_ms() > give_up) {
            fprintf(stderr, "passthrough: produce to %s: %s\n", topic, rd_kafka_err2str(e));
            if (headers)
                rd_kafka_headers_destroy(headers);
            return -1;
        }
        rd_kafka_poll(rk, 10);
    }
}

/* A JSON object of at least `want` bytes (up to the buffer): `body` is its
 * fields, padded with a "pad" string. */
static size_t padded(char *out, size_t size, const char *body, long want)
{
    int len = snprintf(out, size, "{%s}", body);
    long pad = want - len - 9; /* ,"pad":"" */
    if (pad > 0 && (size_t)want < size)
        len = snprintf(out, size, "{%s,\"pad\":\"%0*d\"}", body, (int)pad, 0);
    return (size_t)len;
}

/* The decoy's record: the request's own key, value and headers, with its
 * provenance added. */
static int produce_copy(rd_kafka_t *rk, const char *topic, const rd_kafka_message_t *m,
                        const char *id, size_t id_len, pending *p)
{
    rd_kafka_headers_t *own = NULL, *h;
    h = rd_kafka_message_headers(m, &own) == RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_headers_copy(own)
                                                                        : rd_kafka_headers_new(5);
    char num[32];
    rd_kafka_header_add(h, "rv-id", -1, id, (ssize_t)id_len);
    rd_kafka_header_add(h, "rv-topic", -1, rd_kafka_topic_name(m->rkt), -1);
    snprintf(num, sizeof num, "%d", (int)m->partition);
    rd_kafka_header_add(h, "rv-partition", -1, num, -1);
    snprintf(num, sizeof num, "%" PRId64, m->offset);
    rd_kafka_header_add(h, "rv-offset", -1, num, -1);
    snprintf(num, sizeof num, "%" PRId64, rd_kafka_message_timestamp(m, NULL));
    rd_kafka_header_add(h, "rv-timestamp", -1, num, -1);
    return produce(rk, topic, m->partition, m->key, m->key_len, m->payload, m->len, h, p);
}

static void usage(FILE *out)
{
    fputs("usage: passthrough -b BOOTSTRAP --requests TOPIC --scores TOPIC --results TOPIC\n"
          "                   [--records K] [--group G] [--max-in-flight N] [--max-seconds S]\n"
          "  --records K        output records per request, the last is the result (default 6)\n"
          "  --max-in-flight N  stop consuming at N unacknowledged requests (default 10000,\n"
          "                     as the host)\n"
          "  --pause            at the bound, pause the partitions (resume at half) instead\n"
          "  --archive TOPIC    the record before the result: the request's exact copy\n"
          "                     with provenance headers, to TOPIC (needs --records >= 2)\n"
          "  --score-bytes N    score records padded to N bytes (default: unpadded)\n"
          "  --result-bytes N   the result padded to N bytes (default: unpadded)\n",
          out);
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "passthrough: %s: %s\n", k, err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *bootstrap = NULL, *requests = NULL, *scores = NULL, *results = NULL,
               *group = "passthrough", *archive = NULL;
    long records = 6, max_in_flight = 10000, score_bytes = 0, result_bytes = 0;
    int pause_rule = 0;
    double max_seconds = 3600;
    static const struct option longs[] = {{"requests", 1, 0, 'q'},
                                          {"scores", 1, 0, 's'},
                                          {"results", 1, 0, 'r'},
                                          {"records", 1, 0, 'k'},
                                          {"group", 1, 0, 'g'},
                                          {"max-in-flight", 1, 0, 'm'},
                                          {"max-seconds", 1, 0, 't'},
                                          {"help", 0, 0, 'h'},
                                          {"pause", 0, 0, 'p'},
                                          {"archive", 1, 0, 'a'},
                                          {"score-bytes", 1, 0, 'S'},
                                          {"result-bytes", 1, 0, 'R'},
                                          {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:h", longs, NULL)) != -1) {
        switch (c) {
        case 'b': bootstrap = optarg; break;
        case 'q': requests = optarg; break;
        case 's': scores = optarg; break;
        case 'r': results = optarg; break;
        case 'k': records = atol(optarg); break;
        case 'g': group = optarg; break;
        case 'm': max_in_flight = atol(optarg); break;
        case 'p': pause_rule = 1; break;
        case 't': max_seconds = atof(optarg); break;
        case 'a': archive = optarg; break;
        case 'S': score_bytes = atol(optarg); break;
        case 'R': result_bytes = atol(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!bootstrap || !requests || !scores || !results || records < 1 || records > 1000 ||
        max_in_flight < 1 || (archive && records < 2)) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char err[512];
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    if (set(pc, "bootstrap.servers", bootstrap) || set(pc, "enable.idempotence", "true") ||
        set(pc, "acks", "all") || set(pc, "linger.ms", "1") || set(pc, "log_level", "4"))
        return 2;
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!prod) {
        fprintf(stderr, "passthrough: producer: %s\n", err);
        return 1;
    }
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    if (set(cc, "bootstrap.servers", bootstrap) || set(cc, "group.id", group) ||
        set(cc, "enable.auto.commit", "false") || set(cc, "enable.auto.offset.store", "false") ||
        set(cc, "auto.offset.reset", "earliest") || set(cc, "fetch.wait.max.ms", "10") ||
        set(cc, "queued.max.messages.kbytes", "16384") || set(cc, "log_level", "4"))
        return 2;
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!cons) {
        fprintf(stderr, "passthrough: consumer: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(cons);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, requests, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(cons, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se) {
        fprintf(stderr, "passthrough: subscribe %s: %s\n", requests, rd_kafka_err2str(se));
        return 1;
    }
    fprintf(stderr, "passthrough: serving %s -> %s (%ld records per request%s)\n", requests,
            results, records, archive ? ", one an exact copy" : "");

    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(cons);
    rd_kafka_message_t *msgs[1000];
    int64_t end = mono_ms() + (int64_t)(max_seconds * 1000), last_commit = mono_ms();
    uint64_t consumed = 0, produced = 0;
    int paused = 0, failed = 0;
    char value[4096], body[512], idbuf[256];
    int full_read = 0, wake_next = 0;
    while (!stop_requested && !failed && mono_ms() < end) {
        /* backpressure as the host: stop consuming at the bound */
        int blocked = !pause_rule && in_flight >= (uint64_t)max_in_flight;
        if (blocked)
            rd_kafka_poll(prod, 1); /* delivery reports: the only way below */
        if (pause_rule && !paused && in_flight >= (uint64_t)max_in_flight) {
            rd_kafka_topic_partition_list_t *a = NULL;
            if (!rd_kafka_assignment(cons, &a) && a) {
                rd_kafka_pause_partitions(cons, a);
                rd_kafka_topic_partition_list_destroy(a);
                paused = 1;
            }
        } else if (pause_rule && paused && in_flight <= (uint64_t)max_in_flight / 2) {
            rd_kafka_topic_partition_list_t *a = NULL;
            if (!rd_kafka_assignment(cons, &a) && a) {
                rd_kafka_resume_partitions(cons, a);
                rd_kafka_topic_partition_list_destroy(a);
                paused = 0;
            }
        }
        size_t room = pause_rule ? 1000 : (size_t)((uint64_t)max_in_flight - in_flight);
        size_t want = room < 1000 ? room : 1000;
        ssize_t n = blocked ? 0 : rd_kafka_consume_batch_queue(q, paused ? 1 : 20, msgs, want);
        /* as the host's input: a drained full prefetch queue wakes the
         * fetcher, which librdkafka 2.0 leaves asleep up to 1 s */
        if (n > 0 && (size_t)n == want)
            full_read = 1;
        else if (n <= 0 && full_read && !blocked && !paused) {
            rd_kafka_topic_partition_list_t *a = NULL;
            if (!rd_kafka_assignment(cons, &a) && a) {
                if (a->cnt > 0) {
                    const rd_kafka_topic_partition_t *p = &a->elems[wake_next++ % a->cnt];
                    int64_t lo, hi;
                    rd_kafka_query_watermark_offsets(cons, p->topic, p->partition, &lo, &hi, 100);
                }
                rd_kafka_topic_partition_list_destroy(a);
            }
            full_read = 0;
        }
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "passthrough: consumer: %s\n", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            if (m->partition < 0 || m->partition >= MAX_PARTITIONS) {
                fprintf(stderr, "passthrough: partition %d out of range\n", m->partition);
                rd_kafka_message_destroy(m);
                failed = 1;
                continue;
            }
            const char *topic = rd_kafka_topic_name(m->rkt);
            size_t id_len;
            if (m->key && m->key_len < sizeof idbuf) {
                memcpy(idbuf, m->key, m->key_len);
                id_len = m->key_len;
            } else
                id_len = (size_t)snprintf(idbuf, sizeof idbuf, "%s-%d-%" PRId64, topic,
                                          m->partition, m->offset);
            idbuf[id_len] = '\0';
            pending *p = calloc(1, sizeof *p);
            if (!p) {
                rd_kafka_message_destroy(m);
                failed = 1;
                continue;
            }
            p->offset = m->offset;
            p->remaining = (int)records;
            fifo *fq = &queues[m->partition];
            if (fq->tail)
                fq->tail->next = p;
            else
                fq->head = p;
            fq->tail = p;
            in_flight++;
            long n_scores = records - 1 - (archive != NULL);
            for (long k = 0; k < n_scores; k++) {
                snprintf(body, sizeof body, "\"id\":\"%s\",\"model\":\"m%ld\",\"status\":\"ok\"",
                         idbuf, k);
                size_t len = padded(value, sizeof value, body, score_bytes);
                if (produce(prod, scores, m->partition, idbuf, id_len, value, len, NULL, p))
                    p->remaining--, p->failed = 1;
                else
                    produced++;
            }
            if (archive) {
                if (produce_copy(prod, archive, m, idbuf, id_len, p))
                    p->remaining--, p->failed = 1;
                else
                    produced++;
            }
            snprintf(body, sizeof body, "\"id\":\"%s\"", idbuf);
            size_t len = padded(value, sizeof value, body, result_bytes);
            if (produce(prod, results, m->partition, idbuf, id_len, value, len, NULL, p))
                p->remaining--, p->failed = 1;
            else
                produced++;
            consumed++;
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(prod, 0); /* delivery reports */
        if (mono_ms() - last_commit >= 20) {
            commit_done(cons, requests, 0);
            last_commit = mono_ms();
        }
    }
    /* drain: everything acknowledged, then the last commit */
    rd_kafka_flush(prod, 10000);
    rd_kafka_poll(prod, 0);
    commit_done(cons, requests, 1);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    fprintf(stderr,
            "passthrough: %" PRIu64 " requests consumed, %" PRIu64 " records produced, %" PRIu64
            " requests committed, %" PRIu64 " delivery failures, %" PRIu64 " still pending\n",
            consumed, produced, delivered_requests, delivery_failures, in_flight);
    for (int part = 0; part < MAX_PARTITIONS; part++)
        while (queues[part].head) {
            pending *p = queues[part].head;
            queues[part].head = p->next;
            free(p);
        }
    return failed ? 1 : 0;
}
