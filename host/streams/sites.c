/*
 * sites.c - another site's mirrored streams, read (sites.h). Each reader is
 * a consumer of its own in no group: it commits nothing and never writes.
 */
#include "sites.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "streams.h"

/* How long a whole topic may take to read, and a watch to start. */
#define READ_TIMEOUT_MS 30000

/* ---- MirrorMaker 2's checkpoint records ---- */

typedef struct {
    const unsigned char *p;
    size_t left;
} cursor;

static int take(cursor *c, void *out, size_t n)
{
    if (c->left < n)
        return -1;
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int take_int(cursor *c, size_t n, int64_t *v)
{
    unsigned char b[8];
    if (take(c, b, n) != 0)
        return -1;
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u = u << 8 | b[i];
    if (n < 8 && (u >> (8 * n - 1)) & 1) /* sign-extend */
        u |= ~(uint64_t)0 << (8 * n);
    *v = (int64_t)u;
    return 0;
}

static int take_string(cursor *c, char *out, size_t size)
{
    int64_t n;
    if (take_int(c, 2, &n) != 0 || n < 0 || (size_t)n >= size)
        return -1;
    out[n] = '\0';
    return take(c, out, (size_t)n);
}

int rv_checkpoint_decode(const void *key, size_t key_len, const void *value, size_t value_len,
                         rv_checkpoint *cp)
{
    cursor k = {key, key ? key_len : 0}, v = {value, value ? value_len : 0};
    int64_t partition, version;
    char metadata[1024];
    if (take_string(&k, cp->group, sizeof cp->group) != 0 ||
        take_string(&k, cp->topic, sizeof cp->topic) != 0 || take_int(&k, 4, &partition) != 0 ||
        k.left != 0 || take_int(&v, 2, &version) != 0 || version != 0 ||
        take_int(&v, 8, &cp->upstream) != 0 || take_int(&v, 8, &cp->downstream) != 0 ||
        take_string(&v, metadata, sizeof metadata) != 0)
        return -1;
    cp->partition = (int32_t)partition;
    return 0;
}

/* ---- reading a whole topic ---- */

typedef void (*record_fn)(const rd_kafka_message_t *m, void *ctx);

/* A consumer of no group that hears of each partition's end. */
static rd_kafka_t *reader_new(const rv_config *cfg, const char *bootstrap, char *err,
                              size_t err_size)
{
    rd_kafka_conf_t *conf = rv_kafka_conf(cfg, bootstrap, 0, err, err_size);
    char e[512];
    if (!conf)
        return NULL;
    if (rd_kafka_conf_set(conf, "group.id", "rendezvous-sites", e, sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) != RD_KAFKA_CONF_OK) {
        rv_errf(err, err_size, "consumer config: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        rv_errf(err, err_size, "kafka: %s", e);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Whether the cluster says topic does not exist (not mirrored here yet). */
static int missing(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int gone = 0;
    if (t && rd_kafka_metadata(rk, 0, t, &md, READ_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < md->topic_cnt; i++)
            gone |= !strcmp(md->topics[i].topic, topic) &&
                    md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return gone;
}

/* Every record of topic up to its end when called, to fn. 0, 1 when the
 * topic does not exist (nothing read), or -1 with err. */
static int read_whole(const rv_config *cfg, const char *bootstrap, const char *topic, record_fn fn,
                      void *ctx, char *err, size_t err_size)
{
    rd_kafka_t *rk = reader_new(cfg, bootstrap, err, err_size);
    if (!rk)
        return -1;
    if (missing(rk, topic)) {
        rd_kafka_destroy(rk);
        return 1;
    }
    int64_t *ends = NULL;
    int parts = rv_assign_whole(rk, topic, READ_TIMEOUT_MS, &ends, err, err_size);
    unsigned char *done = parts > 0 ? calloc((size_t)parts, 1) : NULL;
    int left = 0, rc = parts < 0 || (parts > 0 && !done) ? -1 : 0;
    for (int p = 0; rc == 0 && p < parts; p++)
        left += !(done[p] = ends[p] <= 0);
    int64_t give_up = rv_mono_ms() + READ_TIMEOUT_MS;
    while (rc == 0 && left > 0) {
        if (rv_mono_ms() > give_up) {
            rv_errf(err, err_size, "%s: not read to its end in %d s", topic,
                    READ_TIMEOUT_MS / 1000);
            rc = -1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        int p = m->partition;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rv_errf(err, err_size, "%s: %s", topic, rd_kafka_message_errstr(m));
            rc = -1;
        } else if (p >= 0 && p < parts && !done[p]) {
            if (!m->err)
                fn(m, ctx);
            if (m->err || m->offset + 1 >= ends[p]) {
                done[p] = 1;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(done);
    free(ends);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- checkpoints ---- */

typedef struct {
    const char *group, *topic;
    int64_t *out;
    int n;
} checkpoints_ctx;

static void on_checkpoint(const rd_kafka_message_t *m, void *arg)
{
    checkpoints_ctx *x = arg;
    rv_checkpoint cp;
    if (rv_checkpoint_decode(m->key, m->key_len, m->payload, m->len, &cp) == 0 &&
        strcmp(cp.group, x->group) == 0 && strcmp(cp.topic, x->topic) == 0 && cp.partition >= 0 &&
        cp.partition < x->n)
        x->out[cp.partition] = cp.downstream; /* a later one replaces it */
}

int rv_site_checkpoints(const rv_config *cfg, const char *bootstrap, const char *site,
                        const char *group, const char *topic, int64_t *out, int n, char *err,
                        size_t err_size)
{
    for (int p = 0; p < n; p++)
        out[p] = -1;
    char name[512];
    snprintf(name, sizeof name, "%s.checkpoints.internal", site);
    checkpoints_ctx x = {group, topic, out, n};
    int rc = read_whole(cfg, bootstrap, name, on_checkpoint, &x, err, err_size);
    if (rc > 0)
        rv_warn("sites", "%s does not exist here: no checkpoint of %s", name, site);
    return rc < 0 ? -1 : 0;
}

/* ---- what the other site answered ---- */

typedef struct {
    const char *header, *value;
    rv_idset *ids;
    long added;
    int oom;
} answered_ctx;

static void on_answer(const rd_kafka_message_t *m, void *arg)
{
    answered_ctx *x = arg;
    if (!m->key)
        return;
    if (x->header) {
        rd_kafka_headers_t *h = NULL;
        const void *v;
        size_t n;
        if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            rd_kafka_header_get_last(h, x->header, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            n != strlen(x->value) || memcmp(v, x->value, n) != 0)
            return;
    }
    int r = rv_idset_add(x->ids, m->key, m->key_len);
    x->added += r > 0;
    x->oom |= r < 0;
}

long rv_site_answered(const rv_config *cfg, const char *bootstrap, const char *topic,
                      const char *header, const char *value, rv_idset *ids, char *err,
                      size_t err_size)
{
    answered_ctx x = {header, value, ids, 0, 0};
    int rc = read_whole(cfg, bootstrap, topic, on_answer, &x, err, err_size);
    if (rc > 0)
        rv_warn("sites",
                "%s does not exist here (not mirrored yet?): nothing answered there "
                "is known here",
                topic);
    if (rc < 0)
        return -1;
    if (x.oom) {
        rv_errf(err, err_size, "%s: out of memory keeping the ids answered", topic);
        return -1;
    }
    return x.added;
}

/* ---- the other site's evaluation records ---- */

static void copy_string(yajl_val obj, const char *key, char *out, size_t size)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    const char *s = v ? YAJL_GET_STRING(v) : NULL;
    snprintf(out, size, "%s", s ? s : "");
}

static double number(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
    return v ? YAJL_GET_DOUBLE(v) : NAN;
}

int rv_site_figure_decode(const void *value, size_t len, rv_site_figure *f)
{
    char *text = malloc(len + 1);
    if (!text)
        return -1;
    memcpy(text, value, len);
    text[len] = '\0';
    yajl_val root = yajl_tree_parse(text, NULL, 0);
    free(text);
    const char *type_path[] = {"type", NULL};
    yajl_val type = root ? yajl_tree_get(root, type_path, yajl_t_string) : NULL;
    const char *ts = type ? YAJL_GET_STRING(type) : NULL;
    int ok = ts && strcmp(ts, "evaluation") == 0;
    if (ok) {
        memset(f, 0, sizeof *f);
        copy_string(root, "source", f->source, sizeof f->source);
        copy_string(root, "window", f->window, sizeof f->window);
        copy_string(root, "version", f->version, sizeof f->version);
        copy_string(root, "schedule_version", f->schedule_version, sizeof f->schedule_version);
        double t = number(root, "time"), n = number(root, "count");
        f->time_ms = isfinite(t) ? (int64_t)t : 0;
        f->count = isfinite(n) && n > 0 ? (uint64_t)n : 0;
        f->accuracy = number(root, "accuracy");
        f->auc = number(root, "auc");
        f->log_loss = number(root, "log_loss");
        f->brier = number(root, "brier");
        ok = *f->source && *f->window;
    }
    yajl_tree_free(root);
    return ok ? 0 : -1;
}

/* ---- the other site's heartbeats, and its evaluation ---- */

/* How often the peer's evaluation topic is looked for until it exists
 * here, and how many of each partition's last records are read first. */
#define FIGURES_LOOK_MS 2000
#define FIGURES_TAIL 500

struct rv_site_watch {
    rd_kafka_t *rk, *figures_rk; /* heartbeats; the evaluation (once it exists) */
    pthread_t thread;
    atomic_int stop;
    _Atomic int64_t last_ms, lag_ms;
    char site[64], figures_topic[512];
    int64_t figures_look_at;
    pthread_mutex_t lock; /* figures */
    rv_site_figure figures[RV_SITE_MAX_FIGURES];
    size_t n_figures;
};

/* Assigns the figures' consumer to the last records of the peer's
 * evaluation topic once it exists here. */
static void look_for_figures(rv_site_watch *w)
{
    int64_t now = rv_mono_ms();
    if (w->figures_look_at > now)
        return;
    w->figures_look_at = now + FIGURES_LOOK_MS;
    int parts = rv_topic_partitions(w->figures_rk, w->figures_topic, 500);
    if (parts <= 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, w->figures_topic, p)->offset =
            RD_KAFKA_OFFSET_TAIL(FIGURES_TAIL);
    rd_kafka_resp_err_t e = rd_kafka_assign(w->figures_rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        rv_warn("sites", "%s: cannot read it: %s", w->figures_topic, rd_kafka_err2str(e));
    else
        w->figures_look_at = INT64_MAX;
}

static void keep_figure(rv_site_watch *w, const rv_site_figure *f)
{
    pthread_mutex_lock(&w->lock);
    size_t i = 0;
    while (i < w->n_figures &&
           (strcmp(w->figures[i].source, f->source) || strcmp(w->figures[i].window, f->window) ||
            strcmp(w->figures[i].schedule_version, f->schedule_version)))
        i++;
    if (i == w->n_figures && i < RV_SITE_MAX_FIGURES)
        w->figures[w->n_figures++] = *f;
    else if (i < w->n_figures && f->time_ms >= w->figures[i].time_ms)
        w->figures[i] = *f; /* the latest: a partition's records may come late */
    pthread_mutex_unlock(&w->lock);
}

static void read_figures(rv_site_watch *w)
{
    if (w->figures_look_at != INT64_MAX) {
        look_for_figures(w);
        return;
    }
    rd_kafka_message_t *m;
    for (int i = 0; i < 100 && (m = rd_kafka_consumer_poll(w->figures_rk, 0)); i++) {
        rv_site_figure f;
        if (!m->err && m->payload && rv_site_figure_decode(m->payload, m->len, &f) == 0)
            keep_figure(w, &f);
        rd_kafka_message_destroy(m);
    }
}

static void *watch_loop(void *arg)
{
    rv_site_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        if (w->figures_rk)
            read_figures(w);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            int64_t at = rd_kafka_message_timestamp(m, NULL);
            atomic_store(&w->last_ms, rv_mono_ms());
            if (at > 0) /* both sites' clocks: NTP's error is in it */
                atomic_store(&w->lag_ms, rv_real_us() / 1000 - at);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

rv_site_watch *rv_site_watch_start(const rv_config *cfg, const char *bootstrap, const char *site,
                                   char *err, size_t err_size)
{
    rv_site_watch *w = calloc(1, sizeof *w);
    if (!w) {
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    char name[512];
    snprintf(name, sizeof name, "%s.heartbeats", site);
    snprintf(w->site, sizeof w->site, "%s", site);
    snprintf(w->figures_topic, sizeof w->figures_topic, "%s.%s", site, cfg->streams.evaluation);
    atomic_store(&w->last_ms, rv_mono_ms());
    atomic_store(&w->lag_ms, -1);
    pthread_mutex_init(&w->lock, NULL);
    if (!(w->rk = reader_new(cfg, bootstrap, err, err_size)) ||
        rv_assign_from_end(w->rk, name, READ_TIMEOUT_MS, err, err_size) < 0 ||
        (cfg->evaluation.labels && !(w->figures_rk = reader_new(cfg, bootstrap, err, err_size))) ||
        pthread_create(&w->thread, NULL, watch_loop, w) != 0) {
        if (w->rk)
            rd_kafka_destroy(w->rk);
        if (w->figures_rk)
            rd_kafka_destroy(w->figures_rk);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

int64_t rv_site_watch_last_ms(rv_site_watch *w)
{
    return atomic_load(&w->last_ms);
}

const char *rv_site_watch_site(const rv_site_watch *w)
{
    return w->site;
}

int64_t rv_site_watch_lag_ms(rv_site_watch *w)
{
    return atomic_load(&w->lag_ms);
}

size_t rv_site_watch_figures(rv_site_watch *w, rv_site_figure *out, size_t max)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_figures < max ? w->n_figures : max;
    memcpy(out, w->figures, n * sizeof *out);
    pthread_mutex_unlock(&w->lock);
    return n;
}

void rv_site_watch_stop(rv_site_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    rd_kafka_destroy(w->rk);
    if (w->figures_rk)
        rd_kafka_destroy(w->figures_rk);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
