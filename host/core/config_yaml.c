/*
 * config_yaml.c - the config loader's tools: error collection in file order
 * with file:line:column and key path, and the typed readers of YAML nodes
 * (strings, integers, booleans, numbers, paths, key lists with near-miss
 * hints). Must never touch the running service or keep global state.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

void cy_push_error(loader *l, size_t line, size_t col, char *msg)
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
void cy_report_at(loader *l, size_t line0, size_t col0, const char *kpath, const char *fmt, ...)
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
    cy_push_error(l, line0 + 1, col0 + 1, msg);
}

int cy_cmp_pending(const void *a, const void *b)
{
    const pending_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Errors are handed over in file order: that is the order a user fixes them. */
void cy_flush_errors(loader *l, rv_errors *errs)
{
    qsort(l->errs, l->n_errs, sizeof *l->errs, cy_cmp_pending);
    for (size_t i = 0; i < l->n_errs; i++) {
        rv_errors_add(errs, "%s", l->errs[i].msg);
        free(l->errs[i].msg);
    }
    free(l->errs);
    l->errs = NULL;
    l->n_errs = l->cap_errs = 0;
}

/* ---------------------------------------------------------------- helpers */

char *cy_dup_or_oom(loader *l, const char *s)
{
    char *d = strdup(s);
    if (!d)
        l->oom = true;
    return d;
}

void cy_set_str(loader *l, char **slot, const char *s)
{
    free(*slot);
    *slot = cy_dup_or_oom(l, s);
}

/* An absurdly deep or long path is cut, and the cut shown, rather than
 * failing the message that carries it. */
void cy_kp_mark_cut(char *out, int written)
{
    if (written < 0 || written >= KP_MAX)
        memcpy(out + KP_MAX - 4, "...", 4);
}

void cy_kp_key(char *out, const char *parent, const char *key)
{
    int r = parent && *parent ? snprintf(out, KP_MAX, "%s.%s", parent, key)
                              : snprintf(out, KP_MAX, "%s", key);
    cy_kp_mark_cut(out, r);
}

void cy_kp_index(char *out, const char *parent, size_t i)
{
    cy_kp_mark_cut(out, snprintf(out, KP_MAX, "%s[%zu]", parent, i));
}

yaml_node_t *cy_node_at(loader *l, int id)
{
    return yaml_document_get_node(l->doc, id);
}

const char *cy_scalar_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

bool cy_is_plain(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool cy_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || !cy_is_plain(n))
        return false;
    const char *s = cy_scalar_text(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *cy_describe(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_SCALAR_NODE:
        if (cy_is_null(n))
            return "null";
        return cy_is_plain(n) ? "a scalar" : "a quoted string";
    default: return "nothing";
    }
}

size_t cy_map_len(const yaml_node_t *m)
{
    return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

size_t cy_seq_len(const yaml_node_t *s)
{
    return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

/* A value with an embedded NUL would be cut short by every C consumer. */
bool cy_scalar_has_nul(const yaml_node_t *n)
{
    return strlen(cy_scalar_text(n)) != n->data.scalar.length;
}

/* First pair with that scalar key; duplicates are reported by check_keys. */
yaml_node_t *cy_map_get(loader *l, const yaml_node_t *m, const char *key, yaml_node_t **key_node)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = cy_node_at(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(cy_scalar_text(k), key)) {
            if (key_node)
                *key_node = k;
            return cy_node_at(l, p->value);
        }
    }
    return NULL;
}

bool cy_in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

char *cy_join_list(const char *const *list)
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
const char *cy_near_miss(const char *const *allowed, const char *key)
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
void cy_check_keys(loader *l, const yaml_node_t *m, const char *kpath, const char *const *allowed)
{
    char kp[KP_MAX];
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = cy_node_at(l, p->key);
        if (!k)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            cy_report(l, k, kpath, "keys must be scalars, got %s", cy_describe(k));
            continue;
        }
        const char *name = cy_scalar_text(k);
        cy_kp_key(kp, kpath, name);
        bool dup = false;
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = cy_node_at(l, q->key);
            if (prev && prev->type == YAML_SCALAR_NODE && !strcmp(cy_scalar_text(prev), name)) {
                cy_report(l, k, kp, "duplicate key '%s' (first at line %zu, column %zu)", name,
                          prev->start_mark.line + 1, prev->start_mark.column + 1);
                dup = true;
                break;
            }
        }
        if (dup || !allowed || cy_in_list(allowed, name))
            continue;
        char *list = cy_join_list(allowed);
        const char *hint = cy_near_miss(allowed, name);
        if (hint)
            cy_report(l, k, kp, "unknown key '%s' (did you mean '%s'? allowed: %s)", name, hint,
                      list ? list : "?");
        else
            cy_report(l, k, kp, "unknown key '%s' (allowed: %s)", name, list ? list : "?");
        free(list);
    }
}

/* The mapping under key, or NULL (reported when present but not a mapping). */
yaml_node_t *cy_get_mapping(loader *l, const yaml_node_t *parent, const char *parent_kp,
                            const char *key, bool required, char *kp_out)
{
    cy_kp_key(kp_out, parent_kp, key);
    yaml_node_t *v = cy_map_get(l, parent, key, NULL);
    if (!v) {
        if (required)
            cy_report(l, parent, kp_out, "missing required key");
        return NULL;
    }
    if (v->type != YAML_MAPPING_NODE) {
        cy_report(l, v, kp_out, "expected a mapping, got %s", cy_describe(v));
        return NULL;
    }
    return v;
}

bool cy_want_string(loader *l, const yaml_node_t *v, const char *kp)
{
    if (v->type != YAML_SCALAR_NODE || cy_is_null(v)) {
        cy_report(l, v, kp, "expected a string, got %s", cy_describe(v));
        return false;
    }
    if (cy_scalar_has_nul(v)) {
        cy_report(l, v, kp, "the value contains a NUL character");
        return false;
    }
    if (!*cy_scalar_text(v)) {
        cy_report(l, v, kp, "must not be empty");
        return false;
    }
    return true;
}

/* Returns the value node when present and a valid string, storing a copy. */
const yaml_node_t *cy_opt_string(loader *l, const yaml_node_t *m, const char *parent_kp,
                                 const char *key, bool required, char **slot)
{
    char kp[KP_MAX];
    cy_kp_key(kp, parent_kp, key);
    yaml_node_t *v = cy_map_get(l, m, key, NULL);
    if (!v) {
        if (required)
            cy_report(l, m, kp, "missing required key");
        return NULL;
    }
    if (!cy_want_string(l, v, kp))
        return NULL;
    cy_set_str(l, slot, cy_scalar_text(v));
    return v;
}

/* Integers are taken only as written plain in decimal: "2" quoted is a
 * string, and 1e3 or 0x10 are more likely mistakes than intent. */
bool cy_parse_u32(const yaml_node_t *v, bool positive, uint32_t *out, const char **why)
{
    if (v->type != YAML_SCALAR_NODE || !cy_is_plain(v) || cy_is_null(v)) {
        *why = NULL;
        return false;
    }
    const char *s = cy_scalar_text(v);
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

const yaml_node_t *cy_opt_u32(loader *l, const yaml_node_t *m, const char *parent_kp,
                              const char *key, bool required, bool positive, uint32_t *slot)
{
    char kp[KP_MAX];
    cy_kp_key(kp, parent_kp, key);
    yaml_node_t *v = cy_map_get(l, m, key, NULL);
    if (!v) {
        if (required)
            cy_report(l, m, kp, "missing required key");
        return NULL;
    }
    const char *why = NULL;
    if (cy_parse_u32(v, positive, slot, &why))
        return v;
    if (why)
        cy_report(l, v, kp, "%s %s", cy_scalar_text(v), why);
    else if (v->type == YAML_SCALAR_NODE && !cy_is_plain(v))
        cy_report(l, v, kp, "expected %s integer, got a quoted string '%s'",
                  positive ? "a positive" : "a non-negative", cy_scalar_text(v));
    else if (v->type == YAML_SCALAR_NODE && !cy_is_null(v))
        cy_report(l, v, kp, "expected %s integer, got '%s'",
                  positive ? "a positive" : "a non-negative", cy_scalar_text(v));
    else
        cy_report(l, v, kp, "expected %s integer, got %s",
                  positive ? "a positive" : "a non-negative", cy_describe(v));
    return NULL;
}

void cy_opt_bool(loader *l, const yaml_node_t *m, const char *parent_kp, const char *key,
                 bool *slot)
{
    char kp[KP_MAX];
    cy_kp_key(kp, parent_kp, key);
    yaml_node_t *v = cy_map_get(l, m, key, NULL);
    if (!v)
        return;
    if (v->type == YAML_SCALAR_NODE && cy_is_plain(v)) {
        const char *s = cy_scalar_text(v);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *slot = true;
            return;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *slot = false;
            return;
        }
    }
    if (v->type == YAML_SCALAR_NODE && !cy_is_null(v))
        cy_report(l, v, kp, "expected a boolean (true or false), got '%s'", cy_scalar_text(v));
    else
        cy_report(l, v, kp, "expected a boolean (true or false), got %s", cy_describe(v));
}

bool cy_parse_number(const yaml_node_t *v, double *out)
{
    if (v->type != YAML_SCALAR_NODE || !cy_is_plain(v) || cy_is_null(v))
        return false;
    const char *s = cy_scalar_text(v);
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
char *cy_abs_path(loader *l, const char *rel)
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

bool cy_valid_topic(const char *s)
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
void cy_load_kv(loader *l, const yaml_node_t *m, const char *kpath, rv_kv **out, size_t *n_out,
                bool resolve_files)
{
    cy_check_keys(l, m, kpath, NULL);
    size_t cap = cy_map_len(m);
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
        yaml_node_t *k = cy_node_at(l, p->key), *v = cy_node_at(l, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            continue; /* reported by check_keys */
        const char *key = cy_scalar_text(k);
        cy_kp_key(kp, kpath, key);
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup = dup || !strcmp(kv[i].key, key);
        if (dup)
            continue;
        if (!*key || cy_scalar_has_nul(k)) {
            cy_report(l, k, kp, "keys must be non-empty strings");
            continue;
        }
        if (v->type != YAML_SCALAR_NODE) {
            cy_report(l, v, kp, "expected a scalar value, got %s", cy_describe(v));
            continue;
        }
        if (cy_scalar_has_nul(v)) {
            cy_report(l, v, kp, "the value contains a NUL character");
            continue;
        }
        const char *val = cy_scalar_text(v);
        char *stored = NULL;
        if (resolve_files && *val) {
            /* Plugins run with another working directory than the user had
             * in mind; a path that exists now is handed over absolute. */
            char *abs = cy_abs_path(l, val);
            struct stat st;
            if (abs && stat(abs, &st) == 0 && S_ISREG(st.st_mode))
                stored = abs;
            else
                free(abs);
        }
        if (!stored)
            stored = cy_dup_or_oom(l, val);
        char *skey = cy_dup_or_oom(l, key);
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
