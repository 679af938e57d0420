/*
 * archive_internal.h - what the archive's files share (archive.c: records,
 * the writer and the reader; archive_retention.c: retention and the
 * counters), and nothing else may include.
 */
#ifndef RV_ARCHIVE_INTERNAL_H
#define RV_ARCHIVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "archive.h"

/* 1 with *seq set when name is a segment's, seg-<20 digits>.rva. */
int rv_archive_segment_seq(const char *name, uint64_t *seq);
/* The segment names of dir in name (= write) order; 0, or -1 with errno. */
int rv_archive_segment_names(const char *dir, char ***out, size_t *n);
void rv_archive_names_free(char **names, size_t n);

/* Deletes whole segments of dir as keep says, oldest first, stopping at
 * the first one to keep, at writing_seq (the segment being written) and
 * at a segment another writer has open; last-write times are compared
 * with now. Counts and logs what it deleted; returns how many. */
long rv_archive_retain(const char *dir, const rv_archive_retention *keep, uint64_t writing_seq,
                       time_t now);

/* A writer's record written (ok) or not: counts a failure, and a writer
 * starting (*failing 0 -> 1) or ending (1 -> 0) a run of failures. */
void rv_archive_note_write(int ok, int *failing);

#endif
