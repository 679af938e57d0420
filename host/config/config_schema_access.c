/*
 * config_schema_access.c - the keys of who may reach the service: the HTTP
 * listener (address, TLS, bearer tokens) and signed schedule changes on
 * the control stream; rows as in config_schema.c.
 */
#include "config_internal.h"

#include "errbuf.h"
#include "hostport.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define C(f) offsetof(rv_config, f)

/* A file the host reads: its size in *size. 0, or -1 (reported). */
static int readable(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base,
                    off_t *size)
{
    const char *path = cf_slot_text(k, base);
    struct stat st;
    errno = 0;
    if (path && (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, R_OK) != 0)) {
        cy_report(l, v, kp, "cannot read the file '%s' (resolved to %s): %s", cy_scalar_text(v),
                  path, errno ? strerror(errno) : "not a regular file");
        return -1;
    }
    *size = path ? st.st_size : 0;
    return 0;
}

static void check_readable(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                           void *base)
{
    off_t size;
    readable(l, k, v, kp, base, &size);
}

/* A shared secret: readable, and long enough to be one. */
static void check_secret(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    off_t size;
    if (readable(l, k, v, kp, base, &size) == 0 && cf_slot_text(k, base) && size < 16)
        cy_report(l, v, kp, "the key file %s holds %lld bytes: a key needs at least 16",
                  cf_slot_text(k, base), (long long)size);
}

/* Checked by the listener's own parser, so that a typo fails the reload,
 * not the bind after it. */
static void check_listen(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    const char *s = cf_slot_text(k, base);
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char why[RV_ERR_SIZE];
    if (s && rv_hostport_parse(s, &sa, &sa_len, why, sizeof why) != 0)
        cy_report(l, v, kp, "%s", why);
}

static const cf_key http_keys[] = {
    {.name = "listen",
     .type = CF_STRING,
     .offset = C(http.listen),
     .flags = CF_REQUIRED,
     .check = check_listen,
     .help = "`HOST:PORT` to listen on: an IPv4 address, `[IPv6]` or `localhost`; port 1 to "
             "65535."},
    {.name = "tokens_file",
     .type = CF_PATH,
     .offset = C(http.tokens_file),
     .check = check_readable,
     .help = "Bearer tokens: lines of `<sha256 of the token, hex> <scopes> [name=N] [rate=R] "
             "[concurrent=C]`, scopes among `score` (POST /v1/score), `read` (the dashboard, "
             "/v1/models, /v1/stats, /v1/evaluation, /v1/sites) and `metrics`; `/healthz` and "
             "`/readyz` stay open. Without it every endpoint is open. Read again when it "
             "changes and on SIGHUP."},
    {.name = "cert_file",
     .type = CF_PATH,
     .offset = C(http.cert_file),
     .check = check_readable,
     .help = "TLS: the server's certificate chain (PEM); with `key_file`, the listener speaks "
             "HTTPS only. SIGHUP reads the certificate, key and client CAs again (a key that is "
             "not the certificate's is refused, and the ones in use stay)."},
    {.name = "key_file",
     .type = CF_PATH,
     .offset = C(http.key_file),
     .check = check_readable,
     .help = "TLS: the server's private key (PEM), unencrypted."},
    {.name = "client_ca_file",
     .type = CF_PATH,
     .offset = C(http.client_ca_file),
     .check = check_readable,
     .help = "TLS: clients must present a certificate that chains to these CAs (PEM); "
             "others get 403 (`/healthz` and `/readyz` stay open). A verified client's subject "
             "may stand for a token: `subject:\"CN=...\"` lines in `tokens_file`."},
    {.name = "max_connections_per_ip",
     .type = CF_U32,
     .offset = C(http.max_connections_per_ip),
     .def = "256",
     .help = "Connections one client address may hold at once (each holds a thread); more are "
             "closed at accept, so one caller's stalled or slow connections leave room for the "
             "others. 0: no limit."},
    {0},
};

static const cf_key control_keys[] = {
    {.name = "key_file",
     .type = CF_PATH,
     .offset = C(control.key_file),
     .flags = CF_REQUIRED,
     .check = check_secret,
     .help = "A secret of at least 16 bytes (one trailing newline is not part of it): every "
             "control record must carry `rv-signature: sha256=<hex HMAC-SHA256 of its value "
             "with this key>`; others are refused and alerted. Read at each record: a new key "
             "needs no reload."},
    {0},
};

const cf_section cf_control_section = {
    .path = "control",
    .help = "Who may change the schedule through the control stream; anyone who can write to "
            "it without this section.",
    .keys = control_keys,
};
const cf_section cf_http_section = {
    .check = cf_check_http_tls,
    .path = "http",
    .help = "The HTTP gateway, health, models and metrics endpoints; none without this "
            "section.",
    .keys = http_keys,
};
