/*
 * pipeline.h - the long-lived parts that every generation's models feed:
 * the output producer and the rendezvous. Built once at start-up, outlives
 * every generation.
 */
#ifndef RV_PIPELINE_H
#define RV_PIPELINE_H

#include "model.h"
#include "output.h"
#include "recent.h"
#include "stats.h"

struct rv_rendezvous;

typedef struct rv_pipeline {
    rv_output *output;
    struct rv_rendezvous *rendezvous;
    rv_emit_sink sink;        /* where models' emit() goes: worker.c's attribution */
    rv_recent *recent;        /* the last requests read, for warm-up; may be NULL */
    rv_stats *stats;          /* model process restarts are counted here; may be NULL */
    struct rv_remote *remote; /* where remote models' requests wait; NULL: none allowed */
    /* the live evaluation in this host, told each answer as it is sent
     * (rather than reading it back); NULL: none */
    _Atomic(struct rv_evaluation *) evaluation;
} rv_pipeline;

#endif
