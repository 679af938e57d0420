/*
 * check_cmd.h - `rendezvous check`: build a whole generation exactly as the
 * daemon would (parse, validate, load, create, warm), print what it holds,
 * and throw it away. Like `nginx -t`.
 */
#ifndef RV_CHECK_H
#define RV_CHECK_H

#include <stdio.h>

#include "generation.h"

/* Returns the exit status: 0 when the config builds, 2 when it does not. */
int rv_check(const char *path, const rv_config_env *env, FILE *out, FILE *errout);

/* Prints the summary of a built generation. */
void rv_generation_print(const rv_generation *g, FILE *out);

/* A sink that drops every record: what check's plugins emit goes nowhere. */
extern const rv_emit_sink rv_discard_sink;

#endif
