/*
 * http_internal.h - what the HTTP listener's parts share (server, gateway,
 * health, metrics, models): the listener's state and the response helpers.
 * Not for use outside host/http/http_*.c.
 */
#ifndef RV_HTTP_INTERNAL_H
#define RV_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <yajl/yajl_gen.h>

#include "http.h"
#include "text.h"
#include "tokens.h"

#define DEADLINE_MARGIN_MS 1000
#define MAX_ID 256

typedef struct rv_http_auth rv_http_auth;
typedef struct rv_http_tls rv_http_tls;

/* A gateway call waiting for its result. */
typedef struct waiter {
    char id[MAX_ID + 1]; /* the request id: X-Request-Id, or reply_key */
    char reply_key[48];  /* the gateway's own, unique: its result comes keyed by it */
    char *result;        /* the result record, once in */
    size_t result_len;
    int sent; /* 0 once produced; -1: it could not be */
    struct waiter *next;
} waiter;

/* The statuses the v2 answers are counted by; the last counts the others. */
#define RV_HTTP_V2_STATUSES 8
extern const unsigned rv_http_v2_statuses[RV_HTTP_V2_STATUSES];

struct rv_http {
    rv_http_sources src;
    struct MHD_Daemon *mhd;
    rd_kafka_t *replies; /* reads the reply topic, every partition, no group */
    pthread_t reader, prober;
    atomic_int stop;
    atomic_int broker_ok;
    atomic_int replies_ready; /* fetched from every reply partition */
    atomic_int input_ready;   /* the requests consumer reads every partition */
    char *reply_topic;
    char *requests_topic;
    int reply_on_request_partition; /* the reply topic has the requests' partition numbers */
    int threads;                    /* started: 1 the reply reader, 2 the prober */
    int evaluate_role;              /* `rendezvous evaluate`'s: its endpoints only */
    uint32_t max_body;
    atomic_uint_fast64_t next_id;
    rv_http_auth *auth;              /* NULL: no http.tokens_file, every endpoint open */
    rv_http_tls *tls;                /* NULL: plain HTTP */
    atomic_uint_fast64_t refused[4]; /* 401, 403, 429, 400 (a header twice) */
    /* the Open Inference Protocol's answers by status (rv_http_v2_statuses) */
    atomic_uint_fast64_t v2_answers[RV_HTTP_V2_STATUSES];
    pthread_mutex_t lock; /* guards waiters */
    pthread_cond_t cond;
    waiter *waiters;
};

/* The status of the last response this thread queued (rv_http_respond). */
unsigned rv_http_last_status(void);

/* auth (http_auth.c): bearer tokens and their scopes and limits. */
typedef struct rv_http_grant {
    int status;      /* 0: allowed; 401, 403, 429, or 400 (a header twice) */
    int retry_after; /* seconds, with 429 */
    char why[200];   /* the refusal's reason: never the token */
    int held;        /* counts in its token's requests in flight */
    size_t index;
    uint64_t version;
} rv_http_grant;
/* NULL with err when the file cannot be read or parsed. */
rv_http_auth *rv_http_auth_open(const char *path, char *err, size_t err_size);
void rv_http_auth_free(rv_http_auth *a);
/* Whether the Authorization header's token has scope (0: an open endpoint),
 * or without one, the verified client certificate's subject ("" or NULL:
 * none); without a (no tokens_file) everything is allowed. */
void rv_http_authorize(rv_http_auth *a, const char *authorization, const char *subject,
                       unsigned scope, rv_http_grant *g);
/* The tokens file again now if it changed (SIGHUP). */
void rv_http_auth_reload(rv_http_auth *a);
/* The request of an allowed grant ended. */
void rv_http_auth_done(rv_http_auth *a, rv_http_grant *g);
/* The refusal: 401 with WWW-Authenticate, 403, or 429 with Retry-After. */
enum MHD_Result rv_http_refuse(struct MHD_Connection *c, const rv_http_grant *g);

/* tls (http_tls.c): the listener's certificate, key and client CAs, read
 * from cfg's http.cert_file, key_file and client_ca_file. NULL with err
 * when one cannot be read, or the key is not the certificate's. */
rv_http_tls *rv_http_tls_open(const rv_config *cfg, char *err, size_t err_size);
void rv_http_tls_free(rv_http_tls *t);
/* Reads the same files again; on any failure (said in err) the ones in
 * use stay. 0 or -1. */
int rv_http_tls_reload(rv_http_tls *t, char *err, size_t err_size);
/* The daemon's TLS options into out (ended by MHD_OPTION_END); how many. */
size_t rv_http_tls_options(const rv_http_tls *t, struct MHD_OptionItem out[3]);
/* When the certificate in use expires (seconds since the epoch). */
int64_t rv_http_tls_expires(rv_http_tls *t);
/* With client CAs: 0 when the connection's client presented a
 * certificate they verify, its subject (RFC 4514) then in subject; -1
 * when it did not. Without (or without TLS): 0 and "". */
int rv_http_tls_client(rv_http_tls *t, struct MHD_Connection *c, char *subject, size_t size);

/* A whole response from a buffer (copied). */
enum MHD_Result rv_http_respond(struct MHD_Connection *c, unsigned status, const char *type,
                                const char *body, size_t len);
/* 200 with the JSON document j has written; frees j. */
enum MHD_Result rv_http_respond_json(struct MHD_Connection *c, yajl_gen j);
/* {"error": "<msg, escaped>"}\n into body (size >= 2 * strlen(msg) + 16
 * holds it whole); its length. */
size_t rv_http_error_body(const char *msg, char *body, size_t size);
/* {"error": "<reason>"} with the status. */
enum MHD_Result rv_http_respond_error(struct MHD_Connection *c, unsigned status, const char *fmt,
                                      ...) __attribute__((format(printf, 3, 4)));

/* health: GET /readyz, and the prober thread that keeps readiness fresh. */
int rv_http_readiness(rv_http *h, const rv_generation *g, char *why, size_t size);
enum MHD_Result rv_http_get_readyz(rv_http *h, struct MHD_Connection *c);
void *rv_http_probe_loop(void *arg);

/* GET /v1/models and GET /metrics. */
enum MHD_Result rv_http_get_models(rv_http *h, struct MHD_Connection *c);
enum MHD_Result rv_http_get_metrics(rv_http *h, struct MHD_Connection *c);
/* GET /metrics of `rendezvous evaluate`: the evaluation's and the
 * listener's families. */
enum MHD_Result rv_http_get_evaluation_metrics(rv_http *h, struct MHD_Connection *c);
/* GET /v1/evaluation, and its /metrics families (http_evaluation.c). */
enum MHD_Result rv_http_get_evaluation(rv_http *h, struct MHD_Connection *c);
enum MHD_Result rv_http_get_promotions(rv_http *h, struct MHD_Connection *c);
void rv_http_evaluation_metrics(rv_http *h, rv_text *t);
/* GET /v1/stats (http_stats.c), and GET / (the dashboard page, compiled
 * in from dashboard.html). */
enum MHD_Result rv_http_get_stats(rv_http *h, struct MHD_Connection *c);
/* http_gateway.c: a request produced with the gateway's reply route (with
 * model not NULL a direct call to it: rv-model) and its waiter registered
 * (NULL on out of memory; w->sent says whether it went); then the waiters'
 * results awaited for up to ms in all, and the waiters unregistered (the
 * caller frees them and their results). */
waiter *rv_http_gateway_send(rv_http *h, const char *given_id, const char *model, const void *body,
                             size_t len);
void rv_http_gateway_wait(rv_http *h, waiter **ws, size_t n, uint32_t ms);
/* http_v2.c: the Open Inference Protocol's health and metadata: whether
 * url is one of its paths, one open to all (health), and the answer. */
int rv_http_v2_path(const char *url);
int rv_http_v2_open(const char *url);
enum MHD_Result rv_http_get_v2(rv_http *h, struct MHD_Connection *c, const char *url);
/* POST /v2/models/NAME[/versions/V]/infer: whether url is one, its body's
 * bound, and the answer. */
int rv_http_v2_infer_path(const char *url);
uint32_t rv_http_v2_max_body(const rv_http *h);
/* http_sites.c: GET /v1/sites, and /readyz's lines of the sites. */
enum MHD_Result rv_http_get_sites(rv_http *h, struct MHD_Connection *c);
void rv_http_sites_readiness(rv_http *h, const rv_generation *g, rv_text *t);
extern const unsigned char rv_dashboard_html[];
extern const size_t rv_dashboard_html_len;

/* gateway: POST /v1/score, the upload it reads, and the reply reader. */
typedef struct rv_upload {
    char *body;
    size_t len, cap;
    int too_large;
    rv_http_grant grant; /* released when the request ends */
} rv_upload;
/* http_v2.c: POST /v2/models/NAME[/versions/V]/infer. */
enum MHD_Result rv_http_post_v2_infer(rv_http *h, struct MHD_Connection *c, rv_upload *u,
                                      const char *url);
/* Appends a piece of the body (kept up to max_body). 0, or -1 on out of
 * memory. */
int rv_upload_append(rv_upload *u, const char *data, size_t len, size_t max_body);
/* What POST /v1/score checks before the request goes to Kafka (its body as
 * the input parses it, its X-Request-Id when given): 0, or the HTTP status
 * with the reason in why. */
int rv_http_check_score(const rv_feature_index *ix, size_t n_features, const rv_upload *u,
                        const char *request_id, char *why, size_t size);
enum MHD_Result rv_http_post_score(rv_http *h, struct MHD_Connection *c, rv_upload *u);
void *rv_http_reply_loop(void *arg);

#endif
