/* idset.c - a set of strings (idset.h). */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *id; /* NULL: free */
    size_t n;
    uint64_t hash;
} slot;

struct rv_idset {
    slot *slots;
    size_t cap, count; /* cap a power of two */
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

rv_idset *rv_idset_new(void)
{
    rv_idset *s = calloc(1, sizeof *s);
    if (s && !(s->slots = calloc(s->cap = 64, sizeof *s->slots))) {
        free(s);
        return NULL;
    }
    return s;
}

void rv_idset_free(rv_idset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].id);
    free(s->slots);
    free(s);
}

/* The slot of id, or the free one where it would go. */
static slot *find(const rv_idset *s, const char *id, size_t n, uint64_t h)
{
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        slot *x = &s->slots[i];
        if (!x->id || (x->hash == h && x->n == n && memcmp(x->id, id, n) == 0))
            return x;
    }
}

static int grow(rv_idset *s)
{
    slot *old = s->slots;
    size_t old_cap = s->cap;
    if (!(s->slots = calloc(s->cap = old_cap * 2, sizeof *s->slots))) {
        s->slots = old;
        s->cap = old_cap;
        return -1;
    }
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].id)
            *find(s, old[i].id, old[i].n, old[i].hash) = old[i];
    free(old);
    return 0;
}

int rv_idset_add(rv_idset *s, const char *id, size_t n)
{
    if (2 * (s->count + 1) > s->cap && grow(s) != 0)
        return -1;
    uint64_t h = fnv1a(id, n);
    slot *x = find(s, id, n, h);
    if (x->id)
        return 0;
    if (!(x->id = malloc(n + 1)))
        return -1;
    memcpy(x->id, id, n);
    x->id[n] = '\0';
    x->n = n;
    x->hash = h;
    s->count++;
    return 1;
}

int rv_idset_has(const rv_idset *s, const char *id, size_t n)
{
    return find(s, id, n, fnv1a(id, n))->id != NULL;
}

size_t rv_idset_count(const rv_idset *s)
{
    return s->count;
}
