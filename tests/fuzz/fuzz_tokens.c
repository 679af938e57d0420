/*
 * fuzz_tokens.c - the bearer token file parser and the Authorization
 * header: the input's first line is a header value, the rest a tokens
 * file. A file parses or says which line is wrong; what parses has known
 * scopes and a name; the header gives a token within itself, with no blank
 * in it, or none; looking that token up never fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tokens.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - (const char *)data) : size;
    char *header = malloc(hlen + 1);
    if (!header)
        return 0;
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    const char *file = nl ? nl + 1 : (const char *)data + size;
    size_t flen = (size_t)((const char *)data + size - file);

    char err[256] = "";
    rv_tokens t;
    if (rv_tokens_parse(file, flen, &t, err, sizeof err) == 0) {
        for (size_t i = 0; i < t.n; i++)
            if (!t.t[i].scopes || t.t[i].scopes & ~7u || !t.t[i].name[0] ||
                !memchr(t.t[i].name, '\0', sizeof t.t[i].name))
                abort();
    } else if (strncmp(err, "line ", 5) != 0 && strcmp(err, "out of memory") != 0)
        abort();
    size_t len = 0;
    const char *tok = rv_bearer_token(header, &len);
    if (tok) {
        size_t hl = strlen(header); /* the header up to a NUL in the input */
        if (tok < header || tok + len > header + hl || len == 0 || memchr(tok, ' ', len))
            abort();
        rv_tokens_find(&t, RV_TOKEN_BEARER, tok, len);
        rv_tokens_find(&t, RV_TOKEN_SUBJECT, tok, len);
    }
    rv_tokens_free(&t);
    free(header);
    return 0;
}
