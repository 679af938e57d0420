/*
 * archive.h - the decoy's local archive: segment files of length-prefixed,
 * CRC-checked records, rotated by size, and the reader behind
 * `rendezvous archive cat`.
 *
 * Record on disk: u32 little-endian payload length, u32 little-endian CRC-32
 * (zlib) of the payload, payload (one archive JSON object). Segments are
 * named seg-<20-digit sequence>.rva so that name order is write order.
 * The reader reports a corrupt record and resynchronises on the next valid
 * one instead of stopping.
 */
#ifndef RV_ARCHIVE_H
#define RV_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { RV_FSYNC_NEVER, RV_FSYNC_ROTATE, RV_FSYNC_ALWAYS } rv_fsync_policy;

typedef struct rv_segment_writer rv_segment_writer;

/* Parses "never", "rotate" or "always"; -1 if none. */
int rv_fsync_policy_parse(const char *s, rv_fsync_policy *out);

rv_segment_writer *rv_segment_writer_open(const char *dir, uint64_t segment_bytes,
                                          rv_fsync_policy policy, char *err, size_t err_size);
int rv_segment_writer_append(rv_segment_writer *w, const void *payload, size_t len, char *err,
                             size_t err_size);
void rv_segment_writer_close(rv_segment_writer *w);

/* Prints every record of every segment in dir as one JSON line on out;
 * corrupt records are reported on errout with file and offset.
 * Returns the number of corrupt records found, or -1 if dir is unreadable. */
long rv_archive_cat(const char *dir, FILE *out, FILE *errout);

#endif
