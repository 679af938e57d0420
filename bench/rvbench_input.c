/*
 * rvbench_input.c - what rvbench sends: request bodies, one per line of a
 * JSONL file, and with --labels each row's true label (the "label" field of
 * the lines of --truth, in the same order), which it produces to the labels
 * topic after the request, as the outcome a service learns later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "rvbench.h"

body *rvbench_load_lines(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rvbench: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    body *v = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0 && n < 10000000) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            body *nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        v[n].bytes = strndup(line, (size_t)len);
        v[n].len = (size_t)len;
        if (!v[n].bytes)
            break;
        n++;
    }
    free(line);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "rvbench: %s: no lines\n", path);
        free(v);
        return NULL;
    }
    *n_out = n;
    return v;
}

void rvbench_free_lines(body *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].bytes);
    free(v);
}

body *rvbench_load_truth(const char *path, size_t *n_out)
{
    size_t n = 0;
    body *v = rvbench_load_lines(path, &n);
    const char *at[] = {"label", NULL};
    for (size_t i = 0; v && i < n; i++) {
        char err[128];
        yajl_val doc = yajl_tree_parse(v[i].bytes, err, sizeof err);
        yajl_val label = doc ? yajl_tree_get(doc, at, yajl_t_string) : NULL;
        const char *t = label ? YAJL_GET_STRING(label) : NULL;
        const char *why = !t ? "no \"label\" string"
                          : strpbrk(t, "\"\\") || strlen(t) > 200
                              ? "a label is written as is: no quote, backslash, over 200 bytes"
                              : NULL;
        char *s = why ? NULL : strdup(t);
        yajl_tree_free(doc);
        if (!s) {
            if (why)
                fprintf(stderr, "rvbench: %s:%zu: %s\n", path, i + 1, why);
            rvbench_free_lines(v, n);
            return NULL;
        }
        free(v[i].bytes);
        v[i] = (body){s, strlen(s)};
    }
    *n_out = n;
    return v;
}
