/*
 * http_health.c - GET /readyz and the prober behind it. Readiness is
 * computed off the request path (every 100 ms until ready, every second
 * after), so that a request never waits on the broker.
 */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "text.h"

/* Broker reachability and whether both consumers read every partition, for
 * /readyz and /v1/score: checked here, every 100 ms until ready and every
 * second after, so that a request never waits on it. */
void *rv_http_probe_loop(void *arg)
{
    rv_http *h = arg;
    while (!atomic_load(&h->stop)) {
        if (!atomic_load(&h->replies_ready)) {
            rd_kafka_topic_partition_list_t *parts = NULL;
            int ready = rd_kafka_assignment(h->replies, &parts) == 0 && parts && parts->cnt > 0;
            for (int i = 0; ready && i < parts->cnt; i++) {
                int64_t lo, hi;
                ready = !rd_kafka_get_watermark_offsets(h->replies, parts->elems[i].topic,
                                                        parts->elems[i].partition, &lo, &hi) &&
                        hi >= 0;
            }
            if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
            atomic_store(&h->replies_ready, ready);
        }
        atomic_store(&h->input_ready, h->src.consumer_lag(h->src.ctx) >= 0);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(h->replies, 0, NULL, &md, 1000);
        atomic_store(&h->broker_ok, e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->broker_cnt > 0);
        if (md)
            rd_kafka_metadata_destroy(md);
        for (int i = 0;
             i < (atomic_load(&h->replies_ready) && atomic_load(&h->input_ready) ? 10 : 1) &&
             !atomic_load(&h->stop);
             i++) {
            rv_sleep_ms(100);
        }
    }
    return NULL;
}

/* Ready when the broker answers and every scheduled model is live. On
 * not-ready, why says which. */
int rv_http_readiness(rv_http *h, const rv_generation *g, char *why, size_t size)
{
    if (!atomic_load(&h->broker_ok)) {
        snprintf(why, size, "broker not reachable");
        return 0;
    }
    if (!g) {
        snprintf(why, size, "no generation serving");
        return 0;
    }
    /* A topic refusing records (an ACL, too few replicas): its requests
     * wait, so do not send more. */
    if (h->src.output && rv_output_health(h->src.output, why, size) != 0)
        return 0;
    if (!atomic_load(&h->input_ready)) {
        snprintf(why, size, "the requests consumer is not reading every partition yet");
        return 0;
    }
    if (!atomic_load(&h->replies_ready)) {
        snprintf(why, size, "the gateway is not reading every reply partition yet");
        return 0;
    }
    /* Ready while any scheduled model can answer: the others fall back to
     * it (a model process restarting is not an outage of the service). */
    size_t answering = 0, len = 0;
    char down[200] = "";
    for (size_t i = 0; i < g->n_schedule; i++) {
        const rv_model *m = g->models[g->schedule[i]];
        if (rv_model_can_answer(m))
            answering++;
        else if (len < sizeof down) {
            int w = snprintf(down + len, sizeof down - len, "%s%s", len ? ", " : "", m->name);
            len = w < 0 ? sizeof down : len + (size_t)w;
        }
    }
    if (g->n_schedule && !answering) {
        snprintf(why, size, "no scheduled model can answer (%s)", down);
        return 0;
    }
    if (*down) {
        snprintf(why, size, "ready (cannot answer now: %s)", down);
        return 1;
    }
    snprintf(why, size, "ready");
    return 1;
}

enum MHD_Result rv_http_get_readyz(rv_http *h, struct MHD_Connection *c)
{
    rv_generation *g = h->src.current(h->src.ctx);
    char why[256], last[512];
    int ok = rv_http_readiness(h, g, why, sizeof why);
    h->src.last_reload_error(h->src.ctx, last, sizeof last);
    rv_text t = {0};
    rv_text_printf(&t, "%s: %s\n", ok ? "ready" : "not ready", why);
    for (size_t i = 0; g && i < g->n_models; i++)
        rv_text_printf(&t, "model %s version %s: %s%s\n", g->models[i]->name, g->models[i]->version,
                       rv_model_state_name(atomic_load(&g->models[i]->state)),
                       rv_model_can_answer(g->models[i]) ? "" : " (cannot answer now)");
    if (g)
        rv_http_sites_readiness(h, g, &t);
    if (*last)
        rv_text_printf(&t, "last reload failed (the models above keep serving): %s\n", last);
    if (g)
        rv_generation_unref(g);
    enum MHD_Result r = rv_http_respond(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                                        "text/plain; charset=utf-8", rv_text_str(&t), t.len);
    rv_text_free(&t);
    return r;
}
