/*
 * rendezvous_plugin.h - the model plugin ABI of Rendezvous.
 *
 * A model is a shared object that exports exactly one function,
 * rv_plugin_entry(), returning a pointer to a constant rv_plugin descriptor.
 * The host dlopen()s a private copy of the file, calls the entry function,
 * checks the descriptor's rv_abi_header and only then touches anything else.
 *
 * This header is self-contained (only <stddef.h> and <stdint.h>) and
 * append-only: members are only ever added at the end of a struct, the minor
 * version is bumped when that happens, and nothing is ever removed or
 * reordered without bumping the major version.
 *
 * Conventions used on every member below:
 *   Owner:  who allocates and frees the memory.
 *   Thread: on which thread the host calls it, and what may run concurrently.
 * The plugin never allocates memory that the host frees, and the host never
 * frees memory that the plugin allocated.
 *
 * Error reporting: functions return RV_OK (0) or a small negative RV_E*
 * code, and write a NUL-terminated human-readable reason into a
 * caller-supplied buffer (err, err_size), truncating if needed.
 *
 * Change log (dated, newest last):
 *   2026-11-23  ABI 1.0: first version.
 */
#ifndef RENDEZVOUS_PLUGIN_H
#define RENDEZVOUS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "RVZP" read as a little-endian 32-bit integer. */
#define RV_PLUGIN_MAGIC 0x505a5652u
#define RV_PLUGIN_ABI_MAJOR 1
#define RV_PLUGIN_ABI_MINOR 0

/* The one symbol a plugin exports. */
#define RV_PLUGIN_ENTRY_SYMBOL "rv_plugin_entry"

/*
 * Sizes of the C types that cross the boundary, packed in one integer, so
 * that a plugin built for another data model is refused before use:
 * bits 24-31 sizeof(void *), 16-23 sizeof(size_t), 8-15 sizeof(float),
 * 0-7 sizeof(double).
 */
#define RV_BUILD_SIGNATURE                                                                         \
    ((uint32_t)((sizeof(void *) << 24) | (sizeof(size_t) << 16) | (sizeof(float) << 8) |           \
                sizeof(double)))

/* Return codes. Detail always goes into the caller's error buffer. */
#define RV_OK 0
#define RV_EINVAL (-1) /* bad parameter or input */
#define RV_ENOMEM (-2) /* out of memory */
#define RV_EIO (-3)    /* a file could not be read or is corrupt */
#define RV_EMODEL (-4) /* the model itself failed */
#define RV_EAGAIN (-5) /* temporary failure, may be retried */

/* Log levels for rv_host_services.log, syslog-compatible numbers. */
#define RV_LOG_ERROR 3
#define RV_LOG_WARNING 4
#define RV_LOG_INFO 6
#define RV_LOG_DEBUG 7

/* Per-request status written by score() into rv_result.status. */
#define RV_STATUS_OK 0
#define RV_STATUS_ERROR 1

/* Flags in rv_plugin.flags. */
/* score() may be called concurrently on one instance: the host then shares
 * one instance among all workers of the model instead of creating one per
 * worker. */
#define RV_PLUGIN_REENTRANT 0x1u

/*
 * The version header, first member of the descriptor. The host accepts a
 * plugin iff magic == RV_PLUGIN_MAGIC, major == host major, minor <= host
 * minor, struct_size >= the size of ABI 1.0's rv_plugin, and
 * build_signature == the host's RV_BUILD_SIGNATURE.
 * Owner: the plugin (static storage). Fill it with RV_ABI_HEADER_INIT.
 */
typedef struct rv_abi_header {
    uint32_t magic;
    uint16_t major;
    uint16_t minor;
    uint32_t struct_size;     /* sizeof(rv_plugin) as the plugin saw it */
    uint32_t build_signature; /* RV_BUILD_SIGNATURE as the plugin saw it */
} rv_abi_header;

#define RV_ABI_HEADER_INIT                                                                         \
    {                                                                                              \
        RV_PLUGIN_MAGIC, RV_PLUGIN_ABI_MAJOR, RV_PLUGIN_ABI_MINOR, (uint32_t)sizeof(rv_plugin),    \
            RV_BUILD_SIGNATURE                                                                     \
    }

/* One key/value pair of the model's YAML `params:` map.
 * Owner: the host; valid only during create(). Copy what you keep.
 * A value that names an existing file (relative to the config file) has
 * been turned into an absolute path by the host. */
typedef struct rv_param {
    const char *key;
    const char *value;
} rv_param;

/*
 * Services the host offers to a plugin instance.
 * Owner: the host; valid from create() until destroy() returns.
 * Thread: callable from any thread the plugin is called on; both functions
 * are thread-safe.
 */
struct rv_request;

typedef struct rv_host_services {
    uint32_t struct_size; /* sizeof(rv_host_services) as the host built it */
    void *host_ctx;       /* pass back as the first argument */

    /* Writes one line to the host log, prefixed with the model name.
     * msg is borrowed for the call. */
    void (*log)(void *host_ctx, int level, const char *msg);

    /* Emits one record to a named stream of the service: "archive",
     * "alerts", or any topic name. key and value are copied before it
     * returns. `about` is the request the record is about, one of the
     * requests of the score() call in progress, or NULL: the host then
     * holds back that request's input offset until the record is
     * acknowledged, so the record is never lost when the request is not.
     * Returns RV_OK, or a negative code if the record could not be queued
     * (the host has logged why). */
    int (*emit)(void *host_ctx, const struct rv_request *about, const char *stream, const void *key,
                size_t key_len, const void *value, size_t value_len);
} rv_host_services;

/* One header of the Kafka message that carried a request.
 * Owner: the host; borrowed for the score() call. value may hold any bytes. */
typedef struct rv_header {
    const char *name;
    const void *value;
    size_t value_len;
} rv_header;

/*
 * One request, as handed to score().
 * Owner: the host; every pointer is borrowed for the duration of the
 * score() call only. Copy what you keep.
 */
typedef struct rv_request {
    const char *id;      /* NUL-terminated request id */
    const uint8_t *body; /* exact body bytes, never modified by the host */
    size_t body_len;
    /* The parsed feature vector, in the order of the config's
     * input.features; NaN where a feature is missing. Shared by every
     * model that scores this request. */
    const double *features;
    size_t n_features;
    int64_t arrival_us; /* CLOCK_REALTIME microseconds when the host read it */

    /* Where the request came from (the decoy records these). */
    const char *topic;
    int32_t partition;
    int64_t offset;       /* -1 when not read from a stream */
    int64_t timestamp_ms; /* message timestamp, -1 if none */
    const uint8_t *key;   /* message key, NULL if none */
    size_t key_len;
    const rv_header *headers;
    size_t n_headers;
} rv_request;

/*
 * The features of requests[0..n) as one row-major n x cols matrix, when
 * each request has cols features and they lie so in memory, else NULL
 * (then read them row by row). In a
 * model process they always do: the batch's rows are one block of the
 * memory it shares with the host, so a plugin can hand the matrix to a
 * library (NumPy, a tensor) without a copy. Borrowed like the requests.
 */
static inline const double *rv_batch_features(const struct rv_request *const *requests, size_t n,
                                              size_t cols)
{
    if (n == 0 || cols == 0 || requests[0]->n_features != cols)
        return NULL;
    const double *base = requests[0]->features;
    for (size_t r = 1; r < n; r++)
        if (requests[r]->n_features != cols ||
            (uintptr_t)requests[r]->features != (uintptr_t)base + r * cols * sizeof(double))
            return NULL;
    return base;
}

/* One answer: an index into the label vocabulary declared at create(),
 * and its score. */
typedef struct rv_answer {
    uint32_t label;
    double score;
} rv_answer;

/*
 * Where score() writes its output for one request.
 * Owner: the host; the plugin writes into it during score() only.
 * On entry: status = RV_STATUS_ERROR, n_answers = 0, answers points to
 * max_answers slots (at least the smaller of its labels and 16;
 * never write past them), error points to error_size bytes (empty string).
 * The plugin sets status, fills answers[0..n_answers) best first and, on
 * error, a reason in error.
 */
typedef struct rv_result {
    int32_t status;
    uint32_t n_answers;
    uint32_t max_answers;
    rv_answer *answers;
    char *error;
    size_t error_size;
} rv_result;

/* What create() receives. Owner: the host; valid during create() only,
 * except `services`, which stays valid until destroy(). */
typedef struct rv_create_args {
    uint32_t struct_size; /* sizeof(rv_create_args) as the host built it */
    const char *model_name;
    const rv_param *params;
    size_t n_params;
    /* The feature names of the config's input.features, in vector order. */
    const char *const *feature_names;
    size_t n_features;
    const rv_host_services *services;
} rv_create_args;

/* What create() declares about the instance.
 * Owner: the plugin; the strings must stay valid until destroy(). */
typedef struct rv_model_info {
    const char *const *labels; /* label vocabulary, indexed by rv_answer.label */
    uint32_t n_labels;
} rv_model_info;

/*
 * The descriptor. Owner: the plugin (static, constant storage).
 */
typedef struct rv_plugin {
    rv_abi_header abi; /* must be first */

    const char *name;        /* short plugin name, e.g. "xgboost" */
    const char *description; /* one line */
    const char *version;     /* the plugin's own version string */
    uint32_t flags;          /* RV_PLUGIN_* */

    /*
     * Builds one instance. On success returns RV_OK, stores the instance in
     * *instance and fills *info. On failure returns a negative code, writes
     * the reason into err, and has released everything it took: the host
     * then calls neither warm() nor destroy().
     * Thread: the host's control thread; may run concurrently with score()
     * on other instances (of this or other plugins).
     */
    int (*create)(const rv_create_args *args, rv_model_info *info, void **instance, char *err,
                  size_t err_size);

    /*
     * Optional (may be NULL). Prepares the instance for traffic (touch
     * pages, JIT, fill caches). After this the host also warms it up
     * on recent real requests through score(). On failure returns a negative code
     * and a reason; the host then calls destroy().
     * Thread: the host's control thread, before any score() on it.
     */
    int (*warm)(void *instance, char *err, size_t err_size);

    /*
     * Scores n >= 1 requests in one call. Writes results[i] for each
     * requests[i]. Returns RV_OK if results were written (each may still
     * carry its own RV_STATUS_ERROR), or a negative code if the whole batch
     * failed (the host then marks every request as error with err).
     * Thread: a model worker thread. Never called concurrently on one
     * instance unless the plugin sets RV_PLUGIN_REENTRANT; may be called
     * concurrently on different instances.
     */
    int (*score)(void *instance, const rv_request *const *requests, rv_result *const *results,
                 size_t n, char *err, size_t err_size);

    /*
     * Releases the instance. Called once for every successful create(),
     * after the last score() on it has returned.
     * Thread: the host's control thread.
     */
    void (*destroy)(void *instance);
} rv_plugin;

/* Marks the entry function as the one exported symbol (build plugins
 * with -fvisibility=hidden). */
#if defined(__GNUC__)
#define RV_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RV_PLUGIN_EXPORT
#endif

/* The entry function every plugin defines:
 *   RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void) { return &d; }
 * Thread: called once by the host's control thread right after dlopen(). */
typedef const rv_plugin *(*rv_plugin_entry_fn)(void);

/* Declared here so that a plugin's definition is checked against it. */
RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* RENDEZVOUS_PLUGIN_H */
