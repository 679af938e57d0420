/*
 * jsonw.h - the writer of the records the host produces for every request
 * (scores, results, archive, alerts): JSON text appended to one growing
 * buffer, the same bytes yajl's generator writes (no spaces; ", \, and
 * control characters escaped, nothing else), at a fraction of the cost: a
 * string is copied in runs between the bytes that need escaping, a double
 * by the shortest formatter.
 *
 * Like yajl with validate_utf8, a string that is not valid UTF-8 is
 * refused: the writer puts null in its place (a key: "") so the record
 * stays JSON.
 * Callers that may hold such bytes use rv_jw_bytes_field.
 *
 * Thread: one writer per thread.
 */
#ifndef RV_JSONW_H
#define RV_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define RV_JW_MAX_DEPTH 16

typedef struct rv_jw {
    char *buf;
    size_t len, cap;
    int oom;   /* an allocation failed: the text is incomplete */
    int depth; /* open maps and arrays */
    uint8_t state[RV_JW_MAX_DEPTH + 1];
} rv_jw;

/* An empty writer (zeroed is empty too); free with rv_jw_free. */
void rv_jw_init(rv_jw *w);
void rv_jw_free(rv_jw *w);
/* Starts a new record in the same buffer. */
void rv_jw_restart(rv_jw *w);

void rv_jw_map_open(rv_jw *w);
void rv_jw_map_close(rv_jw *w);
void rv_jw_array_open(rv_jw *w);
void rv_jw_array_close(rv_jw *w);

/* A string (a key where a key is due): NUL-terminated, or n bytes. */
void rv_jw_string(rv_jw *w, const char *s);
void rv_jw_string_n(rv_jw *w, const void *s, size_t n);
void rv_jw_null(rv_jw *w);
void rv_jw_bool(rv_jw *w, int v);
void rv_jw_integer(rv_jw *w, long long v);
/* Finite: the shortest decimal (integral ones with ".0"); else null. */
void rv_jw_double(rv_jw *w, double v);

/* "key": value; value NULL writes null. */
void rv_jw_kv_string(rv_jw *w, const char *key, const char *value);
void rv_jw_kv_int(rv_jw *w, const char *key, long long value);
void rv_jw_kv_bool(rv_jw *w, const char *key, int value);
/* "name": the bytes as a string when they are UTF-8, else "name_b64": their
 * base64. Never changes the bytes. */
void rv_jw_bytes_field(rv_jw *w, const char *name, const void *bytes, size_t len);

/*
 * Fixed-layout records: text appended as is, with no separators and no
 * state, for records whose fixed parts were encoded once (by the functions
 * above, so the bytes are the same). The caller writes valid JSON.
 */
void rv_jw_raw(rv_jw *w, const void *text, size_t n);
/* A JSON string of n bytes (null when not UTF-8), a number, a double as
 * rv_jw_double writes it. */
void rv_jw_raw_string(rv_jw *w, const void *s, size_t n);
void rv_jw_raw_int(rv_jw *w, long long v);
void rv_jw_raw_double(rv_jw *w, double v);
/* "name":value as rv_jw_bytes_field writes it. */
void rv_jw_raw_bytes_field(rv_jw *w, const char *name, const void *bytes, size_t len);

/* The JSON text of s as a string (null when not UTF-8), allocated; NULL
 * when out of memory. For the fixed parts of a record. */
char *rv_jw_quote(const char *s);

#endif
