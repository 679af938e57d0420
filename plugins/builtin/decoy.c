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
 *
 * A record it cannot write to its files (the disk full, an I/O error) costs
 * only the files: the request's copy is still on the archive stream, the
 * request is served, and the decoy raises one alert for the run of
 * failures (and its clear once a record is written again), logs it then
 * and every 10 s while it lasts, and the host counts every such record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "builtins.h"
#include "clock.h"
#include "jsonw.h"
#include "rv_answers.h"

#define FAILING_LOG_EVERY_MS 10000

typedef struct decoy {
    const rv_host_services *services;
    rv_segment_writer *writer;
    char *name, *dir;
    /* one instance per worker: the worker's thread alone touches these */
    int failing;          /* the last record was not written to the files */
    uint64_t not_written; /* records not written in this run of failures */
    uint64_t logged;      /* not_written when last logged */
    int64_t next_log_ms;  /* while failing */
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
        (!(d->name = strdup(args->model_name ? args->model_name : "decoy")) ||
         !(d->dir = strdup(v)) ||
         !(d->writer = rv_segment_writer_open(v, seg, policy, &keep, err, err_size)))) {
        if (!d->dir)
            snprintf(err, err_size, "out of memory");
        int code = d->dir ? RV_EIO : RV_ENOMEM;
        free(d->name);
        free(d->dir);
        free(d);
        return code;
    }
    static const char *const no_labels[] = {"recorded"};
    info->labels = no_labels;
    info->n_labels = 1;
    *instance = d;
    return RV_OK;
}

static void say(decoy *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(decoy *d, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->services && d->services->log)
        d->services->log(d->services->host_ctx, level, msg);
}

/* The alert (raised) or its clear on the alerts stream: the segment files
 * miss records, or have them again. */
static void alert(decoy *d, int raised, const char *reason)
{
    char msg[1024];
    if (raised)
        snprintf(msg, sizeof msg,
                 "%s: cannot write the archive's segment files in %s (%s); requests are "
                 "served and on the archive stream, the files miss them",
                 d->name, d->dir, reason);
    else
        snprintf(msg, sizeof msg,
                 "%s: writing the archive's segment files in %s again; %llu records were not "
                 "written to them",
                 d->name, d->dir, (unsigned long long)d->not_written);
    rv_jw w;
    rv_jw_init(&w);
    rv_jw_map_open(&w);
    rv_jw_kv_string(&w, "type", raised ? "alert" : "clear");
    rv_jw_kv_string(&w, "check", "archive_write");
    rv_jw_kv_string(&w, "model", d->name);
    rv_jw_kv_string(&w, "dir", d->dir);
    if (raised)
        rv_jw_kv_string(&w, "reason", reason);
    else
        rv_jw_kv_int(&w, "not_written", (long long)d->not_written);
    rv_jw_kv_string(&w, "message", msg);
    rv_jw_map_close(&w);
    if (!w.oom && d->services && d->services->emit)
        d->services->emit(d->services->host_ctx, NULL, "alerts", d->name, strlen(d->name), w.buf,
                          w.len);
    rv_jw_free(&w);
}

/* After each record: written (ok) or not, and why. */
static void note(decoy *d, int ok, const char *why)
{
    int64_t now = rv_mono_ms();
    if (ok) {
        if (d->failing) {
            say(d, RV_LOG_INFO, "segment files in %s: writing again; %llu records were not written",
                d->dir, (unsigned long long)d->not_written);
            alert(d, 0, NULL);
            d->failing = 0;
        }
        return;
    }
    d->not_written = d->failing ? d->not_written + 1 : 1;
    if (!d->failing) {
        d->failing = 1;
        d->logged = 1;
        d->next_log_ms = now + FAILING_LOG_EVERY_MS;
        say(d, RV_LOG_ERROR,
            "segment files in %s: %s; requests are still served and on the archive stream, "
            "not in the segment files (alert raised)",
            d->dir, why);
        alert(d, 1, why);
    } else if (now >= d->next_log_ms) {
        say(d, RV_LOG_ERROR, "segment files in %s: %s; %llu more records not written in %d s",
            d->dir, why, (unsigned long long)(d->not_written - d->logged),
            FAILING_LOG_EVERY_MS / 1000);
        d->logged = d->not_written;
        d->next_log_ms = now + FAILING_LOG_EVERY_MS;
    }
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
        if (d->writer) {
            int written = rv_segment_writer_append_request(d->writer, r, why, sizeof why) == 0;
            note(d, written, why);
            ok &= written;
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
    rv_segment_writer_close(d->writer);
    free(d->name);
    free(d->dir);
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

/* A recorder: never chosen, sees every request; an archive with holes
 * would defeat its purpose, so its queue never sheds. */
const rv_builtin rv_builtin_decoy_entry = {
    .name = "decoy",
    .descriptor = &decoy_plugin,
    .props = RV_BUILTIN_RECORDER | RV_BUILTIN_NEVER_SHED,
    .path_params = (const char *const[]){"dir", NULL},
};
