/*
 * topics.c - the topics a service needs, looked up and created. Must never
 * create a topic as a side effect of looking: metadata is asked by a
 * client that does not allow auto-creation (a consumer), so that a topic
 * missing on an operator's cluster is reported, not made with the
 * broker's defaults. A cluster that does not answer is said to, with the
 * client's own reason (a wrong password, a TLS failure), not waited on.
 */
#include "topics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "streams.h"

/* A message built from parts, cut at its buffer's end like rv_errf's. */
typedef struct msg {
    char *buf;
    size_t size, len;
} msg;

__attribute__((format(printf, 2, 3))) static void add(msg *m, const char *fmt, ...)
{
    if (m->len + 1 >= m->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(m->buf + m->len, m->size - m->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        m->len = m->len + (size_t)w < m->size ? m->len + (size_t)w : m->size - 1;
}

static void need(rv_topic_need *n, const char *name, const char *role, rv_parts_rule rule,
                 const char *use)
{
    snprintf(n->name, sizeof n->name, "%s", name);
    n->role = role;
    n->rule = rule;
    n->use = use;
}

void rv_topics_reply_topic(const rv_config *cfg, char *out, size_t size)
{
    snprintf(out, size, "%s.gateway-replies", cfg->service);
}

size_t rv_topics_needed(const rv_config *cfg, int scorer, rv_topic_need out[RV_TOPICS_MAX])
{
    int remote = 0;
    for (size_t i = 0; i < cfg->n_models; i++)
        remote |= cfg->models[i].remote;
    size_t n = 0;
    need(&out[n++], cfg->streams.requests, "requests", RV_PARTS_ANY, "read");
    int evaluated = cfg->evaluation.labels != NULL;
    need(&out[n++], cfg->streams.scores, "scores",
         remote || scorer || evaluated ? RV_PARTS_SAME : RV_PARTS_AT_LEAST,
         remote ? "written, and read for the remote models" : "written");
    if (scorer)
        return n;
    /* the evaluation reads scores, results and labels of one partition
     * number together (range assignment: equal counts) */
    need(&out[n++], cfg->streams.results, "results", evaluated ? RV_PARTS_SAME : RV_PARTS_AT_LEAST,
         "written");
    need(&out[n++], cfg->streams.archive, "archive", RV_PARTS_AT_LEAST, "written by the decoy");
    need(&out[n++], cfg->streams.alerts, "alerts", RV_PARTS_ANY, "written");
    need(&out[n++], cfg->streams.dead_letter, "dead-letter", RV_PARTS_ANY, "written");
    need(&out[n++], cfg->streams.control, "control", RV_PARTS_ANY, "read by every host");
    if (evaluated)
        need(&out[n++], cfg->streams.labels, "labels", RV_PARTS_SAME,
             "read by the evaluation, beside the scores and results of the same partitions");
    if (evaluated)
        need(&out[n++], cfg->streams.evaluation, "evaluation", RV_PARTS_ANY,
             "the evaluation's figures, written every report_s");
    if (cfg->http.listen) {
        char reply[RV_TOPIC_NAME_MAX];
        rv_topics_reply_topic(cfg, reply, sizeof reply);
        need(&out[n++], reply, "gateway-replies", evaluated ? RV_PARTS_SAME : RV_PARTS_ANY,
             evaluated ? "the HTTP gateway's replies, read by the evaluation beside the labels"
                       : "the HTTP gateway's replies");
    }
    return n;
}

static void on_client_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    rv_cluster_trouble *t = opaque;
    (void)rk;
    /* the cause (authentication, TLS) rather than its echo (all brokers down) */
    if (!t->why[0] || err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL)
        snprintf(t->why, sizeof t->why, "%s", reason);
}

rd_kafka_t *rv_topics_client(const rv_config *cfg, const char *bootstrap,
                             rv_cluster_trouble *trouble, char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rv_kafka_conf(cfg, bootstrap, 0, err, err_size);
    if (!conf)
        return NULL;
    trouble->why[0] = 0;
    rd_kafka_conf_set_opaque(conf, trouble);
    rd_kafka_conf_set_error_cb(conf, on_client_error);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        rv_errf(err, err_size, "kafka: %s", e);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Errors that say the cluster is not reached at all: no point asking for
 * the next topic. */
static int unreachable(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
           e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
           e == RD_KAFKA_RESP_ERR__SSL || e == RD_KAFKA_RESP_ERR__RESOLVE;
}

/* One topic's metadata into *f; the request's own error (none when the
 * cluster answered, whatever it said of the topic). */
static rd_kafka_resp_err_t look_up(rd_kafka_t *rk, const char *name, int timeout_ms,
                                   rv_topic_found *f)
{
    *f = (rv_topic_found){.partitions = -1};
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, name, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e =
        t ? rd_kafka_metadata(rk, 0, t, &md, timeout_ms) : rd_kafka_last_error();
    for (int k = 0; md && k < md->topic_cnt; k++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[k];
        if (strcmp(mt->topic, name) != 0)
            continue;
        /* a topic just made may have no leader yet: it is there */
        int settling = mt->err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
        if (mt->err && mt->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && !settling)
            snprintf(f->error, sizeof f->error, "%s", rd_kafka_err2str(mt->err));
        else if ((!mt->err || settling) && mt->partition_cnt > 0) {
            f->partitions = mt->partition_cnt;
            f->replication = mt->partitions[0].replica_cnt;
        }
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return e;
}

/* How long a topic reported missing is asked for again: each broker has
 * its own view of the cluster's metadata, and one asked right after the
 * topics were made may not know them yet. */
#define SETTLE_MS 5000

int rv_topics_find(rd_kafka_t *rk, const rv_topic_need *need, size_t n, int timeout_ms,
                   const rv_cluster_trouble *trouble, rv_topic_found *found, char *err,
                   size_t err_size)
{
    int64_t until = rv_mono_ms() + SETTLE_MS;
    for (int first = 1;; first = 0) {
        size_t missing = 0;
        for (size_t i = 0; i < n; i++) {
            rv_topic_found *f = &found[i];
            if (!first && (f->partitions >= 0 || f->error[0]))
                continue; /* known already */
            rd_kafka_resp_err_t e = look_up(rk, need[i].name, timeout_ms, f);
            if (e && (unreachable(e) || i == 0)) {
                rd_kafka_poll(rk, 0); /* serves the error callback: why */
                rv_errf(err, err_size, "the cluster does not answer: %s",
                        trouble && trouble->why[0] ? trouble->why : rd_kafka_err2str(e));
                return -1;
            }
            if (e)
                snprintf(f->error, sizeof f->error, "%s", rd_kafka_err2str(e));
            missing += f->partitions < 0 && !f->error[0];
        }
        if (!missing || rv_mono_ms() >= until)
            return 0;
        rv_sleep_ms(250);
    }
}

int rv_topics_check(const rv_config *cfg, const char *bootstrap, int scorer, int timeout_ms,
                    char *err, size_t err_size)
{
    rv_cluster_trouble trouble;
    rd_kafka_t *rk = rv_topics_client(cfg, bootstrap, &trouble, err, err_size);
    if (!rk)
        return -1;
    rv_topic_need need[RV_TOPICS_MAX];
    rv_topic_found found[RV_TOPICS_MAX];
    size_t n = rv_topics_needed(cfg, scorer, need);
    int parts = rv_topics_find(rk, need, n, timeout_ms, &trouble, found, err, err_size) == 0
                    ? rv_topics_verdict(need, n, found, cfg->path, err, err_size)
                    : -1;
    rd_kafka_destroy(rk);
    return parts;
}

int rv_topics_verdict(const rv_topic_need *need, size_t n, const rv_topic_found *found,
                      const char *config_path, char *err, size_t err_size)
{
    msg b = {err, err_size, 0};
    if (err_size)
        err[0] = 0;
    int requests = found[0].partitions;
    size_t missing = 0;
    for (size_t i = 0; i < n; i++)
        if (found[i].partitions < 0 && !found[i].error[0])
            missing++;
    if (missing) {
        add(&b, "%zu topic(s) missing on the cluster:", missing);
        const char *sep = " ";
        for (size_t i = 0; i < n; i++)
            if (found[i].partitions < 0 && !found[i].error[0]) {
                add(&b, "%s%s (%s)", sep, need[i].name, need[i].role);
                sep = ", ";
            }
        add(&b, "; `rendezvous topics -c %s --create` creates them", config_path);
    }
    for (size_t i = 0; i < n; i++)
        if (found[i].error[0])
            add(&b, "%stopic %s (%s) cannot be used: %s", b.len ? "; " : "", need[i].name,
                need[i].role, found[i].error);
    for (size_t i = 1; i < n && requests > 0; i++) {
        int p = found[i].partitions;
        if (p < 0)
            continue;
        if (need[i].rule == RV_PARTS_SAME && p != requests)
            add(&b,
                "%stopic %s has %d partitions but %s has %d: with a remote model they "
                "must be equal (the host reads the scores partitions of the requests "
                "partitions it owns)",
                b.len ? "; " : "", need[i].name, p, need[0].name, requests);
        else if (need[i].rule == RV_PARTS_AT_LEAST && p < requests)
            add(&b,
                "%stopic %s has %d partitions but %s has %d: %s go to the request's "
                "partition number, so it needs at least as many",
                b.len ? "; " : "", need[i].name, p, need[0].name, requests, need[i].role);
    }
    return b.len ? -1 : requests;
}

int rv_topics_create(rd_kafka_t *rk, const rv_topic_need *need, size_t n,
                     const rv_topic_found *found, int partitions, int replication, int timeout_ms,
                     FILE *out, char *err, size_t err_size)
{
    rd_kafka_NewTopic_t *nt[RV_TOPICS_MAX];
    size_t k = 0;
    char e[512];
    int parts = found[0].partitions > 0 ? found[0].partitions : partitions;
    for (size_t i = 0; i < n; i++) {
        if (found[i].partitions >= 0)
            continue;
        nt[k] = rd_kafka_NewTopic_new(need[i].name, parts, replication, e, sizeof e);
        if (!nt[k] || (replication >= 3 &&
                       rd_kafka_NewTopic_set_config(nt[k], "min.insync.replicas", "2") != 0)) {
            rv_errf(err, err_size, "topic %s: %s", need[i].name, nt[k] ? "bad setting" : e);
            if (nt[k])
                rd_kafka_NewTopic_destroy(nt[k]);
            rd_kafka_NewTopic_destroy_array(nt, k);
            return -1;
        }
        k++;
    }
    if (k == 0)
        return 0;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, e, sizeof e);
    rd_kafka_CreateTopics(rk, nt, k, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    int rc = 0;
    if (!ev) {
        rv_errf(err, err_size, "no answer to CreateTopics within %d ms", timeout_ms + 5000);
        rc = -1;
    } else if (rd_kafka_event_error(ev)) {
        rv_errf(err, err_size, "CreateTopics: %s", rd_kafka_event_error_string(ev));
        rc = -1;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        msg b = {err, err_size, 0};
        if (err_size)
            err[0] = 0;
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                add(&b, "%scannot create %s: %s", b.len ? "; " : "",
                    rd_kafka_topic_result_name(tr[i]),
                    rd_kafka_topic_result_error_string(tr[i])
                        ? rd_kafka_topic_result_error_string(tr[i])
                        : rd_kafka_err2str(te));
            else if (out)
                fprintf(out, "created %s: %d partitions, replication %d%s\n",
                        rd_kafka_topic_result_name(tr[i]), parts, replication,
                        replication >= 3 ? ", min.insync.replicas 2" : "");
        }
        rc = b.len ? -1 : 0;
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, k);
    return rc;
}
