/* signals.c - flags set by signal handlers, nothing more. */
#include "signals.h"

#include <signal.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
    stop_requested = sig;
}
static void on_reload(int sig)
{
    reload_requested = 1;
}

void rv_signals_install(void)
{
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
