/*
 * config_yaml.c - the config loader's tools: error collection in file order
 * with file:line:column and key path, and the readers of YAML nodes the
 * table walker (config_walk.c) builds on: strings, numbers, paths, topic
 * names, key checks with near-miss hints, key-value maps. Must never touch
 * the running service, keep global state, or lose an error: a message that
 * cannot be kept turns into "out of memory while loading".
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
    push_error(l, line0 + 1, col0 + 1, msg);
}

static int cmp_pending(const void *a, const void *b)
{
    const pending_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Like rv_errors_add with a finished line, saying whether it was kept. */
static bool errors_take(rv_errors *errs, char *line)
{
    if (!errs) {
        free(line);
        return true;
    }
    char **grown = line ? realloc(errs->lines, (errs->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(line);
        return false;
    }
    errs->lines = grown;
    errs->lines[errs->n++] = line;
    return true;
}

/* Errors are handed over in file order: that is the order a user fixes them. */
void cy_flush_errors(loader *l, rv_errors *errs)
{
    bool lost = false;
    if (l->oom) {
        size_t before = l->n_errs;
        cy_report_at(l, 0, 0, "(root)", "out of memory while loading");
        lost = l->n_errs == before;
    }
    qsort(l->errs, l->n_errs, sizeof *l->errs, cmp_pending);
    for (size_t i = 0; i < l->n_errs; i++)
        if (!errors_take(errs, l->errs[i].msg))
            lost = true;
    free(l->errs);
    l->errs = NULL;
    l->n_errs = l->cap_errs = 0;
    if (lost) {
        /* A line was lost to the very shortage it would report. */
        char *line = NULL;
        if (asprintf(&line, "%s:1:1: (root): out of memory while loading", l->file) < 0)
            line = NULL;
        errors_take(errs, line);
    }
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
static void kp_mark_cut(char *out, int written)
{
    if (written < 0 || written >= KP_MAX)
        memcpy(out + KP_MAX - 4, "...", 4);
}

void cy_kp_key(char *out, const char *parent, const char *key)
{
    int r = parent && *parent ? snprintf(out, KP_MAX, "%s.%s", parent, key)
                              : snprintf(out, KP_MAX, "%s", key);
    kp_mark_cut(out, r);
}

void cy_kp_index(char *out, const char *parent, size_t i)
{
    kp_mark_cut(out, snprintf(out, KP_MAX, "%s[%zu]", parent, i));
}

/* s with each ${NAME} replaced by the environment's NAME and $${ by ${,
 * malloc'd; NULL when a NAME is unset or malformed (reported at n). */
static char *expand(loader *l, const yaml_node_t *n, const char *s)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = malloc(cap);
    if (!out) {
        l->oom = true;
        return NULL;
    }
    while (*s) {
        const char *value = NULL;
        size_t take = 1, vlen = 1;
        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            value = "${", vlen = 2, take = 3;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            size_t nlen = end ? (size_t)(end - s - 2) : 0;
            char name[256];
            int valid = nlen > 0 && nlen < sizeof name && !isdigit((unsigned char)s[2]);
            for (size_t i = 0; valid && i < nlen; i++)
                valid = isalnum((unsigned char)s[2 + i]) || s[2 + i] == '_';
            if (!valid) {
                cy_report(l, n, "(environment)",
                          "'${' starts an environment variable: ${NAME}, NAME of letters, digits "
                          "and _; write $${ for a literal ${");
                free(out);
                return NULL;
            }
            memcpy(name, s + 2, nlen);
            name[nlen] = '\0';
            if (!(value = getenv(name))) {
                cy_report(l, n, "(environment)", "${%s}: %s is not set in the environment", name,
                          name);
                free(out);
                return NULL;
            }
            vlen = strlen(value), take = nlen + 3;
        } else {
            value = s;
        }
        if (len + vlen + 1 > cap) {
            char *grown = realloc(out, cap = 2 * (len + vlen + 1));
            if (!grown) {
                free(out);
                l->oom = true;
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, value, vlen);
        len += vlen, s += take;
    }
    out[len] = '\0';
    return out;
}

void cy_expand_environment(loader *l, yaml_document_t *doc)
{
    for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++) {
        if (n->type != YAML_SCALAR_NODE || !strchr((const char *)n->data.scalar.value, '$'))
            continue;
        char *x = expand(l, n, (const char *)n->data.scalar.value);
        if (!x)
            continue;
        free(n->data.scalar.value); /* libyaml's, from malloc */
        n->data.scalar.value = (yaml_char_t *)x;
        n->data.scalar.length = strlen(x);
    }
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

static size_t map_len(const yaml_node_t *m)
{
    return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

size_t cy_seq_len(const yaml_node_t *s)
{
    return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

/* A value with an embedded NUL would be cut short by every C consumer. */
static bool scalar_has_nul(const yaml_node_t *n)
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

/* "dead-letter" for "dead_letter", "Brokers" for "brokers": the usual slips. */
static const char *near_miss(const cf_key *keys, const char *key)
{
    for (const cf_key *r = keys; r->name; r++) {
        const char *a = r->name, *k = key;
        while (*a && *k) {
            int ca = *a == '-' ? '_' : tolower((unsigned char)*a);
            int ck = *k == '-' ? '_' : tolower((unsigned char)*k);
            if (ca != ck)
                break;
            a++, k++;
        }
        if (!*a && !*k)
            return r->name;
    }
    return NULL;
}

static const cf_key *find_key(const cf_key *keys, const char *name)
{
    for (const cf_key *r = keys; r->name; r++)
        if (!strcmp(r->name, name))
            return r;
    return NULL;
}

/* "a, b, c" of the table's key names, in table order. */
static char *join_keys(loader *l, const cf_key *keys)
{
    size_t len = 1;
    for (const cf_key *r = keys; r->name; r++)
        len += strlen(r->name) + 2;
    char *out = malloc(len);
    if (!out) {
        l->oom = true;
        return NULL;
    }
    out[0] = '\0';
    for (const cf_key *r = keys; r->name; r++) {
        if (r != keys)
            strcat(out, ", ");
        strcat(out, r->name);
    }
    return out;
}

/* Keys must be scalars, unique, and (when keys is given) known. */
void cy_check_keys(loader *l, const yaml_node_t *m, const char *kpath, const cf_key *keys)
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
        if (dup || !keys || find_key(keys, name))
            continue;
        char *list = join_keys(l, keys);
        const char *hint = near_miss(keys, name);
        if (hint)
            cy_report(l, k, kp, "unknown key '%s' (did you mean '%s'? allowed: %s)", name, hint,
                      list ? list : "?");
        else
            cy_report(l, k, kp, "unknown key '%s' (allowed: %s)", name, list ? list : "?");
        free(list);
    }
}

bool cy_want_string(loader *l, const yaml_node_t *v, const char *kp)
{
    if (v->type != YAML_SCALAR_NODE || cy_is_null(v)) {
        cy_report(l, v, kp, "expected a string, got %s", cy_describe(v));
        return false;
    }
    if (scalar_has_nul(v)) {
        cy_report(l, v, kp, "the value contains a NUL character");
        return false;
    }
    if (!*cy_scalar_text(v)) {
        cy_report(l, v, kp, "must not be empty");
        return false;
    }
    return true;
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
        if (!*key || scalar_has_nul(k)) {
            cy_report(l, k, kp, "keys must be non-empty strings");
            continue;
        }
        if (v->type != YAML_SCALAR_NODE) {
            cy_report(l, v, kp, "expected a scalar value, got %s", cy_describe(v));
            continue;
        }
        if (scalar_has_nul(v)) {
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
