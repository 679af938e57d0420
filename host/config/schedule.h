/*
 * schedule.h - the one check of a rendezvous schedule, shared by the config
 * loader and the control stream: every entry names a model that exists and
 * is not the decoy, no model is listed twice, and within_ms never decreases
 * from one entry to the next.
 *
 * rv_schedule_check() is pure: it reads its arguments and writes one verdict
 * per entry. It must never allocate, format a message or know where the
 * schedule came from (a YAML file, a JSON record): each caller words the
 * reasons and says where they are in its own terms.
 */
#ifndef RV_SCHEDULE_H
#define RV_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rv_schedule_item {
    const char *model; /* NULL: not given (reported elsewhere); not checked */
    int64_t within_ms; /* < 0: not given; neither checked nor compared with */
} rv_schedule_item;

typedef struct rv_schedule_model {
    const char *name;  /* NULL: a model without a usable name, never matched */
    bool never_chosen; /* a recorder builtin (the decoy) */
} rv_schedule_model;

typedef enum rv_schedule_problem {
    RV_SCHEDULE_OK = 0,
    RV_SCHEDULE_NO_MODEL,     /* no model of that name */
    RV_SCHEDULE_NEVER_CHOSEN, /* names a recorder (the decoy), which is never chosen */
    RV_SCHEDULE_TWICE,        /* names the same model as an earlier entry */
} rv_schedule_problem;

typedef struct rv_schedule_verdict {
    rv_schedule_problem model; /* the first of: no model, decoy, twice */
    size_t model_index;        /* index into models (when the model exists) */
    size_t first;              /* TWICE: the earlier entry naming that model */
    bool decreasing;           /* within_ms less than that of the entry before */
    size_t before;             /* decreasing: that entry before (with within_ms) */
} rv_schedule_verdict;

/* Checks items[0..n) against models[0..n_models) and fills verdicts[0..n).
 * The first model of a name is the one matched. Returns how many entries
 * have a problem (model or within_ms). */
size_t rv_schedule_check(const rv_schedule_item *items, size_t n, const rv_schedule_model *models,
                         size_t n_models, rv_schedule_verdict *verdicts);

#endif
