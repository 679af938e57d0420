/*
 * proc_channel.c - the wire format of the shared memory between the host and a
 * model process. Must never read a length or offset the process wrote
 * twice, nor use one before checking it against the area it lies in.
 */
#include "proc_channel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALIGN8(x) (((x) + 7u) & ~(uint64_t)7u)

/* A request on the wire; the variable parts follow it. Its features are
 * not here but a row of the matrix that starts the request area. */
typedef struct wire_req {
    uint64_t body_len, key_len; /* key_len UINT64_MAX: no key */
    int64_t offset, timestamp_ms, arrival_us;
    int32_t partition;
    uint32_t id_len, topic_len, n_headers;
} wire_req;

typedef struct wire_hdr {
    uint32_t name_len, pad;
    uint64_t value_len;
} wire_hdr;

typedef struct wire_emit {
    uint32_t about, stream_len;
    uint64_t key_len, value_len;
} wire_emit;

typedef struct wire_str {
    uint32_t len, pad;
} wire_str;

int rv_proc_channel_create(rv_proc_channel *c, size_t req_size, size_t ans_size, char *err,
                           size_t err_size)
{
    *c = (rv_proc_channel){.memfd = -1, .to_proc = -1, .to_host = -1};
    size_t hdr = ALIGN8(sizeof(rv_proc_channel_hdr));
    req_size = ALIGN8(req_size);
    ans_size = ALIGN8(ans_size);
    size_t size = hdr + req_size + ans_size;
    c->memfd = memfd_create("rv-model-channel", MFD_CLOEXEC);
    c->to_proc = eventfd(0, EFD_CLOEXEC);
    c->to_host = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->memfd < 0 || c->to_proc < 0 || c->to_host < 0 || ftruncate(c->memfd, (off_t)size) != 0) {
        rv_errf(err, err_size, "model channel: %s", strerror(errno));
        rv_proc_channel_close(c);
        return -1;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
    if (p == MAP_FAILED) {
        rv_errf(err, err_size, "model channel: mmap of %zu bytes: %s", size, strerror(errno));
        rv_proc_channel_close(c);
        return -1;
    }
    c->h = p;
    c->size = size;
    c->req_size = req_size;
    c->ans_size = ans_size;
    c->h->magic = RV_CHAN_MAGIC;
    c->h->version = RV_CHAN_VERSION;
    c->h->size = size;
    c->h->req_off = hdr;
    c->h->req_size = req_size;
    c->h->ans_off = hdr + req_size;
    c->h->ans_size = ans_size;
    c->h->max_ans = RV_MAX_ANSWERS;
    c->req = (uint8_t *)p + hdr;
    c->ans = (uint8_t *)p + hdr + req_size;
    return 0;
}

int rv_proc_channel_attach(rv_proc_channel *c, int memfd, int to_proc, int to_host, char *err,
                           size_t err_size)
{
    *c = (rv_proc_channel){.memfd = memfd, .to_proc = to_proc, .to_host = to_host};
    off_t size = lseek(memfd, 0, SEEK_END);
    if (size < (off_t)sizeof(rv_proc_channel_hdr)) {
        rv_errf(err, err_size, "model channel: %s", size < 0 ? strerror(errno) : "too small");
        return -1;
    }
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (p == MAP_FAILED) {
        rv_errf(err, err_size, "model channel: mmap: %s", strerror(errno));
        return -1;
    }
    c->h = p;
    const rv_proc_channel_hdr *h = c->h;
    if (h->magic != RV_CHAN_MAGIC || h->version != RV_CHAN_VERSION || h->size != (uint64_t)size ||
        h->req_off % 8 || h->req_off > h->size || h->req_size > h->size - h->req_off ||
        h->ans_off > h->size || h->ans_size > h->size - h->ans_off) {
        rv_errf(err, err_size, "model channel: bad header");
        munmap(p, (size_t)size);
        c->h = NULL;
        return -1;
    }
    c->req = (uint8_t *)p + h->req_off;
    c->ans = (uint8_t *)p + h->ans_off;
    c->size = (size_t)size;
    c->req_size = h->req_size;
    c->ans_size = h->ans_size;
    return 0;
}

void rv_proc_channel_close(rv_proc_channel *c)
{
    if (c->h)
        munmap(c->h, c->size);
    if (c->memfd >= 0)
        close(c->memfd);
    if (c->to_proc >= 0)
        close(c->to_proc);
    if (c->to_host >= 0)
        close(c->to_host);
    *c = (rv_proc_channel){.memfd = -1, .to_proc = -1, .to_host = -1};
}

void rv_proc_channel_wake(int efd)
{
    uint64_t one = 1;
    while (write(efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* ---- host: requests ---- */

/* Bytes of a request's record, its features aside. */
static uint64_t record_size(const rv_request *r)
{
    uint64_t n = sizeof(wire_req);
    n += strlen(r->id) + 1 + (r->topic ? strlen(r->topic) : 0) + 1;
    n += (r->key ? r->key_len : 0) + r->body_len;
    for (size_t i = 0; i < r->n_headers; i++)
        n = ALIGN8(n) + sizeof(wire_hdr) + strlen(r->headers[i].name) + 1 + r->headers[i].value_len;
    return ALIGN8(n);
}

size_t rv_proc_channel_request_size(const rv_request *r)
{
    return record_size(r) + r->n_features * sizeof(double);
}

static uint8_t *put(uint8_t *p, const void *src, size_t len)
{
    if (len)
        memcpy(p, src, len);
    return p + len;
}

static uint8_t *put_record(uint8_t *base, const rv_request *r)
{
    uint8_t *p = base;
    const char *topic = r->topic ? r->topic : "";
    wire_req w = {.body_len = r->body_len,
                  .key_len = r->key ? r->key_len : UINT64_MAX,
                  .offset = r->offset,
                  .timestamp_ms = r->timestamp_ms,
                  .arrival_us = r->arrival_us,
                  .partition = r->partition,
                  .id_len = (uint32_t)strlen(r->id),
                  .topic_len = (uint32_t)strlen(topic),
                  .n_headers = (uint32_t)r->n_headers};
    p = put(p, &w, sizeof w);
    p = put(p, r->id, w.id_len + 1);
    p = put(p, topic, w.topic_len + 1);
    p = put(p, r->key, r->key ? r->key_len : 0);
    p = put(p, r->body, r->body_len);
    for (size_t i = 0; i < r->n_headers; i++) {
        p = base + ALIGN8((uint64_t)(p - base));
        wire_hdr wh = {.name_len = (uint32_t)strlen(r->headers[i].name),
                       .value_len = r->headers[i].value_len};
        p = put(p, &wh, sizeof wh);
        p = put(p, r->headers[i].name, wh.name_len + 1);
        p = put(p, r->headers[i].value, wh.value_len);
    }
    return base + ALIGN8((uint64_t)(p - base));
}

void rv_proc_channel_begin(rv_proc_channel *c, rv_proc_channel_op op)
{
    c->req_len = 0;
    c->h->op = op;
    c->h->n = 0;
    c->h->cols = 0;
    c->h->req_len = 0;
}

size_t rv_proc_channel_put_batch(rv_proc_channel *c, const rv_request *const *reqs, size_t n,
                                 size_t max)
{
    size_t cols = n ? reqs[0]->n_features : 0, k = 0;
    uint64_t row = (uint64_t)cols * sizeof(double), records = 0;
    if (cols > UINT32_MAX || row > c->req_size)
        return 0;
    while (k < n && k < max && k < UINT32_MAX && reqs[k]->n_features == cols) {
        uint64_t rec = record_size(reqs[k]);
        if (rec > c->req_size || (k + 1) * row > c->req_size - rec ||
            records > c->req_size - rec - (k + 1) * row)
            break;
        records += rec;
        k++;
    }
    /* the area starts 8-aligned, so every row is a double array */
    for (size_t i = 0; i < k; i++)
        put(c->req + i * row, reqs[i]->features, row);
    uint8_t *p = c->req + k * row;
    for (size_t i = 0; i < k; i++)
        p = put_record(p, reqs[i]);
    c->req_len = k * row + records;
    c->h->op = RV_CHAN_SCORE;
    c->h->n = (uint32_t)k;
    c->h->cols = (uint32_t)cols;
    c->h->req_len = c->req_len;
    return k;
}

/* Strings at area+*len (bounded by size): a count, then each string. */
static int put_strings(uint8_t *area, uint64_t size, uint64_t *len, const char *const *s, size_t n)
{
    uint64_t need = sizeof(wire_str);
    for (size_t i = 0; i < n; i++)
        need += ALIGN8(sizeof(wire_str) + strlen(s[i]) + 1);
    if (need > size - *len)
        return -1;
    uint8_t *p = area + *len;
    wire_str count = {(uint32_t)n, 0};
    memcpy(p, &count, sizeof count);
    p += sizeof count;
    for (size_t i = 0; i < n; i++) {
        wire_str ws = {(uint32_t)strlen(s[i]), 0};
        memcpy(p, &ws, sizeof ws);
        memcpy(p + sizeof ws, s[i], ws.len + 1);
        p += ALIGN8(sizeof ws + ws.len + 1);
    }
    *len += need;
    return 0;
}

/* Reads a string list at area+*pos within len bytes; strings point into the
 * area (NUL-terminated, checked). The count, or -1. */
static int get_strings(const uint8_t *area, uint64_t len, uint64_t *pos, const char **out,
                       size_t max)
{
    wire_str count;
    if (*pos > len || len - *pos < sizeof count)
        return -1;
    memcpy(&count, area + *pos, sizeof count);
    uint64_t p = *pos + sizeof count;
    if (count.len > max)
        return -1;
    for (uint32_t i = 0; i < count.len; i++) {
        wire_str ws;
        if (len - p < sizeof ws)
            return -1;
        memcpy(&ws, area + p, sizeof ws);
        if (len - p - sizeof ws < (uint64_t)ws.len + 1 || area[p + sizeof ws + ws.len] != '\0')
            return -1;
        out[i] = (const char *)area + p + sizeof ws;
        p += ALIGN8(sizeof ws + ws.len + 1);
        if (p > len)
            p = len;
    }
    *pos = p;
    return (int)count.len;
}

int rv_proc_channel_put_strings(rv_proc_channel *c, const char *const *s, size_t n)
{
    int rc = put_strings(c->req, c->req_size, &c->req_len, s, n);
    c->h->req_len = c->req_len;
    return rc;
}

/* ---- host: answers ---- */

/* The answer area's used length as the process wrote it, read once. */
static uint64_t ans_len(const rv_proc_channel *c)
{
    uint64_t len = *(volatile const uint64_t *)&c->h->ans_len;
    return len > c->ans_size ? c->ans_size : len;
}

void rv_proc_channel_read_answer(const rv_proc_channel *c, uint32_t i, rv_proc_channel_ans *out)
{
    if ((uint64_t)(i + 1) * sizeof *out > c->ans_size) {
        *out = (rv_proc_channel_ans){.status = RV_STATUS_ERROR};
        snprintf(out->error, sizeof out->error, "model process: answer outside its area");
        return;
    }
    memcpy(out, c->ans + (uint64_t)i * sizeof *out, sizeof *out);
    if (out->n_answers > RV_MAX_ANSWERS)
        out->n_answers = RV_MAX_ANSWERS;
    out->error[sizeof out->error - 1] = '\0';
}

int rv_proc_channel_next_emit(const rv_proc_channel *c, uint32_t n_answers, uint64_t *pos,
                              rv_proc_channel_emit *out)
{
    uint64_t len = ans_len(c), start = (uint64_t)n_answers * sizeof(rv_proc_channel_ans);
    uint64_t p = *pos ? *pos : start;
    if (p >= len)
        return 0;
    wire_emit w;
    if (len - p < sizeof w)
        return -1;
    memcpy(&w, c->ans + p, sizeof w);
    uint64_t body = (uint64_t)w.stream_len + 1;
    if (w.key_len > len || w.value_len > len || len - p - sizeof w < body + w.key_len + w.value_len)
        return -1;
    const uint8_t *s = c->ans + p + sizeof w;
    if (s[w.stream_len] != '\0' || memchr(s, '\0', w.stream_len))
        return -1;
    *out = (rv_proc_channel_emit){.about = w.about,
                                  .stream = (const char *)s,
                                  .key = s + body,
                                  .key_len = w.key_len,
                                  .value = s + body + w.key_len,
                                  .value_len = w.value_len};
    *pos = ALIGN8(p + sizeof w + body + w.key_len + w.value_len);
    return 1;
}

int rv_proc_channel_read_strings(const rv_proc_channel *c, uint64_t off, const char **out,
                                 size_t max)
{
    return get_strings(c->ans, ans_len(c), &off, out, max);
}

/* ---- process ---- */

/* The batch as the host wrote it: n requests, the bytes of their feature
 * matrix (n x cols doubles) and of the area used. 0, or -1 when they do
 * not fit the area. */
static int batch_extent(const rv_proc_channel *c, uint32_t *n, uint64_t *cols, uint64_t *matrix,
                        uint64_t *len)
{
    *n = c->h->n;
    *cols = c->h->cols;
    *len = c->h->req_len;
    if (*len > c->req_size || (*cols && *n > *len / sizeof(double) / *cols))
        return -1;
    *matrix = (uint64_t)*n * *cols * sizeof(double);
    return 0;
}

size_t rv_proc_channel_count_headers(const rv_proc_channel *c)
{
    size_t total = 0;
    uint32_t n_reqs;
    uint64_t cols, p, len;
    if (batch_extent(c, &n_reqs, &cols, &p, &len) != 0)
        return 0;
    for (uint32_t i = 0; i < n_reqs && len - p >= sizeof(wire_req); i++) {
        wire_req w;
        memcpy(&w, c->req + p, sizeof w);
        total += w.n_headers;
        uint64_t n = sizeof w + w.id_len + 1 + w.topic_len + 1 +
                     (w.key_len == UINT64_MAX ? 0 : w.key_len) + w.body_len;
        for (uint32_t k = 0; k < w.n_headers && n <= len - p; k++) {
            wire_hdr wh;
            n = ALIGN8(n);
            if (n > len - p || len - p - n < sizeof wh)
                break;
            memcpy(&wh, c->req + p + n, sizeof wh);
            n += sizeof wh + wh.name_len + 1 + wh.value_len;
        }
        if (n > len - p)
            break;
        p += ALIGN8(n);
        if (p > len)
            p = len;
    }
    return total;
}

int rv_proc_channel_get_requests(const rv_proc_channel *c, rv_request *reqs, rv_header *hdrs)
{
    uint32_t n_reqs;
    uint64_t cols, p, len;
    if (batch_extent(c, &n_reqs, &cols, &p, &len) != 0)
        return -1;
    for (uint32_t i = 0; i < n_reqs; i++) {
        wire_req w;
        if (len - p < sizeof w)
            return -1;
        memcpy(&w, c->req + p, sizeof w);
        uint64_t key_len = w.key_len == UINT64_MAX ? 0 : w.key_len;
        if (key_len > len || w.body_len > len)
            return -1;
        uint64_t fixed = sizeof w + w.id_len + 1 + w.topic_len + 1 + key_len + w.body_len;
        if (fixed > len - p)
            return -1;
        const uint8_t *q = c->req + p + sizeof w;
        rv_request *r = &reqs[i];
        *r = (rv_request){0};
        r->features = (const double *)(c->req + (uint64_t)i * cols * sizeof(double));
        r->n_features = cols;
        r->id = (const char *)q;
        q += w.id_len + 1;
        r->topic = (const char *)q;
        q += w.topic_len + 1;
        r->key = w.key_len == UINT64_MAX ? NULL : q;
        r->key_len = key_len;
        q += key_len;
        r->body = q;
        r->body_len = w.body_len;
        r->partition = w.partition;
        r->offset = w.offset;
        r->timestamp_ms = w.timestamp_ms;
        r->arrival_us = w.arrival_us;
        r->headers = hdrs;
        r->n_headers = w.n_headers;
        uint64_t n = fixed;
        for (uint32_t k = 0; k < w.n_headers; k++) {
            wire_hdr wh;
            n = ALIGN8(n);
            if (len - p < n + sizeof wh)
                return -1;
            memcpy(&wh, c->req + p + n, sizeof wh);
            n += sizeof wh;
            if (len - p - n < (uint64_t)wh.name_len + 1 + wh.value_len)
                return -1;
            hdrs->name = (const char *)c->req + p + n;
            hdrs->value = c->req + p + n + wh.name_len + 1;
            hdrs->value_len = wh.value_len;
            hdrs++;
            n += wh.name_len + 1 + wh.value_len;
        }
        p += ALIGN8(n);
        if (p > len)
            p = len;
    }
    return 0;
}

int rv_proc_channel_get_strings(const rv_proc_channel *c, uint64_t *pos, const char **out,
                                size_t max)
{
    uint64_t len = c->h->req_len > c->req_size ? c->req_size : c->h->req_len;
    return get_strings(c->req, len, pos, out, max);
}

rv_proc_channel_ans *rv_proc_channel_answers(rv_proc_channel *c)
{
    return (rv_proc_channel_ans *)c->ans;
}

int rv_proc_channel_put_emit(rv_proc_channel *c, uint32_t n_answers, uint32_t about,
                             const char *stream, const void *key, size_t key_len, const void *value,
                             size_t value_len)
{
    uint64_t start = (uint64_t)n_answers * sizeof(rv_proc_channel_ans);
    uint64_t at = c->h->ans_len < start ? start : c->h->ans_len;
    wire_emit w = {about, (uint32_t)strlen(stream), key_len, value_len};
    uint64_t need = ALIGN8(sizeof w + w.stream_len + 1 + key_len + value_len);
    if (at > c->ans_size || need > c->ans_size - at)
        return -1;
    uint8_t *p = c->ans + at;
    p = put(p, &w, sizeof w);
    p = put(p, stream, w.stream_len + 1);
    p = put(p, key, key_len);
    put(p, value, value_len);
    c->h->ans_len = at + need;
    c->h->n_emits++;
    return 0;
}

int rv_proc_channel_put_answer_strings(rv_proc_channel *c, const char *const *s, size_t n)
{
    uint64_t len = 0;
    int rc = put_strings(c->ans, c->ans_size, &len, s, n);
    c->h->ans_len = len;
    return rc;
}
