/*
 * records.c - encoding of the public records. Never changes the bytes it is
 * given: a body or key is either copied as a JSON string or base64-encoded.
 */
#include "records.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void rv_record_archive(yajl_gen g, const rv_request *r)
{
    yajl_gen_map_open(g);
    rv_json_kv_string(g, "id", r->id);
    rv_json_kv_string(g, "topic", r->topic ? r->topic : "");
    rv_json_kv_int(g, "partition", r->partition);
    rv_json_kv_int(g, "offset", r->offset);
    rv_json_kv_int(g, "timestamp_ms", r->timestamp_ms);
    if (r->key)
        rv_json_bytes_field(g, "key", r->key, r->key_len);
    else
        rv_json_kv_string(g, "key", NULL);
    rv_json_string(g, "headers");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < r->n_headers; i++)
        rv_json_bytes_field(g, r->headers[i].name, r->headers[i].value, r->headers[i].value_len);
    yajl_gen_map_close(g);
    rv_json_bytes_field(g, "body", r->body, r->body_len);
    yajl_gen_map_close(g);
}

void rv_record_answers(yajl_gen g, const rv_slot *slot, const char *const *labels)
{
    yajl_gen_array_open(g);
    for (uint32_t i = 0; i < slot->n_answers; i++) {
        yajl_gen_map_open(g);
        rv_json_kv_string(g, "label", labels[slot->answers[i].label]);
        rv_json_string(g, "score");
        rv_json_double(g, slot->answers[i].score);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

void rv_record_score(yajl_gen g, const char *id, const char *model, const char *version,
                     const rv_slot *slot, const char *const *labels)
{
    int status = atomic_load_explicit(&slot->status, memory_order_acquire);
    yajl_gen_map_open(g);
    rv_json_kv_string(g, "id", id);
    rv_json_kv_string(g, "model", model);
    rv_json_kv_string(g, "version", version);
    rv_json_kv_string(g, "status", rv_slot_status_name(status));
    rv_json_kv_int(g, "latency_us", slot->latency_us);
    rv_json_string(g, "answers");
    rv_record_answers(g, slot, labels);
    if (status != RV_SLOT_OK && slot->error[0])
        rv_json_bytes_field(g, "error", slot->error, strlen(slot->error));
    yajl_gen_map_close(g);
}

void rv_record_result(yajl_gen g, const rv_result_fields *r)
{
    yajl_gen_map_open(g);
    rv_json_kv_string(g, "id", r->id);
    rv_json_kv_string(g, "model", r->model);
    rv_json_kv_string(g, "version", r->model ? r->version : NULL);
    rv_json_kv_string(g, "reason", rv_reason_name(r->reason));
    if (!r->model && !r->default_label)
        rv_json_kv_string(g, "status", "error");
    rv_json_string(g, "rank");
    if (r->rank >= 0)
        yajl_gen_integer(g, r->rank);
    else
        yajl_gen_null(g);
    rv_json_string(g, "answers");
    if (r->model && r->answer)
        rv_record_answers(g, r->answer, r->labels);
    else {
        yajl_gen_array_open(g);
        if (r->default_label) {
            yajl_gen_map_open(g);
            rv_json_kv_string(g, "label", r->default_label);
            rv_json_string(g, "score");
            rv_json_double(g, r->default_score);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    rv_json_kv_int(g, "latency_us", r->latency_us);
    rv_json_kv_int(g, "schedule_version", (long long)r->schedule_version);
    rv_json_string(g, "models");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < r->n_models; i++) {
        rv_json_string(g, r->models[i].name);
        yajl_gen_map_open(g);
        rv_json_kv_string(g, "status", r->models[i].status);
        if (r->models[i].latency_us >= 0)
            rv_json_kv_int(g, "latency_us", r->models[i].latency_us);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

void rv_record_alert(yajl_gen g, const rv_alert_fields *a)
{
    yajl_gen_map_open(g);
    rv_json_kv_string(g, "type", a->raised ? "alert" : "clear");
    rv_json_kv_string(g, "check", a->check);
    rv_json_kv_string(g, "model", a->model);
    rv_json_kv_string(g, "version", a->version);
    rv_json_kv_string(g, "canary", a->canary);
    rv_json_string(g, "value");
    rv_json_double(g, a->value);
    rv_json_string(g, "threshold");
    rv_json_double(g, a->threshold);
    rv_json_kv_int(g, "window", a->window);
    rv_json_kv_string(g, "message", a->message);
    yajl_gen_map_close(g);
}

void rv_record_process_alert(yajl_gen g, const rv_process_alert_fields *a)
{
    yajl_gen_map_open(g);
    rv_json_kv_string(g, "type", a->raised ? "alert" : "clear");
    rv_json_kv_string(g, "check", "process");
    rv_json_kv_string(g, "model", a->model);
    rv_json_kv_string(g, "version", a->version);
    rv_json_kv_int(g, "instance", a->instance);
    rv_json_kv_int(g, "pid", a->pid);
    rv_json_kv_string(g, "reason", a->reason);
    rv_json_kv_int(g, "restarts", (int64_t)a->restarts);
    rv_json_kv_string(g, "message", a->message);
    yajl_gen_map_close(g);
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
