/*
 * log.h - one-line log records to stderr, with time, level and component.
 *
 * Thread-safe (one fprintf per line). Never allocates on the hot path and
 * never exits the process: callers decide what an error means.
 */
#ifndef RV_LOG_H
#define RV_LOG_H

#include "rendezvous_plugin.h" /* RV_LOG_* levels */

/* Lines above this level are dropped; set once at start-up (main.c). */
void rv_log_set_level(int level);

void rv_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define rv_error(comp, ...) rv_log(RV_LOG_ERROR, comp, __VA_ARGS__)
#define rv_warn(comp, ...) rv_log(RV_LOG_WARNING, comp, __VA_ARGS__)
#define rv_info(comp, ...) rv_log(RV_LOG_INFO, comp, __VA_ARGS__)
#define rv_debug(comp, ...) rv_log(RV_LOG_DEBUG, comp, __VA_ARGS__)

#endif
