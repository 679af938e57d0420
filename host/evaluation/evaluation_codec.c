/*
 * evaluation_codec.c - the evaluation's values in its store, as bytes: a
 * request's state (its answers as probabilities, its label, how far it
 * got) and the joined answers of the log. Host byte order: the store is
 * local to the host that wrote it.
 */
#include "evaluation_internal.h"

#include <stdlib.h>
#include <string.h>

static int reserve(rv_eval_buf *out, size_t n)
{
    if (n <= out->cap)
        return 0;
    unsigned char *b = realloc(out->b, n);
    if (!b)
        return -1;
    out->b = b;
    out->cap = n;
    return 0;
}

/* Layout: flags u8, truth u32, schedule version u32, n u16, with
 * RV_EVAL_TIMED truth_ms i64, then per entry source and version (u8
 * length, bytes), seen u8 and n_labels doubles. */
size_t rv_eval_state_encode(const rv_eval_state *s, size_t n_labels, rv_eval_buf *out)
{
    size_t head = s->flags & RV_EVAL_TIMED ? 19 : 11, len = head;
    for (size_t i = 0; i < s->n; i++)
        len += 3 + strlen(s->e[i].source) + strlen(s->e[i].version) + n_labels * sizeof(double);
    if (reserve(out, len) != 0)
        return 0;
    unsigned char *b = out->b;
    b[0] = (unsigned char)s->flags;
    memcpy(b + 1, &s->truth, 4);
    memcpy(b + 5, &s->schedule_version, 4);
    uint16_t n = (uint16_t)s->n;
    memcpy(b + 9, &n, 2);
    if (s->flags & RV_EVAL_TIMED)
        memcpy(b + 11, &s->truth_ms, 8);
    b += head;
    for (size_t i = 0; i < s->n; i++) {
        for (int f = 0; f < 2; f++) {
            const char *str = f ? s->e[i].version : s->e[i].source;
            size_t l = strlen(str);
            *b++ = (unsigned char)l;
            memcpy(b, str, l);
            b += l;
        }
        *b++ = (unsigned char)s->e[i].seen;
        memcpy(b, s->e[i].p, n_labels * sizeof(double));
        b += n_labels * sizeof(double);
    }
    return len;
}

int rv_eval_state_decode(const void *bytes, size_t len, size_t n_labels, rv_eval_state *s)
{
    const unsigned char *b = bytes, *end = b + len;
    if (len < 11)
        return -1;
    uint16_t n;
    s->flags = b[0];
    memcpy(&s->truth, b + 1, 4);
    memcpy(&s->schedule_version, b + 5, 4);
    memcpy(&n, b + 9, 2);
    if (n > RV_EVAL_MAX_SOURCES)
        return -1;
    b += 11;
    s->truth_ms = 0;
    if (s->flags & RV_EVAL_TIMED) {
        if (len < 19)
            return -1;
        memcpy(&s->truth_ms, b, 8);
        b += 8;
    }
    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < 2; f++) {
            if (b >= end || (size_t)(end - b) < 1u + *b)
                return -1;
            size_t l = *b++;
            char *dst = f ? s->e[i].version : s->e[i].source;
            size_t cap = f ? sizeof s->e[i].version : sizeof s->e[i].source;
            if (l >= cap)
                return -1;
            memcpy(dst, b, l);
            dst[l] = '\0';
            b += l;
        }
        if ((size_t)(end - b) < 1 + n_labels * sizeof(double))
            return -1;
        s->e[i].seen = *b++;
        memcpy(s->e[i].p, b, n_labels * sizeof(double));
        b += n_labels * sizeof(double);
    }
    s->n = n;
    return 0;
}

/* Layout: time i64, schedule version u32, truth u32, source and version
 * (u8 length, bytes), n_labels doubles; written at out->b + at. The length,
 * or 0. */
static size_t sample_encode_at(const rv_eval_sample *x, size_t n_labels, rv_eval_buf *out,
                               size_t at)
{
    size_t ls = strlen(x->source), lv = strlen(x->version);
    size_t len = 18 + ls + lv + n_labels * sizeof(double);
    if (ls > 255 || lv > 255 || reserve(out, at + len) != 0)
        return 0;
    unsigned char *b = out->b + at;
    memcpy(b, &x->time_ms, 8);
    memcpy(b + 8, &x->schedule_version, 4);
    memcpy(b + 12, &x->truth, 4);
    b[16] = (unsigned char)ls;
    memcpy(b + 17, x->source, ls);
    b[17 + ls] = (unsigned char)lv;
    memcpy(b + 18 + ls, x->version, lv);
    memcpy(b + 18 + ls + lv, x->p, n_labels * sizeof(double));
    return len;
}

/* Samples in a row: each a u16 length, then the sample. */
int rv_eval_samples_append(const rv_eval_sample *x, size_t n_labels, rv_eval_buf *out, size_t *len)
{
    if (reserve(out, *len + 2) != 0)
        return -1;
    size_t n = sample_encode_at(x, n_labels, out, *len + 2);
    if (!n || n > UINT16_MAX)
        return -1;
    uint16_t l = (uint16_t)n;
    memcpy(out->b + *len, &l, 2);
    *len += 2 + n;
    return 0;
}

int rv_eval_samples_next(const void *bytes, size_t len, size_t *at, size_t n_labels,
                         rv_eval_sample *x, char *source, char *version, double *p)
{
    const unsigned char *b = bytes;
    uint16_t l;
    if (*at > len || len - *at < 2)
        return -1;
    memcpy(&l, b + *at, 2);
    if (len - *at - 2 < l || rv_eval_sample_decode(b + *at + 2, l, n_labels, x, source, version, p))
        return -1;
    *at += 2 + (size_t)l;
    return 0;
}

int rv_eval_sample_decode(const void *bytes, size_t len, size_t n_labels, rv_eval_sample *x,
                          char *source, char *version, double *p)
{
    const unsigned char *b = bytes;
    if (len < 18)
        return -1;
    size_t ls = b[16];
    if (len < 18 + ls)
        return -1;
    size_t lv = b[17 + ls];
    if (len != 18 + ls + lv + n_labels * sizeof(double))
        return -1;
    *x = (rv_eval_sample){source, version, 0, 0, p, 0};
    memcpy(&x->time_ms, b, 8);
    memcpy(&x->schedule_version, b + 8, 4);
    memcpy(&x->truth, b + 12, 4);
    memcpy(source, b + 17, ls);
    source[ls] = '\0';
    memcpy(version, b + 18 + ls, lv);
    version[lv] = '\0';
    memcpy(p, b + 18 + ls + lv, n_labels * sizeof(double));
    return x->truth < n_labels ? 0 : -1;
}
