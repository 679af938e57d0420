/*
 * tokens.c - the bearer token file: parse, find, and the Authorization
 * header's token.
 */
#include "tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errbuf.h"

static const struct {
    const char *name;
    unsigned bit;
} scopes[] = {{"score", RV_SCOPE_SCORE}, {"read", RV_SCOPE_READ}, {"metrics", RV_SCOPE_METRICS}};

const char *rv_scope_name(unsigned scope)
{
    for (size_t i = 0; i < sizeof scopes / sizeof *scopes; i++)
        if (scopes[i].bit == scope)
            return scopes[i].name;
    return "?";
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The next field of [*p, end) separated by blanks; its length, 0 at the end. */
static size_t field(const char **p, const char *end, const char **start)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        ++*p;
    *start = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        ++*p;
    return (size_t)(*p - *start);
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 9)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static void sha256(const char *s, size_t len, unsigned char out[32])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    EVP_Digest(s, len, h, &hlen, EVP_sha256(), NULL);
    memcpy(out, h, 32);
    OPENSSL_cleanse(h, sizeof h);
}

/* subject:DN or subject:"DN" at *p: its hash into t. 0, or -1 with err. */
static int parse_subject(const char **p, const char *end, rv_token *t, char *err, size_t err_size)
{
    const char *s = *p + 8, *stop;
    if (s < end && *s == '"') {
        s++;
        if (!(stop = memchr(s, '"', (size_t)(end - s)))) {
            rv_errf(err, err_size, "the subject's quote is not closed");
            return -1;
        }
        *p = stop + 1;
    } else {
        field(p, end, &s);
        s += 8;
        stop = *p;
    }
    if (stop == s) {
        rv_errf(err, err_size, "an empty subject (subject:\"CN=...,O=...\")");
        return -1;
    }
    t->kind = RV_TOKEN_SUBJECT;
    sha256(s, (size_t)(stop - s), t->hash);
    return 0;
}

/* One non-empty line into t. 0, or -1 with the reason in err. */
static int parse_line(const char *p, const char *end, rv_token *t, char *err, size_t err_size)
{
    const char *f = NULL; /* set by the hash's field; gcc -O3 cannot see it */
    size_t n;
    if (end - p >= 8 && memcmp(p, "subject:", 8) == 0) {
        if (parse_subject(&p, end, t, err, err_size) != 0)
            return -1;
    } else if ((n = field(&p, end, &f)) != 64) {
        rv_errf(err, err_size,
                "expected the token's SHA-256 in hex (64 digits) or subject:\"DN\" first");
        return -1;
    }
    for (size_t i = 0; t->kind == RV_TOKEN_BEARER && i < 32; i++) {
        int hi = hexval(f[2 * i]), lo = hexval(f[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            rv_errf(err, err_size, "the SHA-256 is not lowercase hex");
            return -1;
        }
        t->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!(n = field(&p, end, &f))) {
        rv_errf(err, err_size, "no scopes (score, read, metrics, comma-separated)");
        return -1;
    }
    for (const char *s = f, *stop = f + n;;) {
        const char *comma = memchr(s, ',', (size_t)(stop - s));
        size_t len = (size_t)((comma ? comma : stop) - s);
        size_t k = 0;
        while (k < sizeof scopes / sizeof *scopes &&
               !(strlen(scopes[k].name) == len && memcmp(scopes[k].name, s, len) == 0))
            k++;
        if (k == sizeof scopes / sizeof *scopes) {
            rv_errf(err, err_size, "unknown scope '%.*s' (scopes: score, read, metrics)",
                    (int)(len > 32 ? 32 : len), s);
            return -1;
        }
        t->scopes |= scopes[k].bit;
        if (!comma)
            break;
        s = comma + 1;
    }
    while ((n = field(&p, end, &f))) {
        const char *eq = memchr(f, '=', n);
        size_t klen = eq ? (size_t)(eq - f) : n, vlen = eq ? n - klen - 1 : 0;
        const char *v = eq ? eq + 1 : NULL;
        if (eq && klen == 4 && memcmp(f, "name", 4) == 0 && vlen > 0 && vlen < sizeof t->name) {
            memcpy(t->name, v, vlen);
            t->name[vlen] = '\0';
        } else if (eq && klen == 4 && memcmp(f, "rate", 4) == 0 &&
                   parse_u32(v, vlen, &t->rate) == 0)
            ;
        else if (eq && klen == 10 && memcmp(f, "concurrent", 10) == 0 &&
                 parse_u32(v, vlen, &t->concurrent) == 0)
            ;
        else {
            rv_errf(err, err_size,
                    "'%.*s' is not name=TEXT (under 64 bytes), rate=N or concurrent=N",
                    (int)(n > 40 ? 40 : n), f);
            return -1;
        }
    }
    return 0;
}

int rv_tokens_parse(const char *text, size_t len, rv_tokens *out, char *err, size_t err_size)
{
    *out = (rv_tokens){0};
    size_t cap = 0, line = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        const char *s = p;
        while (s < stop && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        const char *e = stop;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        p = nl ? nl + 1 : end;
        if (s == e || *s == '#')
            continue;
        if (out->n == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            rv_token *grown = realloc(out->t, ncap * sizeof *grown);
            if (!grown) {
                rv_tokens_free(out);
                rv_errf(err, err_size, "out of memory");
                return -1;
            }
            out->t = grown;
            cap = ncap;
        }
        rv_token *t = &out->t[out->n];
        memset(t, 0, sizeof *t);
        char why[160];
        if (parse_line(s, e, t, why, sizeof why) != 0) {
            rv_tokens_free(out);
            rv_errf(err, err_size, "line %zu: %s", line, why);
            return -1;
        }
        if (!t->name[0])
            snprintf(t->name, sizeof t->name, "line-%zu", line);
        out->n++;
    }
    return 0;
}

void rv_tokens_free(rv_tokens *t)
{
    if (t->t)
        OPENSSL_cleanse(t->t, t->n * sizeof *t->t);
    free(t->t);
    *t = (rv_tokens){0};
}

const rv_token *rv_tokens_find(const rv_tokens *t, int kind, const char *value, size_t len)
{
    unsigned char h[32];
    sha256(value, len, h);
    const rv_token *found = NULL;
    for (size_t i = 0; i < t->n; i++) /* no early exit: every entry costs the same */
        if ((CRYPTO_memcmp(h, t->t[i].hash, 32) == 0) & (t->t[i].kind == kind) && !found)
            found = &t->t[i];
    OPENSSL_cleanse(h, sizeof h);
    return found;
}

const char *rv_bearer_token(const char *header, size_t *len)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *s = header + 7;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || memchr(s, ' ', n))
        return NULL;
    *len = n;
    return s;
}
