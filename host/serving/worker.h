/*
 * worker.h - the threads that call a model's score(). One worker per
 * configured instance, each with a bounded queue; a worker takes up to
 * max_batch queued requests and calls score() once. A full queue sheds the
 * request (status shed) at once: a slow model delays only itself.
 */
#ifndef RV_WORKER_H
#define RV_WORKER_H

#include <sched.h>
#include <stddef.h>

#include "inflight.h"
#include "pipeline.h"

typedef struct rv_workers rv_workers;

/* Starts the workers of m (stored in m->workers). 0 or -1 with err. */
int rv_workers_start(rv_model *m, rv_pipeline *pipe, char *err, size_t err_size);

/* Lets the workers finish their queues, then joins them. */
void rv_workers_stop(rv_workers *w);

/* Queues requests fs[0..n) for the model, its slot `slot` of each, spread
 * over its workers (at most one wake each). Returns how many were shed: a
 * request that finds every queue full has its slot marked shed, its score
 * record sent and its answer posted, exactly as if the model had answered. */
size_t rv_workers_dispatch(rv_workers *w, rv_inflight *const *fs, size_t n, size_t slot);

/* Requests queued and not yet taken, over all workers of the model. */
size_t rv_workers_queued(rv_workers *w);

/* Gives the preferred model's path the CPU first: the workers and model
 * processes of the first model in g's schedule run at nice 0, those of
 * every other model (the fallbacks, the canary, the decoy) at
 * background_nice, so that a request's first answer is not kept waiting
 * behind the others' work. Call whenever g goes into service. 0, or -1
 * with the first failure in err (the others are still set). */
int rv_workers_prioritize(const struct rv_generation *g, int background_nice, char *err,
                          size_t err_size);

/* Keeps the model's workers and the first thread of each of its model
 * processes on CPU cpu (cpu >= 0); or (cpu < 0) lets its model processes'
 * threads kept there run on every CPU of `all` again (the host's own
 * threads are the caller's: rv_threads_unpin of the host). 0, or the errno
 * of the first that failed. */
int rv_workers_set_cpu(rv_workers *w, int cpu, const cpu_set_t *all);

/* What the model's workers and the first threads of its model processes
 * have asked of a CPU so far (rv_threads_demand_ns: ran and waited, ns). */
unsigned long long rv_workers_demand_ns(rv_workers *w);

/* The emit() of every model's host services while a pipeline runs: records
 * about a request of the batch being scored hold back its commit. */
int rv_worker_emit(void *ctx, const rv_model *model, const rv_request *about, const char *stream,
                   const void *key, size_t key_len, const void *value, size_t value_len);

#endif
