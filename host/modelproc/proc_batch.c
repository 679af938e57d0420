/*
 * proc_batch.c - a model process's traffic: a batch written into its
 * channel, the answers and emitted records taken back, the idle wait of
 * the thread that drives it. Every wait ends at the batch's deadline
 * (max_score_ms) or the process's end, and a batch a process died on is
 * never sent again.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "proc_internal.h"

/* Fills res[i] of requests [from, to) with an error. */
static void fail_range(rv_result *const *res, size_t from, size_t to, const char *why)
{
    for (size_t i = from; i < to; i++) {
        res[i]->status = RV_STATUS_ERROR;
        res[i]->n_answers = 0;
        rv_errf(res[i]->error, res[i]->error_size, "%s", why);
    }
}

/* Scores reqs[0..n); an emitted record's request is map[k] (or k when map
 * is NULL) of the caller's batch. reqs[0..sent) are in the process already
 * (rv_proc_send). */
static void score_some(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                       const size_t *map, size_t sent, rv_proc_emit_fn emit, void *emit_ctx)
{
    size_t i = 0;
    while (i < n) {
        size_t from = i;
        if (sent) {
            i = sent;
            sent = 0;
        } else if (rv_proc_tick(p) != RV_PROC_LIVE) {
            char why[RV_SLOT_ERROR_SIZE];
            pthread_mutex_lock(&p->status_lock);
            rv_errf(why, sizeof why, "model process restarting (last: %s)", p->last_exit);
            pthread_mutex_unlock(&p->status_lock);
            fail_range(res, i, n, why);
            return;
        } else if ((i = rv_proc_send_batch(p, reqs, from, n)) == from) { /* larger than the area */
            char why[RV_SLOT_ERROR_SIZE];
            rv_errf(why, sizeof why, "request of %zu bytes does not fit the model channel (%zu)",
                    rv_proc_channel_request_size(reqs[i]), p->req_size);
            fail_range(res, i, i + 1, why);
            i++;
            continue;
        }
        /* the batch's size as sent: h->n is the process's to overwrite */
        const rv_proc_channel_hdr *h = p->ch.h;
        uint32_t batch_n = (uint32_t)(i - from);
        int r = rv_proc_wait_answer(p, p->batch_deadline_ms);
        if (r != 1) {
            char why[160];
            if (r == 0)
                rv_errf(why, sizeof why,
                        "killed: score of %u requests took longer than max_score_ms (%u ms)",
                        batch_n, p->max_score_ms);
            rv_proc_gone(p, r == 0 ? why : NULL, r == 0 ? RV_PROC_EXIT_DEADLINE : 0);
            rv_proc_remember_lost(p, reqs + from, i - from);
            char text[RV_SLOT_ERROR_SIZE];
            rv_errf(text, sizeof text, "model process %s", p->last_exit);
            fail_range(res, from, i, text);
            continue;
        }
        int32_t rc = h->rc;
        char err[RV_ERR_SIZE];
        memcpy(err, (const char *)h->err, sizeof err);
        err[sizeof err - 1] = '\0';
        for (size_t k = from; k < i; k++) {
            rv_result *out = res[k];
            if (rc != RV_OK) {
                out->status = RV_STATUS_ERROR;
                rv_errf(out->error, out->error_size, "score failed (code %d): %s", rc,
                        *err ? err : "no reason given");
                continue;
            }
            rv_proc_channel_ans a;
            rv_proc_channel_read_answer(&p->ch, (uint32_t)(k - from), &a);
            out->status = a.status == RV_STATUS_OK ? RV_STATUS_OK : RV_STATUS_ERROR;
            out->n_answers = a.n_answers < out->max_answers ? a.n_answers : out->max_answers;
            memcpy(out->answers, a.answers, out->n_answers * sizeof *a.answers);
            rv_errf(out->error, out->error_size, "%s", a.error);
        }
        uint64_t pos = 0;
        rv_proc_channel_emit e;
        while (emit && rv_proc_channel_next_emit(&p->ch, batch_n, &pos, &e) == 1) {
            size_t k = from + e.about;
            long about = e.about < batch_n ? (long)(map ? map[k] : k) : -1;
            emit(emit_ctx, about, e.stream, e.key, e.key_len, e.value, e.value_len);
        }
    }
}

/* 1 when reqs[0..n) holds a request a process was lost on before. */
static int holds_lost(const rv_proc *p, const rv_request *const *reqs, size_t n)
{
    for (size_t i = 0; p->lost.n && i < n; i++)
        if (rv_proc_poison_why(&p->lost, reqs[i]->id))
            return 1;
    return 0;
}

void rv_proc_score(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                   rv_proc_emit_fn emit, void *emit_ctx)
{
    if (!holds_lost(p, reqs, n)) {
        score_some(p, reqs, res, n, NULL, 0, emit, emit_ctx);
        return;
    }
    /* requests a process was lost on before: never sent again */
    const rv_request **r2 = malloc(n * sizeof *r2);
    rv_result **s2 = malloc(n * sizeof *s2);
    size_t *map = malloc(n * sizeof *map), m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = rv_proc_poison_why(&p->lost, reqs[i]->id);
        if (why) {
            char text[RV_SLOT_ERROR_SIZE];
            rv_errf(text, sizeof text,
                    "model process %s on a batch with this request before "
                    "(never sent again)",
                    why);
            fail_range(res, i, i + 1, text);
        } else if (r2 && s2 && map) {
            r2[m] = reqs[i];
            s2[m] = res[i];
            map[m++] = i;
        } else
            fail_range(res, i, i + 1, "out of memory");
    }
    score_some(p, r2, s2, m, map, 0, emit, emit_ctx);
    free(r2);
    free(s2);
    free(map);
}

size_t rv_proc_send(rv_proc *p, const rv_request *const *reqs, size_t n)
{
    if (n == 0 || atomic_load(&p->state) != RV_PROC_LIVE || holds_lost(p, reqs, n))
        return 0;
    return rv_proc_send_batch(p, reqs, 0, n);
}

void rv_proc_collect(rv_proc *p, const rv_request *const *reqs, rv_result *const *res, size_t n,
                     rv_proc_emit_fn emit, void *emit_ctx)
{
    score_some(p, reqs, res, n, NULL, n, emit, emit_ctx);
}

int rv_proc_idle_wait(rv_proc *p, int wake_fd, int timeout_ms)
{
    int live = atomic_load(&p->state) == RV_PROC_LIVE;
    int64_t until = rv_mono_ms() + timeout_ms;
    for (;;) {
        struct pollfd f[3] = {{wake_fd, POLLIN, 0},
                              {live ? p->ch.to_host : -1, POLLIN, 0},
                              {live ? p->pidfd : -1, POLLIN, 0}};
        int64_t left = until - rv_mono_ms();
        int n = poll(f, 3, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (f[2].revents & (POLLIN | POLLHUP)))
            return 0;
        uint64_t v;
        if ((f[0].revents & POLLIN) && read(wake_fd, &v, sizeof v) < 0) { /* reset only */
        }
        if ((f[1].revents & POLLIN) && read(f[1].fd, &v, sizeof v) < 0) {
        }
        /* an answer's count may outlive its answer, taken without waiting
         * (wait_answer): only an answer not yet taken wakes */
        if ((f[0].revents & POLLIN) ||
            atomic_load_explicit(&p->ch.h->ans_seq, memory_order_acquire) != p->collected)
            return 1;
    }
}
