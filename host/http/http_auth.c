/*
 * http_auth.c - who may call which endpoint: the bearer tokens and client
 * certificate subjects of http.tokens_file (http/tokens.h), each with its
 * scopes and limits; a bearer token, when given, decides. The
 * file is read again when it changes (looked at once a second at most), so
 * a token is revoked without a restart; a new file that does not parse
 * leaves the tokens in force and is logged with its line. No token, and no
 * hash, is ever logged: a refusal names the token's `name` at most.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "digest.h"
#include "errbuf.h"
#include "log.h"

/* A token's use now: its rate bucket and its requests in flight. */
typedef struct use {
    double bucket; /* requests it may make now, up to rate */
    int64_t at_us; /* when the bucket was filled */
    uint32_t in_flight;
} use;

struct rv_http_auth {
    char *path;
    pthread_mutex_t lock;
    rv_tokens tokens;
    use *uses;
    uint64_t version; /* of the tokens: a grant of an older one releases nothing */
    struct stat seen;
    int64_t looked_us;
};

/* Reads the file into a->tokens when it parses. 0, or -1 with err. */
static int load(rv_http_auth *a, const struct stat *st, char *err, size_t err_size)
{
    char why[RV_ERR_SIZE];
    size_t len;
    char *text = rv_file_read(a->path, &len, why, sizeof why);
    if (!text) {
        rv_errf(err, err_size, "http.tokens_file: %s", why);
        return -1;
    }
    rv_tokens t;
    int rc = rv_tokens_parse(text, len, &t, why, sizeof why);
    free(text);
    use *uses = rc == 0 ? calloc(t.n ? t.n : 1, sizeof *uses) : NULL;
    if (rc != 0 || !uses) {
        if (rc == 0)
            rv_tokens_free(&t);
        rv_errf(err, err_size, "%s: %s", a->path, rc == 0 ? "out of memory" : why);
        return -1;
    }
    int64_t now = rv_mono_us();
    for (size_t i = 0; i < t.n; i++)
        uses[i] = (use){(double)t.t[i].rate, now, 0};
    rv_tokens_free(&a->tokens);
    free(a->uses);
    a->tokens = t;
    a->uses = uses;
    a->version++;
    a->seen = *st;
    return 0;
}

rv_http_auth *rv_http_auth_open(const char *path, char *err, size_t err_size)
{
    rv_http_auth *a = calloc(1, sizeof *a);
    struct stat st;
    if (!a || !(a->path = strdup(path))) {
        free(a);
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    if (stat(path, &st) != 0)
        rv_errf(err, err_size, "http.tokens_file %s: %s", path, strerror(errno));
    if (stat(path, &st) != 0 || load(a, &st, err, err_size) != 0) {
        rv_http_auth_free(a);
        return NULL;
    }
    a->looked_us = rv_mono_us();
    rv_info("http", "%zu bearer token(s) from %s", a->tokens.n, path);
    return a;
}

void rv_http_auth_free(rv_http_auth *a)
{
    if (!a)
        return;
    rv_tokens_free(&a->tokens);
    free(a->uses);
    free(a->path);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* With a->lock held: the file again if it changed (looked at once a
 * second at most, unless now). */
static void look(rv_http_auth *a, int now_anyway)
{
    int64_t now = rv_mono_us();
    if (now - a->looked_us < 1000000 && !now_anyway)
        return;
    a->looked_us = now;
    struct stat st;
    if (stat(a->path, &st) != 0)
        return; /* being replaced: the next look sees the new one */
    if (st.st_ino == a->seen.st_ino && st.st_size == a->seen.st_size &&
        st.st_mtim.tv_sec == a->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == a->seen.st_mtim.tv_nsec)
        return;
    char err[RV_ERR_SIZE];
    if (load(a, &st, err, sizeof err) == 0)
        rv_info("http", "%s changed: %zu bearer token(s) now", a->path, a->tokens.n);
    else {
        a->seen = st; /* said once per change */
        rv_error("http", "%s; the tokens before it stay in force", err);
    }
}

void rv_http_authorize(rv_http_auth *a, const char *authorization, const char *subject,
                       unsigned scope, rv_http_grant *g)
{
    memset(g, 0, sizeof *g);
    if (!a || !scope)
        return;
    size_t len;
    const char *token = rv_bearer_token(authorization, &len);
    pthread_mutex_lock(&a->lock);
    look(a, 0);
    const rv_token *t = token ? rv_tokens_find(&a->tokens, RV_TOKEN_BEARER, token, len)
                        : subject && *subject
                            ? rv_tokens_find(&a->tokens, RV_TOKEN_SUBJECT, subject, strlen(subject))
                            : NULL;
    if (!t) {
        g->status = MHD_HTTP_UNAUTHORIZED;
        if (token)
            snprintf(g->why, sizeof g->why, "unknown token");
        else if (subject && *subject) /* the client's own, and no secret */
            snprintf(g->why, sizeof g->why,
                     "no bearer token, and no subject:\"%.100s\" line in the tokens file", subject);
        else
            snprintf(g->why, sizeof g->why, "no bearer token (Authorization: Bearer <token>)");
    } else if (!(t->scopes & scope)) {
        g->status = MHD_HTTP_FORBIDDEN;
        snprintf(g->why, sizeof g->why, "token %s lacks the scope '%s'", t->name,
                 rv_scope_name(scope));
    } else {
        size_t i = (size_t)(t - a->tokens.t);
        use *u = &a->uses[i];
        int64_t now = rv_mono_us();
        if (t->rate) {
            u->bucket += (double)(now - u->at_us) * t->rate / 1e6;
            if (u->bucket > t->rate)
                u->bucket = t->rate;
            u->at_us = now;
        }
        if (t->rate && u->bucket < 1) {
            g->status = MHD_HTTP_TOO_MANY_REQUESTS;
            g->retry_after = 1;
            snprintf(g->why, sizeof g->why, "token %s: over its rate of %u requests/s", t->name,
                     t->rate);
        } else if (t->concurrent && u->in_flight >= t->concurrent) {
            g->status = MHD_HTTP_TOO_MANY_REQUESTS;
            g->retry_after = 1;
            snprintf(g->why, sizeof g->why, "token %s: %u requests at once already", t->name,
                     t->concurrent);
        } else {
            if (t->rate)
                u->bucket -= 1;
            u->in_flight++;
            g->held = 1;
            g->index = i;
            g->version = a->version;
        }
    }
    pthread_mutex_unlock(&a->lock);
}

void rv_http_auth_reload(rv_http_auth *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    look(a, 1);
    pthread_mutex_unlock(&a->lock);
}

void rv_http_auth_done(rv_http_auth *a, rv_http_grant *g)
{
    if (!a || !g->held)
        return;
    pthread_mutex_lock(&a->lock);
    if (g->version == a->version && a->uses[g->index].in_flight > 0)
        a->uses[g->index].in_flight--;
    pthread_mutex_unlock(&a->lock);
    g->held = 0;
}

enum MHD_Result rv_http_refuse(struct MHD_Connection *c, const rv_http_grant *g)
{
    char body[2 * sizeof g->why + 16];
    struct MHD_Response *r = MHD_create_response_from_buffer(
        rv_http_error_body(g->why, body, sizeof body), body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (g->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"rendezvous\"");
    if (g->retry_after) {
        char s[16];
        snprintf(s, sizeof s, "%d", g->retry_after);
        MHD_add_response_header(r, "Retry-After", s);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)g->status, r);
    MHD_destroy_response(r);
    return ret;
}
