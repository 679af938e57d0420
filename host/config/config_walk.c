/*
 * config_walk.c - the one walker of the key table (config_schema.c): reads a
 * YAML mapping row by row into the struct at the row's offset, checking the
 * keys (unknown with near-miss hints, duplicates, non-scalars), types,
 * bounds, required keys and non-empty or unique lists, runs each row's and
 * each section's rule, fills defaults and frees. Every problem is reported
 * and the walk goes on. Must never know a key by name, hold a default, or
 * leave an allocation the generic free cannot find.
 */
#include "config_internal.h"

#include "errbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void *cf_slot(void *base, const cf_key *k)
{
    return (char *)base + k->offset;
}

static size_t *count_slot(void *base, const cf_key *k)
{
    return (size_t *)((char *)base + k->n_offset);
}

const cf_key *cf_row(const cf_section *s, const char *name)
{
    for (const cf_key *k = s->keys; k->name; k++)
        if (!strcmp(k->name, name))
            return k;
    return NULL;
}

/* ---------------------------------------------------------------- scalars */

static const char *integer_kind(const cf_key *k)
{
    return k->flags & CF_POSITIVE ? "a positive" : "a non-negative";
}

/* Integers are taken only as written plain in decimal: "2" quoted is a
 * string, and 1e3 or 0x10 are more likely mistakes than intent. */
bool cf_parse_u32(const yaml_node_t *v, const cf_key *k, uint32_t *out, char *why, size_t why_size)
{
    why[0] = '\0';
    if (v->type != YAML_SCALAR_NODE || !cy_is_plain(v) || cy_is_null(v))
        return false;
    const char *s = cy_scalar_text(v);
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end == s || *end || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
        return false;
    uint32_t max = k->max ? k->max : UINT32_MAX;
    if (errno == ERANGE || n > (long long)max) {
        rv_errf(why, why_size, "is out of range (at most %u)", (unsigned)max);
        return false;
    }
    if (n < 0 || ((k->flags & CF_POSITIVE) && n == 0)) {
        rv_errf(why, why_size, "%s",
                k->flags & CF_POSITIVE ? "must be a positive integer (1 or more)"
                                       : "must be a non-negative integer (0 or more)");
        return false;
    }
    *out = (uint32_t)n;
    return true;
}

static bool read_u32(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    char why[RV_ERR_SIZE];
    if (cf_parse_u32(v, k, cf_slot(base, k), why, sizeof why))
        return true;
    if (why[0])
        cy_report(l, v, kp, "%s %s", cy_scalar_text(v), why);
    else if (v->type == YAML_SCALAR_NODE && !cy_is_plain(v))
        cy_report(l, v, kp, "expected %s integer, got a quoted string '%s'", integer_kind(k),
                  cy_scalar_text(v));
    else if (v->type == YAML_SCALAR_NODE && !cy_is_null(v))
        cy_report(l, v, kp, "expected %s integer, got '%s'", integer_kind(k), cy_scalar_text(v));
    else
        cy_report(l, v, kp, "expected %s integer, got %s", integer_kind(k), cy_describe(v));
    return false;
}

static bool read_bool(loader *l, const yaml_node_t *v, const char *kp, bool *slot)
{
    if (v->type == YAML_SCALAR_NODE && cy_is_plain(v)) {
        const char *s = cy_scalar_text(v);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *slot = true;
            return true;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *slot = false;
            return true;
        }
    }
    if (v->type == YAML_SCALAR_NODE && !cy_is_null(v))
        cy_report(l, v, kp, "expected a boolean (true or false), got '%s'", cy_scalar_text(v));
    else
        cy_report(l, v, kp, "expected a boolean (true or false), got %s", cy_describe(v));
    return false;
}

static bool read_number(loader *l, const yaml_node_t *v, const char *kp, double *slot)
{
    if (cy_parse_number(v, slot))
        return true;
    if (v->type == YAML_SCALAR_NODE && !cy_is_null(v))
        cy_report(l, v, kp, "expected a number, got '%s'", cy_scalar_text(v));
    else
        cy_report(l, v, kp, "expected a number, got %s", cy_describe(v));
    return false;
}

static bool read_string(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                        void *base)
{
    if (!cy_want_string(l, v, kp))
        return false;
    char **slot = cf_slot(base, k);
    if (k->type == CF_PATH) {
        free(*slot);
        *slot = cy_abs_path(l, cy_scalar_text(v));
    } else {
        cy_set_str(l, slot, cy_scalar_text(v));
    }
    return *slot != NULL;
}

/* ---------------------------------------------------------------- collections */

static bool want_sequence(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        cy_report(l, v, kp, "expected %s, got %s", k->many, cy_describe(v));
        return false;
    }
    if (cy_seq_len(v) == 0 && (k->flags & CF_NONEMPTY)) {
        cy_report(l, v, kp, "must list at least one %s", k->one);
        return false;
    }
    return true;
}

static bool read_list(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    if (!want_sequence(l, k, v, kp))
        return false;
    size_t n = cy_seq_len(v);
    if (n == 0)
        return true;
    char ***slot = cf_slot(base, k);
    size_t *count = count_slot(base, k);
    const yaml_node_t **seen = calloc(n, sizeof *seen);
    *slot = calloc(n, sizeof **slot);
    if (!seen || !*slot) {
        free(seen);
        l->oom = true;
        return false;
    }
    char ikp[KP_MAX];
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = cy_node_at(l, *it);
        cy_kp_index(ikp, kp, i);
        if (!e || !cy_want_string(l, e, ikp))
            continue;
        const yaml_node_t *first = NULL;
        for (size_t j = 0; j < i && !first && (k->flags & CF_UNIQUE); j++)
            if (seen[j] && !strcmp(cy_scalar_text(seen[j]), cy_scalar_text(e)))
                first = seen[j];
        if (first) {
            cy_report(l, e, ikp, "duplicate %s '%s' (first at line %zu, column %zu)", k->one,
                      cy_scalar_text(e), first->start_mark.line + 1, first->start_mark.column + 1);
            continue;
        }
        seen[i] = e;
        char *s = cy_dup_or_oom(l, cy_scalar_text(e));
        if (s)
            (*slot)[(*count)++] = s;
    }
    free(seen);
    return true;
}

static bool read_seq(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    if (!want_sequence(l, k, v, kp))
        return false;
    size_t n = cy_seq_len(v);
    if (n == 0)
        return true;
    const cf_section *s = k->section;
    char **slot = cf_slot(base, k);
    size_t *count = count_slot(base, k);
    *slot = calloc(n, s->size);
    if (!*slot) {
        l->oom = true;
        return false;
    }
    char ikp[KP_MAX];
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = cy_node_at(l, *it);
        cy_kp_index(ikp, kp, i);
        if (!e)
            continue;
        if (e->type != YAML_MAPPING_NODE) {
            cy_report(l, e, ikp, "expected %s, got %s", s->what, cy_describe(e));
            continue;
        }
        void *elem = *slot + (*count)++ * s->size;
        cf_scalar_defaults(s, elem);
        cf_walk(l, s, e, ikp, elem);
    }
    return true;
}

static bool want_mapping(loader *l, const yaml_node_t *v, const char *kp)
{
    if (v->type == YAML_MAPPING_NODE)
        return true;
    cy_report(l, v, kp, "expected a mapping, got %s", cy_describe(v));
    return false;
}

/* ---------------------------------------------------------------- the walk */

static bool read_value(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    switch (k->type) {
    case CF_STRING:
    case CF_PATH: return read_string(l, k, v, kp, base);
    case CF_U32: return read_u32(l, k, v, kp, base);
    case CF_BOOL: return read_bool(l, v, kp, cf_slot(base, k));
    case CF_NUMBER: return read_number(l, v, kp, cf_slot(base, k));
    case CF_KV:
        if (!want_mapping(l, v, kp))
            return false;
        cy_load_kv(l, v, kp, cf_slot(base, k), count_slot(base, k), k->flags & CF_FILES);
        return true;
    case CF_LIST: return read_list(l, k, v, kp, base);
    case CF_SECTION:
        if (!want_mapping(l, v, kp))
            return false;
        cf_walk(l, k->section, v, kp, cf_slot(base, k));
        return true;
    case CF_SEQ: return read_seq(l, k, v, kp, base);
    }
    return false;
}

void cf_walk(loader *l, const cf_section *s, const yaml_node_t *m, const char *kp, void *base)
{
    char kkp[KP_MAX];
    cy_check_keys(l, m, kp, s->keys);
    for (const cf_key *k = s->keys; k->name; k++) {
        cy_kp_key(kkp, kp, k->name);
        const yaml_node_t *v = cy_map_get(l, m, k->name, NULL);
        if (!v) {
            if (k->flags & CF_REQUIRED)
                cy_report(l, m, kkp, "missing required key");
            continue;
        }
        if (read_value(l, k, v, kkp, base) && k->check)
            k->check(l, k, v, kkp, base);
    }
    if (s->check)
        s->check(l, NULL, m, kp, base);
}

/* ---------------------------------------------------------------- defaults, free */

void cf_scalar_defaults(const cf_section *s, void *base)
{
    for (const cf_key *k = s->keys; k->name; k++) {
        if (k->type == CF_SECTION)
            cf_scalar_defaults(k->section, cf_slot(base, k));
        if (!k->def)
            continue;
        if (k->type == CF_U32)
            *(uint32_t *)cf_slot(base, k) = (uint32_t)strtoul(k->def, NULL, 10);
        else if (k->type == CF_BOOL)
            *(bool *)cf_slot(base, k) = !strcmp(k->def, "true");
        else if (k->type == CF_NUMBER)
            *(double *)cf_slot(base, k) = strtod(k->def, NULL);
    }
}

/* The default with "{service}" replaced by the service's name. */
static char *expand(loader *l, const char *def)
{
    static const char var[] = "{service}";
    const char *at = strstr(def, var);
    const char *service = l->cfg->service ? l->cfg->service : "";
    char *s = NULL;
    if (!at)
        return cy_dup_or_oom(l, def);
    if (asprintf(&s, "%.*s%s%s", (int)(at - def), def, service, at + sizeof var - 1) < 0) {
        l->oom = true;
        return NULL;
    }
    return s;
}

void cf_string_defaults(loader *l, const cf_section *s, void *base)
{
    for (const cf_key *k = s->keys; k->name; k++) {
        char **slot = cf_slot(base, k); /* dereferenced only for pointer types */
        if (k->type == CF_SECTION) {
            cf_string_defaults(l, k->section, slot);
        } else if (k->type == CF_SEQ) {
            for (size_t i = 0; i < *count_slot(base, k); i++)
                cf_string_defaults(l, k->section, *slot + i * k->section->size);
        } else if (k->type == CF_STRING && k->def && !*slot) {
            *slot = expand(l, k->def);
        } else if (k->type == CF_PATH && k->def && !*slot) {
            *slot = cy_abs_path(l, k->def);
        }
    }
}

void cf_free(const cf_section *s, void *base)
{
    for (const cf_key *k = s->keys; k->name; k++) {
        void *slot = cf_slot(base, k);
        switch (k->type) {
        case CF_STRING:
        case CF_PATH: free(*(char **)slot); break;
        case CF_U32:
        case CF_BOOL:
        case CF_NUMBER: break;
        case CF_KV: {
            rv_kv *kv = *(rv_kv **)slot;
            for (size_t i = 0; i < *count_slot(base, k); i++) {
                free(kv[i].key);
                free(kv[i].value);
            }
            free(kv);
            break;
        }
        case CF_LIST: {
            char **list = *(char ***)slot;
            for (size_t i = 0; i < *count_slot(base, k); i++)
                free(list[i]);
            free(list);
            break;
        }
        case CF_SECTION: cf_free(k->section, slot); break;
        case CF_SEQ: {
            char *arr = *(char **)slot;
            for (size_t i = 0; i < *count_slot(base, k); i++)
                cf_free(k->section, arr + i * k->section->size);
            free(arr);
            break;
        }
        }
    }
}
