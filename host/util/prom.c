/*
 * prom.c - the Prometheus text writer. Label values come from config names
 * and model metadata: escaped here, once, and nowhere else.
 */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

void rv_prom_family(rv_text *t, const char *name, const char *type, const char *help)
{
    rv_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void escaped(rv_text *t, const char *v)
{
    const char *run = v;
    for (; *v; v++) {
        const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        rv_text_append(t, run, (size_t)(v - run));
        rv_text_append(t, esc, 2);
        run = v + 1;
    }
    rv_text_append(t, run, (size_t)(v - run));
}

/* name{a="x",b="y"[,le="..."]} with a trailing space; no braces when there
 * is no label at all. */
static void head(rv_text *t, const char *name, const char *suffix, const rv_prom_label *labels,
                 size_t n, const char *le)
{
    rv_text_printf(t, "%s%s", name, suffix);
    if (n == 0 && !le) {
        rv_text_append(t, " ", 1);
        return;
    }
    rv_text_append(t, "{", 1);
    for (size_t i = 0; i < n; i++) {
        rv_text_printf(t, "%s%s=\"", i ? "," : "", labels[i].name);
        escaped(t, labels[i].value ? labels[i].value : "");
        rv_text_append(t, "\"", 1);
    }
    if (le)
        rv_text_printf(t, "%sle=\"%s\"", n ? "," : "", le);
    rv_text_append(t, "} ", 2);
}

/* The shortest decimal that reads back as v; NaN and infinities as
 * Prometheus spells them. */
static void format_number(char *out, double v)
{
    if (isnan(v))
        memcpy(out, "NaN", 4);
    else if (isinf(v))
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
    else
        rv_dtoa(v, out);
}

static void number(rv_text *t, double v)
{
    char buf[RV_DTOA_SIZE];
    format_number(buf, v);
    rv_text_printf(t, "%s\n", buf);
}

void rv_prom_counter(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                     uint64_t v)
{
    head(t, name, "", labels, n_labels, NULL);
    rv_text_printf(t, "%llu\n", (unsigned long long)v);
}

void rv_prom_gauge(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                   double v)
{
    head(t, name, "", labels, n_labels, NULL);
    number(t, v);
}

void rv_prom_histogram(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                       const uint64_t *counts, const double *upper, size_t n_buckets, double sum)
{
    uint64_t cum = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        char le[RV_DTOA_SIZE];
        format_number(le, b + 1 == n_buckets ? INFINITY : upper[b]);
        cum += counts[b];
        head(t, name, "_bucket", labels, n_labels, le);
        rv_text_printf(t, "%llu\n", (unsigned long long)cum);
    }
    head(t, name, "_sum", labels, n_labels, NULL);
    number(t, sum);
    head(t, name, "_count", labels, n_labels, NULL);
    rv_text_printf(t, "%llu\n", (unsigned long long)cum);
}

void rv_prom_summary(rv_text *t, const char *name, const rv_prom_label *labels, size_t n_labels,
                     const double *q, const double *v, size_t n_q, double sum, uint64_t count)
{
    rv_prom_label l[n_labels + 1];
    for (size_t i = 0; i < n_labels; i++)
        l[i] = labels[i];
    for (size_t i = 0; i < n_q; i++) {
        char qs[RV_DTOA_SIZE];
        format_number(qs, q[i]);
        l[n_labels] = (rv_prom_label){"quantile", qs};
        head(t, name, "", l, n_labels + 1, NULL);
        number(t, v[i]);
    }
    head(t, name, "_sum", labels, n_labels, NULL);
    number(t, sum);
    head(t, name, "_count", labels, n_labels, NULL);
    rv_text_printf(t, "%llu\n", (unsigned long long)count);
}
