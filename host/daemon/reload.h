/*
 * reload.h - building the next generation beside the serving one, on a
 * thread of its own, so that requests keep flowing while new models load
 * and warm. Models that did not change are shared as they are, warm; new or
 * changed ones are created, warmed by their plugin, then warmed on real
 * recent traffic (the host's ring of recent requests, each of which must score ok
 * within the warm-up budget), and their workers started. Only a complete
 * generation is handed back; on any failure nothing of the serving one has
 * changed, and the error names the file:line or plugin and the reason.
 */
#ifndef RV_RELOAD_H
#define RV_RELOAD_H

#include "generation.h"
#include "pipeline.h"

typedef struct rv_reloader rv_reloader;

/* Generations it builds are numbered from first_id on; with scorer_model
 * set, each from the config as rv_config_scorer() makes it. */
rv_reloader *rv_reloader_new(const char *config_path, const rv_config_env *env,
                             const char *scorer_model, rv_pipeline *pipe, uint64_t first_id);
void rv_reloader_free(rv_reloader *r); /* waits for a build in progress */

/* Asks for a reload against `current`. A reload asked for while one is
 * building is queued (one at most), never raced. Thread: the control loop. */
void rv_reloader_request(rv_reloader *r, rv_generation *current);

/* The outcome of a finished build, if any: 1 with *out set to the new
 * generation (the caller owns the reference), -1 when it failed (logged),
 * 0 when nothing finished. A queued request starts right after, against
 * `current`. Thread: the control loop. */
int rv_reloader_poll(rv_reloader *r, rv_generation **out, rv_generation *current);

/* The reason of the last failed reload, "" after a success. */
/* Whether a build is running (the input thread's). */
int rv_reloader_building(const rv_reloader *r);

void rv_reloader_last_error(rv_reloader *r, char *buf, size_t size);

/* Warms the models of g that have no workers yet on up to
 * reload.warmup_requests of the pipeline's recent requests, then starts
 * their workers. 0, or -1 with the model and reason in err. Used at
 * start-up too, when the ring is still empty. */
int rv_generation_warm_and_start(rv_generation *g, rv_pipeline *pipe, char *err, size_t err_size);

#endif
