/*
 * signals.h - SIGTERM/SIGINT (stop), SIGHUP (reload), SIGPIPE (ignored).
 * The handlers only set flags (nginx's ngx_reconfigure); the loops read
 * them. The flags are the only process-wide mutable state besides main.c.
 */
#ifndef RV_SIGNALS_H
#define RV_SIGNALS_H

#include <time.h>

void rv_signals_install(void);
/* The signal number that asked to stop, 0 while none did. */
int rv_signals_stop(void);
/* 1 once after each SIGHUP (the flag is cleared by reading it). */
int rv_signals_take_reload(void);
/* Waits until a second stop signal (1) or the CLOCK_REALTIME time until
 * (0). */
int rv_signals_wait_second_stop(const struct timespec *until);

#endif
