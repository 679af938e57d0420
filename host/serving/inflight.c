/*
 * inflight.c - building a request from a Kafka message and releasing it.
 * Must never copy or change the body: plugins and the decoy see the bytes
 * exactly as the broker delivered them.
 */
#include "inflight.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* Where the request id comes from: the first rv-id header, else the key
 * (without a NUL in it); NULL: topic-partition-offset (the same each time
 * the record is read). */
static const char *id_source(const rd_kafka_message_t *msg, rd_kafka_headers_t *kh,
                             size_t n_headers, size_t *len)
{
    for (size_t i = 0; i < n_headers; i++) {
        const char *name;
        const void *value;
        size_t l;
        if (rd_kafka_header_get_all(kh, i, &name, &value, &l) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            strcmp(name, "rv-id") == 0 && value && l > 0) {
            *len = strnlen(value, l);
            return value;
        }
    }
    if (msg->key && msg->key_len > 0 && !memchr(msg->key, '\0', msg->key_len)) {
        *len = msg->key_len;
        return msg->key;
    }
    return NULL;
}

/* The room for the answers of gen's models, after the slots. */
static size_t answers_size(const rv_generation *gen)
{
    size_t n = 0;
    for (size_t i = 0; gen && i < gen->n_models; i++)
        n += rv_slot_answer_room(gen->models[i]->n_labels);
    return n * sizeof(rv_answer);
}

/* f's slots, pending, each with its answers' room (f->slots then the
 * answers: answers_size(gen) bytes; the answers are written before a
 * slot's status says they are there, so they are not cleared). */
static void set_slots(rv_inflight *f, const rv_generation *gen)
{
    f->n_slots = gen ? gen->n_models : 0;
    rv_answer *room = (rv_answer *)(f->slots + f->n_slots);
    for (size_t i = 0; i < f->n_slots; i++)
        room = rv_slot_init(&f->slots[i], gen->models[i]->n_labels, room);
}

rv_inflight *rv_inflight_blank(const rv_generation *gen)
{
    size_t n_slots = gen ? gen->n_models : 0;
    rv_inflight *f = calloc(1, sizeof *f + n_slots * sizeof(rv_slot) + answers_size(gen));
    if (!f)
        return NULL;
    set_slots(f, gen);
    f->gen = (rv_generation *)gen;
    f->heap_pos = SIZE_MAX;
    f->direct = -1;
    return f;
}

void rv_inflight_blank_free(rv_inflight *f)
{
    for (size_t i = 0; f && i < f->n_slots; i++)
        rv_slot_clear(&f->slots[i]);
    free(f);
}

rv_inflight *rv_inflight_new(rd_kafka_message_t *msg, rv_generation *gen, rv_inflight_done_fn done,
                             void *done_ctx, const rv_read_time *read)
{
    size_t n_features = gen ? gen->cfg->input.n_features : 0;
    rd_kafka_headers_t *kh = NULL;
    size_t n_headers = 0;
    if (rd_kafka_message_headers(msg, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n_headers = rd_kafka_header_cnt(kh);
    /* One block: the request, its slots and their answers, features and
     * headers. */
    const char *topic = rd_kafka_topic_name(msg->rkt);
    char made_id[320];
    size_t id_len;
    const char *id = id_source(msg, kh, n_headers, &id_len);
    if (!id) {
        int l = snprintf(made_id, sizeof made_id, "%s-%" PRId32 "-%" PRId64, topic, msg->partition,
                         msg->offset);
        id = made_id;
        id_len = l < 0 ? 0 : (size_t)l < sizeof made_id ? (size_t)l : sizeof made_id - 1;
    }
    size_t slots_size = (gen ? gen->n_models : 0) * sizeof(rv_slot) + answers_size(gen);
    rv_inflight *f = malloc(sizeof *f + slots_size + n_features * sizeof(double) +
                            n_headers * sizeof(rv_header) + id_len + 1);
    if (!f) {
        rv_generation_unref(gen);
        return NULL;
    }
    memset(f, 0, sizeof *f);
    set_slots(f, gen);
    f->features = (double *)((char *)f->slots + slots_size);
    for (size_t i = 0; i < n_features; i++)
        f->features[i] = NAN;
    f->headers = (rv_header *)(f->features + n_features);
    f->id = (char *)(f->headers + n_headers);
    memcpy(f->id, id, id_len);
    f->id[id_len] = '\0';
    f->msg = msg;
    f->gen = gen;
    f->done = done;
    f->done_ctx = done_ctx;
    f->heap_pos = SIZE_MAX;
    f->direct = -1;
    atomic_init(&f->refs, 1);
    atomic_init(&f->held, NULL);
    f->arrival_mono_us = read->mono_us;

    for (size_t i = 0; i < n_headers; i++) {
        const char *name;
        const void *value;
        size_t len;
        if (rd_kafka_header_get_all(kh, i, &name, &value, &len) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            n_headers = i; /* the ones read */
            break;
        }
        f->headers[i] = (rv_header){name, value, value ? len : 0};
        if (strcmp(name, "rv-reply-to") == 0 && value && len > 0 && !f->reply_to)
            f->reply_to = strndup(value, len);
        else if (strcmp(name, "rv-reply-key") == 0 && value && len > 0 && !f->reply_key)
            f->reply_key = strndup(value, len);
        else if (strcmp(name, "rv-reply-partition") == 0 && len == 7 &&
                 memcmp(value, "request", 7) == 0)
            f->reply_on_request_partition = 1;
        else if (strcmp(name, "rv-model") == 0 && !f->direct_name) {
            f->direct_name = value ? value : "";
            f->direct_len = value ? len : 0;
        }
    }

    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
    f->req = (rv_request){
        .id = f->id,
        .body = msg->payload ? msg->payload : (const uint8_t *)"",
        .body_len = msg->len,
        .features = f->features,
        .n_features = n_features,
        .arrival_us = read->real_us,
        .topic = topic,
        .partition = msg->partition,
        .offset = msg->offset,
        .timestamp_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
        .key = msg->key,
        .key_len = msg->key ? msg->key_len : 0,
        .headers = f->headers,
        .n_headers = n_headers,
    };
    return f;
}

void rv_inflight_ref(rv_inflight *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void rv_inflight_release(rv_inflight *f)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (f->done)
        f->done(f->done_ctx, f);
    rv_output_held_free(atomic_load(&f->held));
    for (size_t i = 0; i < f->n_slots; i++)
        rv_slot_clear(&f->slots[i]);
    rd_kafka_message_destroy(f->msg);
    free(f->reply_to);
    free(f->reply_key);
    if (f->gen)
        rv_generation_unref(f->gen);
    free(f);
}

int rv_inflight_send(rv_output *o, rv_inflight *f, rv_stream stream, const char *topic_name,
                     int32_t partition, const void *key, size_t key_len, const void *value,
                     size_t value_len, rd_kafka_headers_t *headers)
{
    if (rv_output_transactional(o)) /* stamped here: rv_output_send stamps the others */
        return rv_output_hold(&f->held, stream, topic_name, partition, key, key_len, value,
                              value_len, rv_output_stamp(o, headers));
    rv_inflight_ref(f);
    return rv_output_send(o, stream, topic_name, partition, key, key_len, value, value_len, headers,
                          f);
}

void rv_inflight_delivered(void *msg_opaque)
{
    rv_inflight_release(msg_opaque);
}
