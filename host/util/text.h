/*
 * text.h - a growing text buffer for pages and messages built piece by
 * piece (metrics, readiness, docs). Out of memory is sticky: the buffer
 * remembers it, further appends do nothing, and the owner checks once.
 */
#ifndef RV_TEXT_H
#define RV_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rv_text {
    char *p; /* NUL-terminated once anything was appended; may be NULL */
    size_t len, cap;
    bool oom;
} rv_text;

void rv_text_printf(rv_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rv_text_append(rv_text *t, const char *s, size_t len);
/* The content, "" when empty. */
const char *rv_text_str(const rv_text *t);
void rv_text_free(rv_text *t);

#endif
