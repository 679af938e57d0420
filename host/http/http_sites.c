/*
 * http_sites.c - the other sites as this host sees them through the mirror
 * (docs/sites.md): GET /v1/sites (JSON: this host's site, the site it takes
 * over, each peer's heartbeats, mirror lag and live evaluation as mirrored
 * here) and the lines /readyz gives of them. 404 without a site section.
 */
#include "http_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void figures(rv_http *h, yajl_gen j, const char *site, rv_site_figure *f)
{
    size_t n =
        h->src.site_figures ? h->src.site_figures(h->src.ctx, site, f, RV_SITE_MAX_FIGURES) : 0;
    rv_json_string(j, "evaluation");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(j);
        rv_json_string(j, "source");
        rv_json_string(j, f[i].source);
        rv_json_string(j, "window");
        rv_json_string(j, f[i].window);
        rv_json_string(j, "version");
        rv_json_string(j, f[i].version);
        if (*f[i].schedule_version) {
            rv_json_string(j, "schedule_version");
            rv_json_string(j, f[i].schedule_version);
        }
        rv_json_integer_field(j, "time", (uint64_t)f[i].time_ms);
        rv_json_integer_field(j, "count", f[i].count);
        rv_json_number_field(j, "accuracy", f[i].accuracy);
        rv_json_number_field(j, "auc", f[i].auc);
        rv_json_number_field(j, "log_loss", f[i].log_loss);
        rv_json_number_field(j, "brier", f[i].brier);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
}

enum MHD_Result rv_http_get_sites(rv_http *h, struct MHD_Connection *c)
{
    rv_generation *g = h->src.current(h->src.ctx);
    if (!g || !g->cfg->site.name) {
        if (g)
            rv_generation_unref(g);
        return rv_http_respond_error(c, 404, "no sites: the config has no site section");
    }
    rv_site_status st[16];
    size_t n = h->src.sites ? h->src.sites(h->src.ctx, st, 16) : 0;
    rv_site_figure *f = malloc(RV_SITE_MAX_FIGURES * sizeof *f);
    yajl_gen j = rv_json_gen_new();
    if (!f || !j) {
        free(f);
        if (j)
            yajl_gen_free(j);
        rv_generation_unref(g);
        return MHD_NO;
    }
    yajl_gen_map_open(j);
    rv_json_string(j, "site");
    rv_json_string(j, g->cfg->site.name);
    rv_json_string(j, "taking_over");
    g->cfg->site.taken_over_from ? rv_json_string(j, g->cfg->site.taken_over_from)
                                 : yajl_gen_null(j);
    if (h->src.skipped)
        rv_json_integer_field(j, "skipped", h->src.skipped(h->src.ctx));
    rv_json_string(j, "peers");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(j);
        rv_json_string(j, "site");
        rv_json_string(j, st[i].site);
        rv_json_number_field(j, "heartbeat_age_s", st[i].heartbeat_age_s);
        rv_json_number_field(j, "mirror_lag_s", st[i].mirror_lag_s < 0 ? NAN : st[i].mirror_lag_s);
        figures(h, j, st[i].site, f);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
    free(f);
    rv_generation_unref(g);
    return rv_http_respond_json(c, j);
}

void rv_http_sites_readiness(rv_http *h, const rv_generation *g, rv_text *t)
{
    const rv_config *cfg = g->cfg;
    if (cfg->site.taken_over_from)
        rv_text_printf(t,
                       "site %s: serving site %s's requests (taken over: %s, answered here; "
                       "%llu skipped as answered there)\n",
                       cfg->site.name, cfg->site.taken_over_from, cfg->streams.requests,
                       (unsigned long long)(h->src.skipped ? h->src.skipped(h->src.ctx) : 0));
    else if (cfg->site.name)
        rv_text_printf(t, "site %s: serving its own requests\n", cfg->site.name);
    rv_site_status st[16];
    size_t n = h->src.sites ? h->src.sites(h->src.ctx, st, 16) : 0;
    for (size_t i = 0; i < n; i++) {
        rv_text_printf(t, "peer %s: last heartbeat %.1f s ago through the mirror", st[i].site,
                       st[i].heartbeat_age_s);
        if (st[i].mirror_lag_s >= 0)
            rv_text_printf(t, " (mirror lag %.3f s)", st[i].mirror_lag_s);
        rv_text_printf(t, "\n");
    }
}
