/*
 * idset.h - a set of strings (request ids): open addressing, FNV-1a, grown
 * at half full. Single-threaded: its owner's thread only.
 */
#ifndef RV_IDSET_H
#define RV_IDSET_H

#include <stddef.h>

typedef struct rv_idset rv_idset;

rv_idset *rv_idset_new(void);
void rv_idset_free(rv_idset *s);
/* Adds the n bytes of id (a copy). 1 when added, 0 when it was there, -1
 * when out of memory. */
int rv_idset_add(rv_idset *s, const char *id, size_t n);
int rv_idset_has(const rv_idset *s, const char *id, size_t n);
size_t rv_idset_count(const rv_idset *s);

#endif
