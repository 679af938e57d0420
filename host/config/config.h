/*
 * config.h - the service configuration: YAML file in, validated structs out.
 *
 * rv_config_load() parses one file with libyaml and validates it whole. Every
 * problem found is recorded (never only the first) with file:line:column, the
 * key path (e.g. "models[2].params.model_file") and the reason. The loader
 * never touches the running service: it only builds a new rv_config.
 * Paths in the file (plugin, state_dir, params that name existing files) are
 * resolved relative to the directory of the config file.
 *
 * Every key's type, bounds, default and meaning are in one table,
 * host/config/config_schema.c, and nowhere else; docs/config.md is generated
 * from it (rendezvous config-doc). The comments below say only what a field
 * holds. This interface must never grow a key the table does not have.
 */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include "registry.h"

/* What the top (main(), a test) hands down to every load: the builtins
 * compiled in. Lives longer than every config loaded with it. */
typedef struct rv_config_env {
    const rv_builtins *builtins;
} rv_config_env;

typedef struct rv_kv {
    char *key;
    char *value;
} rv_kv;

typedef struct rv_model_conf {
    char *name;
    char *plugin;  /* absolute path of the .so, NULL for a builtin */
    char *sha256;  /* the plugin's pinned digest (hex), or NULL */
    char *builtin; /* "canary" or "decoy", NULL for a plugin */
    rv_kv *params; /* values that name existing files are absolute paths */
    size_t n_params;
    uint32_t instances;
    uint32_t max_batch;
    uint32_t queue_size;    /* bounded queue per instance */
    char *isolation;        /* "process" or "none" */
    char *sandbox;          /* "strict" or "off" */
    uint32_t max_score_ms;  /* a score() call longer kills its process */
    uint32_t max_memory_mb; /* address space of a model process, 0: no limit */
    bool remote;            /* scored elsewhere: its answers arrive on the scores stream */
    char **labels;          /* a remote model's labels (a plugin names its own) */
    size_t n_labels;
    int line; /* where the model's entry starts, for messages */
} rv_model_conf;

typedef struct rv_schedule_entry {
    char *model;
    uint32_t within_ms;
} rv_schedule_entry;

typedef struct rv_config {
    const rv_config_env *env; /* what it was loaded with */
    char *path;               /* the config file as given */
    char *dir;                /* absolute directory of the config file */
    char *service;
    char *state_dir; /* absolute */
    bool watch;
    uint32_t shutdown_timeout_ms;

    struct {
        char *brokers;  /* "embedded" or a broker list */
        char *requests; /* topic names */
        char *scores;
        char *results;
        char *archive;
        char *alerts;
        char *dead_letter;
        char *control;
        char *labels;        /* true labels, for evaluation */
        char *evaluation;    /* the evaluation's figures */
        char *group;         /* consumer group */
        uint32_t partitions; /* of topics the embedded broker creates */
        rv_kv *kafka;        /* passed to librdkafka as is */
        size_t n_kafka;
        rv_kv *kafka_files; /* librdkafka properties whose values are in files (absolute) */
        size_t n_kafka_files;
    } streams;

    struct {
        char *format;
        char **features;
        size_t n_features;
        uint32_t max_body_bytes;
        uint32_t max_id_bytes;
        uint32_t max_age_ms; /* 0: off */
    } input;

    rv_model_conf *models;
    size_t n_models;

    struct {
        rv_schedule_entry *schedule;
        size_t n_schedule;
        bool has_default;
        char *default_label;
        double default_score;
        uint32_t max_in_flight;
        uint32_t background_nice; /* of every model's threads but the first scheduled */
        bool colocate;            /* the preferred model's path on one CPU at low load */
    } rendezvous;

    struct {
        uint32_t warmup_requests;
        uint32_t warmup_budget_ms;
    } reload;

    struct {
        char *mode; /* "at_least_once" or "exactly_once" */
        uint32_t transaction_ms;
        uint32_t transaction_requests; /* 0: by time alone */
        uint32_t transaction_timeout_ms;
        char *transactional_id; /* NULL: <streams.group>.<host name> */
    } delivery;

    struct {
        uint32_t max_mb;    /* the decoy's segment files kept, in MiB; 0: no bound */
        uint32_t max_age_s; /* 0: no bound */
    } archive;

    struct {
        char **labels; /* NULL when no evaluation section */
        size_t n_labels;
        uint32_t max_label_delay_s;
        uint32_t store_mb;
        uint32_t interval_ms;
        uint32_t report_s;
        uint32_t baseline_answers;
        double alert_margin;
        double sample; /* the share of requests evaluated (by id), 0 < sample <= 1 */
        uint32_t alert_min_answers;
        bool in_host;
    } evaluation;

    struct {
        double false_alarms_per_day; /* per check and model, on traffic that does not change */
        uint32_t test_interval_s;    /* at most one test per check this often */
        uint32_t for_tests;          /* tests in a row to raise, and to clear */
        uint32_t keep_firing_for_s;  /* raised: cleared no sooner after last seen */
    } alerts;

    struct {
        char *metric; /* NULL when no promotion section */
        char *mode;   /* propose or apply */
        double margin, alpha, max_error_rate, max_shed_rate;
        uint32_t min_labels, max_labels;
        uint32_t cooldown_s, hold_s;
        char **pinned;
        size_t n_pinned;
    } promotion;

    struct {
        char *name; /* NULL when no site section */
        char **peers;
        size_t n_peers;
        /* not keys: the site whose mirrored requests `rendezvous takeover`
         * answers (NULL: this site's own), and that site's hosts' group,
         * whose offsets its checkpoints translate */
        char *taken_over_from;
        char *takeover_group;
    } site;

    struct {
        char *listen;               /* NULL when no http section */
        char *tokens_file;          /* bearer tokens and their scopes; NULL: every endpoint open */
        char *cert_file, *key_file; /* TLS (PEM); NULL: plain HTTP */
        char *client_ca_file;       /* client certificates must chain to it; NULL: none asked */
        uint32_t max_connections_per_ip; /* 0: no limit */
    } http;

    struct {
        char *key_file; /* schedule changes must be signed with it; NULL: need not */
    } control;
} rv_config;

/* The list of errors of one load. Each message is a whole line:
 * "file:line:column: key.path: reason". */
typedef struct rv_errors {
    char **lines;
    size_t n;
} rv_errors;

void rv_errors_add(rv_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rv_errors_clear(rv_errors *errs);

/* Returns a config on success, NULL with at least one line in errs on
 * failure. */
rv_config *rv_config_load(const char *path, const rv_config_env *env, rv_errors *errs);
void rv_config_free(rv_config *cfg);

/* cfg as `rendezvous scorer --model NAME` serves it: that model alone (run
 * here, even when the host's config says remote), scheduled alone, in the
 * consumer group <service>.scorer.<NAME>, without the host's http.listen.
 * Takes cfg; NULL (cfg freed) with
 * the reason in errs when NAME is no plugin model of it. */
rv_config *rv_config_scorer(rv_config *cfg, const char *name, rv_errors *errs);
/* cfg for `rendezvous takeover --from SITE`: the requests SITE's hosts
 * read, as mirrored here (`<SITE>.<requests>`), in a group of its own
 * (`<group>.takeover.<SITE>`), every record it writes marked
 * `rv-taken-over-from: SITE`; no HTTP listener and no evaluation (the site's
 * own hosts have them). cfg must have a site section. Frees cfg and returns
 * NULL with errs on failure. */
rv_config *rv_config_takeover(rv_config *cfg, const char *site, rv_errors *errs);

/* Removes the models of every RV_BUILTIN_RECORDER builtin (for `rendezvous
 * rate`, which must not open the decoy's archive it reads). */
void rv_config_drop_recorders(rv_config *cfg);

/* The builtin a model conf names, NULL for a plugin. */
const rv_builtin *rv_config_builtin(const rv_config *cfg, const rv_model_conf *mc);

/* The name of the model whose builtin is RV_BUILTIN_REFERENCE (the canary),
 * or NULL. */
const char *rv_config_reference(const rv_config *cfg);

/* The model conf of that name, or NULL. */
const rv_model_conf *rv_config_model(const rv_config *cfg, const char *name);

/* Writes the Markdown reference of every key (docs/config.md) to out.
 * 0, or -1 when writing failed. */
int rv_config_write_doc(FILE *out);

#endif
