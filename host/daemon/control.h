/*
 * control.h - schedule changes without a restart: a record on the control
 * stream such as
 *   {"schedule": [{"model": "gbdt-v8", "within_ms": 20},
 *                 {"model": "gbdt-v7", "within_ms": 40}]}
 * promotes a shadow model or rolls one back. It touches no model: the new
 * schedule must name models of the serving generation. Every host reads
 * every control record (no consumer group), from the end of the stream at
 * start: the config file stays the source of truth across restarts and
 * reloads.
 */
#ifndef RV_CONTROL_H
#define RV_CONTROL_H

#include <stddef.h>

#include "generation.h"

/* Parses a control record against g. Returns a new generation (schedule
 * version raised) or NULL with the reason in err. */
rv_generation *rv_control_apply(const rv_generation *g, const void *value, size_t len, char *err,
                                size_t err_size);

/* With control.key_file, a record counts only with the header
 *   rv-signature: sha256=<hex HMAC-SHA256 of its value with the key>
 * (signature: the header's value, NULL when absent). 0 when it holds, -1
 * with the reason in err (no key or signature is ever written there). The
 * key file is read each time: a new key needs no reload. */
int rv_control_verify(const char *key_file, const char *signature, size_t signature_len,
                      const void *value, size_t len, char *err, size_t err_size);

#endif
