/*
 * records.c - encoding of the public records. Never changes the bytes it is
 * given: a body or key is either copied as a JSON string or base64-encoded.
 */
#include "records.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A provenance number as JSON: the integer, or null when absent or not one. */
static void provenance_int(rv_jw *w, const rv_archived *a, const char *name, const char *field)
{
    const rv_header *h = rv_archived_provenance(a, name);
    char buf[32], *end = buf;
    size_t n = h && h->value_len < sizeof buf ? h->value_len : 0;
    if (n)
        memcpy(buf, h->value, n);
    buf[n] = '\0';
    errno = 0;
    long long v = n ? strtoll(buf, &end, 10) : 0;
    rv_jw_string(w, field);
    if (n && !*end && errno == 0)
        rv_jw_integer(w, v);
    else
        rv_jw_null(w);
}

/* A provenance string as a JSON field named field. */
static void provenance_string(rv_jw *w, const rv_archived *a, const char *name, const char *field)
{
    const rv_header *h = rv_archived_provenance(a, name);
    if (h)
        rv_jw_bytes_field(w, field, h->value, h->value_len);
    else
        rv_jw_kv_string(w, field, NULL);
}

void rv_record_archive(rv_jw *w, const rv_archived *a)
{
    rv_jw_map_open(w);
    provenance_string(w, a, "rv-id", "id");
    provenance_string(w, a, "rv-topic", "topic");
    provenance_int(w, a, "rv-partition", "partition");
    provenance_int(w, a, "rv-offset", "offset");
    provenance_int(w, a, "rv-timestamp", "timestamp_ms");
    if (rv_archived_provenance(a, "rv-site")) /* written at a site (site.name) */
        provenance_string(w, a, "rv-site", "site");
    if (rv_archived_provenance(a, "rv-taken-over-from"))
        provenance_string(w, a, "rv-taken-over-from", "taken_over_from");
    if (a->key)
        rv_jw_bytes_field(w, "key", a->key, a->key_len);
    else
        rv_jw_kv_string(w, "key", NULL);
    rv_jw_string(w, "headers");
    rv_jw_map_open(w);
    for (size_t i = 0; i < a->n_own; i++)
        if (a->headers[i].value)
            rv_jw_bytes_field(w, a->headers[i].name, a->headers[i].value, a->headers[i].value_len);
        else
            rv_jw_kv_string(w, a->headers[i].name, NULL);
    rv_jw_map_close(w);
    rv_jw_bytes_field(w, "body", a->value, a->value_len);
    rv_jw_map_close(w);
}

rd_kafka_headers_t *rv_record_archive_headers(const rv_request *r)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(r->n_headers + RV_ARCHIVE_PROVENANCE);
    if (!h)
        return NULL;
    rv_provenance p;
    rv_archive_provenance(r, &p);
    for (size_t i = 0; i < r->n_headers; i++)
        rd_kafka_header_add(h, r->headers[i].name, -1, r->headers[i].value,
                            r->headers[i].value ? (ssize_t)r->headers[i].value_len : 0);
    for (size_t i = 0; i < RV_ARCHIVE_PROVENANCE; i++)
        rd_kafka_header_add(h, p.h[i].name, -1, p.h[i].value, (ssize_t)p.h[i].value_len);
    return h;
}

/* ---- fixed-layout records: scores and results ---- */

#define RAW(w, lit) rv_jw_raw(w, lit, sizeof lit - 1)

static int frag(rv_frag *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int frag(rv_frag *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&f->s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        f->s = NULL;
        return -1;
    }
    f->n = (size_t)n;
    return 0;
}

int rv_model_json_init(rv_model_json *j, const char *name, const char *version,
                       const char *const *labels, uint32_t n_labels)
{
    memset(j, 0, sizeof *j);
    char *qn = rv_jw_quote(name), *qv = rv_jw_quote(version);
    /* as a map key, a name that is not UTF-8 is "" (rv_jw_string) */
    int ok = qn && qv &&
             frag(&j->score_head, ",\"model\":%s,\"version\":%s,\"status\":\"", qn, qv) == 0 &&
             frag(&j->result_head, ",\"model\":%s,\"version\":%s,\"reason\":\"", qn, qv) == 0 &&
             frag(&j->models_key, "%s:{\"status\":\"", *qn == '"' ? qn : "\"\"") == 0 &&
             (j->answer_head = calloc(n_labels ? n_labels : 1, sizeof *j->answer_head));
    free(qn);
    free(qv);
    for (uint32_t i = 0; ok && i < n_labels; i++) {
        char *ql = rv_jw_quote(labels[i]);
        ok = ql && frag(&j->answer_head[i], "{\"label\":%s,\"score\":", ql) == 0;
        free(ql);
        j->n_labels = i + 1;
    }
    if (!ok) {
        rv_model_json_free(j);
        return -1;
    }
    return 0;
}

void rv_model_json_free(rv_model_json *j)
{
    free(j->score_head.s);
    free(j->result_head.s);
    free(j->models_key.s);
    for (uint32_t i = 0; j->answer_head && i < j->n_labels; i++)
        free(j->answer_head[i].s);
    free(j->answer_head);
    memset(j, 0, sizeof *j);
}

static void put_frag(rv_jw *w, const rv_frag *f)
{
    rv_jw_raw(w, f->s, f->n);
}

static void put_cstr(rv_jw *w, const char *s)
{
    rv_jw_raw(w, s, strlen(s));
}

/* [{"label": ..., "score": ...}, ...] */
static void put_answers(rv_jw *w, const rv_model_json *m, const rv_slot *slot)
{
    RAW(w, "[");
    for (uint32_t i = 0; i < slot->n_answers; i++) {
        if (i)
            RAW(w, ",");
        uint32_t label = slot->answers[i].label;
        if (label < m->n_labels)
            put_frag(w, &m->answer_head[label]);
        else
            RAW(w, "{\"label\":null,\"score\":");
        rv_jw_raw_double(w, slot->answers[i].score);
        RAW(w, "}");
    }
    RAW(w, "]");
}

void rv_record_score(rv_jw *w, const rv_model_json *m, const char *id, const rv_slot *slot)
{
    int status = atomic_load_explicit(&slot->status, memory_order_acquire);
    RAW(w, "{\"id\":");
    rv_jw_raw_string(w, id, strlen(id));
    put_frag(w, &m->score_head);
    put_cstr(w, rv_slot_status_name(status));
    RAW(w, "\",\"latency_us\":");
    rv_jw_raw_int(w, slot->latency_us);
    RAW(w, ",\"answers\":");
    put_answers(w, m, slot);
    if (status != RV_SLOT_OK && slot->error && slot->error[0]) {
        RAW(w, ",");
        rv_jw_raw_bytes_field(w, "error", slot->error, strlen(slot->error));
    }
    RAW(w, "}");
}

void rv_record_result(rv_jw *w, const rv_result_fields *r)
{
    RAW(w, "{\"id\":");
    rv_jw_raw_string(w, r->id, strlen(r->id));
    if (r->chosen)
        put_frag(w, &r->chosen->result_head);
    else
        RAW(w, ",\"model\":null,\"version\":null,\"reason\":\"");
    put_cstr(w, rv_reason_name(r->reason));
    RAW(w, "\"");
    if (!r->chosen && !r->default_label)
        RAW(w, ",\"status\":\"error\"");
    RAW(w, ",\"rank\":");
    if (r->rank >= 0)
        rv_jw_raw_int(w, r->rank);
    else
        RAW(w, "null");
    RAW(w, ",\"answers\":");
    if (r->chosen && r->answer)
        put_answers(w, r->chosen, r->answer);
    else if (r->default_label) {
        RAW(w, "[{\"label\":");
        rv_jw_raw_string(w, r->default_label, strlen(r->default_label));
        RAW(w, ",\"score\":");
        rv_jw_raw_double(w, r->default_score);
        RAW(w, "}]");
    } else
        RAW(w, "[]");
    RAW(w, ",\"latency_us\":");
    rv_jw_raw_int(w, r->latency_us);
    RAW(w, ",\"schedule_version\":");
    rv_jw_raw_int(w, (long long)r->schedule_version);
    RAW(w, ",\"models\":{");
    for (size_t i = 0; i < r->n_models; i++) {
        if (i)
            RAW(w, ",");
        put_frag(w, &r->models[i].json->models_key);
        put_cstr(w, r->models[i].status);
        RAW(w, "\"");
        if (r->models[i].latency_us >= 0) {
            RAW(w, ",\"latency_us\":");
            rv_jw_raw_int(w, r->models[i].latency_us);
        }
        RAW(w, "}");
    }
    RAW(w, "}}");
}

void rv_record_alert(rv_jw *w, const rv_alert_fields *a)
{
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "type", a->raised ? "alert" : "clear");
    rv_jw_kv_string(w, "check", a->check);
    rv_jw_kv_string(w, "model", a->model);
    rv_jw_kv_string(w, "version", a->version);
    rv_jw_kv_string(w, "canary", a->canary);
    rv_jw_string(w, "value");
    rv_jw_double(w, a->value);
    rv_jw_string(w, "threshold");
    rv_jw_double(w, a->threshold);
    rv_jw_string(w, "p_value");
    rv_jw_double(w, a->p_value);
    rv_jw_string(w, "alpha");
    rv_jw_double(w, a->alpha);
    rv_jw_kv_int(w, "window", a->window);
    if (a->reference_window)
        rv_jw_kv_int(w, "reference_window", a->reference_window);
    rv_jw_kv_int(w, "for", a->for_tests);
    rv_jw_kv_string(w, "message", a->message);
    rv_jw_map_close(w);
}

void rv_record_process_alert(rv_jw *w, const rv_process_alert_fields *a)
{
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "type", a->raised ? "alert" : "clear");
    rv_jw_kv_string(w, "check", "process");
    rv_jw_kv_string(w, "model", a->model);
    rv_jw_kv_string(w, "version", a->version);
    rv_jw_kv_int(w, "instance", a->instance);
    rv_jw_kv_int(w, "pid", a->pid);
    rv_jw_kv_string(w, "reason", a->reason);
    rv_jw_kv_int(w, "restarts", (int64_t)a->restarts);
    rv_jw_kv_string(w, "message", a->message);
    rv_jw_map_close(w);
}

void rv_record_control_alert(rv_jw *w, const char *topic, int32_t partition, int64_t offset,
                             const char *reason)
{
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "type", "alert");
    rv_jw_kv_string(w, "check", "control_signature");
    rv_jw_kv_string(w, "topic", topic);
    rv_jw_kv_int(w, "partition", partition);
    rv_jw_kv_int(w, "offset", offset);
    rv_jw_kv_string(w, "reason", reason);
    rv_jw_kv_string(w, "message", "a control record was refused; the schedule is unchanged");
    rv_jw_map_close(w);
}

rd_kafka_headers_t *rv_record_dead_letter_headers(const rd_kafka_headers_t *src, const char *reason,
                                                  const rv_request *r)
{
    rd_kafka_headers_t *h = src ? rd_kafka_headers_copy(src) : rd_kafka_headers_new(5);
    if (!h)
        return NULL;
    char num[32];
    rd_kafka_header_add(h, "rv-error", -1, reason, -1);
    rd_kafka_header_add(h, "rv-id", -1, r->id, -1);
    rd_kafka_header_add(h, "rv-source-topic", -1, r->topic ? r->topic : "", -1);
    snprintf(num, sizeof num, "%" PRId32, r->partition);
    rd_kafka_header_add(h, "rv-source-partition", -1, num, -1);
    snprintf(num, sizeof num, "%" PRId64, r->offset);
    rd_kafka_header_add(h, "rv-source-offset", -1, num, -1);
    return h;
}
