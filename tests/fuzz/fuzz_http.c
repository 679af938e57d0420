/*
 * fuzz_http.c - the HTTP score path after libmicrohttpd has parsed the
 * request: the input is header lines, an empty line, then the body, which
 * arrives in pieces (as libmicrohttpd hands it over) of sizes taken from the
 * input. The upload is bounded, the checks answer 0, 400 or 413, and what
 * passes has a printable id within the bound and a body that parses.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feature_vector.h"
#include "fuzz.h"
#include "http_internal.h"

#define MAX_BODY 256
static rv_feature_index *ix;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char *names[2] = {"x", "y"};
    ix = rv_feature_index_new(names, 2);
    return ix ? 0 : -1;
}

/* The value of X-Request-Id among the header lines (as libmicrohttpd gives
 * it: name case-insensitive, value trimmed), or NULL. Allocated. */
static char *request_id(const uint8_t *h, size_t len)
{
    char *found = NULL;
    size_t i = 0;
    while (i < len) {
        const uint8_t *nl = memchr(h + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - h) : len;
        const uint8_t *colon = memchr(h + i, ':', end - i);
        if (colon && (size_t)(colon - (h + i)) == 12 &&
            !strncasecmp((const char *)h + i, "X-Request-Id", 12)) {
            size_t v = (size_t)(colon - h) + 1;
            while (v < end && (h[v] == ' ' || h[v] == '\t'))
                v++;
            size_t e = end;
            while (e > v && (h[e - 1] == ' ' || h[e - 1] == '\t' || h[e - 1] == '\r'))
                e--;
            free(found);
            found = strndup((const char *)h + v, e - v);
        }
        i = end + 1;
    }
    return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 1 < size && !sep; i++)
        if (data[i] == '\n' && data[i + 1] == '\n')
            sep = data + i;
    size_t head = sep ? (size_t)(sep - data) : 0;
    const uint8_t *body = sep ? sep + 2 : data;
    size_t len = size - (size_t)(body - data);
    char *id = request_id(data, head);

    rv_upload u = {0};
    size_t off = 0, piece = 1 + (size ? data[0] % 97 : 0);
    while (off < len) {
        size_t n = len - off < piece ? len - off : piece;
        if (rv_upload_append(&u, (const char *)body + off, n, MAX_BODY) != 0)
            abort();
        off += n;
    }
    if (u.len > MAX_BODY || (!u.too_large && u.len != len) || (u.too_large != (len > MAX_BODY)))
        abort();
    if (!u.too_large) {
        char why[512];
        why[0] = '\0';
        int status = rv_http_check_score(ix, 2, &u, id, why, sizeof why);
        if (status != 0 && (status != 400 || !why[0]))
            abort();
        if (status == 0 && id) {
            size_t n = strlen(id);
            if (n == 0 || n > MAX_ID)
                abort();
            for (size_t i = 0; i < n; i++)
                if (!isgraph((unsigned char)id[i]))
                    abort();
        }
    }
    free(u.body);
    free(id);
    return 0;
}
