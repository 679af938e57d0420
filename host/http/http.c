/*
 * http.c - the libmicrohttpd server (thread per connection), its route
 * table, start and stop. The endpoints live beside it: http_gateway.c
 * (POST /v1/score), http_health.c (/readyz), http_models.c (/v1/models),
 * http_metrics.c (/metrics). A handler blocks only its own connection's
 * thread, never the serving loop.
 */
#include "http_internal.h"

#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "errbuf.h"
#include "hostport.h"
#include "log.h"
#include "streams.h"

static _Thread_local unsigned last_status;

unsigned rv_http_last_status(void)
{
    return last_status;
}

const unsigned rv_http_v2_statuses[RV_HTTP_V2_STATUSES] = {200, 400, 404, 413, 500, 503, 504, 0};

/* A v2 answer counted by its status (the response just queued). */
static void count_v2(rv_http *h)
{
    size_t i = 0;
    while (i + 1 < RV_HTTP_V2_STATUSES && rv_http_v2_statuses[i] != last_status)
        i++;
    atomic_fetch_add(&h->v2_answers[i], 1);
}

enum MHD_Result rv_http_respond(struct MHD_Connection *c, unsigned status, const char *type,
                                const char *body, size_t len)
{
    last_status = status;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result rv_http_respond_json(struct MHD_Connection *c, yajl_gen j)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(j, &buf, &len);
    enum MHD_Result r = rv_http_respond(c, MHD_HTTP_OK, "application/json", (const char *)buf, len);
    yajl_gen_free(j);
    return r;
}

enum MHD_Result rv_http_respond_error(struct MHD_Connection *c, unsigned status, const char *fmt,
                                      ...)
{
    char msg[RV_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    rv_verrf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char body[2 * RV_ERR_SIZE + 16];
    return rv_http_respond(c, status, "application/json", body,
                           rv_http_error_body(msg, body, sizeof body));
}

size_t rv_http_error_body(const char *msg, char *body, size_t size)
{
    /* the reason may hold what a client sent: escape quotes and control
     * characters */
    size_t o = (size_t)snprintf(body, size, "{\"error\":\"");
    for (const char *p = msg; *p && o < size - 8; p++) {
        if (*p == '"' || *p == '\\')
            body[o++] = '\\';
        body[o++] = (*p >= 0x20) ? *p : ' ';
    }
    return o + (size_t)snprintf(body + o, size - o, "\"}\n");
}

static enum MHD_Result get_healthz(rv_http *h, struct MHD_Connection *c)
{
    return rv_http_respond(c, MHD_HTTP_OK, "text/plain", "alive\n", 6);
}

/* The role is ready once it runs: its evaluation started before it listened. */
static enum MHD_Result get_evaluating(rv_http *h, struct MHD_Connection *c)
{
    return rv_http_respond(c, MHD_HTTP_OK, "text/plain", "ready: evaluating\n", 18);
}

/* The GET (and HEAD) endpoints. POST /v1/score reads a body first and is
 * routed before this table. */
/* The page may load nothing but itself and the host's endpoints. */
static enum MHD_Result get_dashboard(rv_http *h, struct MHD_Connection *c)
{
    (void)h;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        rv_dashboard_html_len, (void *)rv_dashboard_html, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; connect-src 'self'; "
                            "script-src 'unsafe-inline'; style-src 'unsafe-inline'");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Each with the scope a token needs for it (0: open to all, for probes). */
struct route {
    const char *path;
    enum MHD_Result (*get)(rv_http *h, struct MHD_Connection *c);
    unsigned scope;
};

static const struct route routes[] = {
    {"/", get_dashboard, RV_SCOPE_READ},
    {"/v1/stats", rv_http_get_stats, RV_SCOPE_READ},
    {"/v1/evaluation", rv_http_get_evaluation, RV_SCOPE_READ},
    {"/v1/promotions", rv_http_get_promotions, RV_SCOPE_READ},
    {"/v1/sites", rv_http_get_sites, RV_SCOPE_READ},
    {"/healthz", get_healthz, 0},
    {"/readyz", rv_http_get_readyz, 0},
    {"/v1/models", rv_http_get_models, RV_SCOPE_READ},
    {"/metrics", rv_http_get_metrics, RV_SCOPE_METRICS},
};

/* `rendezvous evaluate`'s */
static const struct route evaluate_routes[] = {
    {"/v1/evaluation", rv_http_get_evaluation, RV_SCOPE_READ},
    {"/v1/promotions", rv_http_get_promotions, RV_SCOPE_READ},
    {"/healthz", get_healthz, 0},
    {"/readyz", get_evaluating, 0},
    {"/metrics", rv_http_get_evaluation_metrics, RV_SCOPE_METRICS},
};

/* A refusal, counted by status (in the order of rv_http.refused). */
static enum MHD_Result refuse(rv_http *h, struct MHD_Connection *c, const rv_http_grant *g)
{
    int k = g->status == MHD_HTTP_UNAUTHORIZED        ? 0
            : g->status == MHD_HTTP_FORBIDDEN         ? 1
            : g->status == MHD_HTTP_TOO_MANY_REQUESTS ? 2
                                                      : 3;
    atomic_fetch_add(&h->refused[k], 1);
    return rv_http_refuse(c, g);
}

/* Headers that name who calls or what: given twice, a proxy in front that
 * reads the last one and the host that reads the first would see two
 * callers, so such a request is refused (as nginx does). */
static const char *const single_headers[] = {MHD_HTTP_HEADER_AUTHORIZATION, "X-Request-Id"};
enum { N_SINGLE = sizeof single_headers / sizeof *single_headers };

static enum MHD_Result count_single(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind, (void)value;
    unsigned *seen = cls;
    for (size_t i = 0; i < N_SINGLE; i++)
        if (key && strcasecmp(key, single_headers[i]) == 0)
            seen[i]++;
    return MHD_YES;
}

/* The first header of single_headers given more than once, or NULL. */
static const char *repeated_header(struct MHD_Connection *c)
{
    unsigned seen[N_SINGLE] = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_single, seen);
    for (size_t i = 0; i < N_SINGLE; i++)
        if (seen[i] > 1)
            return single_headers[i];
    return NULL;
}

/* Whether the caller may use an endpoint of that scope (0: open): one of
 * each identifying header, its client certificate (with client_ca_file),
 * then its bearer token or the certificate's subject. */
static void gate(rv_http *h, struct MHD_Connection *c, unsigned scope, rv_http_grant *g)
{
    char subject[512];
    const char *twice = repeated_header(c);
    if (twice) { /* the values are never echoed */
        memset(g, 0, sizeof *g);
        g->status = MHD_HTTP_BAD_REQUEST;
        snprintf(g->why, sizeof g->why, "the %s header is given more than once", twice);
        return;
    }
    if (scope && rv_http_tls_client(h->tls, c, subject, sizeof subject) != 0) {
        memset(g, 0, sizeof *g);
        g->status = MHD_HTTP_FORBIDDEN;
        snprintf(g->why, sizeof g->why,
                 "a client certificate from a trusted CA is required (http.client_ca_file)");
        return;
    }
    rv_http_authorize(
        h->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        scope ? subject : NULL, scope, g);
}

/* What a listener that answers no POST /v1/score belongs to. */
static const char *role(rv_http *h)
{
    if (h->evaluate_role)
        return "the evaluation";
    rv_generation *g = h->src.current(h->src.ctx);
    int takeover = g && g->cfg->site.taken_over_from;
    if (g)
        rv_generation_unref(g);
    return takeover ? "a takeover" : "a scorer";
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    rv_http *h = cls;
    int v2_infer = strcmp(method, "POST") == 0 && rv_http_v2_infer_path(url);
    if (strcmp(method, "POST") == 0 && (strcmp(url, "/v1/score") == 0 || v2_infer)) {
        if (!h->src.gateway)
            return rv_http_respond_error(c, MHD_HTTP_NOT_FOUND,
                                         "%s answers no requests: POST to a host", role(h));
        rv_upload *u = *con_cls;
        if (!u) {
            if (!(u = calloc(1, sizeof *u)))
                return MHD_NO;
            *con_cls = u;
            gate(h, c, RV_SCOPE_SCORE, &u->grant);
            if (u->grant.status) /* before the body is read */
                return refuse(h, c, &u->grant);
            return MHD_YES;
        }
        if (*upload_size) {
            if (rv_upload_append(u, upload_data, *upload_size,
                                 v2_infer ? rv_http_v2_max_body(h) : h->max_body) != 0)
                return MHD_NO;
            *upload_size = 0;
            return MHD_YES;
        }
        if (!v2_infer)
            return rv_http_post_score(h, c, u);
        enum MHD_Result ret = rv_http_post_v2_infer(h, c, u, url);
        count_v2(h);
        return ret;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return rv_http_respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: method not allowed",
                                     method, url);
    const struct route *table = h->evaluate_role ? evaluate_routes : routes, *r = NULL;
    size_t n = h->evaluate_role ? sizeof evaluate_routes / sizeof *evaluate_routes
                                : sizeof routes / sizeof *routes;
    for (size_t i = 0; i < n && !r; i++)
        if (strcmp(url, table[i].path) == 0)
            r = &table[i];
    int v2 = !r && !h->evaluate_role && rv_http_v2_path(url);
    rv_http_grant g; /* an unknown path needs read too: no probing without a token */
    gate(h, c, r ? r->scope : v2 && rv_http_v2_open(url) ? 0 : RV_SCOPE_READ, &g);
    if (g.status)
        return refuse(h, c, &g);
    enum MHD_Result ret =
        r    ? r->get(h, c)
        : v2 ? rv_http_get_v2(h, c, url)
             : rv_http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
    if (v2)
        count_v2(h);
    rv_http_auth_done(h->auth, &g);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    rv_upload *u = *con_cls;
    rv_http *h = cls;
    if (u) {
        rv_http_auth_done(h->auth, &u->grant);
        free(u->body);
        free(u);
        *con_cls = NULL;
    }
}

static int loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return sa->ss_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* What any listener has: its address, TLS and tokens. NULL with err. */
static rv_http *listener_new(const rv_config *cfg, struct sockaddr_storage *sa, char *err,
                             size_t err_size)
{
    socklen_t sa_len;
    char why[RV_ERR_SIZE];
    if (rv_hostport_parse(cfg->http.listen, sa, &sa_len, why, sizeof why) != 0) {
        rv_errf(err, err_size, "http.listen: %s", why);
        return NULL;
    }
    rv_http *h = calloc(1, sizeof *h);
    if (!h) {
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    if ((cfg->http.cert_file && !(h->tls = rv_http_tls_open(cfg, err, err_size))) ||
        (cfg->http.tokens_file &&
         !(h->auth = rv_http_auth_open(cfg->http.tokens_file, err, err_size)))) {
        rv_http_tls_free(h->tls);
        free(h);
        return NULL;
    }
    if (!loopback(sa) && (!h->auth || !h->tls))
        rv_warn("http", "%s is reachable from other hosts%s%s", cfg->http.listen,
                h->auth ? ""
                        : " and has no http.tokens_file: anyone who reaches it can call every "
                          "endpoint",
                h->tls ? "" : "; it speaks plain HTTP (no http.cert_file)");
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    return h;
}

/* Starts the daemon on sa. 0, or -1 with err (h is then stopped). */
static int listen_now(rv_http *h, const rv_config *cfg, struct sockaddr_storage *sa, char *err,
                      size_t err_size)
{
    struct MHD_OptionItem tls[3];
    rv_http_tls_options(h->tls, tls);
    h->mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
            (sa->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (h->tls ? MHD_USE_TLS : 0),
        0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->http.max_connections_per_ip,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!h->mhd) {
        rv_errf(err, err_size, "cannot listen on %s: %s", cfg->http.listen, strerror(errno));
        rv_http_stop(h);
        return -1;
    }
    rv_info("http", "listening on %s://%s (%s)%s%s", h->tls ? "https" : "http", cfg->http.listen,
            h->evaluate_role ? "GET /healthz /readyz /v1/evaluation /v1/promotions /metrics"
                             : "POST /v1/score, GET / /healthz /readyz /v1/models /v1/stats "
                               "/v1/evaluation /v1/promotions /v1/sites /metrics",
            cfg->http.client_ca_file ? ", client certificates required" : "",
            h->auth ? ", bearer tokens required" : "");
    return 0;
}

rv_http *rv_http_start(const rv_config *cfg, const char *bootstrap, const char *reply_topic,
                       const rv_http_sources *src, char *err, size_t err_size)
{
    struct sockaddr_storage sa;
    rv_http *h = listener_new(cfg, &sa, err, err_size);
    if (!h)
        return NULL;
    h->src = *src;
    h->max_body = cfg->input.max_body_bytes;
    char e[RV_ERR_SIZE] = "out of memory", group[300];
    rv_errf(group, sizeof group, "%s-gateway-%ld", cfg->service, (long)getpid());
    /* every partition of the reply topic, from its end, no group */
    if (!(h->reply_topic = strdup(reply_topic)) ||
        !(h->requests_topic = strdup(cfg->streams.requests)) ||
        !(h->replies = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_TAIL, group, reply_topic, 10000,
                                       NULL, e, sizeof e))) {
        rv_errf(err, err_size, "gateway replies: %s", e);
        rv_http_stop(h);
        return NULL;
    }
    /* replies on their request's partition number, where the evaluation
     * reads them beside the labels, when the reply topic has that many */
    int rp = rv_topic_partitions(h->replies, reply_topic, 5000),
        qp = rv_topic_partitions(h->replies, cfg->streams.requests, 5000);
    h->reply_on_request_partition = rp > 0 && qp > 0 && rp >= qp;
    if (!h->reply_on_request_partition && cfg->evaluation.labels)
        rv_warn("http",
                "%s has %d partition(s), %s %d: results of POST /v1/score go to any partition, "
                "and the evaluation may not join them with their labels (rendezvous topics)",
                reply_topic, rp, cfg->streams.requests, qp);
    rv_output_prepare_topic(src->output, reply_topic);
    rv_output_prepare_topic(src->output, cfg->streams.requests);
    atomic_store(&h->broker_ok, 1);
    if (pthread_create(&h->reader, NULL, rv_http_reply_loop, h) == 0)
        h->threads |= 1;
    if (pthread_create(&h->prober, NULL, rv_http_probe_loop, h) == 0)
        h->threads |= 2;
    if (h->threads != 3) {
        rv_errf(err, err_size, "gateway: cannot start its threads");
        rv_http_stop(h);
        return NULL;
    }
    if (listen_now(h, cfg, &sa, err, err_size) != 0)
        return NULL;
    rv_info("http", "gateway replies on %s", reply_topic);
    return h;
}

rv_http *rv_http_start_evaluation(const rv_config *cfg, rv_evaluation *evaluation,
                                  rv_promoter *promoter, char *err, size_t err_size)
{
    struct sockaddr_storage sa;
    rv_http *h = listener_new(cfg, &sa, err, err_size);
    if (!h)
        return NULL;
    h->evaluate_role = 1;
    h->src.evaluation = evaluation;
    h->src.promoter = promoter;
    return listen_now(h, cfg, &sa, err, err_size) == 0 ? h : NULL;
}

void rv_http_reload(rv_http *h)
{
    if (!h)
        return;
    char err[RV_ERR_SIZE];
    if (h->tls && rv_http_tls_reload(h->tls, err, sizeof err) != 0)
        rv_error("http", "%s; the certificate, key and client CAs in use stay", err);
    rv_http_auth_reload(h->auth);
}

void rv_http_stop(rv_http *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_mutex_lock(&h->lock);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    if (h->threads & 1)
        pthread_join(h->reader, NULL);
    if (h->threads & 2)
        pthread_join(h->prober, NULL);
    if (h->replies) {
        rd_kafka_consumer_close(h->replies);
        rd_kafka_destroy(h->replies);
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    rv_http_auth_free(h->auth);
    rv_http_tls_free(h->tls);
    free(h->reply_topic);
    free(h->requests_topic);
    free(h);
}
