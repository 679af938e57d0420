/*
 * records.c - encoding of the public records. Never changes the bytes it is
 * given: a body or key is either copied as a JSON string or base64-encoded.
 */
#include "records.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void rv_record_archive(rv_jw *w, const rv_request *r)
{
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "id", r->id);
    rv_jw_kv_string(w, "topic", r->topic ? r->topic : "");
    rv_jw_kv_int(w, "partition", r->partition);
    rv_jw_kv_int(w, "offset", r->offset);
    rv_jw_kv_int(w, "timestamp_ms", r->timestamp_ms);
    if (r->key)
        rv_jw_bytes_field(w, "key", r->key, r->key_len);
    else
        rv_jw_kv_string(w, "key", NULL);
    rv_jw_string(w, "headers");
    rv_jw_map_open(w);
    for (size_t i = 0; i < r->n_headers; i++)
        rv_jw_bytes_field(w, r->headers[i].name, r->headers[i].value, r->headers[i].value_len);
    rv_jw_map_close(w);
    rv_jw_bytes_field(w, "body", r->body, r->body_len);
    rv_jw_map_close(w);
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
