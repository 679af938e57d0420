/*
 * records.h - the JSON records of the output streams (DESIGN.md section 2).
 * Field names here are public interface: change them only with the docs.
 *
 * Each function appends one JSON object to a yajl generator that the caller
 * owns, allocated with rv_json_gen_new() (UTF-8 validation on, so that bytes
 * that are not UTF-8 are detected and sent as base64 instead).
 */
#ifndef RV_RECORDS_H
#define RV_RECORDS_H

#include <stddef.h>
#include <yajl/yajl_gen.h>

#include "rendezvous_plugin.h"

yajl_gen rv_json_gen_new(void);

/* Appends the string as "name": "..." when it is valid UTF-8, else as
 * "name_b64": "<base64>". */
void rv_json_bytes_field(yajl_gen g, const char *name, const void *bytes, size_t len);
void rv_json_string(yajl_gen g, const char *s);

/* The decoy's exact copy of a request. */
void rv_record_archive(yajl_gen g, const rv_request *r);

/* Status names of the public records: ok, error, shed, timeout, pending. */
const char *rv_slot_status_name(int status);

/* One model's answer to one request (scores stream). */
struct rv_slot;
void rv_record_score(yajl_gen g, const char *id, const char *model, const char *version,
                     const struct rv_slot *slot, const char *const *labels);

/* A slot's answers as [{"label": ..., "score": ...}, ...]. */
void rv_record_answers(yajl_gen g, const struct rv_slot *slot, const char *const *labels);

#endif
