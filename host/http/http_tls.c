/*
 * http_tls.c - HTTPS on the listener (libmicrohttpd's TLS, GnuTLS): the
 * certificate and key, handed to each handshake by a callback so that
 * SIGHUP can replace them under a running listener; the client CAs a
 * client's certificate is verified against (also replaced on SIGHUP); and
 * the verified client's subject, which the tokens file may map to scopes.
 *
 * A handshake may still hold the certificate it was given when a reload
 * replaces it, so the readings before the newest are kept until the
 * listener stops (a few kilobytes per reload). GnuTLS's certificate
 * callback carries no context of ours: the listener's TLS is the one of
 * the process (one TLS listener per process).
 */
#include "http_internal.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errbuf.h"
#include "log.h"

enum { MAX_CHAIN = 16 };

/* One reading of cert_file and key_file. */
typedef struct keys {
    gnutls_pcert_st pcert[MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    time_t expires; /* of the certificate (the chain's first) */
    struct keys *older;
} keys;

struct rv_http_tls {
    char *cert_path, *key_path, *ca_path; /* ca_path NULL: no client certificates */
    char *ca_pem;                         /* the start's, for MHD: asks for certificates */
    pthread_rwlock_t lock;
    keys *keys; /* newest first */
    gnutls_x509_trust_list_t trust;
};

static rv_http_tls *the_tls; /* for the certificate callback */
static pthread_mutex_t the_lock = PTHREAD_MUTEX_INITIALIZER;

static void keys_free(keys *k)
{
    while (k) {
        keys *older = k->older;
        for (unsigned i = 0; i < k->n; i++)
            gnutls_pcert_deinit(&k->pcert[i]);
        if (k->key)
            gnutls_privkey_deinit(k->key);
        free(k);
        k = older;
    }
}

static int read_file(const char *path, const char *what, gnutls_datum_t *d, char *err,
                     size_t err_size)
{
    char why[RV_ERR_SIZE];
    size_t len;
    char *text = rv_file_read(path, &len, why, sizeof why);
    if (!text) {
        rv_errf(err, err_size, "http.%s: %s", what, why);
        return -1;
    }
    *d = (gnutls_datum_t){(unsigned char *)text, (unsigned)len};
    return 0;
}

static void datum_free(gnutls_datum_t *d)
{
    if (d->data) /* a private key does not outlive its use */
        gnutls_memset(d->data, 0, d->size);
    free(d->data);
    *d = (gnutls_datum_t){0};
}

/* Whether the key is the certificate's: their public keys' ids agree. */
static int key_matches(const keys *k)
{
    gnutls_pubkey_t pub;
    unsigned char a[64], b[64];
    size_t la = sizeof a, lb = sizeof b;
    if (gnutls_pubkey_init(&pub) < 0)
        return 0;
    int ok = gnutls_pubkey_import_privkey(pub, k->key, 0, 0) >= 0 &&
             gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &la) >= 0 &&
             gnutls_pubkey_get_key_id(k->pcert[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &lb) >= 0 &&
             la == lb && memcmp(a, b, la) == 0;
    gnutls_pubkey_deinit(pub);
    return ok;
}

/* The certificate chain and its key, checked to belong together. */
static keys *keys_load(const rv_http_tls *t, char *err, size_t err_size)
{
    gnutls_datum_t cert = {0}, key = {0};
    keys *k = calloc(1, sizeof *k);
    int rc = -1;
    if (!k) {
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    if (read_file(t->cert_path, "cert_file", &cert, err, err_size) != 0 ||
        read_file(t->key_path, "key_file", &key, err, err_size) != 0)
        goto out;
    k->n = MAX_CHAIN;
    int e = gnutls_pcert_list_import_x509_raw(k->pcert, &k->n, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (e < 0 || k->n == 0) {
        k->n = 0;
        rv_errf(err, err_size, "http.cert_file %s: no PEM certificate chain (%s)", t->cert_path,
                e < 0 ? gnutls_strerror(e) : "none found");
        goto out;
    }
    if ((e = gnutls_privkey_init(&k->key)) < 0 ||
        (e = gnutls_privkey_import_x509_raw(k->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        rv_errf(err, err_size, "http.key_file %s: not an unencrypted PEM private key (%s)",
                t->key_path, gnutls_strerror(e));
        goto out;
    }
    if (!key_matches(k)) {
        rv_errf(err, err_size, "http.key_file %s is not the key of http.cert_file %s", t->key_path,
                t->cert_path);
        goto out;
    }
    gnutls_x509_crt_t crt;
    if (gnutls_pcert_export_x509(&k->pcert[0], &crt) >= 0) {
        k->expires = gnutls_x509_crt_get_expiration_time(crt);
        gnutls_x509_crt_deinit(crt);
    }
    rc = 0;
out:
    free(cert.data);
    datum_free(&key);
    if (rc != 0) {
        keys_free(k);
        return NULL;
    }
    return k;
}

static gnutls_x509_trust_list_t trust_load(const char *path, char *err, size_t err_size)
{
    gnutls_datum_t pem;
    if (read_file(path, "client_ca_file", &pem, err, err_size) != 0)
        return NULL;
    gnutls_x509_trust_list_t tl = NULL;
    int e = gnutls_x509_trust_list_init(&tl, 0);
    if (e >= 0)
        e = gnutls_x509_trust_list_add_trust_mem(tl, &pem, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    free(pem.data);
    if (e <= 0) { /* the number of CAs added: none is an error too */
        rv_errf(err, err_size, "http.client_ca_file %s: no PEM CA certificate (%s)", path,
                e < 0 ? gnutls_strerror(e) : "none found");
        if (tl)
            gnutls_x509_trust_list_deinit(tl, 1);
        return NULL;
    }
    return tl;
}

static void describe(const keys *k, const char *why)
{
    char when[32] = "?";
    struct tm tm;
    if (k->expires > 0 && gmtime_r(&k->expires, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int64_t left_s = (int64_t)(k->expires - time(NULL));
    if (left_s < 14 * 86400)
        rv_warn("http", "%s: certificate of %u in its chain, valid until %s: %s", why, k->n, when,
                left_s <= 0 ? "EXPIRED" : "expires within 14 days");
    else
        rv_info("http", "%s: certificate of %u in its chain, valid until %s", why, k->n, when);
}

static int on_certificate(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
                          const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                          gnutls_pcert_st **pcert, unsigned int *pcert_length,
                          gnutls_privkey_t *key)
{
    (void)s, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    pthread_mutex_lock(&the_lock);
    rv_http_tls *t = the_tls;
    if (t)
        pthread_rwlock_rdlock(&t->lock);
    pthread_mutex_unlock(&the_lock);
    if (!t)
        return -1;
    *pcert = t->keys->pcert;
    *pcert_length = t->keys->n;
    *key = t->keys->key;
    pthread_rwlock_unlock(&t->lock);
    return 0;
}

rv_http_tls *rv_http_tls_open(const rv_config *cfg, char *err, size_t err_size)
{
    rv_http_tls *t = calloc(1, sizeof *t);
    gnutls_datum_t ca = {0};
    if (!t || !(t->cert_path = strdup(cfg->http.cert_file)) ||
        !(t->key_path = strdup(cfg->http.key_file)) ||
        (cfg->http.client_ca_file && !(t->ca_path = strdup(cfg->http.client_ca_file)))) {
        rv_errf(err, err_size, "out of memory");
        rv_http_tls_free(t);
        return NULL;
    }
    pthread_rwlock_init(&t->lock, NULL);
    if (!(t->keys = keys_load(t, err, err_size)) ||
        (t->ca_path && (!(t->trust = trust_load(t->ca_path, err, err_size)) ||
                        read_file(t->ca_path, "client_ca_file", &ca, err, err_size) != 0))) {
        rv_http_tls_free(t);
        return NULL;
    }
    t->ca_pem = (char *)ca.data;
    pthread_mutex_lock(&the_lock);
    int taken = the_tls != NULL;
    if (!taken)
        the_tls = t;
    pthread_mutex_unlock(&the_lock);
    if (taken) {
        rv_errf(err, err_size, "a second TLS listener in one process");
        rv_http_tls_free(t);
        return NULL;
    }
    describe(t->keys, cfg->http.cert_file);
    return t;
}

void rv_http_tls_free(rv_http_tls *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&the_lock);
    if (the_tls == t)
        the_tls = NULL;
    pthread_mutex_unlock(&the_lock);
    keys_free(t->keys);
    if (t->trust)
        gnutls_x509_trust_list_deinit(t->trust, 1);
    if (t->cert_path) /* else the lock was never made */
        pthread_rwlock_destroy(&t->lock);
    free(t->cert_path);
    free(t->key_path);
    free(t->ca_path);
    free(t->ca_pem);
    free(t);
}

int rv_http_tls_reload(rv_http_tls *t, char *err, size_t err_size)
{
    keys *k = keys_load(t, err, err_size);
    gnutls_x509_trust_list_t tl = NULL;
    if (!k || (t->ca_path && !(tl = trust_load(t->ca_path, err, err_size)))) {
        keys_free(k);
        return -1;
    }
    pthread_rwlock_wrlock(&t->lock);
    k->older = t->keys;
    t->keys = k;
    gnutls_x509_trust_list_t old = t->trust;
    if (tl)
        t->trust = tl;
    pthread_rwlock_unlock(&t->lock);
    if (tl && old) /* verifications hold the read lock: none uses it now */
        gnutls_x509_trust_list_deinit(old, 1);
    describe(k, "reloaded");
    return 0;
}

size_t rv_http_tls_options(const rv_http_tls *t, struct MHD_OptionItem out[3])
{
    size_t n = 0;
    if (t) {
        out[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)on_certificate};
        if (t->ca_pem) /* asks every client for its certificate */
            out[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->ca_pem};
    }
    out[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return n;
}

int64_t rv_http_tls_expires(rv_http_tls *t)
{
    pthread_rwlock_rdlock(&t->lock);
    int64_t at = (int64_t)t->keys->expires;
    pthread_rwlock_unlock(&t->lock);
    return at;
}

int rv_http_tls_client(rv_http_tls *t, struct MHD_Connection *c, char *subject, size_t size)
{
    subject[0] = '\0';
    if (!t || !t->ca_path)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return -1;
    unsigned n = 0;
    const gnutls_datum_t *raw = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
    if (!raw || n == 0)
        return -1; /* none presented */
    if (n > MAX_CHAIN)
        n = MAX_CHAIN;
    gnutls_x509_crt_t crts[MAX_CHAIN];
    unsigned got = 0;
    int ok = 1;
    while (ok && got < n && gnutls_x509_crt_init(&crts[got]) >= 0) {
        ok = gnutls_x509_crt_import(crts[got], &raw[got], GNUTLS_X509_FMT_DER) >= 0;
        got++;
    }
    ok = ok && got == n;
    unsigned status = 1;
    if (ok) {
        pthread_rwlock_rdlock(&t->lock);
        if (gnutls_x509_trust_list_verify_crt2(t->trust, crts, n, NULL, 0, 0, &status, NULL) < 0)
            status = 1;
        pthread_rwlock_unlock(&t->lock);
    }
    gnutls_datum_t dn = {0};
    if (status == 0 && gnutls_x509_crt_get_dn3(crts[0], &dn, 0) >= 0) {
        snprintf(subject, size, "%.*s", (int)dn.size, (const char *)dn.data);
        gnutls_free(dn.data);
    }
    for (unsigned i = 0; i < got; i++)
        gnutls_x509_crt_deinit(crts[i]);
    return status == 0 ? 0 : -1;
}
