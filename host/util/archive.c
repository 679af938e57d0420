/*
 * archive.c - the decoy's archive records and their segment files. Writes
 * are append-only and never rewrite a byte already written; the reader
 * never trusts a length it has not checked against the CRC, nor a length
 * inside a payload it has not checked against the payload's end.
 */
#include "archive_internal.h"

#include "clock.h"
#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define RECORD_HEADER 8
#define MAX_RECORD (64u << 20)
#define MAGIC "RVA1"
#define NONE 0xffffffffu
#define RETAIN_EVERY_MS 60000

struct rv_segment_writer {
    char *dir;
    uint64_t segment_bytes;
    rv_fsync_policy policy;
    int fd;
    uint64_t written;
    uint64_t seq, next_seq; /* of the open segment (while fd >= 0), of the next */
    rv_archive_retention keep;
    int64_t retain_at_ms; /* the next retention pass; 0: at the next record */
    int failing;          /* the last record was not written */
    uint8_t *buf;         /* the record being written: frame header and payload */
    size_t cap;
};

const char *const rv_archive_provenance_names[RV_ARCHIVE_PROVENANCE] = {
    "rv-id", "rv-topic", "rv-partition", "rv-offset", "rv-timestamp"};

void rv_archive_provenance(const rv_request *r, rv_provenance *p)
{
    int n[3];
    n[0] = snprintf(p->num[0], sizeof p->num[0], "%" PRId32, r->partition);
    n[1] = snprintf(p->num[1], sizeof p->num[1], "%" PRId64, r->offset);
    n[2] = snprintf(p->num[2], sizeof p->num[2], "%" PRId64, r->timestamp_ms);
    const char *topic = r->topic ? r->topic : "";
    p->h[0] = (rv_header){rv_archive_provenance_names[0], r->id, strlen(r->id)};
    p->h[1] = (rv_header){rv_archive_provenance_names[1], topic, strlen(topic)};
    for (int i = 0; i < 3; i++)
        p->h[2 + i] = (rv_header){rv_archive_provenance_names[2 + i], p->num[i], (size_t)n[i]};
}

/* The headers the host adds after the provenance: where the record was
 * written (output.c's rv_output_stamp). */
static int site_header(const char *name)
{
    return strcmp(name, "rv-site") == 0 || strcmp(name, "rv-taken-over-from") == 0;
}

void rv_archived_split(rv_archived *a)
{
    a->n_own = a->n_headers;
    size_t end = a->n_headers;
    while (end > 0 && a->n_headers - end < 2 && site_header(a->headers[end - 1].name))
        end--;
    if (end < RV_ARCHIVE_PROVENANCE)
        return;
    size_t first = end - RV_ARCHIVE_PROVENANCE;
    for (size_t i = 0; i < RV_ARCHIVE_PROVENANCE; i++)
        if (strcmp(a->headers[first + i].name, rv_archive_provenance_names[i]) != 0 ||
            !a->headers[first + i].value)
            return;
    a->n_own = first;
}

const rv_header *rv_archived_provenance(const rv_archived *a, const char *name)
{
    for (size_t i = a->n_own; i < a->n_headers; i++)
        if (strcmp(a->headers[i].name, name) == 0)
            return &a->headers[i];
    return NULL;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *put_bytes(uint8_t *p, const void *b, size_t n)
{
    p = put32(p, b ? (uint32_t)n : NONE);
    if (n)
        memcpy(p, b, n);
    return p + n;
}

static uint8_t *put_header(uint8_t *p, const rv_header *h)
{
    size_t n = strlen(h->name);
    p = put32(p, (uint32_t)n);
    memcpy(p, h->name, n + 1);
    return put_bytes(p + n + 1, h->value, h->value ? h->value_len : 0);
}

static size_t header_size(const rv_header *h)
{
    return 4 + strlen(h->name) + 1 + 4 + (h->value ? h->value_len : 0);
}

/* w->buf holds at least size bytes: 0, or -1 out of memory. */
static int reserve(rv_segment_writer *w, size_t size)
{
    if (size <= w->cap)
        return 0;
    uint8_t *nb = realloc(w->buf, size);
    if (!nb)
        return -1;
    w->buf = nb;
    w->cap = size;
    return 0;
}

/* Writes r's payload at w->buf + RECORD_HEADER; its length, or 0. */
static size_t encode_request(rv_segment_writer *w, const rv_request *r)
{
    rv_provenance prov;
    rv_archive_provenance(r, &prov);
    size_t need = 4 + 4 + (r->key ? r->key_len : 0) + 4 + 4 + r->body_len;
    for (size_t i = 0; i < r->n_headers; i++)
        need += header_size(&r->headers[i]);
    for (size_t i = 0; i < RV_ARCHIVE_PROVENANCE; i++)
        need += header_size(&prov.h[i]);
    if (need > MAX_RECORD || reserve(w, RECORD_HEADER + need) != 0)
        return 0;
    uint8_t *p = w->buf + RECORD_HEADER;
    memcpy(p, MAGIC, 4);
    p = put_bytes(p + 4, r->key, r->key ? r->key_len : 0);
    p = put32(p, (uint32_t)(r->n_headers + RV_ARCHIVE_PROVENANCE));
    for (size_t i = 0; i < r->n_headers; i++)
        p = put_header(p, &r->headers[i]);
    for (size_t i = 0; i < RV_ARCHIVE_PROVENANCE; i++)
        p = put_header(p, &prov.h[i]);
    put_bytes(p, r->body, r->body_len);
    return need;
}

/* Reads a length-prefixed field at *pos; NONE lengths give NULL. */
static int get_bytes(const uint8_t *d, size_t len, size_t *pos, const uint8_t **out, size_t *n)
{
    if (len - *pos < 4)
        return -1;
    uint32_t l = le32(d + *pos);
    *pos += 4;
    if (l == NONE) {
        *out = NULL;
        *n = 0;
        return 0;
    }
    if (len - *pos < l)
        return -1;
    *out = d + *pos;
    *n = l;
    *pos += l;
    return 0;
}

int rv_archive_decode(const uint8_t *d, size_t len, rv_archived *a, char *err, size_t err_size)
{
    *a = (rv_archived){0};
    rv_header *h = NULL;
    size_t pos = 4;
    const uint8_t *name;
    size_t nlen;
    if (len < 4 || memcmp(d, MAGIC, 4) != 0) {
        rv_errf(err, err_size, "not an archive record (no %s mark)", MAGIC);
        return -1;
    }
    if (get_bytes(d, len, &pos, &a->key, &a->key_len) != 0 || len - pos < 4)
        goto truncated;
    uint32_t n = le32(d + pos);
    pos += 4;
    /* each header takes at least 10 bytes: a count past that is a lie */
    if (n > (len - pos) / 10)
        goto truncated;
    h = calloc(n ? n : 1, sizeof *h);
    if (!h) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    a->headers = h;
    for (uint32_t i = 0; i < n; i++) {
        if (get_bytes(d, len, &pos, &name, &nlen) != 0 || !name || pos >= len || d[pos] != 0 ||
            memchr(name, 0, nlen))
            goto bad;
        pos++;
        h[i].name = (const char *)name;
        const uint8_t *v;
        if (get_bytes(d, len, &pos, &v, &h[i].value_len) != 0)
            goto bad;
        h[i].value = v;
    }
    a->n_headers = n;
    if (get_bytes(d, len, &pos, &a->value, &a->value_len) != 0 || pos != len)
        goto bad;
    if (!a->value)
        a->value = (const uint8_t *)"";
    rv_archived_split(a);
    return 0;
bad:
    free(h);
    a->headers = NULL;
    a->n_headers = 0;
truncated:
    rv_errf(err, err_size, "archive record is malformed at byte %zu of %zu", pos, len);
    return -1;
}

int rv_fsync_policy_parse(const char *s, rv_fsync_policy *out)
{
    if (strcmp(s, "never") == 0)
        *out = RV_FSYNC_NEVER;
    else if (strcmp(s, "rotate") == 0)
        *out = RV_FSYNC_ROTATE;
    else if (strcmp(s, "always") == 0)
        *out = RV_FSYNC_ALWAYS;
    else
        return -1;
    return 0;
}

int rv_archive_segment_seq(const char *name, uint64_t *seq)
{
    unsigned long long v;
    int used = 0;
    if (strlen(name) != 28 || sscanf(name, "seg-%20llu.rva%n", &v, &used) != 1 || used != 28)
        return 0;
    *seq = v;
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rv_archive_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int rv_archive_segment_names(const char *dir, char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t cnt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t seq;
        if (!rv_archive_segment_seq(e->d_name, &seq))
            continue;
        char **nn = realloc(names, (cnt + 1) * sizeof *names);
        char *name = nn ? strdup(e->d_name) : NULL;
        if (nn)
            names = nn;
        if (!name) {
            /* a partial list would hide later segments: fail whole */
            closedir(d);
            rv_archive_names_free(names, cnt);
            errno = ENOMEM;
            return -1;
        }
        names[cnt++] = name;
    }
    closedir(d);
    if (cnt > 1)
        qsort(names, cnt, sizeof *names, cmp_names);
    *out = names;
    *n = cnt;
    return 0;
}

/* Creates the next segment. Another writer of the directory (another
 * instance of the decoy, or the one a reload replaces) may have taken
 * that sequence: then the one after it. */
static int open_next_segment(rv_segment_writer *w, char *err, size_t err_size)
{
    char path[4200];
    int fd;
    for (int tries = 0;; tries++, w->next_seq++) {
        snprintf(path, sizeof path, "%s/seg-%020llu.rva", w->dir, (unsigned long long)w->next_seq);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST || tries == 1000)
            break;
    }
    if (fd < 0) {
        rv_errf(err, err_size, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    flock(fd, LOCK_SH); /* retention deletes no segment a writer has open */
    w->fd = fd;
    w->written = 0;
    w->seq = w->next_seq++;
    return 0;
}

rv_segment_writer *rv_segment_writer_open(const char *dir, uint64_t segment_bytes,
                                          rv_fsync_policy policy, const rv_archive_retention *keep,
                                          char *err, size_t err_size)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        rv_errf(err, err_size, "cannot create archive dir %s: %s", dir, strerror(errno));
        return NULL;
    }
    rv_segment_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    w->segment_bytes = segment_bytes;
    w->policy = policy;
    w->fd = -1;
    if (keep)
        w->keep = *keep;
    /* Never append to an existing segment: a crash may have left a torn
     * record at its end. Start a new one after the highest sequence. */
    char **names;
    size_t n;
    if (rv_archive_segment_names(dir, &names, &n) != 0) {
        rv_errf(err, err_size, "cannot list %s: %s", dir, strerror(errno));
        free(w->dir);
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        if (rv_archive_segment_seq(names[i], &seq) && seq >= w->next_seq)
            w->next_seq = seq + 1;
    }
    rv_archive_names_free(names, n);
    if (open_next_segment(w, err, err_size) != 0) {
        free(w->dir);
        free(w);
        return NULL;
    }
    return w;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

long rv_segment_writer_retain(rv_segment_writer *w)
{
    w->retain_at_ms = rv_mono_ms() + RETAIN_EVERY_MS;
    /* with no segment open (its creation failed), none from next_seq on is
     * this writer's yet */
    return rv_archive_retain(w->dir, &w->keep, w->fd >= 0 ? w->seq : w->next_seq, time(NULL));
}

/* Writes the record whose payload of len bytes is at w->buf + RECORD_HEADER. */
static int write_record(rv_segment_writer *w, size_t len, char *err, size_t err_size)
{
    int rotated = w->fd < 0; /* a segment that could not be created: again */
    if (w->fd >= 0 && w->written > 0 && w->written + RECORD_HEADER + len > w->segment_bytes) {
        if (w->policy != RV_FSYNC_NEVER)
            fsync(w->fd);
        close(w->fd);
        w->fd = -1;
        rotated = 1;
    }
    if (rotated && open_next_segment(w, err, err_size) != 0)
        return -1;
    if (rotated || rv_mono_ms() >= w->retain_at_ms)
        rv_segment_writer_retain(w);
    put32(w->buf, (uint32_t)len);
    put32(w->buf + 4, (uint32_t)crc32(0L, w->buf + RECORD_HEADER, (uInt)len));
    /* One write() per record keeps records whole with O_APPEND. */
    if (write_all(w->fd, w->buf, len + RECORD_HEADER) != 0) {
        rv_errf(err, err_size, "archive write failed: %s", strerror(errno));
        /* a part written (the disk filled up midway) is cut off, so that
         * the next record follows the last whole one; if that fails too,
         * the reader skips the part as a corrupt record */
        int cut = ftruncate(w->fd, (off_t)w->written);
        (void)cut;
        return -1;
    }
    w->written += RECORD_HEADER + len;
    if (w->policy == RV_FSYNC_ALWAYS)
        fdatasync(w->fd);
    return 0;
}

int rv_segment_writer_append_request(rv_segment_writer *w, const rv_request *r, char *err,
                                     size_t err_size)
{
    size_t len = encode_request(w, r);
    int rc = -1;
    if (len == 0)
        rv_errf(err, err_size, "archive record of request %s: too large or out of memory", r->id);
    else
        rc = write_record(w, len, err, err_size);
    rv_archive_note_write(rc == 0, &w->failing);
    return rc;
}

int rv_segment_writer_append(rv_segment_writer *w, const void *payload, size_t len, char *err,
                             size_t err_size)
{
    int rc = -1;
    if (len > MAX_RECORD)
        rv_errf(err, err_size, "archive record of %zu bytes exceeds %u", len, MAX_RECORD);
    else if (reserve(w, RECORD_HEADER + len) != 0)
        rv_errf(err, err_size, "out of memory");
    else {
        memcpy(w->buf + RECORD_HEADER, payload, len);
        rc = write_record(w, len, err, err_size);
    }
    rv_archive_note_write(rc == 0, &w->failing);
    return rc;
}

void rv_segment_writer_close(rv_segment_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        if (w->policy != RV_FSYNC_NEVER)
            fsync(w->fd);
        close(w->fd);
    }
    if (w->failing)
        rv_archive_note_write(1, &w->failing); /* no longer failing: gone */
    free(w->buf);
    free(w->dir);
    free(w);
}

static long walk_segment(const char *path, rv_archive_record_fn fn, void *ctx, FILE *errout)
{
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT)
        return 0; /* deleted by retention since the listing: the oldest, gone */
    if (!f) {
        fprintf(errout, "%s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *data = size > 0 ? malloc((size_t)size) : NULL;
    if (size > 0 && (!data || fread(data, 1, (size_t)size, f) != (size_t)size)) {
        fprintf(errout, "%s: cannot read\n", path);
        free(data);
        fclose(f);
        return 1;
    }
    fclose(f);
    long corrupt = 0;
    size_t pos = 0, end = (size_t)(size > 0 ? size : 0);
    int in_bad_run = 0;
    while (pos < end) {
        int ok = 0;
        uint32_t len = 0;
        if (end - pos >= RECORD_HEADER) {
            len = le32(data + pos);
            if (len <= MAX_RECORD && len <= end - pos - RECORD_HEADER &&
                (uint32_t)crc32(0L, data + pos + RECORD_HEADER, len) == le32(data + pos + 4))
                ok = 1;
        }
        if (ok) {
            if (fn(ctx, data + pos + RECORD_HEADER, len) != 0) {
                free(data);
                return -1;
            }
            pos += RECORD_HEADER + len;
            in_bad_run = 0;
            continue;
        }
        if (!in_bad_run) {
            fprintf(errout, "%s: offset %zu: corrupt record (%s), skipping to the next valid one\n",
                    path, pos,
                    end - pos < RECORD_HEADER         ? "truncated header"
                    : len > end - pos - RECORD_HEADER ? "length past end of file"
                                                      : "CRC mismatch");
            corrupt++;
            in_bad_run = 1;
        }
        pos++;
    }
    free(data);
    return corrupt;
}

long rv_archive_walk(const char *dir, rv_archive_record_fn fn, void *ctx, FILE *errout)
{
    char **names;
    size_t n;
    if (rv_archive_segment_names(dir, &names, &n) != 0) {
        fprintf(errout, "%s: cannot read archive directory: %s\n", dir, strerror(errno));
        return -1;
    }
    long corrupt = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        long c = walk_segment(path, fn, ctx, errout);
        if (c < 0) {
            corrupt = -1;
            break;
        }
        corrupt += c;
    }
    rv_archive_names_free(names, n);
    return corrupt;
}
