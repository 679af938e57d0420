/*
 * config_internal.h - what the config loader's files share: the loader's
 * state, error collection and the YAML helpers (config_yaml.c, prefix cy_).
 * Not for use outside host/core/config*.c.
 */
#ifndef RV_CONFIG_INTERNAL_H
#define RV_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
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

/* Marks from libyaml are 0-based; editors and humans count from 1. */
void cy_report_at(loader *l, size_t line0, size_t col0, const char *kpath, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define cy_report(l, node, kpath, ...)                                                             \
    cy_report_at((l), (node)->start_mark.line, (node)->start_mark.column, (kpath), __VA_ARGS__)

void cy_push_error(loader *l, size_t line, size_t col, char *msg);
int cy_cmp_pending(const void *a, const void *b);
void cy_flush_errors(loader *l, rv_errors *errs);
char *cy_dup_or_oom(loader *l, const char *s);
void cy_set_str(loader *l, char **slot, const char *s);
void cy_kp_mark_cut(char *out, int written);
void cy_kp_key(char *out, const char *parent, const char *key);
void cy_kp_index(char *out, const char *parent, size_t i);
yaml_node_t *cy_node_at(loader *l, int id);
const char *cy_scalar_text(const yaml_node_t *n);
bool cy_is_plain(const yaml_node_t *n);
bool cy_is_null(const yaml_node_t *n);
const char *cy_describe(const yaml_node_t *n);
size_t cy_map_len(const yaml_node_t *m);
size_t cy_seq_len(const yaml_node_t *s);
bool cy_scalar_has_nul(const yaml_node_t *n);
yaml_node_t *cy_map_get(loader *l, const yaml_node_t *m, const char *key, yaml_node_t **key_node);
bool cy_in_list(const char *const *list, const char *s);
char *cy_join_list(const char *const *list);
const char *cy_near_miss(const char *const *allowed, const char *key);
void cy_check_keys(loader *l, const yaml_node_t *m, const char *kpath, const char *const *allowed);
yaml_node_t *cy_get_mapping(loader *l, const yaml_node_t *parent, const char *parent_kp,
                            const char *key, bool required, char *kp_out);
bool cy_want_string(loader *l, const yaml_node_t *v, const char *kp);
const yaml_node_t *cy_opt_string(loader *l, const yaml_node_t *m, const char *parent_kp,
                                 const char *key, bool required, char **slot);
bool cy_parse_u32(const yaml_node_t *v, bool positive, uint32_t *out, const char **why);
const yaml_node_t *cy_opt_u32(loader *l, const yaml_node_t *m, const char *parent_kp,
                              const char *key, bool required, bool positive, uint32_t *slot);
void cy_opt_bool(loader *l, const yaml_node_t *m, const char *parent_kp, const char *key,
                 bool *slot);
bool cy_parse_number(const yaml_node_t *v, double *out);
char *cy_abs_path(loader *l, const char *rel);
bool cy_valid_topic(const char *s);
void cy_load_kv(loader *l, const yaml_node_t *m, const char *kpath, rv_kv **out, size_t *n_out,
                bool resolve_files);

#endif
