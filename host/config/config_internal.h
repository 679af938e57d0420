/*
 * config_internal.h - what the config loader's files share, and nothing
 * outside host/config/config*.c may include: the loader's state, the key
 * table's types (one row per key: config_schema.c), the generic walker that
 * reads, defaults, documents and frees by that table (config_walk.c,
 * config_doc.c), and the error collection and YAML readers (config_yaml.c).
 */
#ifndef RV_CONFIG_INTERNAL_H
#define RV_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "config.h"

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

/* ---------------------------------------------------------------- the table */

typedef enum cf_type {
    CF_STRING,  /* char *: a non-empty scalar */
    CF_PATH,    /* char *: a string made absolute against the config's dir */
    CF_U32,     /* uint32_t: plain decimal only */
    CF_BOOL,    /* bool: true or false */
    CF_NUMBER,  /* double: a finite plain number */
    CF_KV,      /* rv_kv * and its size_t count: scalar keys to scalar values */
    CF_LIST,    /* char ** and its size_t count: a sequence of strings */
    CF_SECTION, /* a mapping read by a nested table, slots on the same base */
    CF_SEQ,     /* an array and its size_t count: a sequence of mappings */
} cf_type;

enum {
    CF_REQUIRED = 1 << 0, /* missing is an error */
    CF_POSITIVE = 1 << 1, /* CF_U32: at least 1 (else at least 0) */
    CF_NONEMPTY = 1 << 2, /* CF_LIST, CF_SEQ: at least one item */
    CF_UNIQUE = 1 << 3,   /* CF_LIST: no item twice */
    CF_FILES = 1 << 4,    /* CF_KV: values naming an existing file become absolute */
};

typedef struct cf_key cf_key;
typedef struct cf_section cf_section;

/* A rule beyond the type. For a key: called with its row, the value node
 * and the section's base once the value was read without error. For a
 * section (row NULL): called with the mapping node once all its keys were
 * read. Reports with cy_report; must not allocate into the config but may
 * set a slot the table does not read (e.g. a model's line). */
typedef void (*cf_hook)(loader *l, const cf_key *k, const yaml_node_t *node, const char *kp,
                        void *base);

struct cf_key {
    const char *name;
    cf_type type;
    size_t offset;   /* of the slot, from the section's base */
    size_t n_offset; /* CF_KV, CF_LIST, CF_SEQ: of the size_t count */
    unsigned flags;
    uint32_t max; /* CF_U32: the largest value accepted; 0 for UINT32_MAX */
    /* The default as written in YAML; NULL for none. In a string,
     * "{service}" stands for the service's name; a CF_PATH default is
     * relative to the config's directory like any path. */
    const char *def;
    const cf_section *section; /* CF_SECTION, CF_SEQ */
    /* CF_LIST, CF_SEQ: the words of their messages, e.g. "models" as in
     * "expected a sequence of models" and "model" as in "must list at
     * least one model". */
    const char *many;
    const char *one;
    cf_hook check;
    const char *help; /* one or two sentences, for docs/config.md */
};

struct cf_section {
    const char *path; /* for the doc: "", "streams", "models[]" */
    const char *help;
    const cf_key *keys; /* ends with a row whose name is NULL */
    size_t size;        /* CF_SEQ: of one element */
    const char *what;   /* CF_SEQ: what an element must be, e.g. "a mapping {model, within_ms}" */
    cf_hook check;
};

/* The whole file (config_schema.c). config_doc.c prints it as Markdown
 * (rv_config_write_doc, config.h). */
extern const cf_section cf_root;
/* One model, one schedule entry (for rv_config_scorer). */
extern const cf_section cf_model_section, cf_schedule_section;

/* config_walk.c: reads mapping m into base by the table, reporting every
 * problem. Scalar defaults are set before (cf_scalar_defaults; the walker
 * does it for each element of a sequence), string defaults after. */
void cf_walk(loader *l, const cf_section *s, const yaml_node_t *m, const char *kp, void *base);
/* Scalar defaults of s and its nested sections (not sequences). */
void cf_scalar_defaults(const cf_section *s, void *base);
/* String and path defaults still unset, through sequences too. */
void cf_string_defaults(loader *l, const cf_section *s, void *base);
/* Frees every slot the table names, through sequences too. */
void cf_free(const cf_section *s, void *base);
/* The slot of k in base. */
void *cf_slot(void *base, const cf_key *k);
/* The text a CF_STRING or CF_PATH key's slot holds (NULL: not given). */
static inline const char *cf_slot_text(const cf_key *k, void *base)
{
    return *(char **)cf_slot(base, k);
}
/* The row of that name in s, or NULL. */
const cf_key *cf_row(const cf_section *s, const char *name);
/* Integers: plain decimal within [CF_POSITIVE ? 1 : 0, max]. Pure; on
 * failure why holds the reason, or "" when the node is no integer at all. */
bool cf_parse_u32(const yaml_node_t *v, const cf_key *k, uint32_t *out, char *why, size_t why_size);

/* ---------------------------------------------------------------- config_rules.c */

/* The rules that span keys, as cf_hook: on a model's mapping, on the model
 * list, on the schedule, on the default answer. */
void cf_check_model(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp, void *base);
void cf_check_model_names(loader *l, const cf_key *k, const yaml_node_t *seq, const char *kp,
                          void *base);
void cf_check_schedule(loader *l, const cf_key *k, const yaml_node_t *seq, const char *kp,
                       void *base);
void cf_check_default(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp, void *base);
void cf_check_delivery(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                       void *base);
/* config_schema_evaluation.c: the evaluation section's table;
 * config_schema_access.c: the http and control sections'. */
extern const cf_section cf_evaluation_section, cf_http_section, cf_control_section, cf_site_section,
    cf_alerts_section, cf_promotion_section;

void cf_check_evaluation_labels(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                                void *base);
void cf_check_http_tls(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                       void *base);

/* ---------------------------------------------------------------- config_yaml.c */

/* Marks from libyaml are 0-based; editors and humans count from 1. */
void cy_report_at(loader *l, size_t line0, size_t col0, const char *kpath, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define cy_report(l, node, kpath, ...)                                                             \
    cy_report_at((l), (node)->start_mark.line, (node)->start_mark.column, (kpath), __VA_ARGS__)

/* Hands the errors over in file order, adding "out of memory while
 * loading" when the load ran out of memory or a line could not be added. */
void cy_flush_errors(loader *l, rv_errors *errs);
char *cy_dup_or_oom(loader *l, const char *s);
void cy_set_str(loader *l, char **slot, const char *s);
void cy_kp_key(char *out, const char *parent, const char *key);
void cy_kp_index(char *out, const char *parent, size_t i);
/* Each ${NAME} in the document's scalars replaced by the environment's
 * NAME ($${ for a literal ${); an unset NAME is reported where it is. */
void cy_expand_environment(loader *l, yaml_document_t *doc);
yaml_node_t *cy_node_at(loader *l, int id);
const char *cy_scalar_text(const yaml_node_t *n);
bool cy_is_plain(const yaml_node_t *n);
bool cy_is_null(const yaml_node_t *n);
const char *cy_describe(const yaml_node_t *n);
size_t cy_seq_len(const yaml_node_t *s);
yaml_node_t *cy_map_get(loader *l, const yaml_node_t *m, const char *key, yaml_node_t **key_node);
/* Keys must be scalars and unique, and known when keys is given. */
void cy_check_keys(loader *l, const yaml_node_t *m, const char *kpath, const cf_key *keys);
bool cy_want_string(loader *l, const yaml_node_t *v, const char *kp);
bool cy_parse_number(const yaml_node_t *v, double *out);
char *cy_abs_path(loader *l, const char *rel);
bool cy_valid_topic(const char *s);
void cy_load_kv(loader *l, const yaml_node_t *m, const char *kpath, rv_kv **out, size_t *n_out,
                bool resolve_files);

#endif
