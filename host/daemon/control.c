/*
 * control.c - parse and check one control record. Must never accept a
 * schedule the config loader would refuse: unknown model, the decoy, a model
 * twice, decreasing within_ms, an empty list. The rules themselves are
 * schedule.c's, shared with the loader; this file only reads the JSON and
 * words the first problem.
 */
#include "control.h"

#include "digest.h"
#include "errbuf.h"
#include "schedule.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* Entry i's model and within_ms, or false when it lacks either. */
static bool read_entry(yajl_val e, rv_schedule_item *item)
{
    const char *pm[] = {"model", NULL}, *pw[] = {"within_ms", NULL};
    yajl_val model = yajl_tree_get(e, pm, yajl_t_string);
    yajl_val ms = yajl_tree_get(e, pw, yajl_t_number);
    if (!model || !ms || !YAJL_IS_INTEGER(ms) || YAJL_GET_INTEGER(ms) < 0 ||
        YAJL_GET_INTEGER(ms) > UINT32_MAX)
        return false;
    item->model = YAJL_GET_STRING(model);
    item->within_ms = YAJL_GET_INTEGER(ms);
    return true;
}

/* The message of entry i's first problem; false when it has none. */
static bool say_problem(const rv_schedule_item *items, const rv_schedule_verdict *v, size_t i,
                        char *err, size_t err_size)
{
    switch (v->model) {
    case RV_SCHEDULE_NO_MODEL:
        rv_errf(err, err_size, "schedule[%zu]: no serving model named '%s'", i, items[i].model);
        return true;
    case RV_SCHEDULE_NEVER_CHOSEN:
        rv_errf(err, err_size, "schedule[%zu]: the decoy is never chosen: '%s'", i, items[i].model);
        return true;
    case RV_SCHEDULE_TWICE:
        rv_errf(err, err_size, "schedule[%zu]: model '%s' is listed twice", i, items[i].model);
        return true;
    case RV_SCHEDULE_OK: break;
    }
    if (v->decreasing) {
        rv_errf(err, err_size, "schedule[%zu]: within_ms %u is less than the entry before it (%u)",
                i, (unsigned)items[i].within_ms, (unsigned)items[v->before].within_ms);
        return true;
    }
    return false;
}

static rv_generation *apply_schedule(const rv_generation *g, yajl_val sched, char *err,
                                     size_t err_size)
{
    size_t n = sched->u.array.len;
    size_t nm = g->n_models ? g->n_models : 1;
    rv_schedule_item *items = calloc(n, sizeof *items);
    rv_schedule_verdict *verdicts = calloc(n, sizeof *verdicts);
    rv_schedule_model *models = calloc(nm, sizeof *models);
    size_t *idx = calloc(n, sizeof *idx);
    uint32_t *within = calloc(n, sizeof *within);
    rv_generation *out = NULL;
    if (!items || !verdicts || !models || !idx || !within) {
        rv_errf(err, err_size, "out of memory");
        goto done;
    }
    /* Entries are read up to the first malformed one; a problem of an
     * entry before it is said first, as the entries come. */
    size_t good = 0;
    while (good < n && read_entry(sched->u.array.values[good], &items[good]))
        good++;
    for (size_t m = 0; m < g->n_models; m++)
        models[m] = (rv_schedule_model){.name = g->models[m]->name,
                                        .never_chosen = g->models[m]->is_decoy != 0};
    rv_schedule_check(items, good, models, g->n_models, verdicts);
    for (size_t i = 0; i < good; i++)
        if (say_problem(items, &verdicts[i], i, err, err_size))
            goto done;
    if (good < n) {
        rv_errf(err, err_size,
                "schedule[%zu]: needs \"model\" (a name) and \"within_ms\" "
                "(a non-negative integer)",
                good);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        idx[i] = verdicts[i].model_index;
        within[i] = (uint32_t)items[i].within_ms;
    }
    out = rv_generation_with_schedule(g, idx, within, n, g->schedule_version + 1);
    if (!out)
        rv_errf(err, err_size, "out of memory");
done:
    free(items);
    free(verdicts);
    free(models);
    free(idx);
    free(within);
    return out;
}

rv_generation *rv_control_apply(const rv_generation *g, const void *value, size_t len, char *err,
                                size_t err_size)
{
    char *text = malloc(len + 1);
    if (!text) {
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    memcpy(text, value, len);
    text[len] = '\0';
    char perr[256];
    yajl_val root = yajl_tree_parse(text, perr, sizeof perr);
    free(text);
    if (!root) {
        rv_errf(err, err_size, "not valid JSON: %s", perr);
        return NULL;
    }
    rv_generation *out = NULL;
    const char *path[] = {"schedule", NULL};
    yajl_val sched = yajl_tree_get(root, path, yajl_t_array);
    if (!sched || sched->u.array.len == 0)
        rv_errf(err, err_size,
                "expected {\"schedule\": [{\"model\": ..., \"within_ms\": ...}, "
                "...]} with at least one entry");
    else
        out = apply_schedule(g, sched, err, err_size);
    yajl_tree_free(root);
    return out;
}

int rv_control_verify(const char *key_file, const char *signature, size_t signature_len,
                      const void *value, size_t len, char *err, size_t err_size)
{
    static const char prefix[] = "sha256=";
    const size_t want = sizeof prefix - 1 + RV_SHA256_HEX - 1;
    if (!signature) {
        rv_errf(err, err_size, "unsigned: no rv-signature header (control.key_file is set)");
        return -1;
    }
    char why[512];
    size_t key_len;
    char *key = rv_file_read(key_file, &key_len, why, sizeof why);
    if (!key) {
        rv_errf(err, err_size, "cannot read control.key_file: %s", why);
        return -1;
    }
    if (key_len && key[key_len - 1] == '\n')
        key_len--;
    char mac[RV_SHA256_HEX], expected[sizeof prefix + RV_SHA256_HEX];
    rv_hmac_sha256_hex(key, key_len, value, len, mac);
    OPENSSL_cleanse(key, key_len);
    free(key);
    snprintf(expected, sizeof expected, "%s%s", prefix, mac);
    int ok = signature_len == want && CRYPTO_memcmp(signature, expected, want) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    OPENSSL_cleanse(mac, sizeof mac);
    if (!ok)
        rv_errf(err, err_size,
                "bad signature: rv-signature is not sha256=<HMAC-SHA256 of this record's value "
                "with control.key_file> (another key, or another record's signature)");
    return ok ? 0 : -1;
}
