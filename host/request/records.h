/*
 * records.h - every public record the host writes: score, result, archive,
 * alert and the dead-letter headers. docs/records.md describes each field;
 * the names here are public interface: change them only with the docs.
 *
 * Each JSON function appends one object to a JSON writer the caller owns
 * (rv_jw). The functions take plain values, not the pipeline's
 * structures, so that a record can be built and tested without a pipeline.
 */
#ifndef RV_RECORDS_H
#define RV_RECORDS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "jsonw.h"
#include "rendezvous_plugin.h"
#include "selection.h"
#include "slot.h"

/* An archived request as one JSON object (`rendezvous archive cat`): its
 * provenance as fields, its own headers as a map, key and body as strings
 * or, when not UTF-8, base64 (<name>_b64). */
void rv_record_archive(rv_jw *w, const rv_archived *a);

/* The headers of r's archive record: its own, in order, then provenance. */
rd_kafka_headers_t *rv_record_archive_headers(const rv_request *r);

/* A fragment of JSON text. */
typedef struct rv_frag {
    char *s;
    size_t n;
} rv_frag;

/* A model's names as JSON text, encoded once when the model is built: the
 * fixed parts of its score records and of the results that name it, so
 * that a record is written by copying them, and only the request's own
 * strings (its id) are checked and escaped per record. */
typedef struct rv_model_json {
    rv_frag score_head;   /* ,"model":NAME,"version":VERSION,"status":"   */
    rv_frag result_head;  /* ,"model":NAME,"version":VERSION,"reason":"   */
    rv_frag models_key;   /* NAME:{"status":"                             */
    rv_frag *answer_head; /* per label: {"label":LABEL,"score":           */
    uint32_t n_labels;
} rv_model_json;

/* 0, or -1 when out of memory (j is then empty). */
int rv_model_json_init(rv_model_json *j, const char *name, const char *version,
                       const char *const *labels, uint32_t n_labels);
void rv_model_json_free(rv_model_json *j);

/* One model's answer to one request (scores stream). */
void rv_record_score(rv_jw *w, const rv_model_json *m, const char *id, const rv_slot *slot);

/* One model's state at decision time, in a result's "models" map. */
typedef struct rv_result_model {
    const rv_model_json *json;
    const char *status; /* ok, error, shed, timeout, pending */
    int64_t latency_us; /* < 0: no answer yet, field left out */
} rv_result_model;

/* One result (results stream). */
typedef struct rv_result_fields {
    const char *id;
    const rv_model_json *chosen; /* NULL: no model chosen */
    rv_reason reason;
    int rank;                  /* schedule position, -1: none */
    const rv_slot *answer;     /* the chosen answer, or NULL */
    const char *default_label; /* the default answer when none was chosen; NULL: none */
    double default_score;
    int64_t latency_us;
    uint64_t schedule_version;
    const rv_result_model *models;
    size_t n_models;
} rv_result_fields;

/* Without a chosen model and without a default, the result says
 * "status": "error". */
void rv_record_result(rv_jw *w, const rv_result_fields *r);

/* A canary alert or its clear (alerts stream). */
typedef struct rv_alert_fields {
    int raised;        /* 1: alert, 0: clear */
    const char *check; /* agreement, score_shift, drift, input_drift */
    const char *model;
    const char *version;
    const char *canary;
    double value, threshold;
    double p_value, alpha;     /* the test's, and the level it was made at */
    uint32_t window;           /* requests (or joined answers) tested */
    uint32_t reference_window; /* those it was compared with; 0: none (not written) */
    uint32_t for_tests;        /* tests in a row the evidence held (or was gone) */
    const char *message;
} rv_alert_fields;
void rv_record_alert(rv_jw *w, const rv_alert_fields *a);

/* A model process that ended (alert) or is live again (clear), alerts
 * stream. */
typedef struct rv_process_alert_fields {
    int raised; /* 1: it ended, 0: live again */
    const char *model;
    const char *version;
    uint32_t instance;
    int pid;            /* the process that ended, or the new one */
    const char *reason; /* the exit: "died: signal 11 (SIGSEGV)", ... */
    uint64_t restarts;  /* of this instance so far */
    const char *message;
} rv_process_alert_fields;
void rv_record_process_alert(rv_jw *w, const rv_process_alert_fields *a);

/* A control record refused (unsigned, wrongly signed), alerts stream:
 * where it was and why. */
void rv_record_control_alert(rv_jw *w, const char *topic, int32_t partition, int64_t offset,
                             const char *reason);

/* The headers of a dead-letter record: the request's own (copied from src,
 * may be NULL) plus rv-error, rv-id and the source's topic, partition and
 * offset. The value and key are the request's own bytes. NULL on out of
 * memory. */
rd_kafka_headers_t *rv_record_dead_letter_headers(const rd_kafka_headers_t *src, const char *reason,
                                                  const rv_request *r);

#endif
