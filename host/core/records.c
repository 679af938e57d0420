/*
 * records.c - encoding of the public records. Never changes the bytes it is
 * given: a body or key is either copied as a JSON string or base64-encoded.
 */
#include "records.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A provenance number as JSON: the integer, or null when absent or not one. */
static void provenance_int(rv_jw *w, const rv_archived *a, const char *name, const char *field)
{
    char buf[32], *end = NULL;
    const char *v = rv_archived_provenance(a, name, buf, sizeof buf);
    errno = 0;
    long long n = v && *v ? strtoll(v, &end, 10) : 0;
    rv_jw_string(w, field);
    if (v && *v && !*end && errno == 0)
        rv_jw_integer(w, n);
    else
        rv_jw_null(w);
}

/* A provenance string as a JSON field named field. */
static void provenance_string(rv_jw *w, const rv_archived *a, const char *name, const char *field)
{
    for (size_t i = a->n_own; i < a->n_headers; i++)
        if (strcmp(a->headers[i].name, name) == 0) {
            rv_jw_bytes_field(w, field, a->headers[i].value, a->headers[i].value_len);
            return;
        }
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

void rv_record_answers(rv_jw *w, const rv_slot *slot, const char *const *labels)
{
    rv_jw_array_open(w);
    for (uint32_t i = 0; i < slot->n_answers; i++) {
        rv_jw_map_open(w);
        rv_jw_kv_string(w, "label", labels[slot->answers[i].label]);
        rv_jw_string(w, "score");
        rv_jw_double(w, slot->answers[i].score);
        rv_jw_map_close(w);
    }
    rv_jw_array_close(w);
}

void rv_record_score(rv_jw *w, const char *id, const char *model, const char *version,
                     const rv_slot *slot, const char *const *labels)
{
    int status = atomic_load_explicit(&slot->status, memory_order_acquire);
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "id", id);
    rv_jw_kv_string(w, "model", model);
    rv_jw_kv_string(w, "version", version);
    rv_jw_kv_string(w, "status", rv_slot_status_name(status));
    rv_jw_kv_int(w, "latency_us", slot->latency_us);
    rv_jw_string(w, "answers");
    rv_record_answers(w, slot, labels);
    if (status != RV_SLOT_OK && slot->error[0])
        rv_jw_bytes_field(w, "error", slot->error, strlen(slot->error));
    rv_jw_map_close(w);
}

void rv_record_result(rv_jw *w, const rv_result_fields *r)
{
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "id", r->id);
    rv_jw_kv_string(w, "model", r->model);
    rv_jw_kv_string(w, "version", r->model ? r->version : NULL);
    rv_jw_kv_string(w, "reason", rv_reason_name(r->reason));
    if (!r->model && !r->default_label)
        rv_jw_kv_string(w, "status", "error");
    rv_jw_string(w, "rank");
    if (r->rank >= 0)
        rv_jw_integer(w, r->rank);
    else
        rv_jw_null(w);
    rv_jw_string(w, "answers");
    if (r->model && r->answer)
        rv_record_answers(w, r->answer, r->labels);
    else {
        rv_jw_array_open(w);
        if (r->default_label) {
            rv_jw_map_open(w);
            rv_jw_kv_string(w, "label", r->default_label);
            rv_jw_string(w, "score");
            rv_jw_double(w, r->default_score);
            rv_jw_map_close(w);
        }
        rv_jw_array_close(w);
    }
    rv_jw_kv_int(w, "latency_us", r->latency_us);
    rv_jw_kv_int(w, "schedule_version", (long long)r->schedule_version);
    rv_jw_string(w, "models");
    rv_jw_map_open(w);
    for (size_t i = 0; i < r->n_models; i++) {
        rv_jw_string(w, r->models[i].name);
        rv_jw_map_open(w);
        rv_jw_kv_string(w, "status", r->models[i].status);
        if (r->models[i].latency_us >= 0)
            rv_jw_kv_int(w, "latency_us", r->models[i].latency_us);
        rv_jw_map_close(w);
    }
    rv_jw_map_close(w);
    rv_jw_map_close(w);
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
    rv_jw_kv_int(w, "window", a->window);
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
