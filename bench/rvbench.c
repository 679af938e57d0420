/*
 * rvbench.c - load generator and meter for the benchmarks (bench/run.sh).
 *
 * Produces requests (JSON bodies from a JSONL file, cycled; key "b-<n>")
 * to a requests topic, either as fast as a window of outstanding requests
 * allows or at a fixed offered rate (paced in 1 ms batches), for a count or
 * a duration. A second thread consumes the results topic from the end it
 * had when the run started and matches every result to its request by the
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
#include <yajl/yajl_parse.h>

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

/* ---- options ---- */

typedef struct options {
    const char *bootstrap, *requests, *results, *data, *json, *label, *id_prefix;
    uint64_t count;     /* 0: by duration */
    double duration_s;  /* 0: by count */
    double rate;        /* requests/s, 0: as fast as the window allows */
    uint64_t window;    /* max requests without a result, 0: unbounded */
    uint64_t warmup;    /* first results left out of the statistics */
    double timeout_s;   /* wait without progress before giving up */
    double max_seconds; /* hard bound on production */
    int windows_ms;     /* time series by send time, 0: none */
    pid_t hup_pid;
    double hup_at_s;
    int from_beginning;
    const char *pconf[32]; /* -X key=value for the producer */
    int n_pconf;
} options;

static void usage(FILE *out)
{
    fputs("usage: rvbench -b BOOTSTRAP --requests TOPIC --results TOPIC --data FILE.jsonl\n"
          "               (--count N | --duration S) [--rate R] [--window N] [--warmup N]\n"
          "               [--timeout S] [--max-seconds S] [--json FILE] [--label NAME]\n"
          "               [--windows MS] [--hup-pid PID --hup-at S] [--from beginning|end]\n"
          "               [--id-prefix P] [-X producer.key=value]...\n"
          "  --rate R     offered load in requests/s, paced in 1 ms batches (default: as fast\n"
          "               as the window of outstanding requests allows)\n"
          "  --window N   at most N requests without a result (default 20000 without\n"
          "               --rate, unbounded with it)\n"
          "  --warmup N   leave the first N requests out of the statistics (default 1000)\n"
          "  --timeout S  give up waiting for results after S s without one (default 30)\n"
          "  --windows MS latency per window of send time (with --hup-*, relative to the\n"
          "               SIGHUP)\n",
          out);
}

static int parse_options(int argc, char **argv, options *o)
{
    enum {
        O_REQ = 256,
        O_RES,
        O_DATA,
        O_COUNT,
        O_DUR,
        O_RATE,
        O_WINDOW,
        O_WARMUP,
        O_TIMEOUT,
        O_MAXS,
        O_JSON,
        O_LABEL,
        O_WINDOWS,
        O_HUPPID,
        O_HUPAT,
        O_FROM,
        O_PREFIX
    };
    static const struct option longs[] = {{"requests", 1, 0, O_REQ},
                                          {"results", 1, 0, O_RES},
                                          {"data", 1, 0, O_DATA},
                                          {"count", 1, 0, O_COUNT},
                                          {"duration", 1, 0, O_DUR},
                                          {"rate", 1, 0, O_RATE},
                                          {"window", 1, 0, O_WINDOW},
                                          {"warmup", 1, 0, O_WARMUP},
                                          {"timeout", 1, 0, O_TIMEOUT},
                                          {"max-seconds", 1, 0, O_MAXS},
                                          {"json", 1, 0, O_JSON},
                                          {"label", 1, 0, O_LABEL},
                                          {"windows", 1, 0, O_WINDOWS},
                                          {"hup-pid", 1, 0, O_HUPPID},
                                          {"hup-at", 1, 0, O_HUPAT},
                                          {"from", 1, 0, O_FROM},
                                          {"id-prefix", 1, 0, O_PREFIX},
                                          {"help", 0, 0, 'h'},
                                          {0, 0, 0, 0}};
    int window_set = 0, c;
    *o = (options){.warmup = 1000,
                   .timeout_s = 30,
                   .max_seconds = 600,
                   .label = "run",
                   .id_prefix = "b-",
                   .window = 20000};
    while ((c = getopt_long(argc, argv, "b:X:h", longs, NULL)) != -1) {
        switch (c) {
        case 'b': o->bootstrap = optarg; break;
        case 'X':
            if (o->n_pconf >= 32 || !strchr(optarg, '=')) {
                fprintf(stderr, "rvbench: bad -X %s\n", optarg);
                return -1;
            }
            o->pconf[o->n_pconf++] = optarg;
            break;
        case O_REQ: o->requests = optarg; break;
        case O_RES: o->results = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_COUNT: o->count = strtoull(optarg, NULL, 10); break;
        case O_DUR: o->duration_s = atof(optarg); break;
        case O_RATE: o->rate = atof(optarg); break;
        case O_WINDOW:
            o->window = strtoull(optarg, NULL, 10);
            window_set = 1;
            break;
        case O_WARMUP: o->warmup = strtoull(optarg, NULL, 10); break;
        case O_TIMEOUT: o->timeout_s = atof(optarg); break;
        case O_MAXS: o->max_seconds = atof(optarg); break;
        case O_JSON: o->json = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_WINDOWS: o->windows_ms = atoi(optarg); break;
        case O_HUPPID: o->hup_pid = (pid_t)atol(optarg); break;
        case O_HUPAT: o->hup_at_s = atof(optarg); break;
        case O_FROM:
            if (strcmp(optarg, "beginning") && strcmp(optarg, "end")) {
                fprintf(stderr, "rvbench: --from beginning|end\n");
                return -1;
            }
            o->from_beginning = strcmp(optarg, "beginning") == 0;
            break;
        case O_PREFIX: o->id_prefix = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (!o->bootstrap || !o->requests || !o->results || !o->data) {
        fprintf(stderr, "rvbench: -b, --requests, --results and --data are required\n");
        return -1;
    }
    if ((o->count == 0) == (o->duration_s <= 0)) {
        fprintf(stderr, "rvbench: give exactly one of --count and --duration\n");
        return -1;
    }
    if (o->rate < 0 || o->timeout_s <= 0 || o->max_seconds <= 0 || o->windows_ms < 0) {
        fprintf(stderr, "rvbench: --rate, --timeout, --max-seconds, --windows must be >= 0\n");
        return -1;
    }
    if (o->rate > 0 && !window_set)
        o->window = 0;
    if ((o->hup_pid > 0) != (o->hup_at_s > 0)) {
        fprintf(stderr, "rvbench: --hup-pid and --hup-at go together\n");
        return -1;
    }
    return 0;
}

/* ---- request bodies ---- */

typedef struct body {
    char *bytes;
    size_t len;
} body;

static body *load_bodies(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rvbench: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    body *v = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0 && n < 10000000) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            body *nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        v[n].bytes = strndup(line, (size_t)len);
        v[n].len = (size_t)len;
        if (!v[n].bytes)
            break;
        n++;
    }
    free(line);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "rvbench: %s: no request bodies\n", path);
        free(v);
        return NULL;
    }
    *n_out = n;
    return v;
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

/* ---- one parsed result ---- */

enum { R_PREFERRED, R_FALLBACK, R_DEFAULT, R_NONE, R_OTHER, R_COUNT };
static const char *const reason_names[R_COUNT] = {"preferred", "fallback", "default", "absent",
                                                  "other"};

#define MAX_MODELS 16
typedef struct parsed {
    char id[128];
    char model[128]; /* chosen model, "" when null or absent */
    int reason;
    int error_status;
    int64_t latency_us; /* -1: absent */
    int64_t schedule_version;
    int n_models;
    char model_name[MAX_MODELS][64];
    int64_t model_latency_us[MAX_MODELS];
    int n_shed, n_timeout, n_error; /* model statuses in this result */
} parsed;

/* Container stack of the yajl callbacks: the key that led into each. */
typedef struct frame {
    int is_map;
    char key[64];
} frame;

typedef struct pstate {
    parsed *p;
    frame stack[16];
    int depth;
    char key[64]; /* last key read in the innermost map */
} pstate;

static int at_top(const pstate *s)
{
    return s->depth == 1 && s->stack[0].is_map;
}

/* inside "models": {NAME: {...}} -> the frame of NAME's map */
static int in_model_map(const pstate *s)
{
    return s->depth == 3 && s->stack[1].is_map && strcmp(s->stack[1].key, "models") == 0 &&
           s->stack[2].is_map;
}

static void copy_str(char *dst, size_t size, const unsigned char *v, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int cb_string(void *ctx, const unsigned char *v, size_t len)
{
    pstate *s = ctx;
    if (at_top(s)) {
        if (strcmp(s->key, "id") == 0)
            copy_str(s->p->id, sizeof s->p->id, v, len);
        else if (strcmp(s->key, "model") == 0)
            copy_str(s->p->model, sizeof s->p->model, v, len);
        else if (strcmp(s->key, "reason") == 0) {
            char r[32];
            copy_str(r, sizeof r, v, len);
            s->p->reason = R_OTHER;
            for (int i = 0; i < R_NONE; i++)
                if (strcmp(r, reason_names[i]) == 0)
                    s->p->reason = i;
        } else if (strcmp(s->key, "status") == 0)
            s->p->error_status = len == 5 && memcmp(v, "error", 5) == 0;
    } else if (in_model_map(s) && strcmp(s->key, "status") == 0) {
        if (len == 4 && memcmp(v, "shed", 4) == 0)
            s->p->n_shed++;
        else if (len == 7 && memcmp(v, "timeout", 7) == 0)
            s->p->n_timeout++;
        else if (len == 5 && memcmp(v, "error", 5) == 0)
            s->p->n_error++;
    }
    return 1;
}

static int cb_integer(void *ctx, long long v)
{
    pstate *s = ctx;
    if (at_top(s)) {
        if (strcmp(s->key, "latency_us") == 0)
            s->p->latency_us = v;
        else if (strcmp(s->key, "schedule_version") == 0)
            s->p->schedule_version = v;
    } else if (in_model_map(s) && strcmp(s->key, "latency_us") == 0 && s->p->n_models > 0)
        s->p->model_latency_us[s->p->n_models - 1] = v;
    return 1;
}

static int cb_double(void *ctx, double v)
{
    (void)ctx, (void)v;
    return 1;
}
static int cb_null(void *ctx)
{
    (void)ctx;
    return 1;
}
static int cb_bool(void *ctx, int v)
{
    (void)ctx, (void)v;
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
    pstate *s = ctx;
    copy_str(s->key, sizeof s->key, k, len);
    return 1;
}

static int push_frame(pstate *s, int is_map)
{
    if (s->depth >= 16)
        return 0;
    frame *f = &s->stack[s->depth++];
    f->is_map = is_map;
    snprintf(f->key, sizeof f->key, "%s", s->depth > 1 ? s->key : "");
    /* entering NAME's map inside "models" */
    if (in_model_map(s) && s->p->n_models < MAX_MODELS) {
        int m = s->p->n_models++;
        snprintf(s->p->model_name[m], sizeof s->p->model_name[m], "%s", f->key);
        s->p->model_latency_us[m] = -1;
    }
    s->key[0] = '\0';
    return 1;
}

static int pop_frame(pstate *s)
{
    if (s->depth > 0)
        s->depth--;
    /* back in a map: the key of the container just closed is spent */
    s->key[0] = '\0';
    return 1;
}

static int cb_start_map(void *ctx)
{
    return push_frame(ctx, 1);
}
static int cb_end_map(void *ctx)
{
    return pop_frame(ctx);
}
static int cb_start_array(void *ctx)
{
    return push_frame(ctx, 0);
}
static int cb_end_array(void *ctx)
{
    return pop_frame(ctx);
}

static const yajl_callbacks callbacks = {cb_null,    cb_bool,        cb_integer,   cb_double,
                                         NULL,       cb_string,      cb_start_map, cb_map_key,
                                         cb_end_map, cb_start_array, cb_end_array};

static int parse_result(const void *buf, size_t len, parsed *p)
{
    memset(p, 0, sizeof *p);
    p->reason = R_NONE;
    p->latency_us = -1;
    p->schedule_version = -1;
    pstate s = {.p = p};
    yajl_handle h = yajl_alloc(&callbacks, NULL, &s);
    if (!h)
        return -1;
    yajl_status st = yajl_parse(h, buf, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok && p->id[0] ? 0 : -1;
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
    if (!msg->payload || parse_result(msg->payload, msg->len, &p) != 0) {
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

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct dist {
    size_t n;
    double p50, p99, p999, max, mean; /* in the unit given */
} dist;

/* Nearest-rank percentiles of v[0..n) (sorted in place), divided by unit. */
static dist distribution(int64_t *v, size_t n, double unit)
{
    dist d = {0};
    d.n = n;
    if (n == 0)
        return d;
    qsort(v, n, sizeof *v, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    size_t i50 = (size_t)ceil(0.50 * (double)n) - 1, i99 = (size_t)ceil(0.99 * (double)n) - 1,
           i999 = (size_t)ceil(0.999 * (double)n) - 1;
    d.p50 = (double)v[i50] / unit;
    d.p99 = (double)v[i99] / unit;
    d.p999 = (double)v[i999] / unit;
    d.max = (double)v[n - 1] / unit;
    d.mean = sum / (double)n / unit;
    return d;
}

static void json_dist(FILE *f, const char *name, const dist *d, const char *unit)
{
    if (d->n == 0) {
        fprintf(f, "\"%s\": null", name);
        return;
    }
    fprintf(f,
            "\"%s\": {\"n\": %zu, \"unit\": \"%s\", \"p50\": %.3f, \"p99\": %.3f, "
            "\"p99_9\": %.3f, \"max\": %.3f, \"mean\": %.3f}",
            name, d->n, unit, d->p50, d->p99, d->p999, d->max, d->mean);
}

static void print_dist(const char *name, const dist *d, const char *unit)
{
    if (d->n == 0) {
        printf("%-22s (not in the results)\n", name);
        return;
    }
    printf("%-22s p50 %9.3f  p99 %9.3f  p99.9 %9.3f  max %9.3f  mean %9.3f %s  (n=%zu)\n", name,
           d->p50, d->p99, d->p999, d->max, d->mean, unit, d->n);
}

/* ---- main ---- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    interrupted = sig;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    size_t n_bodies = 0;
    body *bodies = load_bodies(o.data, &n_bodies);
    if (!bodies)
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
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, o.requests, NULL);
    /* let the assignment take effect (fetch positions resolved) */
    sleep_ns(300000000);
    if (pthread_create(&m.thread, NULL, consume_loop, &m) != 0) {
        fprintf(stderr, "rvbench: cannot start the consumer thread\n");
        return 1;
    }

    /* ---- production ---- */
    const int64_t t0 = mono_ns();
    const int64_t stop_at = t0 + (int64_t)((o.duration_s > 0 ? o.duration_s : o.max_seconds) * 1e9);
    const int64_t hard_stop = t0 + (int64_t)(o.max_seconds * 1e9);
    const int64_t timeout_ns = (int64_t)(o.timeout_s * 1e9);
    int64_t hup_ns = 0, last_progress = t0;
    uint64_t sent = 0, last_unique = 0, produce_errors = 0;
    char key[64];
    while (!interrupted) {
        int64_t now = mono_ns();
        if ((o.count && sent >= o.count) || now >= stop_at || now >= hard_stop)
            break;
        if (o.hup_pid > 0 && !hup_ns && now - t0 >= (int64_t)(o.hup_at_s * 1e9)) {
            if (kill(o.hup_pid, SIGHUP) != 0)
                fprintf(stderr, "rvbench: SIGHUP to %ld: %s\n", (long)o.hup_pid, strerror(errno));
            hup_ns = mono_ns();
        }
        uint64_t unique = atomic_load(&m.unique);
        if (unique != last_unique) {
            last_unique = unique;
            last_progress = now;
        }
        uint64_t allowed = o.count ? o.count : UINT64_MAX;
        if (o.rate > 0) {
            uint64_t due = (uint64_t)(o.rate * (double)(now - t0) / 1e9) + 1;
            if (due < allowed)
                allowed = due;
        }
        if (o.window > 0 && unique + o.window < allowed)
            allowed = unique + o.window;
        if (sent >= allowed) {
            if (o.window > 0 && sent >= unique + o.window && now - last_progress > timeout_ns) {
                fprintf(stderr,
                        "rvbench: no result for %.0f s with %" PRIu64 " outstanding: giving up\n",
                        o.timeout_s, sent - unique);
                break;
            }
            rd_kafka_poll(prod, 0);
            sleep_ns(o.rate > 0 ? 500000 : 200000);
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
            const body *b = &bodies[sent % n_bodies];
            int klen = snprintf(key, sizeof key, "%s%" PRIu64, o.id_prefix, sent);
            int64_t ts = mono_ns();
            atomic_store_explicit(&e->sent_ns, ts, memory_order_release);
            /* published before produce: a result can come back no sooner */
            atomic_store(&m.sent, sent + 1);
            rd_kafka_resp_err_t err;
            int tries = 0;
            while ((err = rd_kafka_producev(
                        prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(b->bytes, b->len),
                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
                   tries++ < 1000)
                rd_kafka_poll(prod, 10);
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
    const int64_t t_prod_end = mono_ns();
    rd_kafka_flush(prod, 10000);
    int unflushed = rd_kafka_outq_len(prod);

    /* ---- wait for the results ---- */
    last_progress = mono_ns();
    last_unique = atomic_load(&m.unique);
    while (!interrupted && atomic_load(&m.unique) < sent) {
        int64_t now = mono_ns();
        uint64_t unique = atomic_load(&m.unique);
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
    atomic_store(&m.stop, 1);
    pthread_join(m.thread, NULL);
    rd_kafka_consumer_close(m.consumer);
    rd_kafka_destroy(m.consumer);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(prod);

    /* ---- statistics ---- */
    uint64_t unique = atomic_load(&m.unique);
    double prod_s = (double)(t_prod_end - t0) / 1e9;
    size_t ns = m.n_samples;
    /* steady part: from the result that completes the warm-up to the last */
    int64_t *recv = malloc((ns ? ns : 1) * sizeof *recv);
    int64_t *e2e = malloc((ns ? ns : 1) * sizeof *e2e);
    int64_t *host = malloc((ns ? ns : 1) * sizeof *host);
    int64_t *dec = malloc((ns ? ns : 1) * sizeof *dec);
    if (!recv || !e2e || !host || !dec) {
        fprintf(stderr, "rvbench: out of memory for statistics\n");
        return 1;
    }
    for (size_t i = 0; i < ns; i++)
        recv[i] = m.samples[i].recv_ns;
    /* samples are in arrival order already; recv is non-decreasing */
    double tput = 0, steady_s = 0;
    size_t steady_n = 0;
    if (ns > o.warmup + 1) {
        int64_t from = recv[o.warmup], to = recv[ns - 1];
        steady_n = ns - o.warmup - 1;
        steady_s = (double)(to - from) / 1e9;
        tput = steady_s > 0 ? (double)steady_n / steady_s : 0;
    } else if (ns > 1) {
        steady_n = ns - 1;
        steady_s = (double)(recv[ns - 1] - recv[0]) / 1e9;
        tput = steady_s > 0 ? (double)steady_n / steady_s : 0;
    }
    size_t ne = 0, nh = 0, nd = 0;
    for (size_t i = 0; i < ns; i++) {
        const sample *s = &m.samples[i];
        if (s->n < o.warmup)
            continue;
        e2e[ne++] = s->e2e_us;
        if (s->host_us >= 0)
            host[nh++] = s->host_us;
        if (s->decision_us >= 0)
            dec[nd++] = s->decision_us;
    }
    dist de = distribution(e2e, ne, 1000.0), dh = distribution(host, nh, 1000.0),
         dd = distribution(dec, nd, 1.0);

    printf("== rvbench %s ==\n", o.label);
    printf("%-22s %" PRIu64 " in %.2f s (%.0f/s offered%s)\n", "requests sent", sent, prod_s,
           prod_s > 0 ? (double)sent / prod_s : 0.0,
           o.rate > 0 ? ""
           : o.window ? ", window-limited"
                      : ", unpaced");
    printf("%-22s %" PRIu64 " (lost %" PRIu64 ", duplicates %" PRIu64 ", foreign %" PRIu64
           ", unparsable %" PRIu64 ", unflushed %d)\n",
           "results", unique, sent - unique, m.duplicates, m.foreign, m.unparsable, unflushed);
    printf("%-22s %.0f results/s (%zu results over %.2f s after the first %" PRIu64 ")\n",
           "throughput", tput, steady_n, steady_s, o.warmup);
    print_dist("latency e2e", &de, "ms");
    print_dist("latency in host", &dh, "ms");
    print_dist("decision (result-chosen)", &dd, "us");
    printf("%-22s", "reasons");
    for (int r = 0; r < R_COUNT; r++)
        if (m.reasons[r])
            printf(" %s %" PRIu64, reason_names[r], m.reasons[r]);
    printf("; error results %" PRIu64 "; results with a model shed %" PRIu64 ", timed out %" PRIu64
           ", errored %" PRIu64 "\n",
           m.error_results, m.shed, m.timeout, m.model_errors);

    FILE *jf = NULL;
    if (o.json && !(jf = fopen(o.json, "w")))
        fprintf(stderr, "rvbench: %s: %s\n", o.json, strerror(errno));
    if (jf) {
        fprintf(jf,
                "{\"label\": \"%s\", \"sent\": %" PRIu64 ", \"production_s\": %.3f, "
                "\"offered_rate\": %.1f, \"target_rate\": %.1f, \"window\": %" PRIu64 ", "
                "\"results\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"duplicates\": %" PRIu64
                ", \"foreign\": %" PRIu64 ", \"unparsable\": %" PRIu64 ", \"warmup\": %" PRIu64
                ", \"throughput\": %.1f, \"steady_results\": %zu, \"steady_s\": %.3f, ",
                o.label, sent, prod_s, prod_s > 0 ? (double)sent / prod_s : 0.0, o.rate, o.window,
                unique, sent - unique, m.duplicates, m.foreign, m.unparsable, o.warmup, tput,
                steady_n, steady_s);
        json_dist(jf, "latency_e2e", &de, "ms");
        fputs(", ", jf);
        json_dist(jf, "latency_host", &dh, "ms");
        fputs(", ", jf);
        json_dist(jf, "decision", &dd, "us");
        fputs(", \"reasons\": {", jf);
        for (int r = 0; r < R_COUNT; r++)
            fprintf(jf, "%s\"%s\": %" PRIu64, r ? ", " : "", reason_names[r], m.reasons[r]);
        fprintf(jf,
                "}, \"error_results\": %" PRIu64 ", \"with_shed\": %" PRIu64
                ", \"with_timeout\": %" PRIu64 ", \"with_model_error\": %" PRIu64,
                m.error_results, m.shed, m.timeout, m.model_errors);
    }

    /* ---- windows by send time ---- */
    if (o.windows_ms > 0 && ns > 0) {
        int64_t w_ns = (int64_t)o.windows_ms * 1000000;
        int64_t origin = hup_ns ? hup_ns : t0;
        /* first result of a newer schedule version than the first seen */
        int64_t v0 = m.samples[0].schedule_version, swap_sent = 0;
        for (size_t i = 0; i < ns; i++)
            if (m.samples[i].schedule_version > v0 &&
                (!swap_sent || m.samples[i].sent_ns < swap_sent))
                swap_sent = m.samples[i].sent_ns;
        int64_t lo = (t0 - origin) / w_ns - 1, hi = (t_prod_end - origin) / w_ns + 1;
        size_t nw = (size_t)(hi - lo + 1);
        int64_t *buf = malloc(ns * sizeof *buf);
        printf("windows of %d ms by send time, relative to %s%s:\n", o.windows_ms,
               hup_ns ? "the SIGHUP" : "the start",
               swap_sent ? "" : " (no schedule version change seen)");
        if (swap_sent)
            printf("first request answered by the new generation was sent at %+.1f ms\n",
                   (double)(swap_sent - origin) / 1e6);
        printf("%10s %8s %9s %9s %9s %7s\n", "from_ms", "results", "p50_ms", "p99_ms", "max_ms",
               "sched");
        if (jf) {
            fprintf(jf, ", \"hup_offset_s\": %.3f, \"swap_sent_ms\": ",
                    hup_ns ? (double)(hup_ns - t0) / 1e9 : -1.0);
            if (swap_sent)
                fprintf(jf, "%.1f", (double)(swap_sent - origin) / 1e6);
            else
                fputs("null", jf);
            fprintf(jf, ", \"windows_ms\": %d, \"windows\": [", o.windows_ms);
        }
        int first = 1;
        for (size_t w = 0; buf && w < nw; w++) {
            int64_t from = origin + (lo + (int64_t)w) * w_ns, to = from + w_ns;
            size_t k = 0;
            int64_t vmin = INT64_MAX, vmax = INT64_MIN;
            for (size_t i = 0; i < ns; i++)
                if (m.samples[i].sent_ns >= from && m.samples[i].sent_ns < to) {
                    buf[k++] = m.samples[i].e2e_us;
                    if (m.samples[i].schedule_version < vmin)
                        vmin = m.samples[i].schedule_version;
                    if (m.samples[i].schedule_version > vmax)
                        vmax = m.samples[i].schedule_version;
                }
            if (k == 0)
                continue;
            dist d = distribution(buf, k, 1000.0);
            char sched[48];
            if (vmin == vmax)
                snprintf(sched, sizeof sched, "%" PRId64, vmin);
            else
                snprintf(sched, sizeof sched, "%" PRId64 "-%" PRId64, vmin, vmax);
            printf("%10.0f %8zu %9.3f %9.3f %9.3f %7s\n", (double)(from - origin) / 1e6, k, d.p50,
                   d.p99, d.max, sched);
            if (jf)
                fprintf(jf,
                        "%s{\"from_ms\": %.0f, \"results\": %zu, \"p50_ms\": %.3f, "
                        "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"schedule\": \"%s\"}",
                        first ? "" : ", ", (double)(from - origin) / 1e6, k, d.p50, d.p99, d.max,
                        sched);
            first = 0;
        }
        if (jf)
            fputs("]", jf);
        free(buf);
    }
    if (jf) {
        fputs("}\n", jf);
        fclose(jf);
    }
    for (size_t i = 0; i < n_bodies; i++)
        free(bodies[i].bytes);
    free(bodies);
    free(recv);
    free(e2e);
    free(host);
    free(dec);
    free(m.samples);
    for (size_t c = 0; c < MAX_CHUNKS; c++)
        free(atomic_load(&chunks[c]));
    return unique == sent && produce_errors == 0 ? 0 : 3;
}
