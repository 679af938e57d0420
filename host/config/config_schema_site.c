/*
 * config_schema_site.c - the keys of the site section (a service served at
 * more than one site, its streams mirrored between them: docs/sites.md),
 * rows as in config_schema.c.
 */
#include "config_internal.h"

#include <stddef.h>
#include <string.h>

#define C(f) offsetof(rv_config, f)

/* A site's name prefixes its topics mirrored elsewhere (`east.svc.requests`,
 * MirrorMaker 2's default policy): no '.', which separates it. */
static int valid_site(const char *s)
{
    return s && *s &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
               strlen(s);
}

static void check_site(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp, void *base)
{
    const char *s = cf_slot_text(k, base);
    if (s && !valid_site(s))
        cy_report(l, v, kp,
                  "'%s' may contain only letters, digits, '_' and '-' (it prefixes "
                  "the topics mirrored from this site)",
                  s);
}

/* The whole section: each peer a site name, none this site. */
static void check_peers(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                        void *base)
{
    (void)k;
    const rv_config *c = base;
    for (size_t i = 0; i < c->site.n_peers; i++)
        if (!valid_site(c->site.peers[i]) ||
            (c->site.name && !strcmp(c->site.peers[i], c->site.name))) {
            yaml_node_t *at = cy_map_get(l, m, "peers", NULL);
            cy_report(l, at ? at : m, kp,
                      "'%s' is not another site's name (letters, digits, '_', '-'; not this "
                      "site's)",
                      c->site.peers[i]);
        }
}

static const cf_key site_keys[] = {
    {.name = "name",
     .type = CF_STRING,
     .offset = C(site.name),
     .flags = CF_REQUIRED,
     .check = check_site,
     .help = "This site, as MirrorMaker 2's `clusters` names it (its topics are mirrored "
             "elsewhere as `<name>.<topic>`). Every record the host writes carries it in an "
             "`rv-site` header, so that a reader of a mirrored stream knows where a decision "
             "was made."},
    {.name = "peers",
     .type = CF_LIST,
     .offset = C(site.peers),
     .n_offset = C(site.n_peers),
     .flags = CF_UNIQUE,
     .many = "a sequence of site names",
     .one = "site",
     .help = "The other sites whose streams are mirrored here. At start a host reads each "
             "one's mirrored results (`<peer>.<streams.results>`) and answers no request that "
             "a peer answered for this site while it was lost (failback)."},
    {0},
};

const cf_section cf_site_section = {
    .path = "site",
    .help = "The site this host serves at, when the service is served at more than one with "
            "their streams mirrored between them (docs/sites.md); none without this section.",
    .keys = site_keys,
    .check = check_peers,
};
