/*
 * proc_poison.c - a ring of ids with their FNV-1a hashes. Must stay cheap when
 * empty (the common case: one branch per request).
 */
#include "proc_poison.h"

#include <stdlib.h>
#include <string.h>

static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603u;
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211u;
    return h;
}

void rv_proc_poison_add(rv_proc_poison *ps, const char *id, const char *why)
{
    char *idc = strdup(id), *whyc = strdup(why);
    if (!idc || !whyc) {
        free(idc);
        free(whyc);
        return;
    }
    free(ps->e[ps->next].id);
    free(ps->e[ps->next].why);
    ps->e[ps->next].hash = id_hash(id);
    ps->e[ps->next].id = idc;
    ps->e[ps->next].why = whyc;
    ps->next = (ps->next + 1) % RV_PROC_POISON_IDS;
    if (ps->n < RV_PROC_POISON_IDS)
        ps->n++;
}

const char *rv_proc_poison_why(const rv_proc_poison *ps, const char *id)
{
    if (!ps->n)
        return NULL;
    uint64_t h = id_hash(id);
    for (size_t i = 0; i < ps->n; i++)
        if (ps->e[i].hash == h && strcmp(ps->e[i].id, id) == 0)
            return ps->e[i].why;
    return NULL;
}

void rv_proc_poison_clear(rv_proc_poison *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->e[i].id);
        free(ps->e[i].why);
    }
    *ps = (rv_proc_poison){0};
}
