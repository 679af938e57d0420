/*
 * json.h - small helpers over yajl's generator, for the pages the host
 * serves (records are written by jsonw.h), and the UTF-8 rule both use.
 */
#ifndef RV_JSON_H
#define RV_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

/* A generator with UTF-8 validation on, so that bytes that are not UTF-8
 * are detected (and sent as base64 by rv_json_bytes_field) instead of
 * making invalid JSON. NULL on out of memory. */
yajl_gen rv_json_gen_new(void);

void rv_json_string(yajl_gen g, const char *s);

/* "name": v in a map; a number that is not finite is written null. */
void rv_json_number_field(yajl_gen g, const char *name, double v);
void rv_json_integer_field(yajl_gen g, const char *name, uint64_t v);

/* Appends "name": "..." when bytes are valid UTF-8, else
 * "name_b64": "<base64>". */
void rv_json_bytes_field(yajl_gen g, const char *name, const void *bytes, size_t len);

/* For bytes that are not UTF-8: the key "<name>_b64" and the bytes'
 * base64 (both malloc'd, NUL-terminated). 0, or -1 on out of memory. */
int rv_b64_field(const char *name, const void *bytes, size_t len, char **key, char **value,
                 size_t *value_len);

/* The UTF-8 rule yajl applies (no overlong forms, no surrogates). */
bool rv_utf8_valid(const unsigned char *s, size_t len);

#endif
