/*
 * archive.h - the decoy's archive: the exact copy of each request as it was
 * on the wire (key, value and headers unchanged, plus provenance headers),
 * in segment files of length-prefixed, CRC-checked records rotated by size,
 * and the reader behind `rendezvous archive cat` and `archive replay`.
 *
 * Record on disk: u32 little-endian payload length, u32 little-endian CRC-32
 * (zlib) of the payload, payload. The payload is the Kafka record, framed:
 *   "RVA1"
 *   u32 key length (0xffffffff: no key), key bytes
 *   u32 header count, then per header: u32 name length, name bytes, a NUL,
 *       u32 value length (0xffffffff: no value), value bytes
 *   u32 value length, value bytes
 * all integers little-endian. The headers are the request's own, in order,
 * then the provenance block (RV_ARCHIVE_PROVENANCE names, in that order).
 * Segments are named seg-<20-digit sequence>.rva so that name order is
 * write order. The reader reports a corrupt record and resynchronises on the
 * next valid one instead of stopping. Payloads that begin with '{' are the
 * JSON records of earlier versions and are passed through as they are.
 *
 * Retention deletes whole segments, oldest first, and never one a writer
 * has open (each holds a shared flock on its segment). A record that cannot
 * be written (the disk full, an I/O error) is counted and reported to the
 * caller, and what it left of itself is cut off, so a later record follows
 * the last whole one; nothing waits.
 */
#ifndef RV_ARCHIVE_H
#define RV_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rendezvous_plugin.h"

typedef enum { RV_FSYNC_NEVER, RV_FSYNC_ROTATE, RV_FSYNC_ALWAYS } rv_fsync_policy;

/* The provenance headers appended to every archived request, in order. */
enum { RV_ARCHIVE_PROVENANCE = 5 };
extern const char *const rv_archive_provenance_names[RV_ARCHIVE_PROVENANCE];

/* Text of a request's provenance header values (numbers in decimal). */
typedef struct rv_provenance {
    rv_header h[RV_ARCHIVE_PROVENANCE];
    char num[3][24];
} rv_provenance;

/* Fills p with r's provenance: rv-id, rv-topic, rv-partition, rv-offset,
 * rv-timestamp (milliseconds, -1 when the broker gave none). p->h points
 * into r and into p itself. */
void rv_archive_provenance(const rv_request *r, rv_provenance *p);

/* One archived record: what was on the wire plus the provenance block. */
typedef struct rv_archived {
    const uint8_t *key; /* NULL: no key */
    size_t key_len;
    rv_header *headers; /* names NUL-terminated; a NULL value: none */
    size_t n_headers;
    size_t n_own; /* headers[0..n_own) are the request's own; the rest provenance */
    const uint8_t *value;
    size_t value_len;
} rv_archived;

/* Splits a's headers: sets a->n_own to n_headers less the provenance block
 * when the last headers are exactly that block, followed by at most the
 * site's (`rv-site`, `rv-taken-over-from`), else to n_headers (then the
 * record carries no provenance). */
void rv_archived_split(rv_archived *a);

/* The provenance header of that name, or NULL when a has no provenance
 * block. */
const rv_header *rv_archived_provenance(const rv_archived *a, const char *name);

/* Decodes a segment payload. headers is allocated (free(a->headers) after
 * use); everything else points into payload. 0, or -1 with the reason. */
int rv_archive_decode(const uint8_t *payload, size_t len, rv_archived *a, char *err,
                      size_t err_size);

typedef struct rv_segment_writer rv_segment_writer;

/* Parses "never", "rotate" or "always"; -1 if none. */
int rv_fsync_policy_parse(const char *s, rv_fsync_policy *out);

/* How much of its directory a writer keeps: whole segments, oldest first,
 * are deleted while all the segments add up to more than max_bytes, or
 * while the oldest was last written more than max_age_s ago; never the
 * segment being written, nor one after it. 0: no bound. */
typedef struct rv_archive_retention {
    uint64_t max_bytes;
    uint64_t max_age_s;
} rv_archive_retention;

/* The segment writers' counters since the process started, all writers
 * together (for /metrics). */
typedef struct rv_archive_counts {
    uint64_t write_failures;   /* records not written to a segment file */
    uint64_t failing;          /* writers whose last record was not written */
    uint64_t segments_deleted; /* by retention */
    uint64_t bytes_deleted;
} rv_archive_counts;
void rv_archive_counts_get(rv_archive_counts *out);

/* keep: NULL to keep everything. Retention runs at the writer's first
 * record, at each new segment and at least once a minute while records
 * come (not at open: opening deletes nothing). */
rv_segment_writer *rv_segment_writer_open(const char *dir, uint64_t segment_bytes,
                                          rv_fsync_policy policy, const rv_archive_retention *keep,
                                          char *err, size_t err_size);
/* Appends r as one record: key, own headers, provenance, body. */
int rv_segment_writer_append_request(rv_segment_writer *w, const rv_request *r, char *err,
                                     size_t err_size);
/* Appends one record holding payload as it is. */
int rv_segment_writer_append(rv_segment_writer *w, const void *payload, size_t len, char *err,
                             size_t err_size);
/* Applies the writer's retention now (as it does by itself). The number
 * of segments deleted. */
long rv_segment_writer_retain(rv_segment_writer *w);
void rv_segment_writer_close(rv_segment_writer *w);

/* Called with each valid record's payload in write order; a non-zero
 * return stops the walk. */
typedef int (*rv_archive_record_fn)(void *ctx, const uint8_t *payload, size_t len);

/* Walks every record of every segment in dir; corrupt records are reported
 * on errout with file and offset and skipped. Returns the number of corrupt
 * records found, or -1 if dir is unreadable or fn stopped the walk. */
long rv_archive_walk(const char *dir, rv_archive_record_fn fn, void *ctx, FILE *errout);

#endif
