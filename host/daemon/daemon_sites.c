/*
 * daemon_sites.c - what the serving process does about the other sites
 * (docs/sites.md): a takeover of a lost site's mirrored requests starts at
 * its hosts' offsets translated by the mirror's checkpoints and skips what
 * that site answered; a host of a site that comes back skips what the
 * others answered for it while it was lost; an automatic takeover starts
 * when the lost site's heartbeats stop and ends when they come back.
 */
#include "daemon_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "signals.h"
#include "sites.h"

/* How long heartbeats must arrive again before an automatic takeover
 * counts its site as back. */
#define BACK_AFTER_MS 3000

/* An automatic takeover: until `from`'s heartbeats, mirrored here, have
 * been silent for silent_s. 0, or -1 (a stop signal, or no watch). */
static int wait_for_silence(daemon_state *d, const rv_config *cfg, const char *from,
                            uint32_t silent_s)
{
    char err[RV_ERR_SIZE];
    if (!(d->sites.watch = rv_site_watch_start(cfg, d->bootstrap, from, err, sizeof err))) {
        rv_error("sites", "cannot watch %s's heartbeats: %s", from, err);
        return -1;
    }
    rv_info("sites",
            "standing by: taking over %s once its heartbeats (%s.heartbeats) stop for "
            "%u s",
            from, from, silent_s);
    while (!rv_signals_stop()) {
        int64_t silent = rv_mono_ms() - rv_site_watch_last_ms(d->sites.watch);
        if (silent >= (int64_t)silent_s * 1000) {
            rv_warn("sites", "no heartbeat of %s for %lld ms: taking over its requests", from,
                    (long long)silent);
            d->sites.automatic = 1;
            return 0;
        }
        rv_sleep_ms(100);
    }
    return -1;
}

/* A watch on each peer's heartbeats, for /metrics, where they are
 * mirrored. 0 or -1 (logged). */
static int watch_peers(daemon_state *d, const rv_config *cfg)
{
    char err[RV_ERR_SIZE];
    if (!(d->sites.peers = calloc(cfg->site.n_peers, sizeof *d->sites.peers))) {
        rv_error("sites", "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->site.n_peers; i++) {
        rv_site_watch *w =
            rv_site_watch_start(cfg, d->bootstrap, cfg->site.peers[i], err, sizeof err);
        if (w)
            d->sites.peers[d->sites.n_peers++] = w;
        else /* the mirror may start after the host: serving does not wait for it */
            rv_warn("sites", "%s's heartbeats not watched (is the mirror running?): %s",
                    cfg->site.peers[i], err);
    }
    return 0;
}

size_t rv_sites_status(void *ctx, rv_site_status *out, size_t max)
{
    daemon_state *d = ctx;
    size_t n = 0;
    for (; n < d->sites.n_peers && n < max; n++) {
        rv_site_watch *w = d->sites.peers[n];
        snprintf(out[n].site, sizeof out[n].site, "%s", rv_site_watch_site(w));
        out[n].heartbeat_age_s = (double)(rv_mono_ms() - rv_site_watch_last_ms(w)) / 1000;
        int64_t lag = rv_site_watch_lag_ms(w);
        out[n].mirror_lag_s = lag < 0 ? -1 : (double)lag / 1000;
    }
    return n;
}

size_t rv_sites_figures(void *ctx, const char *site, rv_site_figure *out, size_t max)
{
    daemon_state *d = ctx;
    for (size_t i = 0; i < d->sites.n_peers; i++)
        if (strcmp(rv_site_watch_site(d->sites.peers[i]), site) == 0)
            return rv_site_watch_figures(d->sites.peers[i], out, max);
    return 0;
}

uint64_t rv_sites_skipped(void *ctx)
{
    daemon_state *d = ctx;
    return d->input ? rv_input_skipped(d->input) : 0;
}

/* Adds to the answered ids those of topic (whose header has value, when
 * header is not NULL). 0 or -1 (logged). */
static int answered(daemon_state *d, const rv_config *cfg, const char *topic, const char *header,
                    const char *value)
{
    char err[RV_ERR_SIZE];
    long n = rv_site_answered(cfg, d->bootstrap, topic, header, value, d->sites.answered, err,
                              sizeof err);
    if (n < 0) {
        rv_error("sites", "%s", err);
        return -1;
    }
    rv_info("sites", "%s: %ld request(s) answered there, not answered again here", topic, n);
    return 0;
}

int rv_sites_start(daemon_state *d, const rv_config *cfg)
{
    const char *from = cfg->site.taken_over_from;
    if (!from && !cfg->site.n_peers)
        return 0;
    if (from && d->opts->takeover_silent_s &&
        wait_for_silence(d, cfg, from, d->opts->takeover_silent_s) != 0)
        return -1;
    if (!(d->sites.answered = rv_idset_new())) {
        rv_error("sites", "out of memory");
        return -1;
    }
    char topic[512], err[RV_ERR_SIZE];
    if (!from) { /* failback: what each peer answered for this site while it was lost */
        if (watch_peers(d, cfg) != 0)
            return -1;
        for (size_t i = 0; i < cfg->site.n_peers; i++) {
            snprintf(topic, sizeof topic, "%s.%s", cfg->site.peers[i], cfg->streams.results);
            if (answered(d, cfg, topic, "rv-taken-over-from", cfg->site.name) != 0)
                return -1;
        }
        return 0;
    }
    snprintf(topic, sizeof topic, "%s.%s", from, cfg->streams.results);
    if (answered(d, cfg, topic, NULL, NULL) != 0)
        return -1;
    int n = d->request_partitions;
    if (!(d->sites.start = malloc((size_t)(n > 0 ? n : 1) * sizeof *d->sites.start)) ||
        rv_site_checkpoints(cfg, d->bootstrap, from, cfg->site.takeover_group,
                            cfg->streams.requests, d->sites.start, n, err, sizeof err) != 0) {
        rv_error("sites", "%s's checkpoints: %s", from, d->sites.start ? err : "out of memory");
        return -1;
    }
    d->sites.n_start = n;
    for (int p = 0; p < n; p++)
        rv_info("sites", "%s [%d]: %s's group %s committed up to %lld here (its checkpoint)",
                cfg->streams.requests, p, from, cfg->site.takeover_group,
                (long long)d->sites.start[p]);
    rv_info("sites", "taking over %s's requests (%s), answered here as %s", from,
            cfg->streams.requests, cfg->site.name);
    return 0;
}

int rv_sites_back(daemon_state *d)
{
    if (!d->sites.automatic || !d->sites.watch)
        return 0;
    int64_t now = rv_mono_ms(), last = rv_site_watch_last_ms(d->sites.watch);
    if (now - last > 2500) { /* MirrorMaker 2 beats every second or so */
        d->sites.beating_since = 0;
        return 0;
    }
    if (!d->sites.beating_since)
        d->sites.beating_since = now;
    return now - d->sites.beating_since >= BACK_AFTER_MS;
}

void rv_sites_stop(daemon_state *d)
{
    rv_site_watch_stop(d->sites.watch);
    for (size_t i = 0; i < d->sites.n_peers; i++)
        rv_site_watch_stop(d->sites.peers[i]);
    free(d->sites.peers);
    rv_idset_free(d->sites.answered);
    free(d->sites.start);
    memset(&d->sites, 0, sizeof d->sites);
}
