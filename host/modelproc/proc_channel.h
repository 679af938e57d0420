/*
 * proc_channel.h - the shared memory between the host and one model process: a
 * memfd the host creates and both map, and two eventfds for wake-ups (one
 * each way). One message is in flight at a time: the host writes a batch
 * into the request area and bumps req_seq; the process scores it, writes
 * the answers (and the records its plugin emitted) into the answer area and
 * sets ans_seq to req_seq. A wake-up is one eventfd write per batch, never
 * per request.
 *
 * The host never trusts what the process wrote: every count, length and
 * offset of the answer area is read once into a local, checked against the
 * area's bounds and copied out (rv_proc_channel_read_*). A process that writes
 * garbage gets an error status for its batch, never a host crash.
 */
#ifndef RV_PROC_CHANNEL_H
#define RV_PROC_CHANNEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "rendezvous_plugin.h"
#include "slot.h"

#define RV_CHAN_MAGIC 0x48435652u /* "RVCH" */
#define RV_CHAN_VERSION 2u

typedef enum {
    RV_CHAN_INIT = 1, /* create + warm one instance; answers the labels */
    RV_CHAN_SCORE,    /* score a batch */
} rv_proc_channel_op;

typedef struct rv_proc_channel_hdr {
    uint32_t magic, version;
    uint64_t size;              /* of the whole mapping */
    uint64_t req_off, req_size; /* the host's area */
    uint64_t ans_off, ans_size; /* the process's area */
    /* written by the host */
    _Atomic uint32_t req_seq;
    uint32_t op;      /* rv_proc_channel_op */
    uint32_t n;       /* requests in the batch */
    uint32_t max_ans; /* answers per request the host takes (RV_MAX_ANSWERS) */
    uint32_t cols;    /* features per request: the batch's matrix is n x cols */
    uint32_t pad;
    uint64_t req_len; /* bytes used in the request area */
    /* written by the process */
    _Atomic uint32_t ans_seq;
    int32_t rc;        /* score()'s or create()'s return code */
    uint32_t n_emits;  /* records emitted during the call */
    uint32_t n_labels; /* after INIT */
    uint64_t ans_len;  /* bytes used in the answer area */
    char err[RV_ERR_SIZE];
} rv_proc_channel_hdr;

/* One answer in the answer area, n of them first, in request order. */
typedef struct rv_proc_channel_ans {
    int32_t status;
    uint32_t n_answers;
    rv_answer answers[RV_MAX_ANSWERS];
    char error[RV_SLOT_ERROR_SIZE];
} rv_proc_channel_ans;

typedef struct rv_proc_channel {
    int memfd;              /* -1 in the process after mapping */
    int to_proc;            /* eventfd: host -> process */
    int to_host;            /* eventfd: process -> host */
    rv_proc_channel_hdr *h; /* the mapping */
    uint8_t *req, *ans;
    /* The geometry as this side mapped it, and the request bytes the host
     * wrote: kept here, never read back from the shared header, which the
     * process can overwrite. */
    size_t size;
    uint64_t req_size, ans_size, req_len;
} rv_proc_channel;

/* The host's side: a mapping of req_size + ans_size bytes and two
 * eventfds, none of them inherited by a child unless passed on. 0, or -1
 * with err. */
int rv_proc_channel_create(rv_proc_channel *c, size_t req_size, size_t ans_size, char *err,
                           size_t err_size);
/* The process's side: maps the memfd it was given and checks the header.
 * 0, or -1 with err. */
int rv_proc_channel_attach(rv_proc_channel *c, int memfd, int to_proc, int to_host, char *err,
                           size_t err_size);
void rv_proc_channel_close(rv_proc_channel *c);

/* Wakes the other side (one eventfd write). */
void rv_proc_channel_wake(int efd);

/* ---- host: writing requests ---- */

/* Empties the request area for a new message of op. */
void rv_proc_channel_begin(rv_proc_channel *c, rv_proc_channel_op op);
/* Writes a batch of the first requests of reqs[0..n), at most max: their
 * features first, as one row-major matrix of the batch's first request's
 * n_features columns (what a plugin sees as rv_batch_features), then the
 * rest of each request. Stops before a request that does not fit or has
 * another number of features. The count written: 0 when reqs[0] alone
 * does not fit. */
size_t rv_proc_channel_put_batch(rv_proc_channel *c, const rv_request *const *reqs, size_t n,
                                 size_t max);
/* Bytes a request takes in the request area (to tell "too large for any
 * batch" from "not in this one"). */
size_t rv_proc_channel_request_size(const rv_request *req);
/* Appends a list of n strings (INIT's name/path, features, params). */
int rv_proc_channel_put_strings(rv_proc_channel *c, const char *const *s, size_t n);

/* ---- host: reading answers, each bounds-checked ---- */

/* Copies answer i (i < h->n) into out, with n_answers clamped and the error
 * NUL-terminated. */
void rv_proc_channel_read_answer(const rv_proc_channel *c, uint32_t i, rv_proc_channel_ans *out);

/* One emitted record, pointing into the answer area (valid until the next
 * message). about is the batch index or UINT32_MAX. */
typedef struct rv_proc_channel_emit {
    uint32_t about;
    const char *stream;
    const void *key, *value;
    size_t key_len, value_len;
} rv_proc_channel_emit;
/* Walks the emits after the answers: *pos starts at 0. 1 with the next
 * record, 0 at the end, -1 on a malformed area (the rest is ignored). */
int rv_proc_channel_next_emit(const rv_proc_channel *c, uint32_t n_answers, uint64_t *pos,
                              rv_proc_channel_emit *out);
/* INIT's answer: up to max labels (strings point into the area). The count,
 * or -1 on a malformed area. */
int rv_proc_channel_read_strings(const rv_proc_channel *c, uint64_t off, const char **out,
                                 size_t max);

/* ---- process: reading requests, writing answers ---- */

/* Decodes the batch into reqs[0..n) (pointers into the request area, the
 * features rows of one matrix; headers into hdrs, which must hold the
 * batch's total header count: see rv_proc_channel_count_headers). 0, or -1
 * on a malformed area. */
size_t rv_proc_channel_count_headers(const rv_proc_channel *c);
int rv_proc_channel_get_requests(const rv_proc_channel *c, rv_request *reqs, rv_header *hdrs);
/* The string lists of INIT in order: *pos starts at 0. n strings into out
 * (at most max). The count, or -1. */
int rv_proc_channel_get_strings(const rv_proc_channel *c, uint64_t *pos, const char **out,
                                size_t max);
/* The answer area's request-order answers. */
rv_proc_channel_ans *rv_proc_channel_answers(rv_proc_channel *c);
/* Appends an emitted record after n answers; 0, or -1 when the area is full. */
int rv_proc_channel_put_emit(rv_proc_channel *c, uint32_t n_answers, uint32_t about,
                             const char *stream, const void *key, size_t key_len, const void *value,
                             size_t value_len);
/* Appends strings (INIT's labels) at the start of the answer area. */
int rv_proc_channel_put_answer_strings(rv_proc_channel *c, const char *const *s, size_t n);

#endif
