/*
 * tokens.h - the HTTP listener's bearer tokens, from a file of lines
 *
 *   # sha256 of the token (hex)                                      scopes
 *   7f2a6f0b5ae27f4e9dae6a537851577b49397b019a1153426901cba195bccc2c score,read name=fraud-api rate=500 concurrent=32
 *
 *   subject:"CN=fraud-api,O=Example Bank"                            score name=fraud-api
 *
 * scopes: score, read, metrics (comma-separated); then optional name=,
 * rate= (requests per second, 0: no limit) and concurrent= (requests at
 * once, 0: no limit). Blank lines and '#' comments are skipped. Only hashes
 * are kept, so the file holds no token; a token is found by hashing it and
 * comparing the hash with every entry of its kind in constant time.
 *
 * A subject: line grants its scopes to a client certificate (verified
 * against the client CAs) whose subject is that distinguished name, as
 * RFC 4514 writes it (quoted when it holds blanks). A bearer token that
 * happens to spell the name is not that client: each kind is found only
 * among its own kind.
 */
#ifndef RV_TOKENS_H
#define RV_TOKENS_H

#include <stddef.h>
#include <stdint.h>

enum { RV_SCOPE_SCORE = 1u, RV_SCOPE_READ = 2u, RV_SCOPE_METRICS = 4u };

enum { RV_TOKEN_BEARER = 0, RV_TOKEN_SUBJECT = 1 };

typedef struct rv_token {
    unsigned char hash[32]; /* of the token, or of the subject */
    int kind;               /* RV_TOKEN_BEARER or RV_TOKEN_SUBJECT */
    unsigned scopes;
    char name[64]; /* for logs and metrics: never the token */
    uint32_t rate, concurrent;
} rv_token;

typedef struct rv_tokens {
    rv_token *t;
    size_t n;
} rv_tokens;

/* Parses the file's text. 0, or -1 with "line N: reason" in err (out is
 * then empty). */
int rv_tokens_parse(const char *text, size_t len, rv_tokens *out, char *err, size_t err_size);
void rv_tokens_free(rv_tokens *t);

/* The entry of that kind for the token or subject (len bytes), or NULL.
 * Every entry is compared, each in constant time. */
const rv_token *rv_tokens_find(const rv_tokens *t, int kind, const char *value, size_t len);

/* The token of an Authorization header value ("Bearer <token>", the
 * scheme in any case), *len its length; NULL when it is not one. */
const char *rv_bearer_token(const char *header, size_t *len);

/* "score", "read", "metrics" */
const char *rv_scope_name(unsigned scope);

#endif
