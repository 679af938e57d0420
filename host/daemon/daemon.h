/*
 * daemon.h - `rendezvous -c FILE`: serve a config until SIGTERM.
 *
 * The main thread is the input and control thread: it owns the consumer,
 * parses each request once, opens its mailbox, hands it to every model, and
 * commits offsets the commit tracker releases. Signals only set flags.
 */
#ifndef RV_DAEMON_H
#define RV_DAEMON_H

#include "config.h"

typedef struct rv_serve_options {
    const char *config_path;
    const char *brokers; /* overrides streams.brokers when not NULL */
    /* `rendezvous scorer --model NAME`: that model alone, its score records
     * only (rv_config_scorer); NULL: the host */
    const char *scorer_model;
    const char *http_listen;  /* a scorer's or a takeover's http.listen (--http), or NULL */
    const rv_config_env *env; /* the builtins; lives until rv_serve returns */
    /* `rendezvous takeover --from SITE`: SITE's mirrored requests
     * (rv_config_takeover); NULL: this site's own */
    const char *takeover_from;
    /* --when-silent S: wait until SITE's heartbeats stop for S s, and stop
     * once they are back; 0: at once, until a stop signal */
    unsigned takeover_silent_s;
} rv_serve_options;

/* Returns the process exit status. */
int rv_serve(const rv_serve_options *opts);

#endif
