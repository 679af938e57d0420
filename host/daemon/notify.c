/* notify.c - sd_notify calls (libsystemd). */
#include "notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

void rv_notify_ready(const rv_generation *g)
{
    sd_notifyf(0, "READY=1\nSTATUS=serving: generation %llu, schedule version %llu, %zu model(s)",
               (unsigned long long)g->id, (unsigned long long)g->schedule_version, g->n_models);
}

void rv_notify_reloading(void)
{
    sd_notify(0, "RELOADING=1\nSTATUS=reloading");
}

void rv_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: drain, flush, commit");
}

void rv_notify_watchdog(int64_t now_ms)
{
    static int64_t interval_ms = -1, last_ms;
    if (interval_ms < 0) {
        uint64_t usec = 0;
        interval_ms = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 2000) : 0;
    }
    if (interval_ms > 0 && now_ms - last_ms >= interval_ms) {
        sd_notify(0, "WATCHDOG=1");
        last_ms = now_ms;
    }
}
