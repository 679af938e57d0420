/*
 * http_tls.c - HTTPS on the listener (libmicrohttpd's TLS, GnuTLS): the
 * certificate, key and client CA files read at start, the daemon's options,
 * and the check of a client's certificate against the client CAs.
 */
#include "http_internal.h"

#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "errbuf.h"

static char *read_pem(const char *path, const char *what, char *err, size_t err_size)
{
    char why[RV_ERR_SIZE];
    size_t len;
    char *pem = rv_file_read(path, &len, why, sizeof why);
    if (!pem)
        rv_errf(err, err_size, "http.%s: %s", what, why);
    return pem;
}

int rv_http_tls_load(rv_http *h, const rv_config *cfg, char *err, size_t err_size)
{
    if (!cfg->http.cert_file)
        return 0;
    if (!(h->tls_cert = read_pem(cfg->http.cert_file, "cert_file", err, err_size)) ||
        !(h->tls_key = read_pem(cfg->http.key_file, "key_file", err, err_size)) ||
        (cfg->http.client_ca_file &&
         !(h->tls_ca = read_pem(cfg->http.client_ca_file, "client_ca_file", err, err_size)))) {
        rv_http_tls_free(h);
        return -1;
    }
    return 0;
}

void rv_http_tls_free(rv_http *h)
{
    if (h->tls_key) /* the private key does not outlive its use */
        memset(h->tls_key, 0, strlen(h->tls_key));
    free(h->tls_cert);
    free(h->tls_key);
    free(h->tls_ca);
    h->tls_cert = h->tls_key = h->tls_ca = NULL;
}

size_t rv_http_tls_options(const rv_http *h, struct MHD_OptionItem out[4])
{
    size_t n = 0;
    if (h->tls_key) {
        out[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
        out[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
    }
    if (h->tls_ca) /* asks every client for its certificate */
        out[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, h->tls_ca};
    out[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return n;
}

int rv_http_client_trusted(const rv_http *h, struct MHD_Connection *c)
{
    if (!h->tls_ca)
        return 1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned n = 0, status = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0)
        return 0; /* none presented */
    return gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && status == 0;
}
