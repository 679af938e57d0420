/*
 * model.h - one configured model: its plugin module, its instances, its
 * version and its state.
 *
 * A model is built whole or not at all (load, create every instance, warm
 * every instance); a failure releases everything it took. Models are
 * reference-counted because a reload keeps an unchanged model as it is and
 * shares it between the old and the new generation.
 */
#ifndef RV_MODEL_H
#define RV_MODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "module.h"
#include "records.h"

struct rv_workers;

typedef enum {
    RV_MODEL_LOADING,
    RV_MODEL_WARMING,
    RV_MODEL_LIVE,
    RV_MODEL_DRAINING,
    RV_MODEL_UNLOADED,
    RV_MODEL_FAILED,
} rv_model_state;

const char *rv_model_state_name(rv_model_state s);

/* Where plugins' emit() records go: the output stage in the daemon, a
 * discarding sink in `check`. Lives longer than every model. */
typedef struct rv_model rv_model;

typedef struct rv_emit_sink {
    int (*emit)(void *ctx, const rv_model *model, const rv_request *about, const char *stream,
                const void *key, size_t key_len, const void *value, size_t value_len);
    void *ctx;
} rv_emit_sink;

struct rv_model {
    char *name;
    rv_module *module;
    const rv_builtin *builtin;    /* what it is when a builtin, NULL for a plugin */
    int is_canary, is_decoy;      /* from builtin's props: REFERENCE, RECORDER */
    int never_shed;               /* its queue grows rather than shed a request (the decoy's) */
    int is_remote;                /* scored elsewhere (remote.h): no module, no instances */
    char version[9];              /* short content hash, shown in records */
    char identity[RV_SHA256_HEX]; /* what must match for a reload to reuse the model */
    rv_kv *params;
    size_t n_params;
    uint32_t n_instances; /* as configured */
    uint32_t max_batch, queue_size;
    int isolated;     /* isolation: process; instances are rv_proc (proc.h) */
    void **instances; /* n_created live instances */
    uint32_t n_created;
    const char *const *labels; /* of instance 0; all instances must agree */
    uint32_t n_labels;
    char **proc_labels; /* the host's copy of them when isolated */
    rv_model_json json; /* name, version and labels as record fragments */
    rv_host_services services;
    const rv_emit_sink *sink;
    /* What serves the model: the pipeline's workers, opaque here. Set by
     * whoever starts serving it, together with a release hook that the
     * last reference runs before the instances are destroyed (so no score()
     * is running then). NULL in `check`. */
    struct rv_workers *workers;
    void (*release_workers)(struct rv_workers *w);
    _Atomic int state;          /* rv_model_state */
    pthread_mutex_t error_lock; /* guards last_error */
    char last_error[256];       /* the last error it answered, "" if none */
    atomic_int refs;
};

/* The identity of a model conf without building it: SHA-256 over the plugin
 * content, the params (and the content of files they name), the features
 * and the instance settings (and the decoy's retention, the config's
 * archive section). 0, or -1 with err. */
int rv_model_identity(const rv_config *cfg, const rv_model_conf *mc, char out[RV_SHA256_HEX],
                      char *err, size_t err_size);

/* Loads, creates and warms. Returns NULL with the reason in err. */
rv_model *rv_model_build(const rv_config *cfg, const rv_model_conf *mc, const rv_emit_sink *sink,
                         char *err, size_t err_size);

/* Records the last error the model answered (shown by /v1/models).
 * Thread: any. */
void rv_model_set_last_error(rv_model *m, const char *error);
/* Copies it into buf ("" when none). Thread: any. */
void rv_model_last_error(rv_model *m, char *buf, size_t size);

rv_model *rv_model_ref(rv_model *m);
/* The last reference destroys every instance and unloads the plugin. */
void rv_model_unref(rv_model *m);

/* Whether the model can answer now: live, and for an isolated model, at
 * least one of its processes live (the others may be restarting). */
int rv_model_can_answer(const rv_model *m);

#endif
