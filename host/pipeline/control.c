/*
 * control.c - parse and check one control record. Must never accept a
 * schedule the config loader would refuse: unknown model, the decoy,
 * decreasing within_ms, an empty list.
 */
#include "control.h"

#include "errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

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
    size_t n = sched ? sched->u.array.len : 0;
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    uint32_t *within = calloc(n ? n : 1, sizeof *within);
    if (!sched || n == 0) {
        rv_errf(err, err_size,
                "expected {\"schedule\": [{\"model\": ..., \"within_ms\": ...}, "
                "...]} with at least one entry");
        goto done;
    }
    if (!idx || !within) {
        rv_errf(err, err_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        yajl_val e = sched->u.array.values[i];
        const char *pm[] = {"model", NULL}, *pw[] = {"within_ms", NULL};
        yajl_val model = yajl_tree_get(e, pm, yajl_t_string);
        yajl_val ms = yajl_tree_get(e, pw, yajl_t_number);
        if (!model || !ms || !YAJL_IS_INTEGER(ms) || YAJL_GET_INTEGER(ms) < 0 ||
            YAJL_GET_INTEGER(ms) > UINT32_MAX) {
            rv_errf(err, err_size,
                    "schedule[%zu]: needs \"model\" (a name) and \"within_ms\" "
                    "(a non-negative integer)",
                    i);
            goto done;
        }
        int m = rv_generation_find(g, YAJL_GET_STRING(model));
        if (m < 0 || g->models[m]->is_decoy) {
            rv_errf(err, err_size, "schedule[%zu]: %s '%s'", i,
                    m < 0 ? "no serving model named" : "the decoy is never chosen:",
                    YAJL_GET_STRING(model));
            goto done;
        }
        for (size_t k = 0; k < i; k++)
            if (idx[k] == (size_t)m) {
                rv_errf(err, err_size, "schedule[%zu]: model '%s' is listed twice", i,
                        YAJL_GET_STRING(model));
                goto done;
            }
        idx[i] = (size_t)m;
        within[i] = (uint32_t)YAJL_GET_INTEGER(ms);
        if (i > 0 && within[i] < within[i - 1]) {
            rv_errf(err, err_size,
                    "schedule[%zu]: within_ms %u is less than the entry "
                    "before it (%u)",
                    i, within[i], within[i - 1]);
            goto done;
        }
    }
    out = rv_generation_with_schedule(g, idx, within, n, g->schedule_version + 1);
    if (!out)
        rv_errf(err, err_size, "out of memory");
done:
    free(idx);
    free(within);
    yajl_tree_free(root);
    return out;
}
