/*
 * archive_cmd.c - `rendezvous archive cat` and `rendezvous archive replay`:
 * the decoy's archive, read from its segment files or from its topic,
 * printed as JSON lines or put back on a requests topic as it was.
 */
#include "archive_cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "records.h"
#include "streams.h"

#define TIMEOUT_MS 10000

typedef rv_archive_record_cb record_fn;

typedef struct dir_walk {
    record_fn fn;
    void *ctx;
    long malformed;
} dir_walk;

static int dir_record(void *ctx, const uint8_t *payload, size_t len)
{
    dir_walk *d = ctx;
    if (len > 0 && payload[0] == '{') {
        rv_archived a = {.value = payload, .value_len = len};
        return d->fn(d->ctx, &a, 1);
    }
    rv_archived a;
    char err[256];
    if (rv_archive_decode(payload, len, &a, err, sizeof err) != 0) {
        fprintf(stderr, "rendezvous archive: %s: skipped\n", err);
        d->malformed++;
        return 0;
    }
    int rc = d->fn(d->ctx, &a, 0);
    free(a.headers);
    return rc;
}

/* The records of a directory's segments; the number of bad records, or -1. */
static long walk_dir(const char *dir, record_fn fn, void *ctx)
{
    dir_walk d = {fn, ctx, 0};
    long corrupt = rv_archive_walk(dir, dir_record, &d, stderr);
    return corrupt < 0 ? -1 : corrupt + d.malformed;
}

/* One message of the archive topic as an archived record. */
static int topic_record(const rd_kafka_message_t *m, record_fn fn, void *ctx)
{
    rd_kafka_headers_t *kh = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = rd_kafka_header_cnt(kh);
    rv_header *h = calloc(n ? n : 1, sizeof *h);
    if (!h) {
        fprintf(stderr, "rendezvous archive: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const void *v;
        size_t len;
        rd_kafka_header_get_all(kh, i, &h[i].name, &v, &len);
        h[i].value = v;
        h[i].value_len = v ? len : 0;
    }
    rv_archived a = {.key = m->key,
                     .key_len = m->key_len,
                     .headers = h,
                     .n_headers = n,
                     .value = m->payload ? m->payload : (const uint8_t *)"",
                     .value_len = m->len};
    rv_archived_split(&a);
    int legacy = a.n_own == a.n_headers && n == 0 && a.value_len > 0 && a.value[0] == '{';
    int rc = fn(ctx, &a, legacy);
    free(h);
    return rc;
}

/* The whole topic as it is now, partition by partition in offset order;
 * 0, or -1 after saying why. */
static long walk_topic(const char *topic, const char *brokers, record_fn fn, void *ctx)
{
    char err[512];
    rd_kafka_conf_t *conf = rv_kafka_conf(NULL, brokers, 0, err, sizeof err);
    if (conf && (rd_kafka_conf_set(conf, "group.id", "rendezvous-archive", err, sizeof err) ||
                 rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err))) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err) : NULL;
    if (!rk) {
        fprintf(stderr, "rendezvous archive: %s\n", err);
        return -1;
    }
    int64_t *ends = NULL;
    int parts = rv_assign_whole(rk, topic, TIMEOUT_MS, &ends, err, sizeof err);
    long rc = parts < 0 ? -1 : 0;
    if (parts < 0)
        fprintf(stderr, "rendezvous archive: %s\n", err);
    int64_t *next = parts > 0 ? calloc((size_t)parts, sizeof *next) : NULL;
    for (int p = 0; p < parts && next; p++)
        next[p] = -1;
    int idle_ms = 0;
    while (rc == 0 && next) {
        int left = 0;
        for (int p = 0; p < parts; p++)
            left += ends[p] > 0 && next[p] < ends[p];
        if (!left)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            if ((idle_ms += 200) >= TIMEOUT_MS) {
                fprintf(stderr, "rendezvous archive: %s: no records for %d s before its end\n",
                        topic, TIMEOUT_MS / 1000);
                rc = -1;
            }
            continue;
        }
        idle_ms = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "rendezvous archive: %s: %s\n", topic, rd_kafka_message_errstr(m));
                rc = -1;
            }
        } else if (m->partition >= 0 && m->partition < parts && m->offset < ends[m->partition]) {
            next[m->partition] = m->offset + 1;
            if (topic_record(m, fn, ctx) != 0)
                rc = -1;
        }
        rd_kafka_message_destroy(m);
    }
    if (parts > 0 && !next) {
        fprintf(stderr, "rendezvous archive: out of memory\n");
        rc = -1;
    }
    free(next);
    free(ends);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* cat: each record as one JSON line. */
static int cat_record(void *ctx, const rv_archived *a, int legacy)
{
    rv_jw *jw = ctx;
    if (legacy) {
        fwrite(a->value, 1, a->value_len, stdout);
    } else {
        rv_jw_restart(jw);
        rv_record_archive(jw, a);
        if (jw->oom) {
            fprintf(stderr, "rendezvous archive: out of memory\n");
            return -1;
        }
        fwrite(jw->buf, 1, jw->len, stdout);
    }
    return putchar('\n') == EOF ? -1 : 0;
}

typedef struct replay {
    rd_kafka_t *rk;
    const char *to;
    long sent, legacy, failed;
} replay;

static void replay_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    replay *r = opaque;
    if (m->err) {
        if (r->failed++ == 0)
            fprintf(stderr, "rendezvous archive replay: %s: %s\n", r->to, rd_kafka_err2str(m->err));
    }
}

/* replay: key, value and the request's own headers as they were, and its
 * id as rv-id so that the replayed request keeps it. */
static int replay_record(void *ctx, const rv_archived *a, int legacy)
{
    replay *r = ctx;
    if (legacy) {
        r->legacy++;
        return 0;
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(a->n_own + 1);
    int has_id = 0;
    for (size_t i = 0; i < a->n_own; i++) {
        has_id |= strcmp(a->headers[i].name, "rv-id") == 0;
        rd_kafka_header_add(h, a->headers[i].name, -1, a->headers[i].value,
                            a->headers[i].value ? (ssize_t)a->headers[i].value_len : 0);
    }
    const rv_header *id = has_id ? NULL : rv_archived_provenance(a, "rv-id");
    if (id)
        rd_kafka_header_add(h, "rv-id", -1, id->value, (ssize_t)id->value_len);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->rk, RD_KAFKA_V_TOPIC(r->to), RD_KAFKA_V_KEY(a->key, a->key ? a->key_len : 0),
            RD_KAFKA_V_VALUE((void *)a->value, a->value_len), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(r->rk, 100);
            continue;
        }
        if (e) {
            rd_kafka_headers_destroy(h);
            fprintf(stderr, "rendezvous archive replay: %s: %s\n", r->to, rd_kafka_err2str(e));
            return -1;
        }
        break;
    }
    r->sent++;
    rd_kafka_poll(r->rk, 0);
    return 0;
}

static void usage(FILE *out)
{
    fputs("usage: rendezvous archive cat DIR\n"
          "       rendezvous archive cat --topic TOPIC -b BROKERS\n"
          "       rendezvous archive replay DIR --to TOPIC -b BROKERS\n"
          "       rendezvous archive replay --topic TOPIC --to TOPIC -b BROKERS\n",
          out);
}

long rv_archive_each(const char *dir, const char *topic, const char *brokers,
                     rv_archive_record_cb fn, void *ctx)
{
    return dir ? walk_dir(dir, fn, ctx) : walk_topic(topic, brokers, fn, ctx);
}

int rv_archive_main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "cat") != 0 && strcmp(argv[1], "replay") != 0)) {
        usage(stderr);
        return 2;
    }
    int is_replay = strcmp(argv[1], "replay") == 0;
    const char *topic = NULL, *brokers = NULL, *to = NULL;
    static const struct option opts[] = {{"topic", required_argument, 0, 't'},
                                         {"brokers", required_argument, 0, 'b'},
                                         {"to", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "t:b:h", opts, NULL)) != -1) {
        if (c == 't')
            topic = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'o' && is_replay)
            to = optarg;
        else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    const char *dir = optind == argc - 1 ? argv[optind] : NULL;
    if (!dir == !topic || optind < argc - 1 || (topic && !brokers) || (is_replay && !to) ||
        (is_replay && !brokers)) {
        usage(stderr);
        return 2;
    }
    rv_jw jw = {0};
    replay r = {0};
    record_fn fn = cat_record;
    void *ctx = &jw;
    if (is_replay) {
        char err[512];
        rd_kafka_conf_t *conf = rv_kafka_conf(NULL, brokers, 1, err, sizeof err);
        if (conf && rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err)) {
            rd_kafka_conf_destroy(conf);
            conf = NULL;
        }
        if (conf) {
            rd_kafka_conf_set_dr_msg_cb(conf, replay_delivered);
            rd_kafka_conf_set_opaque(conf, &r);
        }
        if (!conf || !(r.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err))) {
            fprintf(stderr, "rendezvous archive replay: %s\n", err);
            return 1;
        }
        r.to = to;
        fn = replay_record;
        ctx = &r;
    }
    long bad = rv_archive_each(dir, topic, brokers, fn, ctx);
    if (bad > 0)
        fprintf(stderr, "rendezvous archive: %ld corrupt record(s) skipped\n", bad);
    int status = bad != 0 || fflush(stdout) != 0;
    rv_jw_free(&jw);
    if (is_replay) {
        if (rd_kafka_flush(r.rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            r.failed += rd_kafka_outq_len(r.rk);
        rd_kafka_destroy(r.rk);
        if (r.legacy)
            fprintf(stderr,
                    "rendezvous archive replay: %ld record(s) in the JSON format of earlier "
                    "versions not replayed (print them with archive cat)\n",
                    r.legacy);
        fprintf(stderr, "rendezvous archive replay: %ld record(s) put on %s, %ld failed\n",
                r.sent - r.failed, to, r.failed);
        status |= r.failed > 0 || r.legacy > 0;
    }
    return status;
}
