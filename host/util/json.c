/*
 * json.c - yajl generator helpers. Never changes the bytes it is given: a
 * value is either written as a JSON string or base64-encoded whole.
 */
#include "json.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

yajl_gen rv_json_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g)
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

void rv_json_string(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void rv_json_number_field(yajl_gen g, const char *name, double v)
{
    rv_json_string(g, name);
    if (isfinite(v))
        yajl_gen_double(g, v);
    else
        yajl_gen_null(g);
}

void rv_json_integer_field(yajl_gen g, const char *name, uint64_t v)
{
    rv_json_string(g, name);
    yajl_gen_integer(g, (long long)v);
}

/* Checked before writing so that a failure does not leave the generator
 * half-way through a string. */
bool rv_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII, eight bytes at a time */
        uint64_t word;
        while (i + 8 <= len && (memcpy(&word, s + i, 8), !(word & 0x8080808080808080ull)))
            i += 8;
        if (i >= len)
            break;
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int rv_b64_field(const char *name, const void *bytes, size_t len, char **key, char **value,
                 size_t *value_len)
{
    size_t nlen = strlen(name);
    *key = malloc(nlen + 5);
    *value = malloc(4 * ((len + 2) / 3) + 1);
    if (!*key || !*value) {
        free(*key);
        free(*value);
        return -1;
    }
    memcpy(*key, name, nlen);
    memcpy(*key + nlen, "_b64", 5);
    *value_len = (size_t)EVP_EncodeBlock((unsigned char *)*value, bytes, (int)len);
    return 0;
}

void rv_json_bytes_field(yajl_gen g, const char *name, const void *bytes, size_t len)
{
    if (!bytes)
        bytes = "";
    char *key, *value;
    size_t n;
    if (rv_utf8_valid(bytes, len)) {
        rv_json_string(g, name);
        yajl_gen_string(g, bytes, len);
    } else if (rv_b64_field(name, bytes, len, &key, &value, &n) == 0) {
        rv_json_string(g, key);
        yajl_gen_string(g, (const unsigned char *)value, n);
        free(key);
        free(value);
    } else { /* keep the object well-formed: the field is there, its value lost */
        rv_json_string(g, name);
        yajl_gen_null(g);
    }
}
