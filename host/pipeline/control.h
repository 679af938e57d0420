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

#endif
