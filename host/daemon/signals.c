/* signals.c - flags set by signal handlers, and one semaphore post. */
#include "signals.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;
static sem_t second_stop; /* posted by a stop signal after the first */

static void on_stop(int sig)
{
    if (stop_requested)
        sem_post(&second_stop); /* async-signal-safe */
    else
        stop_requested = sig;
}
static void on_reload(int sig)
{
    reload_requested = 1;
}

void rv_signals_install(void)
{
    sem_init(&second_stop, 0, 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int rv_signals_stop(void)
{
    return stop_requested;
}

int rv_signals_take_reload(void)
{
    if (!reload_requested)
        return 0;
    reload_requested = 0;
    return 1;
}

int rv_signals_wait_second_stop(const struct timespec *until)
{
    while (sem_timedwait(&second_stop, until) != 0)
        if (errno != EINTR)
            return 0;
    return 1;
}
