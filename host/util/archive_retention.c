/*
 * archive_retention.c - the archive's retention: whole segments, oldest
 * first, deleted while the directory holds too many bytes or its oldest
 * segment is too old; and the writers' counters. A segment is deleted only
 * under an exclusive flock, which a writer's shared one on its open segment
 * refuses: a segment being written (by this writer, or by another of the
 * same directory while a reload overlaps the old and the new) is never
 * deleted, and deleting stops there so that what remains has no hole.
 */
#include "archive_internal.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic uint64_t write_failures, failing, segments_deleted, bytes_deleted;

void rv_archive_counts_get(rv_archive_counts *out)
{
    out->write_failures = atomic_load(&write_failures);
    out->failing = atomic_load(&failing);
    out->segments_deleted = atomic_load(&segments_deleted);
    out->bytes_deleted = atomic_load(&bytes_deleted);
}

void rv_archive_note_write(int ok, int *was_failing)
{
    if (!ok)
        atomic_fetch_add(&write_failures, 1);
    if (!ok && !*was_failing)
        atomic_fetch_add(&failing, 1);
    else if (ok && *was_failing)
        atomic_fetch_sub(&failing, 1);
    *was_failing = !ok;
}

/* Deletes path unless a writer has it open: 0, or -1 (keep it and stop). */
static int delete_unless_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = -1;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        rc = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
        if (rc != 0)
            rv_warn("archive", "cannot delete %s: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

long rv_archive_retain(const char *dir, const rv_archive_retention *keep, uint64_t writing_seq,
                       time_t now)
{
    if (!keep || (!keep->max_bytes && !keep->max_age_s))
        return 0;
    char **names;
    size_t n;
    if (rv_archive_segment_names(dir, &names, &n) != 0) {
        rv_warn("archive", "retention: cannot list %s: %s", dir, strerror(errno));
        return 0;
    }
    struct stat *st = calloc(n ? n : 1, sizeof *st);
    if (!st) {
        rv_archive_names_free(names, n);
        return 0;
    }
    uint64_t total = 0, freed = 0;
    char path[4200];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st[i]) != 0)
            st[i].st_size = 0; /* gone meanwhile */
        total += (uint64_t)st[i].st_size;
    }
    long deleted = 0;
    int by_size = 0, by_age = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        if (!rv_archive_segment_seq(names[i], &seq) || seq >= writing_seq)
            break;
        int over = keep->max_bytes && total > keep->max_bytes;
        int old = keep->max_age_s && st[i].st_mtime < now &&
                  (uint64_t)(now - st[i].st_mtime) > keep->max_age_s;
        if (!over && !old)
            break;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (delete_unless_open(path) != 0)
            break;
        by_size |= over;
        by_age |= old && !over;
        total -= (uint64_t)st[i].st_size;
        freed += (uint64_t)st[i].st_size;
        deleted++;
    }
    free(st);
    rv_archive_names_free(names, n);
    if (deleted) {
        atomic_fetch_add(&segments_deleted, (uint64_t)deleted);
        atomic_fetch_add(&bytes_deleted, freed);
        rv_info("archive",
                "%s: deleted the oldest %ld segment%s (%" PRIu64 " bytes)%s%s; %" PRIu64
                " bytes remain",
                dir, deleted, deleted == 1 ? "" : "s", freed,
                by_size ? ", over the size bound" : "", by_age ? ", past the age bound" : "",
                total);
    }
    return deleted;
}
