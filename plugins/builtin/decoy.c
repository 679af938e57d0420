/*
 * decoy.c - the built-in model that only records. For every request it
 * emits an exact archive record (key, headers, body, topic, partition,
 * offset, timestamp) to the archive stream and, with params.dir, to local
 * segment files; and it keeps the last `keep` requests in memory so that a
 * reload can warm new models on real recent traffic.
 * It never answers: its results carry no answers and it is never chosen.
 *
 * params: dir (optional), keep (default 1000), segment_bytes (default
 * 67108864), fsync: never | rotate | always (default rotate).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "builtins.h"
#include "records.h"
#include "rv_answers.h"

/* One owned copy of a request, enough to replay it through score(). */
typedef struct kept_request {
    rv_request req;
    char *mem; /* one allocation holding every byte req points to */
} kept_request;

typedef struct decoy {
    const rv_host_services *services;
    rv_segment_writer *writer;
    yajl_gen gen;
    pthread_mutex_t lock; /* guards ring (read by rv_decoy_recent) */
    kept_request *ring;
    size_t keep, head, count;
} decoy;

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

static int decoy_create(const rv_create_args *args, rv_model_info *info,
                        void **instance, char *err, size_t err_size)
{
    unsigned long long keep = 1000, seg = 64ull << 20;
    rv_fsync_policy policy = RV_FSYNC_ROTATE;
    const char *v;
    if ((v = rv_param_get(args, "keep")) && parse_u64(v, &keep) != 0) {
        snprintf(err, err_size, "params.keep: '%s' is not a non-negative integer", v);
        return RV_EINVAL;
    }
    if ((v = rv_param_get(args, "segment_bytes")) && (parse_u64(v, &seg) != 0 || seg < 4096)) {
        snprintf(err, err_size, "params.segment_bytes: '%s' is not an integer >= 4096", v);
        return RV_EINVAL;
    }
    if ((v = rv_param_get(args, "fsync")) && rv_fsync_policy_parse(v, &policy) != 0) {
        snprintf(err, err_size, "params.fsync: '%s' is not never, rotate or always", v);
        return RV_EINVAL;
    }
    for (size_t i = 0; i < args->n_params; i++) {
        const char *k = args->params[i].key;
        if (strcmp(k, "keep") && strcmp(k, "segment_bytes") && strcmp(k, "fsync") &&
            strcmp(k, "dir")) {
            snprintf(err, err_size,
                     "params.%s: unknown (decoy params: dir, keep, segment_bytes, fsync)", k);
            return RV_EINVAL;
        }
    }
    decoy *d = calloc(1, sizeof *d);
    if (!d || (keep && !(d->ring = calloc(keep, sizeof *d->ring))) ||
        !(d->gen = rv_json_gen_new())) {
        if (d) {
            free(d->ring);
            free(d);
        }
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    d->keep = keep;
    d->services = args->services;
    if ((v = rv_param_get(args, "dir")) &&
        !(d->writer = rv_segment_writer_open(v, seg, policy, err, err_size))) {
        yajl_gen_free(d->gen);
        free(d->ring);
        free(d);
        return RV_EIO;
    }
    pthread_mutex_init(&d->lock, NULL);
    static const char *const no_labels[] = {"recorded"};
    info->labels = no_labels;
    info->n_labels = 1;
    *instance = d;
    return RV_OK;
}

static size_t str_size(const char *s) { return s ? strlen(s) + 1 : 0; }

static char *put(char **p, const void *src, size_t len)
{
    char *at = *p;
    if (len)
        memcpy(at, src, len);
    *p += len;
    return at;
}

/* Copies r with every byte it points to into one allocation. */
static int keep_copy(kept_request *k, const rv_request *r)
{
    size_t size = str_size(r->id) + r->body_len + 1 + r->n_features * sizeof(double) +
                  str_size(r->topic) + r->key_len + r->n_headers * sizeof(rv_header);
    for (size_t i = 0; i < r->n_headers; i++)
        size += str_size(r->headers[i].name) + r->headers[i].value_len;
    char *mem = malloc(size);
    if (!mem)
        return -1;
    char *p = mem;
    k->req = *r;
    k->mem = mem;
    /* doubles and headers first, while p is aligned by malloc */
    k->req.features = (const double *)put(&p, r->features, r->n_features * sizeof(double));
    rv_header *h = (rv_header *)put(&p, r->headers, r->n_headers * sizeof(rv_header));
    k->req.headers = h;
    for (size_t i = 0; i < r->n_headers; i++) {
        h[i].name = put(&p, r->headers[i].name, str_size(r->headers[i].name));
        h[i].value = put(&p, r->headers[i].value, r->headers[i].value_len);
    }
    k->req.id = put(&p, r->id, str_size(r->id));
    k->req.topic = r->topic ? put(&p, r->topic, str_size(r->topic)) : NULL;
    k->req.key = r->key ? (const uint8_t *)put(&p, r->key, r->key_len) : NULL;
    k->req.body = (const uint8_t *)put(&p, r->body, r->body_len);
    return 0;
}

static int decoy_score(void *instance, const rv_request *const *reqs,
                       rv_result *const *results, size_t n, char *err, size_t err_size)
{
    decoy *d = instance;
    for (size_t i = 0; i < n; i++) {
        const rv_request *r = reqs[i];
        yajl_gen_clear(d->gen);
        yajl_gen_reset(d->gen, NULL);
        rv_record_archive(d->gen, r);
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(d->gen, &buf, &len);
        int ok = d->services->emit(d->services->host_ctx, r, "archive", r->key, r->key_len,
                                   buf, len) == RV_OK;
        char why[256] = "";
        if (d->writer && rv_segment_writer_append(d->writer, buf, len, why, sizeof why) != 0)
            ok = 0;
        if (d->keep) {
            kept_request k;
            if (keep_copy(&k, r) == 0) {
                pthread_mutex_lock(&d->lock);
                kept_request *slot = &d->ring[d->head];
                free(slot->mem);
                *slot = k;
                d->head = (d->head + 1) % d->keep;
                if (d->count < d->keep)
                    d->count++;
                pthread_mutex_unlock(&d->lock);
            }
        }
        results[i]->n_answers = 0;
        if (ok)
            results[i]->status = RV_STATUS_OK;
        else
            snprintf(results[i]->error, results[i]->error_size, "archive failed%s%s",
                     *why ? ": " : "", why);
    }
    return RV_OK;
}

static void decoy_destroy(void *instance)
{
    decoy *d = instance;
    for (size_t i = 0; i < d->keep; i++)
        free(d->ring[i].mem);
    free(d->ring);
    rv_segment_writer_close(d->writer);
    yajl_gen_free(d->gen);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

size_t rv_decoy_recent(void *instance, rv_decoy_visit_fn fn, void *ctx)
{
    decoy *d = instance;
    pthread_mutex_lock(&d->lock);
    size_t start = (d->head + d->keep - d->count) % (d->keep ? d->keep : 1);
    for (size_t i = 0; i < d->count; i++)
        fn(ctx, &d->ring[(start + i) % d->keep].req);
    size_t n = d->count;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static const rv_plugin decoy_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "decoy",
    .description = "built-in recorder of exact inputs (archive stream and segment files)",
    .version = "1",
    .flags = 0,
    .create = decoy_create,
    .score = decoy_score,
    .destroy = decoy_destroy,
};

const rv_plugin *rv_builtin_decoy(void) { return &decoy_plugin; }
