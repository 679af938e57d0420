/*
 * evaluator_read.h - the few fields the evaluation needs of a score,
 * result or label record, read by a streaming parse (yajl's callbacks): no
 * tree is built for the thousands of records a second it reads. As
 * yajl_tree_get would find them: a root key's first occurrence, of the
 * right type. Its strings are kept whatever their length: the record's
 * store grows to the length of the longest record read.
 */
#ifndef RV_EVALUATOR_READ_H
#define RV_EVALUATOR_READ_H

#include <stddef.h>
#include <stdint.h>

#include "evaluation.h"

#define RV_EVAL_READ_ANSWERS 16 /* answers kept, the first valid ones */
#define RV_EVAL_READ_MODELS 64  /* models a result names */
#define RV_EVAL_READ_STORE 8192 /* the store's first size */

typedef struct rv_eval_record {
    /* root strings; NULL when absent or not a string */
    const char *id, *model, *version, *status, *label;
    int has_schedule_version; /* an integer */
    int64_t schedule_version;
    int has_time; /* "time": an integer (ms since the epoch) */
    int64_t time;
    int has_latency; /* "latency_us": an integer (a score record's) */
    int64_t latency_us;
    size_t n_answers; /* answers with a string label and a number score */
    const char *labels[RV_EVAL_READ_ANSWERS];
    double scores[RV_EVAL_READ_ANSWERS];
    size_t n_models; /* entries of "models" whose value has a string status */
    const char *models[RV_EVAL_READ_MODELS];
    const char *model_status[RV_EVAL_READ_MODELS];
    /* the strings above live here (rv_eval_record_free) */
    char *store;
    size_t used, cap;
} rv_eval_record;

/* What a record read is. */
typedef enum {
    RV_EVAL_READ_OK,         /* a JSON object: what it holds of the fields is in r */
    RV_EVAL_READ_EMPTY,      /* no bytes, or only white space */
    RV_EVAL_READ_MALFORMED,  /* not JSON: cut short, or not JSON at all */
    RV_EVAL_READ_NOT_OBJECT, /* JSON whose root is not an object (an array, a number...) */
    RV_EVAL_READ_NO_MEMORY,  /* its strings could not be kept */
} rv_eval_read;

/* json (NULL when len is 0) read into r, whose store it grows when needed. */
rv_eval_read rv_eval_record_read(const void *json, size_t len, rv_eval_record *r);
/* A label record read into r: 0 when it is one (r->id, r->label and its
 * time to join), 1 with *why when it is none (rv_evaluation_refuse_label),
 * -1 when out of memory. Whatever its length: a label too long to be one
 * of the evaluation's is read, and counted unknown when joined. */
int rv_eval_label_read(const void *json, size_t len, rv_eval_record *r, rv_label_refusal *why);
/* The store; r is then as zeroed. */
void rv_eval_record_free(rv_eval_record *r);

#endif
