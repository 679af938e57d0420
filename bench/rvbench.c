/*
 * rvbench.c - load generator and meter for the benchmarks (bench/run.sh).
 *
 * Produces requests (JSON bodies from a JSONL file, cycled; key "b-<n>")
 * to a requests topic, either as fast as a window of outstanding requests
 * allows or at a fixed offered rate (paced in 1 ms batches), for a count or
 * a duration; with --labels, each request's true label after it (to the
 * labels topic). A second thread consumes the results topic from the end
 * it had when the run started and matches every result to its request by the
 * "id" field of the result JSON. Latency is end to end: the clock read just
 * before the request is handed to the producer, to the moment the consumer
 * returns the result.
 *
 * From the result records it also reads what the host says about itself:
 * "reason" and every model's "status" (so timeouts, sheds and defaults are
 * counted, not hidden), the result's "latency_us" (since the host read the
 * request) and the chosen model's "latency_us" (since the same moment):
 * their difference is the decision interval, last needed answer in ->
 * result built. Results of the pass-through and of the Python peer carry
 * only an id (and answers); those fields are then reported as absent.
 *
 * Prints a table on stdout, optionally JSON (--json FILE) and a time series
 * of latency by send-time window (--windows MS). With --hup-pid/--hup-at it
 * sends SIGHUP to a process at a given second of the run and reports the
 * windows relative to that moment (the reload benchmark).
 *
 * Every loop is bounded: production by count or duration (and --max-seconds),
 * the wait for results by --timeout seconds without progress.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "rvbench.h"

/* ---- clock ---- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

/* ---- send times, by request number (chunked so that growth never moves
 * what the consumer thread reads) ---- */

#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS 4096 /* 268M requests */

typedef struct sent_entry {
    _Atomic int64_t sent_ns; /* 0: not sent */
    uint32_t results;        /* consumer thread only */
} sent_entry;

static _Atomic(sent_entry *) chunks[MAX_CHUNKS];

static sent_entry *entry_for(uint64_t n, int create)
{
    uint64_t c = n >> CHUNK_BITS;
    if (c >= MAX_CHUNKS)
        return NULL;
    sent_entry *ch = atomic_load_explicit(&chunks[c], memory_order_acquire);
    if (!ch && create) {
        ch = calloc(CHUNK_SIZE, sizeof *ch);
        if (!ch)
            return NULL;
        atomic_store_explicit(&chunks[c], ch, memory_order_release);
    }
    return ch ? &ch[n & (CHUNK_SIZE - 1)] : NULL;
}

/* ---- samples (consumer thread writes, main reads after join) ---- */

typedef struct sample {
    int64_t sent_ns, recv_ns;
    int64_t e2e_us;
    int64_t host_us;     /* -1: absent */
    int64_t decision_us; /* -1: absent */
    int64_t schedule_version;
    uint64_t n;
    int reason;
} sample;

typedef struct meter {
    const options *o;
    rd_kafka_t *consumer;
    pthread_t thread;
    atomic_int stop;
    atomic_uint_fast64_t unique; /* requests with at least one result */
    atomic_int_fast64_t last_result_ns;
    _Atomic uint64_t sent; /* requests handed to the producer */
    sample *samples;
    size_t n_samples, cap_samples;
    uint64_t duplicates, foreign, unparsable;
    uint64_t reasons[R_COUNT], error_results, shed, timeout, model_errors;
    size_t prefix_len;
} meter;

static void on_result(meter *m, const rd_kafka_message_t *msg, int64_t now)
{
    parsed p;
    if (!msg->payload || rvbench_parse_result(msg->payload, msg->len, &p) != 0) {
        m->unparsable++;
        return;
    }
    char *end;
    if (strncmp(p.id, m->o->id_prefix, m->prefix_len) != 0) {
        m->foreign++;
        return;
    }
    errno = 0;
    uint64_t n = strtoull(p.id + m->prefix_len, &end, 10);
    sent_entry *e = *end || errno || n >= atomic_load(&m->sent) ? NULL : entry_for(n, 0);
    int64_t sent_ns = e ? atomic_load_explicit(&e->sent_ns, memory_order_acquire) : 0;
    if (!e || sent_ns == 0) {
        m->foreign++;
        return;
    }
    if (e->results++ > 0) {
        m->duplicates++;
        return;
    }
    atomic_fetch_add(&m->unique, 1);
    atomic_store(&m->last_result_ns, now);
    if (m->n_samples == m->cap_samples) {
        size_t ncap = m->cap_samples ? 2 * m->cap_samples : 65536;
        sample *ns = realloc(m->samples, ncap * sizeof *ns);
        if (!ns)
            return; /* counted as a result, not as a sample */
        m->samples = ns;
        m->cap_samples = ncap;
    }
    sample *s = &m->samples[m->n_samples++];
    s->n = n;
    s->sent_ns = sent_ns;
    s->recv_ns = now;
    s->e2e_us = (now - sent_ns) / 1000;
    s->host_us = p.latency_us;
    s->decision_us = -1;
    s->schedule_version = p.schedule_version;
    s->reason = p.reason;
    if (p.latency_us >= 0 && p.model[0])
        for (int i = 0; i < p.n_models; i++)
            if (strcmp(p.model_name[i], p.model) == 0 && p.model_latency_us[i] >= 0)
                s->decision_us = p.latency_us - p.model_latency_us[i];
    m->reasons[p.reason]++;
    m->error_results += (uint64_t)p.error_status;
    m->shed += (uint64_t)(p.n_shed > 0);
    m->timeout += (uint64_t)(p.n_timeout > 0);
    m->model_errors += (uint64_t)(p.n_error > 0);
}

static void *consume_loop(void *arg)
{
    meter *m = arg;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(m->consumer);
    rd_kafka_message_t *msgs[1024];
    while (!atomic_load(&m->stop)) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 50, msgs, 1024);
        int64_t now = mono_ns();
        for (ssize_t i = 0; i < n; i++) {
            if (!msgs[i]->err)
                on_result(m, msgs[i], now);
            else if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "rvbench: consumer: %s\n", rd_kafka_message_errstr(msgs[i]));
            rd_kafka_message_destroy(msgs[i]);
        }
    }
    rd_kafka_queue_destroy(q);
    return NULL;
}

/* Assigns every partition of the results topic at its current end (or its
 * beginning), so that only this run's results are read. */
static rd_kafka_t *start_consumer(const options *o)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[128];
    snprintf(group, sizeof group, "rvbench-%ld", (long)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", err, sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err)) {
        fprintf(stderr, "rvbench: consumer config: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rvbench: consumer: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, o->results, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int parts = 0;
    for (int attempt = 0; attempt < 20 && parts <= 0; attempt++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topic_cnt == 1 && !md->topics[0].err)
            parts = md->topics[0].partition_cnt;
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        if (parts <= 0)
            sleep_ns(250000000);
    }
    rd_kafka_topic_destroy(t);
    if (parts <= 0) {
        fprintf(stderr, "rvbench: no metadata for topic %s\n", o->results);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        int64_t lo = 0, hi = 0;
        if (!o->from_beginning &&
            rd_kafka_query_watermark_offsets(rk, o->results, p, &lo, &hi, 5000)) {
            fprintf(stderr, "rvbench: cannot read the end of %s [%d]\n", o->results, p);
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_destroy(rk);
            return NULL;
        }
        rd_kafka_topic_partition_list_add(l, o->results, p)->offset =
            o->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : hi;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static rd_kafka_t *start_producer(const options *o)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the same batching as the host's producer; a deep local queue so that
     * the generator is not the bottleneck */
    const char *defaults[][2] = {{"bootstrap.servers", o->bootstrap},
                                 {"linger.ms", "1"},
                                 {"queue.buffering.max.messages", "1000000"},
                                 {"log_level", "3"}};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err, sizeof err)) {
            fprintf(stderr, "rvbench: producer config: %s\n", err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    for (int i = 0; i < o->n_pconf; i++) {
        char kv[512];
        snprintf(kv, sizeof kv, "%s", o->pconf[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, err, sizeof err)) {
            fprintf(stderr, "rvbench: -X %s: %s\n", o->pconf[i], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rvbench: producer: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* ---- main ---- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = sig;
}

/* What a run did, for the report. */
typedef struct run {
    int64_t t0, t_end; /* production's start and end */
    int64_t hup_ns;    /* when the SIGHUP went, 0: none */
    uint64_t sent, produce_errors;
    int unflushed; /* records the producer could not deliver */
} run;

/* What is sent: request bodies, and with --labels their rows' labels. */
typedef struct inputs {
    body *bodies, *truth;
    size_t n_bodies, n_truth;
} inputs;

/* One record, retried while the producer's queue is full. */
static rd_kafka_resp_err_t send_one(rd_kafka_t *prod, rd_kafka_topic_t *rkt, const char *key,
                                    size_t klen, void *value, size_t len)
{
    rd_kafka_resp_err_t err;
    int tries = 0;
    while ((err = rd_kafka_producev(prod, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE(value, len),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
           tries++ < 1000)
        rd_kafka_poll(prod, 10);
    return err;
}

/* Produces the requests as the options say (by count or duration, at a
 * rate, within a window of outstanding ones), each one's label after it
 * when asked, sends the SIGHUP when asked, flushes. */
static void produce(const options *o, meter *m, rd_kafka_t *prod, const inputs *in, run *r)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, o->requests, NULL);
    rd_kafka_topic_t *lkt = o->labels ? rd_kafka_topic_new(prod, o->labels, NULL) : NULL;
    const int64_t t0 = mono_ns();
    const int64_t stop_at =
        t0 + (int64_t)((o->duration_s > 0 ? o->duration_s : o->max_seconds) * 1e9);
    const int64_t hard_stop = t0 + (int64_t)(o->max_seconds * 1e9);
    const int64_t timeout_ns = (int64_t)(o->timeout_s * 1e9);
    int64_t hup_ns = 0, last_progress = t0;
    uint64_t sent = 0, last_unique = 0, produce_errors = 0;
    char key[64], label[320];
    while (!interrupted) {
        int64_t now = mono_ns();
        if ((o->count && sent >= o->count) || now >= stop_at || now >= hard_stop)
            break;
        if (o->hup_pid > 0 && !hup_ns && now - t0 >= (int64_t)(o->hup_at_s * 1e9)) {
            if (kill(o->hup_pid, SIGHUP) != 0)
                fprintf(stderr, "rvbench: SIGHUP to %ld: %s\n", (long)o->hup_pid, strerror(errno));
            hup_ns = mono_ns();
        }
        uint64_t unique = atomic_load(&m->unique);
        if (unique != last_unique) {
            last_unique = unique;
            last_progress = now;
        }
        uint64_t allowed = o->count ? o->count : UINT64_MAX;
        if (o->rate > 0) {
            uint64_t due = (uint64_t)(o->rate * (double)(now - t0) / 1e9) + 1;
            if (due < allowed)
                allowed = due;
        }
        if (o->window > 0 && unique + o->window < allowed)
            allowed = unique + o->window;
        if (sent >= allowed) {
            if (o->window > 0 && sent >= unique + o->window && now - last_progress > timeout_ns) {
                fprintf(stderr,
                        "rvbench: no result for %.0f s with %" PRIu64 " outstanding: giving up\n",
                        o->timeout_s, sent - unique);
                break;
            }
            rd_kafka_poll(prod, 0);
            sleep_ns(o->rate > 0 ? 500000 : 200000);
            continue;
        }
        uint64_t batch = allowed - sent;
        if (batch > 512)
            batch = 512;
        for (uint64_t i = 0; i < batch; i++) {
            sent_entry *e = entry_for(sent, 1);
            if (!e) {
                fprintf(stderr, "rvbench: out of request slots\n");
                interrupted = 1;
                break;
            }
            const body *b = &in->bodies[sent % in->n_bodies];
            size_t klen = (size_t)snprintf(key, sizeof key, "%s%" PRIu64, o->id_prefix, sent);
            int64_t ts = mono_ns();
            atomic_store_explicit(&e->sent_ns, ts, memory_order_release);
            /* published before produce: a result can come back no sooner */
            atomic_store(&m->sent, sent + 1);
            rd_kafka_resp_err_t err = send_one(prod, rkt, key, klen, b->bytes, b->len);
            if (!err && lkt) {
                int n = snprintf(label, sizeof label, "{\"id\":\"%s\",\"label\":\"%s\"}", key,
                                 in->truth[sent % in->n_truth].bytes);
                err = send_one(prod, lkt, key, klen, label, (size_t)n);
            }
            if (err) {
                produce_errors++;
                fprintf(stderr, "rvbench: produce: %s\n", rd_kafka_err2str(err));
                interrupted = 1;
                break;
            }
            sent++;
        }
        rd_kafka_poll(prod, 0);
    }
    r->t0 = t0;
    r->t_end = mono_ns();
    r->hup_ns = hup_ns;
    r->sent = sent;
    r->produce_errors = produce_errors;
    rd_kafka_flush(prod, 10000);
    r->unflushed = rd_kafka_outq_len(prod);
    rd_kafka_topic_destroy(rkt);
    if (lkt)
        rd_kafka_topic_destroy(lkt);
}

/* Waits for the results (until each request has one, or none came for
 * --timeout), then stops the consumer thread. */
static void wait_results(const options *o, meter *m, const run *r)
{
    const int64_t hard_stop = r->t0 + (int64_t)(o->max_seconds * 1e9);
    const int64_t timeout_ns = (int64_t)(o->timeout_s * 1e9);
    int64_t last_progress = mono_ns();
    uint64_t last_unique = atomic_load(&m->unique);
    while (!interrupted && atomic_load(&m->unique) < r->sent) {
        int64_t now = mono_ns();
        uint64_t unique = atomic_load(&m->unique);
        if (unique != last_unique) {
            last_unique = unique;
            last_progress = now;
        }
        if (now - last_progress > timeout_ns || now >= hard_stop + timeout_ns)
            break;
        sleep_ns(20000000);
    }
    /* a short grace for duplicates */
    sleep_ns(100000000);
    atomic_store(&m->stop, 1);
    pthread_join(m->thread, NULL);
    rd_kafka_consumer_close(m->consumer);
    rd_kafka_destroy(m->consumer);
}

/* Latency per window of send time (--windows), relative to the SIGHUP when
 * one was sent: printed, and into the JSON when jf is open. */
static void print_windows(const options *o, const meter *m, const run *r, FILE *jf)
{
    size_t ns = m->n_samples;
    int64_t t0 = r->t0, t_prod_end = r->t_end, hup_ns = r->hup_ns;
    if (o->windows_ms > 0 && ns > 0) {
        int64_t w_ns = (int64_t)o->windows_ms * 1000000, origin = hup_ns ? hup_ns : t0;
        /* first result of a newer schedule version than the first seen */
        int64_t v0 = m->samples[0].schedule_version, swap_sent = 0;
        for (size_t i = 0; i < ns; i++)
            if (m->samples[i].schedule_version > v0 &&
                (!swap_sent || m->samples[i].sent_ns < swap_sent))
                swap_sent = m->samples[i].sent_ns;
        int64_t lo = (t0 - origin) / w_ns - 1, hi = (t_prod_end - origin) / w_ns + 1;
        size_t nw = (size_t)(hi - lo + 1);
        int64_t *buf = malloc(2 * ns * sizeof *buf); /* e2e, then in the host from buf + ns */
        printf("windows of %d ms by send time, relative to %s%s:\n", o->windows_ms,
               hup_ns ? "the SIGHUP" : "the start",
               swap_sent ? "" : " (no schedule version change seen)");
        if (swap_sent)
            printf("first request answered by the new generation was sent at %+.1f ms\n",
                   (double)(swap_sent - origin) / 1e6);
        printf("%10s %8s %9s %9s %9s %7s %9s %9s\n", "from_ms", "results", "p50_ms", "p99_ms",
               "max_ms", "sched", "host_p50", "host_p99");
        if (jf) {
            fprintf(jf, ", \"hup_offset_s\": %.3f, \"swap_sent_ms\": ",
                    hup_ns ? (double)(hup_ns - t0) / 1e9 : -1.0);
            if (swap_sent)
                fprintf(jf, "%.1f", (double)(swap_sent - origin) / 1e6);
            else
                fputs("null", jf);
            fprintf(jf, ", \"windows_ms\": %d, \"windows\": [", o->windows_ms);
        }
        int first = 1;
        for (size_t w = 0; buf && w < nw; w++) {
            int64_t from = origin + (lo + (int64_t)w) * w_ns, to = from + w_ns;
            size_t k = 0, kh = 0;
            int64_t vmin = INT64_MAX, vmax = INT64_MIN;
            for (size_t i = 0; i < ns; i++)
                if (m->samples[i].sent_ns >= from && m->samples[i].sent_ns < to) {
                    buf[k++] = m->samples[i].e2e_us;
                    if (m->samples[i].host_us >= 0)
                        buf[ns + kh++] = m->samples[i].host_us;
                    int64_t v = m->samples[i].schedule_version;
                    vmin = v < vmin ? v : vmin, vmax = v > vmax ? v : vmax;
                }
            if (k == 0)
                continue;
            dist d = rvbench_distribution(buf, k, 1000.0),
                 dh = rvbench_distribution(buf + ns, kh, 1000.0);
            char sched[48];
            if (vmin == vmax)
                snprintf(sched, sizeof sched, "%" PRId64, vmin);
            else
                snprintf(sched, sizeof sched, "%" PRId64 "-%" PRId64, vmin, vmax);
            printf("%10.0f %8zu %9.3f %9.3f %9.3f %7s %9.3f %9.3f\n", (double)(from - origin) / 1e6,
                   k, d.p50, d.p99, d.max, sched, dh.p50, dh.p99);
            if (jf)
                fprintf(jf,
                        "%s{\"from_ms\": %.0f, \"results\": %zu, \"p50_ms\": %.3f, "
                        "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"schedule\": \"%s\", "
                        "\"host_p50_ms\": %.3f, \"host_p99_ms\": %.3f}",
                        first ? "" : ", ", (double)(from - origin) / 1e6, k, d.p50, d.p99, d.max,
                        sched, dh.p50, dh.p99);
            first = 0;
        }
        if (jf)
            fputs("]", jf);
        free(buf);
    }
}

/* The table on stdout and the JSON (--json); the number of requests that
 * got a result, or -1 when out of memory. */
static int64_t report(const options *o, const meter *m, const run *r)
{
    uint64_t sent = r->sent;
    int64_t t0 = r->t0, t_prod_end = r->t_end;
    int unflushed = r->unflushed;
    uint64_t unique = atomic_load(&m->unique);
    double prod_s = (double)(t_prod_end - t0) / 1e9;
    size_t ns = m->n_samples;
    /* steady part: from the result that completes the warm-up to the last */
    int64_t *recv = malloc((ns ? ns : 1) * sizeof *recv);
    int64_t *e2e = malloc((ns ? ns : 1) * sizeof *e2e);
    int64_t *host = malloc((ns ? ns : 1) * sizeof *host);
    int64_t *dec = malloc((ns ? ns : 1) * sizeof *dec);
    if (!recv || !e2e || !host || !dec) {
        fprintf(stderr, "rvbench: out of memory for statistics\n");
        return -1;
    }
    for (size_t i = 0; i < ns; i++)
        recv[i] = m->samples[i].recv_ns;
    /* samples are in arrival order already; recv is non-decreasing */
    double tput = 0, steady_s = 0;
    size_t steady_n = 0;
    if (ns > o->warmup + 1) {
        int64_t from = recv[o->warmup], to = recv[ns - 1];
        steady_n = ns - o->warmup - 1;
        steady_s = (double)(to - from) / 1e9;
        tput = steady_s > 0 ? (double)steady_n / steady_s : 0;
    } else if (ns > 1) {
        steady_n = ns - 1;
        steady_s = (double)(recv[ns - 1] - recv[0]) / 1e9;
        tput = steady_s > 0 ? (double)steady_n / steady_s : 0;
    }
    size_t ne = 0, nh = 0, nd = 0;
    for (size_t i = 0; i < ns; i++) {
        const sample *s = &m->samples[i];
        if (s->n < o->warmup)
            continue;
        e2e[ne++] = s->e2e_us;
        if (s->host_us >= 0)
            host[nh++] = s->host_us;
        if (s->decision_us >= 0)
            dec[nd++] = s->decision_us;
    }
    dist de = rvbench_distribution(e2e, ne, 1000.0), dh = rvbench_distribution(host, nh, 1000.0),
         dd = rvbench_distribution(dec, nd, 1.0);

    printf("== rvbench %s ==\n", o->label);
    printf("%-22s %" PRIu64 " in %.2f s (%.0f/s offered%s)\n", "requests sent", sent, prod_s,
           prod_s > 0 ? (double)sent / prod_s : 0.0,
           o->rate > 0 ? ""
           : o->window ? ", window-limited"
                       : ", unpaced");
    printf("%-22s %" PRIu64 " (lost %" PRIu64 ", duplicates %" PRIu64 ", foreign %" PRIu64
           ", unparsable %" PRIu64 ", unflushed %d)\n",
           "results", unique, sent - unique, m->duplicates, m->foreign, m->unparsable, unflushed);
    printf("%-22s %.0f results/s (%zu results over %.2f s after the first %" PRIu64 ")\n",
           "throughput", tput, steady_n, steady_s, o->warmup);
    rvbench_print_dist("latency e2e", &de, "ms");
    rvbench_print_dist("latency in host", &dh, "ms");
    rvbench_print_dist("decision (result-chosen)", &dd, "us");
    printf("%-22s", "reasons");
    for (int k = 0; k < R_COUNT; k++)
        if (m->reasons[k])
            printf(" %s %" PRIu64, reason_names[k], m->reasons[k]);
    printf("; error results %" PRIu64 "; results with a model shed %" PRIu64 ", timed out %" PRIu64
           ", errored %" PRIu64 "\n",
           m->error_results, m->shed, m->timeout, m->model_errors);

    FILE *jf = NULL;
    if (o->json && !(jf = fopen(o->json, "w")))
        fprintf(stderr, "rvbench: %s: %s\n", o->json, strerror(errno));
    if (jf) {
        fprintf(jf,
                "{\"label\": \"%s\", \"sent\": %" PRIu64 ", \"production_s\": %.3f, "
                "\"offered_rate\": %.1f, \"target_rate\": %.1f, \"window\": %" PRIu64 ", "
                "\"results\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"duplicates\": %" PRIu64
                ", \"foreign\": %" PRIu64 ", \"unparsable\": %" PRIu64 ", \"warmup\": %" PRIu64
                ", \"throughput\": %.1f, \"steady_results\": %zu, \"steady_s\": %.3f, ",
                o->label, sent, prod_s, prod_s > 0 ? (double)sent / prod_s : 0.0, o->rate,
                o->window, unique, sent - unique, m->duplicates, m->foreign, m->unparsable,
                o->warmup, tput, steady_n, steady_s);
        rvbench_json_dist(jf, "latency_e2e", &de, "ms");
        fputs(", ", jf);
        rvbench_json_dist(jf, "latency_host", &dh, "ms");
        fputs(", ", jf);
        rvbench_json_dist(jf, "decision", &dd, "us");
        fputs(", \"reasons\": {", jf);
        for (int k = 0; k < R_COUNT; k++)
            fprintf(jf, "%s\"%s\": %" PRIu64, k ? ", " : "", reason_names[k], m->reasons[k]);
        fprintf(jf,
                "}, \"error_results\": %" PRIu64 ", \"with_shed\": %" PRIu64
                ", \"with_timeout\": %" PRIu64 ", \"with_model_error\": %" PRIu64,
                m->error_results, m->shed, m->timeout, m->model_errors);
    }
    print_windows(o, m, r, jf);
    if (jf) {
        fputs("}\n", jf);
        fclose(jf);
    }
    free(recv);
    free(e2e);
    free(host);
    free(dec);
    return (int64_t)unique;
}

int main(int argc, char **argv)
{
    options o;
    if (rvbench_parse_options(argc, argv, &o) != 0)
        return 2;
    inputs in = {0};
    if (!(in.bodies = rvbench_load_lines(o.data, &in.n_bodies)) ||
        (o.truth && !(in.truth = rvbench_load_truth(o.truth, &in.n_truth))))
        return 2;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    static meter m;
    m.o = &o;
    m.prefix_len = strlen(o.id_prefix);
    if (!(m.consumer = start_consumer(&o)))
        return 1;
    rd_kafka_t *prod = start_producer(&o);
    if (!prod)
        return 1;
    /* let the assignment take effect (fetch positions resolved) */
    sleep_ns(300000000);
    if (pthread_create(&m.thread, NULL, consume_loop, &m) != 0) {
        fprintf(stderr, "rvbench: cannot start the consumer thread\n");
        return 1;
    }

    run r = {0};
    produce(&o, &m, prod, &in, &r);
    rd_kafka_destroy(prod);
    wait_results(&o, &m, &r);
    int64_t unique = report(&o, &m, &r);

    rvbench_free_lines(in.bodies, in.n_bodies);
    rvbench_free_lines(in.truth, in.n_truth);
    free(m.samples);
    for (size_t c = 0; c < MAX_CHUNKS; c++)
        free(atomic_load(&chunks[c]));
    if (unique < 0)
        return 1;
    return (uint64_t)unique == r.sent && r.produce_errors == 0 ? 0 : 3;
}
