/*
 * decoy.c - the built-in model that only records. For every request it
 * emits the exact copy to the archive stream (key and body as they came;
 * the host adds the request's headers and provenance to every record on
 * that stream) and, with params.dir, writes the same record to local
 * segment files. (Recent requests for warm-up are kept by the host, not
 * here.) It never answers: its results carry no answers and it is never
 * chosen.
 *
 * params: dir (optional), segment_bytes (default 67108864),
 * fsync: never | rotate | always (default rotate), max_bytes and
 * max_age_s (the segments kept; absent or 0: no bound), which the host
 * sets from the config's archive section.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "builtins.h"
#include "rv_answers.h"

typedef struct decoy {
    const rv_host_services *services;
    rv_segment_writer *writer;
} decoy;

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

static int decoy_create(const rv_create_args *args, rv_model_info *info, void **instance, char *err,
                        size_t err_size)
{
    unsigned long long seg = 64ull << 20, max_bytes = 0, max_age_s = 0;
    rv_fsync_policy policy = RV_FSYNC_ROTATE;
    const char *v;
    if (rv_param_get(args, "keep")) {
        snprintf(err, err_size,
                 "params.keep: no longer a decoy param: the host keeps recent "
                 "requests for warm-up (reload.warmup_requests)");
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
    if ((v = rv_param_get(args, "max_bytes")) && parse_u64(v, &max_bytes) != 0) {
        snprintf(err, err_size, "params.max_bytes: '%s' is not an integer >= 0", v);
        return RV_EINVAL;
    }
    if ((v = rv_param_get(args, "max_age_s")) && parse_u64(v, &max_age_s) != 0) {
        snprintf(err, err_size, "params.max_age_s: '%s' is not an integer >= 0", v);
        return RV_EINVAL;
    }
    static const char *const known[] = {"dir", "segment_bytes", "fsync", "max_bytes", "max_age_s"};
    for (size_t i = 0; i < args->n_params; i++) {
        const char *k = args->params[i].key;
        size_t j = 0;
        while (j < sizeof known / sizeof *known && strcmp(k, known[j]) != 0)
            j++;
        if (j == sizeof known / sizeof *known) {
            snprintf(err, err_size,
                     "params.%s: unknown (decoy params: dir, segment_bytes, fsync; its retention "
                     "is the config's archive section)",
                     k);
            return RV_EINVAL;
        }
        for (size_t m = 0; m < i; m++)
            if (strcmp(args->params[m].key, k) == 0) {
                snprintf(err, err_size,
                         "params.%s: given twice (the host sets max_bytes and max_age_s from "
                         "the config's archive section)",
                         k);
                return RV_EINVAL;
            }
    }
    decoy *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    d->services = args->services;
    rv_archive_retention keep = {max_bytes, max_age_s};
    if ((v = rv_param_get(args, "dir")) &&
        !(d->writer = rv_segment_writer_open(v, seg, policy, &keep, err, err_size))) {
        free(d);
        return RV_EIO;
    }
    static const char *const no_labels[] = {"recorded"};
    info->labels = no_labels;
    info->n_labels = 1;
    *instance = d;
    return RV_OK;
}

static int decoy_score(void *instance, const rv_request *const *reqs, rv_result *const *results,
                       size_t n, char *err, size_t err_size)
{
    decoy *d = instance;
    for (size_t i = 0; i < n; i++) {
        const rv_request *r = reqs[i];
        char why[256] = "";
        int ok = d->services->emit(d->services->host_ctx, r, "archive", r->key, r->key_len, r->body,
                                   r->body_len) == RV_OK;
        if (d->writer && rv_segment_writer_append_request(d->writer, r, why, sizeof why) != 0)
            ok = 0;
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
    rv_segment_writer_close(d->writer);
    free(d);
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

const rv_plugin *rv_builtin_decoy(void)
{
    return &decoy_plugin;
}
