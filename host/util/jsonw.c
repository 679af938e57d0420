/*
 * jsonw.c - a JSON writer with yajl's output and a per-level state for the
 * separators. Must never write invalid JSON: a refused string becomes
 * null, a nesting past RV_JW_MAX_DEPTH marks the writer out of memory.
 */
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "json.h"

enum { TOP, MAP_START, MAP_KEY, MAP_VALUE, ARRAY_START, ARRAY_NEXT };

void rv_jw_init(rv_jw *w)
{
    memset(w, 0, sizeof *w);
}

void rv_jw_free(rv_jw *w)
{
    free(w->buf);
    rv_jw_init(w);
}

void rv_jw_restart(rv_jw *w)
{
    w->len = 0;
    w->oom = 0;
    w->depth = 0;
    w->state[0] = TOP;
}

static int grow(rv_jw *w, size_t more)
{
    if (w->len + more <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->oom = 1;
        return -1;
    }
    w->buf = b;
    w->cap = cap;
    return 0;
}

static void put(rv_jw *w, const void *s, size_t n)
{
    if (grow(w, n) == 0) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    }
}

static void put_c(rv_jw *w, char c)
{
    if (grow(w, 1) == 0)
        w->buf[w->len++] = c;
}

/* Before a value: its separator, and whether it is a map's key. */
static int begin(rv_jw *w)
{
    uint8_t *st = &w->state[w->depth];
    switch (*st) {
    case MAP_START: *st = MAP_VALUE; return 1;
    case MAP_KEY:
        put_c(w, ',');
        *st = MAP_VALUE;
        return 1;
    case MAP_VALUE: *st = MAP_KEY; return 0;
    case ARRAY_START: *st = ARRAY_NEXT; return 0;
    case ARRAY_NEXT: put_c(w, ','); return 0;
    }
    return 0;
}

static void open(rv_jw *w, char c, uint8_t state)
{
    begin(w);
    put_c(w, c);
    if (w->depth == RV_JW_MAX_DEPTH) {
        w->oom = 1;
        return;
    }
    w->state[++w->depth] = state;
}

static void close_(rv_jw *w, char c)
{
    put_c(w, c);
    if (w->depth > 0)
        w->depth--;
}

void rv_jw_map_open(rv_jw *w)
{
    open(w, '{', MAP_START);
}

void rv_jw_map_close(rv_jw *w)
{
    close_(w, '}');
}

void rv_jw_array_open(rv_jw *w)
{
    open(w, '[', ARRAY_START);
}

void rv_jw_array_close(rv_jw *w)
{
    close_(w, ']');
}

/* 1 for the bytes JSON strings must escape: controls, '"' and '\\' */
static const uint8_t needs_escape[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                          1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, ['\\'] = 1};

static void escaped(rv_jw *w, const unsigned char *s, size_t n)
{
    put_c(w, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (!needs_escape[c])
            continue;
        put(w, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default: snprintf(esc, sizeof esc, "\\u%04X", c); put(w, esc, 6);
        }
    }
    put(w, s + run, n - run);
    put_c(w, '"');
}

/* A string known to be UTF-8. */
static void valid_string(rv_jw *w, const void *s, size_t n)
{
    int key = begin(w);
    escaped(w, s, n);
    if (key)
        put_c(w, ':');
}

void rv_jw_string_n(rv_jw *w, const void *s, size_t n)
{
    if (rv_utf8_valid(s, n)) {
        valid_string(w, s, n);
        return;
    }
    if (begin(w)) /* a key cannot be null: it becomes "" */
        put(w, "\"\":", 3);
    else
        put(w, "null", 4);
}

void rv_jw_string(rv_jw *w, const char *s)
{
    rv_jw_string_n(w, s, strlen(s));
}

void rv_jw_null(rv_jw *w)
{
    begin(w);
    put(w, "null", 4);
}

void rv_jw_bool(rv_jw *w, int v)
{
    begin(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void rv_jw_raw_int(rv_jw *w, long long v)
{
    char b[24], *end = b + sizeof b, *p = end; /* digits written backwards */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    put(w, p, (size_t)(end - p));
}

void rv_jw_integer(rv_jw *w, long long v)
{
    begin(w);
    rv_jw_raw_int(w, v);
}

void rv_jw_double(rv_jw *w, double v)
{
    begin(w);
    rv_jw_raw_double(w, v);
}

void rv_jw_raw_double(rv_jw *w, double v)
{
    char b[RV_DTOA_SIZE + 2];
    size_t n = rv_dtoa(v, b);
    if (b[0] == 'N' || b[n - 1] == 'y') { /* NaN, Infinity */
        put(w, "null", 4);
        return;
    }
    if (strspn(b, "-0123456789") == n) {
        memcpy(b + n, ".0", 3);
        n += 2;
    }
    put(w, b, n);
}

void rv_jw_kv_string(rv_jw *w, const char *key, const char *value)
{
    rv_jw_string(w, key);
    if (value)
        rv_jw_string(w, value);
    else
        rv_jw_null(w);
}

void rv_jw_kv_int(rv_jw *w, const char *key, long long value)
{
    rv_jw_string(w, key);
    rv_jw_integer(w, value);
}

void rv_jw_kv_bool(rv_jw *w, const char *key, int value)
{
    rv_jw_string(w, key);
    rv_jw_bool(w, value);
}

void rv_jw_bytes_field(rv_jw *w, const char *name, const void *bytes, size_t len)
{
    begin(w); /* the key's separator */
    rv_jw_raw_bytes_field(w, name, bytes, len);
    begin(w); /* the value written: the next is a key */
}

/* A map key: a string, or "" when not UTF-8 (a key cannot be null). */
static void raw_key(rv_jw *w, const char *s, size_t n)
{
    if (rv_utf8_valid((const unsigned char *)s, n))
        escaped(w, (const unsigned char *)s, n);
    else
        put(w, "\"\"", 2);
    put_c(w, ':');
}

void rv_jw_raw_bytes_field(rv_jw *w, const char *name, const void *bytes, size_t len)
{
    if (!bytes)
        bytes = "";
    char *key, *value;
    size_t n;
    if (rv_utf8_valid(bytes, len)) {
        raw_key(w, name, strlen(name));
        escaped(w, bytes, len);
    } else if (rv_b64_field(name, bytes, len, &key, &value, &n) == 0) {
        raw_key(w, key, strlen(key));
        escaped(w, (const unsigned char *)value, n);
        free(key);
        free(value);
    } else { /* keep the object well-formed: the field is there, its value lost */
        raw_key(w, name, strlen(name));
        put(w, "null", 4);
    }
}

void rv_jw_raw(rv_jw *w, const void *text, size_t n)
{
    put(w, text, n);
}

void rv_jw_raw_string(rv_jw *w, const void *s, size_t n)
{
    if (rv_utf8_valid(s, n))
        escaped(w, s, n);
    else
        put(w, "null", 4);
}

char *rv_jw_quote(const char *s)
{
    rv_jw w = {0};
    rv_jw_raw_string(&w, s, strlen(s));
    char *q = w.oom ? NULL : strndup(w.buf, w.len);
    rv_jw_free(&w);
    return q;
}
