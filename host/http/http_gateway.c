/*
 * http_gateway.c - POST /v1/score: the body is produced to the requests
 * stream with a reply route of the gateway's own, so the decoy records it
 * and every model scores it like any other request; the call waits on its
 * connection thread for the result on the reply topic, or its deadline.
 * Must never answer 200 without a result from the rendezvous.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "feature_vector.h"

/* A result on the reply topic, to the waiter whose reply key it carries
 * (not the request id: two calls may share an X-Request-Id). */
static void deliver(rv_http *h, const char *id, const void *value, size_t len)
{
    pthread_mutex_lock(&h->lock);
    for (waiter *w = h->waiters; w; w = w->next)
        if (!w->result && strcmp(w->reply_key, id) == 0) {
            w->result = malloc(len + 1);
            if (w->result) {
                memcpy(w->result, value, len);
                w->result[len] = '\0';
                w->result_len = len;
            }
            pthread_cond_broadcast(&h->cond);
            break;
        }
    pthread_mutex_unlock(&h->lock);
}

void *rv_http_reply_loop(void *arg)
{
    rv_http *h = arg;
    while (!atomic_load(&h->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(h->replies, 100);
        if (!m)
            continue;
        if (!m->err && m->key && m->key_len > 0 && m->key_len <= MAX_ID) {
            char id[MAX_ID + 1];
            memcpy(id, m->key, m->key_len);
            id[m->key_len] = '\0';
            deliver(h, id, m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
            return 0;
    return 1;
}

int rv_http_check_score(const rv_feature_index *ix, size_t n_features, const rv_upload *u,
                        const char *request_id, char *why, size_t size)
{
    /* the same check the input applies, so a bad body is a 400 here and
     * not a dead letter */
    double *features = calloc(n_features + 1, sizeof *features);
    if (!features) {
        snprintf(why, size, "out of memory");
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    int bad = rv_features_parse(ix, (const uint8_t *)(u->body ? u->body : ""), u->len, features,
                                why, size) != 0;
    free(features);
    if (bad)
        return MHD_HTTP_BAD_REQUEST;
    if (request_id && !valid_id(request_id)) {
        snprintf(why, size, "X-Request-Id must be 1-%d printable ASCII characters", MAX_ID);
        return MHD_HTTP_BAD_REQUEST;
    }
    return 0;
}

waiter *rv_http_gateway_send(rv_http *h, const char *given, const char *model, const void *body,
                             size_t len)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->reply_key, sizeof w->reply_key, "gw-%ld-%llu", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&h->next_id, 1));
    snprintf(w->id, sizeof w->id, "%s", given ? given : w->reply_key);
    pthread_mutex_lock(&h->lock);
    w->next = h->waiters;
    h->waiters = w;
    pthread_mutex_unlock(&h->lock);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
    rd_kafka_header_add(hdrs, "rv-id", -1, w->id, -1);
    if (model) /* a direct call: that model alone scores it */
        rd_kafka_header_add(hdrs, "rv-model", -1, model, -1);
    rd_kafka_header_add(hdrs, "rv-reply-to", -1, h->reply_topic, -1);
    rd_kafka_header_add(hdrs, "rv-reply-key", -1, w->reply_key, -1);
    if (h->reply_on_request_partition) /* the evaluation joins it with the label there */
        rd_kafka_header_add(hdrs, "rv-reply-partition", -1, "request", -1);
    w->sent = rv_output_send(h->src.output, RV_STREAM_RESULTS, h->requests_topic,
                             RD_KAFKA_PARTITION_UA, w->id, strlen(w->id), body, len, hdrs, NULL);
    return w;
}

void rv_http_gateway_wait(rv_http *h, waiter **ws, size_t n, uint32_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + (int64_t)ms * 1000000;
    until.tv_sec += ns / 1000000000;
    until.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < n; i++)
        while (ws[i]->sent == 0 && !ws[i]->result && !atomic_load(&h->stop))
            if (pthread_cond_timedwait(&h->cond, &h->lock, &until) == ETIMEDOUT)
                break;
    for (size_t i = 0; i < n; i++)
        for (waiter **pp = &h->waiters; *pp; pp = &(*pp)->next)
            if (*pp == ws[i]) {
                *pp = ws[i]->next;
                break;
            }
    pthread_mutex_unlock(&h->lock);
}

enum MHD_Result rv_http_post_score(rv_http *h, struct MHD_Connection *c, rv_upload *u)
{
    if (u->too_large)
        return rv_http_respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                     "body over input.max_body_bytes (%u)", h->max_body);
    rv_generation *g = h->src.current(h->src.ctx);
    char why[256];
    if (!rv_http_readiness(h, g, why, sizeof why)) {
        if (g)
            rv_generation_unref(g);
        return rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s", why);
    }
    const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    char reason[512];
    int status =
        rv_http_check_score(g->features, g->cfg->input.n_features, u, given, reason, sizeof reason);
    uint32_t last_ms = g->n_schedule ? g->within_ms[g->n_schedule - 1] : 0;
    rv_generation_unref(g);
    if (status)
        return rv_http_respond_error(c, (unsigned)status, "%s", reason);

    waiter *w = rv_http_gateway_send(h, given, NULL, u->body, u->len);
    if (!w)
        return rv_http_respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    int sent = w->sent;
    rv_http_gateway_wait(h, &w, 1, last_ms + DEADLINE_MARGIN_MS);
    enum MHD_Result r;
    if (sent != 0)
        r = rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot produce the request");
    else if (!w->result)
        r = rv_http_respond_error(c, MHD_HTTP_GATEWAY_TIMEOUT,
                                  "no result for %s within %u ms (last deadline %u ms + %d ms)",
                                  w->id, last_ms + DEADLINE_MARGIN_MS, last_ms, DEADLINE_MARGIN_MS);
    else {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(w->result_len, w->result, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "X-Request-Id", w->id);
        r = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
    }
    free(w->result);
    free(w);
    return r;
}

int rv_upload_append(rv_upload *u, const char *data, size_t len, size_t max_body)
{
    if (u->too_large || u->len + len > max_body) {
        u->too_large = 1; /* keep reading, answer 413 at the end */
        return 0;
    }
    if (u->len + len > u->cap) {
        size_t ncap = (u->len + len) * 2;
        char *nb = realloc(u->body, ncap);
        if (!nb)
            return -1;
        u->body = nb;
        u->cap = ncap;
    }
    memcpy(u->body + u->len, data, len);
    u->len += len;
    return 0;
}
