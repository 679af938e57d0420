/*
 * notify.h - telling a service manager (systemd's sd_notify protocol) what
 * the host is doing: ready, reloading, stopping, its status line, and the
 * watchdog's keep-alive. Without NOTIFY_SOCKET every call does nothing.
 */
#ifndef RV_NOTIFY_H
#define RV_NOTIFY_H

#include <stdint.h>

#include "generation.h"

/* READY=1 with the status line: at start, and after each reload. */
void rv_notify_ready(const rv_generation *g);
/* RELOADING=1 before a reload is built; rv_notify_ready after it. */
void rv_notify_reloading(void);
void rv_notify_stopping(void);
/* WATCHDOG=1 when systemd asked for it (WatchdogSec) and half its interval
 * has passed since the last one; call from the serve loop, whose running
 * is what it vouches for. */
void rv_notify_watchdog(int64_t now_ms);

#endif
