/*
 * rate_cmd.c - `rendezvous rate`: archived requests through a candidate
 * config's models, offline. Every request is rebuilt as the host saw it
 * (id, body, key, own headers, provenance, features parsed by the
 * candidate's feature list) and scored by every model but the decoy, in
 * batches of the model's max_batch, on its first instance.
 */
#include "rate_cmd.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_cmd.h"
#include "check_cmd.h"
#include "clock.h"
#include "feature_vector.h"
#include "generation.h"
#include "rate_report.h"
#include "scoring.h"

/* The archive's requests, as the candidate reads them. */
typedef struct reqs {
    const rv_generation *g;
    rv_request *v;
    size_t n, cap;
    long skipped; /* legacy or unparseable records */
    size_t limit;
} reqs;

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int64_t prov_number(const rv_archived *a, const char *name)
{
    const rv_header *h = rv_archived_provenance(a, name);
    char buf[32];
    if (!h || !h->value || h->value_len == 0 || h->value_len >= sizeof buf)
        return -1;
    memcpy(buf, h->value, h->value_len);
    buf[h->value_len] = '\0';
    return strtoll(buf, NULL, 10);
}

static void free_request(rv_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((void *)r->headers[i].value);
    }
    free((rv_header *)r->headers);
    free((char *)r->id);
    free((uint8_t *)r->body);
    free((uint8_t *)r->key);
    free((char *)r->topic);
    free((double *)r->features);
}

static int on_record(void *ctx, const rv_archived *a, int legacy)
{
    reqs *rs = ctx;
    if (rs->limit && rs->n >= rs->limit)
        return 1;
    const rv_header *id = rv_archived_provenance(a, "rv-id");
    const rv_header *topic = rv_archived_provenance(a, "rv-topic");
    if (legacy || !id || !id->value) {
        rs->skipped++;
        return 0;
    }
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 1024;
        rv_request *v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return -1;
        rs->v = v;
        rs->cap = cap;
    }
    rv_request *r = &rs->v[rs->n];
    *r = (rv_request){0};
    size_t nf = rv_feature_index_size(rs->g->features);
    double *features = calloc(nf + 1, sizeof *features);
    rv_header *h = calloc(a->n_own + 1, sizeof *h);
    r->id = dup_bytes(id->value, id->value_len);
    r->body = (const uint8_t *)dup_bytes(a->value, a->value_len);
    r->body_len = a->value_len;
    r->key = a->key ? (const uint8_t *)dup_bytes(a->key, a->key_len) : NULL;
    r->key_len = a->key_len;
    r->topic = topic && topic->value ? dup_bytes(topic->value, topic->value_len) : NULL;
    r->partition = (int32_t)prov_number(a, "rv-partition");
    r->offset = prov_number(a, "rv-offset");
    r->timestamp_ms = prov_number(a, "rv-timestamp");
    r->arrival_us = rv_real_us();
    r->features = features;
    r->n_features = nf;
    r->headers = h;
    for (size_t i = 0; h && i < a->n_own; i++) {
        h[i].name = dup_bytes(a->headers[i].name, strlen(a->headers[i].name));
        h[i].value =
            a->headers[i].value ? dup_bytes(a->headers[i].value, a->headers[i].value_len) : NULL;
        h[i].value_len = a->headers[i].value_len;
        r->n_headers = i + 1;
    }
    char err[256];
    if (!features || !h || !r->id || !r->body || (a->key && !r->key)) {
        free_request(r);
        return -1;
    }
    if (rv_features_parse(rs->g->features, r->body, r->body_len, features, err, sizeof err) != 0) {
        rs->skipped++; /* the host sent it to dead-letter */
        free_request(r);
        return 0;
    }
    rs->n++;
    return 0;
}

/* Scores every request with model m into out (one row per request). */
static int score_model(rv_model *m, const reqs *rs, rv_rate_model *out, int progress)
{
    size_t batch = m->max_batch ? m->max_batch : 1;
    rv_score_batch sb;
    rv_slot *slots = rv_slots_new(batch, m->n_labels);
    if (!slots || rv_score_batch_init(&sb, batch) != 0) {
        rv_slots_free(slots, batch);
        return -1;
    }
    for (size_t at = 0; at < rs->n; at += batch) {
        size_t n = rs->n - at < batch ? rs->n - at : batch;
        for (size_t i = 0; i < n; i++) {
            sb.reqs[i] = &rs->v[at + i];
            sb.slots[i] = &slots[i];
        }
        int64_t t0 = rv_mono_us();
        rv_model_score(m, m->instances[0], &sb, n);
        int64_t spent = rv_mono_us() - t0;
        for (size_t i = 0; i < n; i++)
            rv_rate_model_add(out, at + i, sb.status[i] == RV_SLOT_OK, &slots[i], spent);
        if (progress && (at / batch) % 50 == 0)
            fprintf(stderr, "\r%s: %zu of %zu requests scored", m->name, at + n, rs->n);
    }
    if (progress)
        fprintf(stderr, "\r%s: %zu of %zu requests scored\n", m->name, rs->n, rs->n);
    rv_score_batch_free(&sb);
    rv_slots_free(slots, batch);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: rendezvous rate -c CANDIDATE.yaml (DIR | --topic TOPIC -b BROKERS)\n"
                    "                       [--labels FILE] [--results FILE] [--json] "
                    "[--limit N]\n");
}

int rv_rate_main(const rv_config_env *env, int argc, char **argv)
{
    const char *config = NULL, *topic = NULL, *brokers = NULL, *labels = NULL, *results = NULL;
    int json = 0;
    long limit = 0;
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},  {"topic", required_argument, 0, 't'},
        {"brokers", required_argument, 0, 'b'}, {"labels", required_argument, 0, 'l'},
        {"results", required_argument, 0, 'r'}, {"json", no_argument, 0, 'j'},
        {"limit", required_argument, 0, 'n'},   {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:b:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 't': topic = optarg; break;
        case 'b': brokers = optarg; break;
        case 'l': labels = optarg; break;
        case 'r': results = optarg; break;
        case 'j': json = 1; break;
        case 'n': limit = atol(optarg); break;
        default: usage(); return 2;
        }
    }
    const char *dir = optind < argc ? argv[optind] : NULL;
    if (!config || !dir == !topic || optind < argc - 1 || (topic && !brokers) || limit < 0) {
        usage();
        return 2;
    }
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(config, env, &errs);
    if (cfg) /* it would open a segment in the archive being read */
        rv_config_drop_recorders(cfg);
    rv_generation *g = cfg ? rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    if (!g)
        return 2;

    int rc = 0, progress = isatty(STDERR_FILENO);
    reqs rs = {.g = g, .limit = (size_t)limit};
    long bad = rv_archive_each(dir, topic, brokers, on_record, &rs);
    if (bad < 0 && !(rs.limit && rs.n >= rs.limit)) {
        fprintf(stderr, "rendezvous rate: cannot read the archive\n");
        rc = 1;
    }
    rv_rate_report *rep = rc == 0 ? rv_rate_report_new(g, rs.n) : NULL;
    if (rc == 0 && !rep) {
        fprintf(stderr, "rendezvous rate: out of memory\n");
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < g->n_models; i++) {
        rv_model *m = g->models[i];
        if (!m->is_decoy && !m->is_remote && m->n_created > 0 &&
            score_model(m, &rs, rv_rate_report_model(rep, i), progress) != 0) {
            fprintf(stderr, "rendezvous rate: out of memory scoring %s\n", m->name);
            rc = 1;
        }
    }
    if (rc == 0) {
        const char **ids = malloc((rs.n + 1) * sizeof *ids);
        for (size_t i = 0; ids && i < rs.n; i++)
            ids[i] = rs.v[i].id;
        char why[512];
        if (!ids || (labels && rv_rate_report_labels(rep, ids, labels, why, sizeof why) != 0) ||
            (results && rv_rate_report_results(rep, ids, results, why, sizeof why) != 0)) {
            fprintf(stderr, "rendezvous rate: %s\n", ids ? why : "out of memory");
            rc = ids ? 2 : 1;
        } else
            rv_rate_report_print(rep, stdout, json, bad > 0 ? bad : 0, rs.skipped);
        free(ids);
    }
    rv_rate_report_free(rep);
    for (size_t i = 0; i < rs.n; i++)
        free_request(&rs.v[i]);
    free(rs.v);
    rv_generation_unref(g);
    return rc;
}
