/*
 * config.h - the service configuration: YAML file in, validated structs out.
 *
 * rv_config_load() parses one file with libyaml and validates it whole. Every
 * problem found is recorded (never only the first) with file:line:column, the
 * key path (e.g. "models[2].params.model_file") and the reason. The loader
 * never touches the running service: it only builds a new rv_config.
 * Paths in the file (plugin, state_dir, params that name existing files) are
 * resolved relative to the directory of the config file.
 */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct rv_kv {
    char *key;
    char *value;
} rv_kv;

typedef struct rv_model_conf {
    char *name;
    char *plugin;  /* absolute path of the .so, NULL for a builtin */
    char *builtin; /* "canary" or "decoy", NULL for a plugin */
    rv_kv *params; /* values that name existing files are absolute paths */
    size_t n_params;
    uint32_t instances;  /* default 1 */
    uint32_t max_batch;  /* default 32 */
    uint32_t queue_size; /* bounded queue per instance, default 1024 */
    int line;            /* where the model's entry starts, for messages */
} rv_model_conf;

typedef struct rv_schedule_entry {
    char *model;
    uint32_t within_ms;
} rv_schedule_entry;

typedef struct rv_config {
    char *path;      /* the config file as given */
    char *dir;       /* absolute directory of the config file */
    char *service;   /* required */
    char *state_dir; /* absolute; default "<dir>/state" */
    bool watch;

    struct {
        char *brokers;       /* "embedded" or a broker list; required */
        char *requests;      /* default "<service>.requests" */
        char *scores;        /* default "<service>.scores" */
        char *results;       /* default "<service>.results" */
        char *archive;       /* default "<service>.archive" */
        char *alerts;        /* default "<service>.alerts" */
        char *dead_letter;   /* default "<service>.dead-letter" */
        char *control;       /* default "<service>.control" */
        char *group;         /* consumer group, default "<service>-rendezvous" */
        uint32_t partitions; /* topics created by the embedded broker, default 4 */
        rv_kv *kafka;        /* passed to librdkafka as is */
        size_t n_kafka;
    } streams;

    struct {
        char *format;    /* only "json" for now */
        char **features; /* required, non-empty, unique */
        size_t n_features;
        uint32_t max_body_bytes; /* default 65536 */
    } input;

    rv_model_conf *models;
    size_t n_models;

    struct {
        rv_schedule_entry *schedule; /* required, non-empty */
        size_t n_schedule;
        bool has_default;
        char *default_label;
        double default_score;
        uint32_t max_in_flight; /* default 10000 */
    } rendezvous;

    struct {
        /* New models replay up to this many of the decoy's recent requests
         * before they go live (0: none), each must score ok, all within
         * the budget. */
        uint32_t warmup_requests;  /* default 200 */
        uint32_t warmup_budget_ms; /* default 10000 */
    } reload;

    struct {
        char *listen; /* NULL when no http section */
    } http;
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
rv_config *rv_config_load(const char *path, rv_errors *errs);
void rv_config_free(rv_config *cfg);

/* The model conf of that name, or NULL. */
const rv_model_conf *rv_config_model(const rv_config *cfg, const char *name);

#endif
