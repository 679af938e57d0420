/*
 * log.c - the host's log sink. Writes whole lines to stderr; must never
 * block on anything but stderr itself.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int log_level = RV_LOG_INFO;

void rv_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

static const char *level_name(int level)
{
    switch (level) {
    case RV_LOG_ERROR: return "error";
    case RV_LOG_WARNING: return "warn";
    case RV_LOG_INFO: return "info";
    default: return "debug";
    }
}

void rv_log(int level, const char *component, const char *fmt, ...)
{
    if (level > atomic_load(&log_level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", when, ts.tv_nsec / 1000000L, level_name(level),
            component, msg);
}
