/*
 * rvbench.h - what the parts of rvbench share: its options
 * (rvbench_options.c), a result record as read (rvbench_result.c: the
 * fields of docs/records.md it measures) and latency distributions.
 */
#ifndef RVBENCH_H
#define RVBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct options {
    const char *bootstrap, *requests, *results, *data, *json, *label, *id_prefix;
    const char *labels, *truth; /* --labels TOPIC --truth FILE: a label per request */
    uint64_t count;             /* 0: by duration */
    double duration_s;          /* 0: by count */
    double rate;                /* requests/s, 0: as fast as the window allows */
    uint64_t window;            /* max requests without a result, 0: unbounded */
    uint64_t warmup;            /* first results left out of the statistics */
    double timeout_s;           /* wait without progress before giving up */
    double max_seconds;         /* hard bound on production */
    int windows_ms;             /* time series by send time, 0: none */
    pid_t hup_pid;
    double hup_at_s;
    int from_beginning;
    const char *pconf[32]; /* -X key=value for the producer */
    int n_pconf;
} options;

/* Fills o from the command line (defaults for the rest); 0, or -1 after
 * saying why on stderr. */
int rvbench_parse_options(int argc, char **argv, options *o);

/* ---- what it sends (rvbench_input.c) ---- */

typedef struct body {
    char *bytes;
    size_t len;
} body;

/* The non-empty lines of a file; NULL after saying why on stderr. */
body *rvbench_load_lines(const char *path, size_t *n_out);
/* Each line's "label" string, in order; NULL after saying why. */
body *rvbench_load_truth(const char *path, size_t *n_out);
void rvbench_free_lines(body *v, size_t n);

/* ---- a result record as read ---- */

enum { R_PREFERRED, R_FALLBACK, R_DEFAULT, R_NONE, R_OTHER, R_COUNT };
extern const char *const reason_names[R_COUNT];

#define MAX_MODELS 16
typedef struct parsed {
    char id[128];
    char model[128]; /* chosen model, "" when null or absent */
    int reason;
    int error_status;
    int64_t latency_us; /* -1: absent */
    int64_t schedule_version;
    int n_models;
    char model_name[MAX_MODELS][64];
    int64_t model_latency_us[MAX_MODELS];
    int n_shed, n_timeout, n_error; /* model statuses in this result */
} parsed;

/* Reads one result record's JSON into p; 0, or -1 when it is not one. */
int rvbench_parse_result(const void *buf, size_t len, parsed *p);

/* ---- latency distributions ---- */

typedef struct dist {
    size_t n;
    double p50, p99, p999, max, mean; /* in the unit given */
} dist;

/* Nearest-rank percentiles of v[0..n) (sorted in place), divided by unit. */
dist rvbench_distribution(int64_t *v, size_t n, double unit);
/* As a JSON member "name": {...}, or null when empty. */
void rvbench_json_dist(FILE *f, const char *name, const dist *d, const char *unit);
/* As a line of the printed table. */
void rvbench_print_dist(const char *name, const dist *d, const char *unit);

#endif
