/*
 * records.c - JSON encoding of output records. Never changes the bytes it
 * is given: a body is either copied as a JSON string or base64-encoded.
 */
#include "records.h"

#include "inflight.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

yajl_gen rv_json_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g)
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

void rv_json_string(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* The same UTF-8 rule yajl applies, checked before writing so that a
 * failure does not leave the generator half-way through a string. */
static int valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

void rv_json_bytes_field(yajl_gen g, const char *name, const void *bytes, size_t len)
{
    if (!bytes)
        bytes = "";
    if (valid_utf8(bytes, len)) {
        rv_json_string(g, name);
        yajl_gen_string(g, bytes, len);
        return;
    }
    char key[64];
    snprintf(key, sizeof key, "%s_b64", name);
    rv_json_string(g, key);
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char stackbuf[4096];
    unsigned char *out = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!out) {
        yajl_gen_null(g);
        return;
    }
    int n = EVP_EncodeBlock(out, bytes, (int)len);
    yajl_gen_string(g, out, (size_t)n);
    if (out != stackbuf)
        free(out);
}

void rv_record_archive(yajl_gen g, const rv_request *r)
{
    yajl_gen_map_open(g);
    rv_json_string(g, "id");
    rv_json_string(g, r->id);
    rv_json_string(g, "topic");
    rv_json_string(g, r->topic ? r->topic : "");
    rv_json_string(g, "partition");
    yajl_gen_integer(g, r->partition);
    rv_json_string(g, "offset");
    yajl_gen_integer(g, r->offset);
    rv_json_string(g, "timestamp_ms");
    yajl_gen_integer(g, r->timestamp_ms);
    if (r->key)
        rv_json_bytes_field(g, "key", r->key, r->key_len);
    else {
        rv_json_string(g, "key");
        yajl_gen_null(g);
    }
    rv_json_string(g, "headers");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < r->n_headers; i++)
        rv_json_bytes_field(g, r->headers[i].name, r->headers[i].value,
                            r->headers[i].value_len);
    yajl_gen_map_close(g);
    rv_json_bytes_field(g, "body", r->body, r->body_len);
    yajl_gen_map_close(g);
}

const char *rv_slot_status_name(int status)
{
    switch (status) {
    case RV_SLOT_OK: return "ok";
    case RV_SLOT_ERROR: return "error";
    case RV_SLOT_SHED: return "shed";
    default: return "pending";
    }
}

void rv_record_answers(yajl_gen g, const rv_slot *slot, const char *const *labels)
{
    yajl_gen_array_open(g);
    for (uint32_t i = 0; i < slot->n_answers; i++) {
        yajl_gen_map_open(g);
        rv_json_string(g, "label");
        rv_json_string(g, labels[slot->answers[i].label]);
        rv_json_string(g, "score");
        yajl_gen_double(g, slot->answers[i].score);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

void rv_record_score(yajl_gen g, const char *id, const char *model, const char *version,
                     const rv_slot *slot, const char *const *labels)
{
    int status = atomic_load_explicit(&slot->status, memory_order_acquire);
    yajl_gen_map_open(g);
    rv_json_string(g, "id");
    rv_json_string(g, id);
    rv_json_string(g, "model");
    rv_json_string(g, model);
    rv_json_string(g, "version");
    rv_json_string(g, version);
    rv_json_string(g, "status");
    rv_json_string(g, rv_slot_status_name(status));
    rv_json_string(g, "latency_us");
    yajl_gen_integer(g, slot->latency_us);
    rv_json_string(g, "answers");
    rv_record_answers(g, slot, labels);
    if (status != RV_SLOT_OK && slot->error[0]) {
        rv_json_bytes_field(g, "error", slot->error, strlen(slot->error));
    }
    yajl_gen_map_close(g);
}
