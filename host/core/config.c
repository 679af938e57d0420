/*
 * config.c - read one YAML config file and turn it into a validated rv_config.
 *
 * The whole file is parsed into a libyaml document first, then walked against
 * the schema; every problem is recorded with file:line:column and key path and
 * the walk goes on, so a user fixes a file in one round rather than one error
 * per reload. This file must never touch the running service, keep global
 * state, or silently ignore a key it does not know: an ignored typo is a
 * setting that quietly does not apply.
 */
#include "config.h"

#include <yaml.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Key paths longer than this are truncated in messages; still readable. */
#define KP_MAX 512

typedef struct pending_error {
    size_t line;
    size_t col;
    size_t seq; /* keeps errors on the same position in the order found */
    char *msg;
} pending_error;

typedef struct loader {
    const char *file; /* as given, so messages match what the user typed */
    const char *dir;  /* absolute */
    yaml_document_t *doc;
    rv_config *cfg;
    pending_error *errs;
    size_t n_errs;
    size_t cap_errs;
    bool oom; /* an allocation failed: the result cannot be trusted */
} loader;

typedef struct model_seen {
    const yaml_node_t *name_node; /* NULL when the entry has no valid name */
} model_seen;

static const char *const root_keys[] = {
    "service", "state_dir", "watch", "streams", "input", "models", "rendezvous", "reload", "http",
    NULL};
static const char *const streams_keys[] = {
    "brokers", "requests", "scores", "results", "archive", "alerts", "dead_letter",
    "control", "group", "partitions", "kafka", NULL};
static const char *const input_keys[] = {"format", "features", "max_body_bytes", NULL};
static const char *const model_keys[] = {
    "name", "plugin", "builtin", "params", "instances", "max_batch", "queue_size", NULL};
static const char *const rendezvous_keys[] = {"schedule", "default", "max_in_flight", NULL};
static const char *const schedule_keys[] = {"model", "within_ms", NULL};
static const char *const default_keys[] = {"label", "score", NULL};
static const char *const http_keys[] = {"listen", NULL};
static const char *const reload_keys[] = {"warmup_requests", "warmup_budget_ms", NULL};
static const char *const builtins[] = {"canary", "decoy", NULL};

/* ---------------------------------------------------------------- errors */

void rv_errors_add(rv_errors *errs, const char *fmt, ...)
{
    if (!errs)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int r = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    char **grown = realloc(errs->lines, (errs->n + 1) * sizeof *grown);
    if (!grown) {
        free(line);
        return;
    }
    errs->lines = grown;
    errs->lines[errs->n++] = line;
}

void rv_errors_clear(rv_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errs->lines = NULL;
    errs->n = 0;
}

static void push_error(loader *l, size_t line, size_t col, char *msg)
{
    if (!msg) {
        l->oom = true;
        return;
    }
    if (l->n_errs == l->cap_errs) {
        size_t cap = l->cap_errs ? 2 * l->cap_errs : 8;
        pending_error *grown = realloc(l->errs, cap * sizeof *grown);
        if (!grown) {
            free(msg);
            l->oom = true;
            return;
        }
        l->errs = grown;
        l->cap_errs = cap;
    }
    l->errs[l->n_errs] = (pending_error){line, col, l->n_errs, msg};
    l->n_errs++;
}

/* Marks from libyaml are 0-based; editors and humans count from 1. */
static void report_at(loader *l, size_t line0, size_t col0, const char *kpath,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report_at(loader *l, size_t line0, size_t col0, const char *kpath,
                      const char *fmt, ...)
{
    char *reason = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&reason, fmt, ap);
    va_end(ap);
    if (r < 0) {
        l->oom = true;
        return;
    }
    char *msg = NULL;
    if (asprintf(&msg, "%s:%zu:%zu: %s: %s", l->file, line0 + 1, col0 + 1,
                 kpath && *kpath ? kpath : "(root)", reason) < 0)
        msg = NULL;
    free(reason);
    push_error(l, line0 + 1, col0 + 1, msg);
}

#define report(l, node, kpath, ...) \
    report_at((l), (node)->start_mark.line, (node)->start_mark.column, (kpath), __VA_ARGS__)

static int cmp_pending(const void *a, const void *b)
{
    const pending_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Errors are handed over in file order: that is the order a user fixes them. */
static void flush_errors(loader *l, rv_errors *errs)
{
    qsort(l->errs, l->n_errs, sizeof *l->errs, cmp_pending);
    for (size_t i = 0; i < l->n_errs; i++) {
        rv_errors_add(errs, "%s", l->errs[i].msg);
        free(l->errs[i].msg);
    }
    free(l->errs);
    l->errs = NULL;
    l->n_errs = l->cap_errs = 0;
}

/* ---------------------------------------------------------------- helpers */

static char *dup_or_oom(loader *l, const char *s)
{
    char *d = strdup(s);
    if (!d)
        l->oom = true;
    return d;
}

static void set_str(loader *l, char **slot, const char *s)
{
    free(*slot);
    *slot = dup_or_oom(l, s);
}

/* An absurdly deep or long path is cut, and the cut shown, rather than
 * failing the message that carries it. */
static void kp_mark_cut(char *out, int written)
{
    if (written < 0 || written >= KP_MAX)
        memcpy(out + KP_MAX - 4, "...", 4);
}

static void kp_key(char *out, const char *parent, const char *key)
{
    int r = parent && *parent ? snprintf(out, KP_MAX, "%s.%s", parent, key)
                              : snprintf(out, KP_MAX, "%s", key);
    kp_mark_cut(out, r);
}

static void kp_index(char *out, const char *parent, size_t i)
{
    kp_mark_cut(out, snprintf(out, KP_MAX, "%s[%zu]", parent, i));
}

static yaml_node_t *node_at(loader *l, int id)
{
    return yaml_document_get_node(l->doc, id);
}

static const char *scalar_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || !is_plain(n))
        return false;
    const char *s = scalar_text(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static const char *describe(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_SCALAR_NODE:
        if (is_null(n))
            return "null";
        return is_plain(n) ? "a scalar" : "a quoted string";
    default:
        return "nothing";
    }
}

static size_t map_len(const yaml_node_t *m)
{
    return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

static size_t seq_len(const yaml_node_t *s)
{
    return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

/* A value with an embedded NUL would be cut short by every C consumer. */
static bool scalar_has_nul(const yaml_node_t *n)
{
    return strlen(scalar_text(n)) != n->data.scalar.length;
}

/* First pair with that scalar key; duplicates are reported by check_keys. */
static yaml_node_t *map_get(loader *l, const yaml_node_t *m, const char *key,
                            yaml_node_t **key_node)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(scalar_text(k), key)) {
            if (key_node)
                *key_node = k;
            return node_at(l, p->value);
        }
    }
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

static char *join_list(const char *const *list)
{
    size_t len = 1;
    for (size_t i = 0; list[i]; i++)
        len += strlen(list[i]) + 2;
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; list[i]; i++) {
        if (i)
            strcat(out, ", ");
        strcat(out, list[i]);
    }
    return out;
}

/* "dead-letter" for "dead_letter", "Brokers" for "brokers": the usual slips. */
static const char *near_miss(const char *const *allowed, const char *key)
{
    for (size_t i = 0; allowed[i]; i++) {
        const char *a = allowed[i], *k = key;
        while (*a && *k) {
            int ca = *a == '-' ? '_' : tolower((unsigned char)*a);
            int ck = *k == '-' ? '_' : tolower((unsigned char)*k);
            if (ca != ck)
                break;
            a++, k++;
        }
        if (!*a && !*k)
            return allowed[i];
    }
    return NULL;
}

/* Keys must be scalars, unique, and (when allowed is given) known. */
static void check_keys(loader *l, const yaml_node_t *m, const char *kpath,
                       const char *const *allowed)
{
    char kp[KP_MAX];
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(l, p->key);
        if (!k)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            report(l, k, kpath, "keys must be scalars, got %s", describe(k));
            continue;
        }
        const char *name = scalar_text(k);
        kp_key(kp, kpath, name);
        bool dup = false;
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = node_at(l, q->key);
            if (prev && prev->type == YAML_SCALAR_NODE && !strcmp(scalar_text(prev), name)) {
                report(l, k, kp, "duplicate key '%s' (first at line %zu, column %zu)", name,
                       prev->start_mark.line + 1, prev->start_mark.column + 1);
                dup = true;
                break;
            }
        }
        if (dup || !allowed || in_list(allowed, name))
            continue;
        char *list = join_list(allowed);
        const char *hint = near_miss(allowed, name);
        if (hint)
            report(l, k, kp, "unknown key '%s' (did you mean '%s'? allowed: %s)", name, hint,
                   list ? list : "?");
        else
            report(l, k, kp, "unknown key '%s' (allowed: %s)", name, list ? list : "?");
        free(list);
    }
}

/* The mapping under key, or NULL (reported when present but not a mapping). */
static yaml_node_t *get_mapping(loader *l, const yaml_node_t *parent, const char *parent_kp,
                                const char *key, bool required, char *kp_out)
{
    kp_key(kp_out, parent_kp, key);
    yaml_node_t *v = map_get(l, parent, key, NULL);
    if (!v) {
        if (required)
            report(l, parent, kp_out, "missing required key");
        return NULL;
    }
    if (v->type != YAML_MAPPING_NODE) {
        report(l, v, kp_out, "expected a mapping, got %s", describe(v));
        return NULL;
    }
    return v;
}

static bool want_string(loader *l, const yaml_node_t *v, const char *kp)
{
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
        report(l, v, kp, "expected a string, got %s", describe(v));
        return false;
    }
    if (scalar_has_nul(v)) {
        report(l, v, kp, "the value contains a NUL character");
        return false;
    }
    if (!*scalar_text(v)) {
        report(l, v, kp, "must not be empty");
        return false;
    }
    return true;
}

/* Returns the value node when present and a valid string, storing a copy. */
static const yaml_node_t *opt_string(loader *l, const yaml_node_t *m, const char *parent_kp,
                                     const char *key, bool required, char **slot)
{
    char kp[KP_MAX];
    kp_key(kp, parent_kp, key);
    yaml_node_t *v = map_get(l, m, key, NULL);
    if (!v) {
        if (required)
            report(l, m, kp, "missing required key");
        return NULL;
    }
    if (!want_string(l, v, kp))
        return NULL;
    set_str(l, slot, scalar_text(v));
    return v;
}

/* Integers are taken only as written plain in decimal: "2" quoted is a
 * string, and 1e3 or 0x10 are more likely mistakes than intent. */
static bool parse_u32(const yaml_node_t *v, bool positive, uint32_t *out, const char **why)
{
    if (v->type != YAML_SCALAR_NODE || !is_plain(v) || is_null(v)) {
        *why = NULL;
        return false;
    }
    const char *s = scalar_text(v);
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end == s || *end || (*s != '-' && *s != '+' && (*s < '0' || *s > '9'))) {
        *why = NULL;
        return false;
    }
    if (errno == ERANGE || n > (long long)UINT32_MAX) {
        *why = "is out of range (at most 4294967295)";
        return false;
    }
    if (n < 0 || (positive && n == 0)) {
        *why = positive ? "must be a positive integer (1 or more)"
                        : "must be a non-negative integer (0 or more)";
        return false;
    }
    *out = (uint32_t)n;
    return true;
}

static const yaml_node_t *opt_u32(loader *l, const yaml_node_t *m, const char *parent_kp,
                                  const char *key, bool required, bool positive, uint32_t *slot)
{
    char kp[KP_MAX];
    kp_key(kp, parent_kp, key);
    yaml_node_t *v = map_get(l, m, key, NULL);
    if (!v) {
        if (required)
            report(l, m, kp, "missing required key");
        return NULL;
    }
    const char *why = NULL;
    if (parse_u32(v, positive, slot, &why))
        return v;
    if (why)
        report(l, v, kp, "%s %s", scalar_text(v), why);
    else if (v->type == YAML_SCALAR_NODE && !is_plain(v))
        report(l, v, kp, "expected %s integer, got a quoted string '%s'",
               positive ? "a positive" : "a non-negative", scalar_text(v));
    else if (v->type == YAML_SCALAR_NODE && !is_null(v))
        report(l, v, kp, "expected %s integer, got '%s'",
               positive ? "a positive" : "a non-negative", scalar_text(v));
    else
        report(l, v, kp, "expected %s integer, got %s", positive ? "a positive" : "a non-negative",
               describe(v));
    return NULL;
}

static void opt_bool(loader *l, const yaml_node_t *m, const char *parent_kp, const char *key,
                     bool *slot)
{
    char kp[KP_MAX];
    kp_key(kp, parent_kp, key);
    yaml_node_t *v = map_get(l, m, key, NULL);
    if (!v)
        return;
    if (v->type == YAML_SCALAR_NODE && is_plain(v)) {
        const char *s = scalar_text(v);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *slot = true;
            return;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *slot = false;
            return;
        }
    }
    if (v->type == YAML_SCALAR_NODE && !is_null(v))
        report(l, v, kp, "expected a boolean (true or false), got '%s'", scalar_text(v));
    else
        report(l, v, kp, "expected a boolean (true or false), got %s", describe(v));
}

static bool parse_number(const yaml_node_t *v, double *out)
{
    if (v->type != YAML_SCALAR_NODE || !is_plain(v) || is_null(v))
        return false;
    const char *s = scalar_text(v);
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* Collapses "//" and "/./" so stored paths compare equal across spellings;
 * ".." is kept because resolving it lexically is wrong across symlinks. */
static char *abs_path(loader *l, const char *rel)
{
    char *joined = NULL;
    int r = rel[0] == '/' ? asprintf(&joined, "%s", rel) : asprintf(&joined, "%s/%s", l->dir, rel);
    if (r < 0) {
        l->oom = true;
        return NULL;
    }
    char *w = joined;
    const char *p = joined;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - seg);
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        *w++ = '/';
        memmove(w, seg, n);
        w += n;
    }
    if (w == joined)
        *w++ = '/';
    *w = '\0';
    return joined;
}

static bool valid_topic(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249 || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Scalar keys to scalar values, order kept; used for kafka and params. */
static void load_kv(loader *l, const yaml_node_t *m, const char *kpath, rv_kv **out, size_t *n_out,
                    bool resolve_files)
{
    check_keys(l, m, kpath, NULL);
    size_t cap = map_len(m);
    if (cap == 0)
        return;
    rv_kv *kv = calloc(cap, sizeof *kv);
    if (!kv) {
        l->oom = true;
        return;
    }
    size_t n = 0;
    char kp[KP_MAX];
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(l, p->key), *v = node_at(l, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            continue; /* reported by check_keys */
        const char *key = scalar_text(k);
        kp_key(kp, kpath, key);
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup = dup || !strcmp(kv[i].key, key);
        if (dup)
            continue;
        if (!*key || scalar_has_nul(k)) {
            report(l, k, kp, "keys must be non-empty strings");
            continue;
        }
        if (v->type != YAML_SCALAR_NODE) {
            report(l, v, kp, "expected a scalar value, got %s", describe(v));
            continue;
        }
        if (scalar_has_nul(v)) {
            report(l, v, kp, "the value contains a NUL character");
            continue;
        }
        const char *val = scalar_text(v);
        char *stored = NULL;
        if (resolve_files && *val) {
            /* Plugins run with another working directory than the user had
             * in mind; a path that exists now is handed over absolute. */
            char *abs = abs_path(l, val);
            struct stat st;
            if (abs && stat(abs, &st) == 0 && S_ISREG(st.st_mode))
                stored = abs;
            else
                free(abs);
        }
        if (!stored)
            stored = dup_or_oom(l, val);
        char *skey = dup_or_oom(l, key);
        if (!stored || !skey) {
            free(stored);
            free(skey);
            continue;
        }
        kv[n].key = skey;
        kv[n].value = stored;
        n++;
    }
    *out = kv;
    *n_out = n;
}

/* ---------------------------------------------------------------- sections */

static void load_streams(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX];
    rv_config *c = l->cfg;
    yaml_node_t *s = get_mapping(l, root, "", "streams", true, kp);
    if (!s)
        return;
    check_keys(l, s, kp, streams_keys);
    opt_string(l, s, kp, "brokers", true, &c->streams.brokers);

    struct {
        const char *key;
        char **slot;
    } topics[] = {
        {"requests", &c->streams.requests}, {"scores", &c->streams.scores},
        {"results", &c->streams.results},   {"archive", &c->streams.archive},
        {"alerts", &c->streams.alerts},     {"dead_letter", &c->streams.dead_letter},
        {"control", &c->streams.control},
    };
    char tkp[KP_MAX];
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        const yaml_node_t *v = opt_string(l, s, kp, topics[i].key, false, topics[i].slot);
        if (v && !valid_topic(*topics[i].slot)) {
            kp_key(tkp, kp, topics[i].key);
            report(l, v, tkp,
                   "'%s' is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)",
                   *topics[i].slot);
        }
    }
    opt_string(l, s, kp, "group", false, &c->streams.group);
    opt_u32(l, s, kp, "partitions", false, true, &c->streams.partitions);

    char kkp[KP_MAX];
    yaml_node_t *k = get_mapping(l, s, kp, "kafka", false, kkp);
    if (k)
        load_kv(l, k, kkp, &c->streams.kafka, &c->streams.n_kafka, false);
}

static void load_input(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], fkp[KP_MAX], ikp[KP_MAX];
    rv_config *c = l->cfg;
    yaml_node_t *in = get_mapping(l, root, "", "input", true, kp);
    if (!in)
        return;
    check_keys(l, in, kp, input_keys);
    const yaml_node_t *fmt = opt_string(l, in, kp, "format", false, &c->input.format);
    if (fmt && strcmp(c->input.format, "json")) {
        kp_key(fkp, kp, "format");
        report(l, fmt, fkp, "unsupported format '%s' (only json)", c->input.format);
    }
    opt_u32(l, in, kp, "max_body_bytes", false, true, &c->input.max_body_bytes);

    kp_key(fkp, kp, "features");
    yaml_node_t *f = map_get(l, in, "features", NULL);
    if (!f) {
        report(l, in, fkp, "missing required key");
        return;
    }
    if (f->type != YAML_SEQUENCE_NODE) {
        report(l, f, fkp, "expected a sequence of feature names, got %s", describe(f));
        return;
    }
    size_t n = seq_len(f);
    if (n == 0) {
        report(l, f, fkp, "must list at least one feature");
        return;
    }
    const yaml_node_t **seen = calloc(n, sizeof *seen);
    c->input.features = calloc(n, sizeof *c->input.features);
    if (!seen || !c->input.features) {
        free(seen);
        l->oom = true;
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = f->data.sequence.items.start; it < f->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *v = node_at(l, *it);
        kp_index(ikp, fkp, i);
        if (!v || !want_string(l, v, ikp))
            continue;
        const yaml_node_t *first = NULL;
        for (size_t j = 0; j < i && !first; j++)
            if (seen[j] && !strcmp(scalar_text(seen[j]), scalar_text(v)))
                first = seen[j];
        if (first) {
            report(l, v, ikp, "duplicate feature '%s' (first at line %zu, column %zu)",
                   scalar_text(v), first->start_mark.line + 1, first->start_mark.column + 1);
            continue;
        }
        seen[i] = v;
        char *name = dup_or_oom(l, scalar_text(v));
        if (name)
            c->input.features[c->input.n_features++] = name;
    }
    free(seen);
}

static void load_model(loader *l, const yaml_node_t *m, const char *kp, rv_model_conf *mc,
                       model_seen *seen, size_t idx)
{
    char skp[KP_MAX];
    mc->line = (int)m->start_mark.line + 1;
    check_keys(l, m, kp, model_keys);

    const yaml_node_t *name = opt_string(l, m, kp, "name", true, &mc->name);
    if (name) {
        for (size_t j = 0; j < idx; j++) {
            const yaml_node_t *other = seen[j].name_node;
            if (other && !strcmp(scalar_text(other), mc->name)) {
                kp_key(skp, kp, "name");
                report(l, name, skp, "duplicate model name '%s' (first at line %zu, here line %zu)",
                       mc->name, other->start_mark.line + 1, name->start_mark.line + 1);
                name = NULL; /* so that later duplicates point to the first */
                break;
            }
        }
    }
    seen[idx].name_node = name;

    yaml_node_t *pkey = NULL, *bkey = NULL;
    yaml_node_t *plugin = map_get(l, m, "plugin", &pkey);
    yaml_node_t *builtin = map_get(l, m, "builtin", &bkey);
    if (!plugin && !builtin)
        report(l, m, kp, "missing required key: one of plugin or builtin");
    if (plugin && builtin)
        report(l, bkey, kp, "both plugin and builtin are given; a model is exactly one of them");

    if (plugin) {
        kp_key(skp, kp, "plugin");
        if (want_string(l, plugin, skp)) {
            char *abs = abs_path(l, scalar_text(plugin));
            struct stat st;
            if (!abs) {
                /* out of memory, already noted */
            } else if (stat(abs, &st) != 0) {
                report(l, plugin, skp, "plugin '%s' not found (resolved to %s): %s",
                       scalar_text(plugin), abs, strerror(errno));
                free(abs);
            } else if (!S_ISREG(st.st_mode)) {
                report(l, plugin, skp, "plugin '%s' (resolved to %s) is not a regular file",
                       scalar_text(plugin), abs);
                free(abs);
            } else {
                mc->plugin = abs;
            }
        }
    }
    if (builtin) {
        kp_key(skp, kp, "builtin");
        if (want_string(l, builtin, skp)) {
            if (in_list(builtins, scalar_text(builtin))) {
                set_str(l, &mc->builtin, scalar_text(builtin));
            } else {
                char *list = join_list(builtins);
                report(l, builtin, skp, "unknown builtin '%s' (known: %s)", scalar_text(builtin),
                       list ? list : "?");
                free(list);
            }
        }
    }

    yaml_node_t *params = get_mapping(l, m, kp, "params", false, skp);
    if (params)
        load_kv(l, params, skp, &mc->params, &mc->n_params, true);

    opt_u32(l, m, kp, "instances", false, true, &mc->instances);
    opt_u32(l, m, kp, "max_batch", false, true, &mc->max_batch);
    opt_u32(l, m, kp, "queue_size", false, true, &mc->queue_size);
}

static void load_models(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], ikp[KP_MAX];
    rv_config *c = l->cfg;
    kp_key(kp, "", "models");
    yaml_node_t *ms = map_get(l, root, "models", NULL);
    if (!ms) {
        report(l, root, kp, "missing required key");
        return;
    }
    if (ms->type != YAML_SEQUENCE_NODE) {
        report(l, ms, kp, "expected a sequence of models, got %s", describe(ms));
        return;
    }
    size_t n = seq_len(ms);
    if (n == 0) {
        report(l, ms, kp, "must list at least one model");
        return;
    }
    model_seen *seen = calloc(n, sizeof *seen);
    c->models = calloc(n, sizeof *c->models);
    if (!seen || !c->models) {
        free(seen);
        l->oom = true;
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = ms->data.sequence.items.start; it < ms->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *m = node_at(l, *it);
        kp_index(ikp, kp, i);
        if (!m)
            continue;
        if (m->type != YAML_MAPPING_NODE) {
            report(l, m, ikp, "expected a mapping describing a model, got %s", describe(m));
            continue;
        }
        rv_model_conf *mc = &c->models[c->n_models++];
        mc->instances = 1;
        mc->max_batch = 32;
        mc->queue_size = 1024;
        load_model(l, m, ikp, mc, seen, i);
    }
    free(seen);
}

static void load_schedule(loader *l, const yaml_node_t *r, const char *rkp)
{
    char kp[KP_MAX], ikp[KP_MAX], fkp[KP_MAX];
    rv_config *c = l->cfg;
    kp_key(kp, rkp, "schedule");
    yaml_node_t *s = map_get(l, r, "schedule", NULL);
    if (!s) {
        report(l, r, kp, "missing required key");
        return;
    }
    if (s->type != YAML_SEQUENCE_NODE) {
        report(l, s, kp, "expected a sequence of {model, within_ms}, got %s", describe(s));
        return;
    }
    size_t n = seq_len(s);
    if (n == 0) {
        report(l, s, kp, "must list at least one entry");
        return;
    }
    c->rendezvous.schedule = calloc(n, sizeof *c->rendezvous.schedule);
    if (!c->rendezvous.schedule) {
        l->oom = true;
        return;
    }
    const yaml_node_t *prev_within = NULL;
    uint32_t prev_ms = 0;
    size_t i = 0;
    for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = node_at(l, *it);
        kp_index(ikp, kp, i);
        if (!e)
            continue;
        if (e->type != YAML_MAPPING_NODE) {
            report(l, e, ikp, "expected a mapping {model, within_ms}, got %s", describe(e));
            continue;
        }
        check_keys(l, e, ikp, schedule_keys);
        char *model = NULL;
        const yaml_node_t *mv = opt_string(l, e, ikp, "model", true, &model);
        if (mv) {
            kp_key(fkp, ikp, "model");
            const rv_model_conf *mc = rv_config_model(c, model);
            bool twice = false;
            for (size_t j = 0; j < c->rendezvous.n_schedule && !twice; j++)
                twice = !strcmp(c->rendezvous.schedule[j].model, model);
            if (!mc) {
                report(l, mv, fkp, "no model named '%s' in models", model);
            } else if (mc->builtin && !strcmp(mc->builtin, "decoy")) {
                report(l, mv, fkp, "'%s' is the decoy, which is never chosen; it cannot be in "
                       "the schedule", model);
            } else if (twice) {
                report(l, mv, fkp, "model '%s' is already in the schedule", model);
            }
        }
        uint32_t within = 0;
        const yaml_node_t *wv = opt_u32(l, e, ikp, "within_ms", true, false, &within);
        if (wv) {
            if (prev_within && within < prev_ms) {
                kp_key(fkp, ikp, "within_ms");
                report(l, wv, fkp,
                       "within_ms %u is less than %u of the entry before (line %zu); the "
                       "schedule must be non-decreasing",
                       (unsigned)within, (unsigned)prev_ms, prev_within->start_mark.line + 1);
            }
            prev_within = wv;
            prev_ms = within;
        }
        if (model) {
            rv_schedule_entry *se = &c->rendezvous.schedule[c->rendezvous.n_schedule++];
            se->model = model;
            se->within_ms = within;
        }
    }
}

static void load_rendezvous(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], dkp[KP_MAX], skp[KP_MAX];
    rv_config *c = l->cfg;
    yaml_node_t *r = get_mapping(l, root, "", "rendezvous", true, kp);
    if (!r)
        return;
    check_keys(l, r, kp, rendezvous_keys);
    load_schedule(l, r, kp);
    opt_u32(l, r, kp, "max_in_flight", false, true, &c->rendezvous.max_in_flight);

    yaml_node_t *d = get_mapping(l, r, kp, "default", false, dkp);
    if (!d)
        return;
    check_keys(l, d, dkp, default_keys);
    bool ok = opt_string(l, d, dkp, "label", true, &c->rendezvous.default_label) != NULL;
    kp_key(skp, dkp, "score");
    yaml_node_t *sv = map_get(l, d, "score", NULL);
    if (!sv) {
        report(l, d, skp, "missing required key");
        ok = false;
    } else if (!parse_number(sv, &c->rendezvous.default_score)) {
        if (sv->type == YAML_SCALAR_NODE && !is_null(sv))
            report(l, sv, skp, "expected a number, got '%s'", scalar_text(sv));
        else
            report(l, sv, skp, "expected a number, got %s", describe(sv));
        ok = false;
    }
    c->rendezvous.has_default = ok;
}

static void load_reload(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX];
    yaml_node_t *r = get_mapping(l, root, "", "reload", false, kp);
    if (!r)
        return;
    check_keys(l, r, kp, reload_keys);
    opt_u32(l, r, kp, "warmup_requests", false, false, &l->cfg->reload.warmup_requests);
    opt_u32(l, r, kp, "warmup_budget_ms", false, true, &l->cfg->reload.warmup_budget_ms);
}

static void load_http(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], lkp[KP_MAX];
    yaml_node_t *h = get_mapping(l, root, "", "http", false, kp);
    if (!h)
        return;
    check_keys(l, h, kp, http_keys);
    const yaml_node_t *v = opt_string(l, h, kp, "listen", true, &l->cfg->http.listen);
    if (!v)
        return;
    /* Checked here so that a typo fails the reload, not the bind after it. */
    const char *colon = strrchr(l->cfg->http.listen, ':');
    size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
    bool ok = colon && digits > 0 && digits <= 5 && !colon[1 + digits] &&
              strtol(colon + 1, NULL, 10) <= 65535;
    if (!ok) {
        kp_key(lkp, kp, "listen");
        report(l, v, lkp, "expected HOST:PORT (e.g. 127.0.0.1:8080), got '%s'",
               l->cfg->http.listen);
    }
}

static char *derived(loader *l, const char *service, const char *suffix)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s", service, suffix) < 0) {
        l->oom = true;
        return NULL;
    }
    return s;
}

static void fill_defaults(loader *l)
{
    rv_config *c = l->cfg;
    if (c->service) {
        struct {
            char **slot;
            const char *suffix;
        } d[] = {
            {&c->streams.requests, ".requests"}, {&c->streams.scores, ".scores"},
            {&c->streams.results, ".results"},   {&c->streams.archive, ".archive"},
            {&c->streams.alerts, ".alerts"},     {&c->streams.dead_letter, ".dead-letter"},
            {&c->streams.control, ".control"},   {&c->streams.group, "-rendezvous"},
        };
        for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
            if (!*d[i].slot)
                *d[i].slot = derived(l, c->service, d[i].suffix);
    }
    if (!c->state_dir)
        c->state_dir = abs_path(l, "state");
    if (!c->input.format)
        c->input.format = dup_or_oom(l, "json");
}

static void load_root(loader *l, const yaml_node_t *root)
{
    rv_config *c = l->cfg;
    if (root->type != YAML_MAPPING_NODE) {
        report(l, root, "", "expected a mapping at the top of the file, got %s", describe(root));
        return;
    }
    check_keys(l, root, "", root_keys);

    const yaml_node_t *sv = opt_string(l, root, "", "service", true, &c->service);
    if (sv && !valid_topic(c->service)) {
        /* The service name becomes part of topic names by default. */
        report(l, sv, "service",
               "'%s' may contain only letters, digits, '.', '_' and '-' (it names topics)",
               c->service);
    }
    char *state = NULL;
    if (opt_string(l, root, "", "state_dir", false, &state)) {
        c->state_dir = abs_path(l, state);
    }
    free(state);
    opt_bool(l, root, "", "watch", &c->watch);

    load_streams(l, root);
    load_input(l, root);
    load_models(l, root);
    load_rendezvous(l, root);
    load_reload(l, root);
    load_http(l, root);
}

/* ---------------------------------------------------------------- public */

static void report_parser(loader *l, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        l->oom = true;
        return;
    }
    const char *problem = p->problem ? p->problem : "syntax error";
    if (p->context)
        report_at(l, p->problem_mark.line, p->problem_mark.column, "(yaml)",
                  "%s %s (line %zu, column %zu)", problem, p->context,
                  p->context_mark.line + 1, p->context_mark.column + 1);
    else
        report_at(l, p->problem_mark.line, p->problem_mark.column, "(yaml)", "%s", problem);
}

static char *config_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *dir = realpath(dirname(copy), NULL);
    free(copy);
    return dir;
}

rv_config *rv_config_load(const char *path, rv_errors *errs)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rv_errors_add(errs, "%s: cannot open config file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        /* fopen() accepts a directory; reading it would only say "input error". */
        rv_errors_add(errs, "%s: cannot read config file: %s", path, strerror(EISDIR));
        fclose(f);
        return NULL;
    }
    rv_config *cfg = calloc(1, sizeof *cfg);
    char *dir = config_dir(path);
    if (!cfg || !dir) {
        int e = errno;
        rv_errors_add(errs, "%s: cannot resolve the config directory: %s", path, strerror(e));
        free(cfg);
        free(dir);
        fclose(f);
        return NULL;
    }
    cfg->path = strdup(path);
    cfg->dir = dir;
    cfg->watch = false;
    cfg->streams.partitions = 4;
    cfg->input.max_body_bytes = 65536;
    cfg->rendezvous.max_in_flight = 10000;
    cfg->reload.warmup_requests = 200;
    cfg->reload.warmup_budget_ms = 10000;

    loader l = {.file = path, .dir = dir, .cfg = cfg, .oom = cfg->path == NULL};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        l.oom = true;
    } else {
        yaml_parser_set_input_file(&parser, f);
        if (!yaml_parser_load(&parser, &doc)) {
            report_parser(&l, &parser);
        } else {
            l.doc = &doc;
            yaml_node_t *root = yaml_document_get_root_node(&doc);
            if (!root) {
                report_at(&l, 0, 0, "(root)",
                          "the file is empty; expected a mapping with service, streams, input, "
                          "models and rendezvous");
            } else {
                load_root(&l, root);
                /* A second document would be silently unused: refuse it. */
                yaml_document_t extra;
                if (!yaml_parser_load(&parser, &extra)) {
                    report_parser(&l, &parser);
                } else {
                    yaml_node_t *r2 = yaml_document_get_root_node(&extra);
                    if (r2)
                        report(&l, r2, "(yaml)",
                               "a second YAML document; the config is a single document");
                    yaml_document_delete(&extra);
                }
            }
            yaml_document_delete(&doc);
            l.doc = NULL;
        }
        yaml_parser_delete(&parser);
    }
    fclose(f);

    if (l.n_errs == 0)
        fill_defaults(&l);
    if (l.oom)
        report_at(&l, 0, 0, "(root)", "out of memory while loading");
    if (l.n_errs > 0) {
        flush_errors(&l, errs);
        rv_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static void free_kv(rv_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void rv_config_free(rv_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->dir);
    free(cfg->service);
    free(cfg->state_dir);
    free(cfg->streams.brokers);
    free(cfg->streams.requests);
    free(cfg->streams.scores);
    free(cfg->streams.results);
    free(cfg->streams.archive);
    free(cfg->streams.alerts);
    free(cfg->streams.dead_letter);
    free(cfg->streams.control);
    free(cfg->streams.group);
    free_kv(cfg->streams.kafka, cfg->streams.n_kafka);
    free(cfg->input.format);
    for (size_t i = 0; i < cfg->input.n_features; i++)
        free(cfg->input.features[i]);
    free(cfg->input.features);
    for (size_t i = 0; i < cfg->n_models; i++) {
        rv_model_conf *m = &cfg->models[i];
        free(m->name);
        free(m->plugin);
        free(m->builtin);
        free_kv(m->params, m->n_params);
    }
    free(cfg->models);
    for (size_t i = 0; i < cfg->rendezvous.n_schedule; i++)
        free(cfg->rendezvous.schedule[i].model);
    free(cfg->rendezvous.schedule);
    free(cfg->rendezvous.default_label);
    free(cfg->http.listen);
    free(cfg);
}

const rv_model_conf *rv_config_model(const rv_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->n_models; i++)
        if (cfg->models[i].name && !strcmp(cfg->models[i].name, name))
            return &cfg->models[i];
    return NULL;
}
