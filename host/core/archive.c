/*
 * archive.c - segment files of the decoy's archive. Writes are append-only
 * and never rewrite a byte already written; the reader never trusts a
 * length it has not checked against the CRC.
 */
#include "archive.h"

#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define RECORD_HEADER 8
#define MAX_RECORD (64u << 20)

struct rv_segment_writer {
    char *dir;
    uint64_t segment_bytes;
    rv_fsync_policy policy;
    int fd;
    uint64_t written;
    uint64_t next_seq;
};

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

static int is_segment_name(const char *name, uint64_t *seq)
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

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int segment_names(const char *dir, char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t cnt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t seq;
        if (!is_segment_name(e->d_name, &seq))
            continue;
        char **nn = realloc(names, (cnt + 1) * sizeof *names);
        char *name = nn ? strdup(e->d_name) : NULL;
        if (nn)
            names = nn;
        if (!name) {
            /* a partial list would hide later segments: fail whole */
            closedir(d);
            free_names(names, cnt);
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

static int open_next_segment(rv_segment_writer *w, char *err, size_t err_size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/seg-%020llu.rva", w->dir, (unsigned long long)w->next_seq);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        rv_errf(err, err_size, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    w->fd = fd;
    w->written = 0;
    w->next_seq++;
    return 0;
}

rv_segment_writer *rv_segment_writer_open(const char *dir, uint64_t segment_bytes,
                                          rv_fsync_policy policy, char *err, size_t err_size)
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
    /* Never append to an existing segment: a crash may have left a torn
     * record at its end. Start a new one after the highest sequence. */
    char **names;
    size_t n;
    if (segment_names(dir, &names, &n) != 0) {
        rv_errf(err, err_size, "cannot list %s: %s", dir, strerror(errno));
        free(w->dir);
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        if (is_segment_name(names[i], &seq) && seq >= w->next_seq)
            w->next_seq = seq + 1;
    }
    free_names(names, n);
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

int rv_segment_writer_append(rv_segment_writer *w, const void *payload, size_t len, char *err,
                             size_t err_size)
{
    if (len > MAX_RECORD) {
        rv_errf(err, err_size, "archive record of %zu bytes exceeds %u", len, MAX_RECORD);
        return -1;
    }
    if (w->written > 0 && w->written + RECORD_HEADER + len > w->segment_bytes) {
        if (w->policy != RV_FSYNC_NEVER)
            fsync(w->fd);
        close(w->fd);
        w->fd = -1;
        if (open_next_segment(w, err, err_size) != 0)
            return -1;
    }
    uint32_t crc = (uint32_t)crc32(0L, payload, (uInt)len);
    unsigned char hdr[RECORD_HEADER];
    for (int i = 0; i < 4; i++) {
        hdr[i] = (unsigned char)(len >> (8 * i));
        hdr[4 + i] = (unsigned char)(crc >> (8 * i));
    }
    /* One write() per record keeps records whole with O_APPEND. */
    char stackbuf[8192];
    char *buf = len + RECORD_HEADER <= sizeof stackbuf ? stackbuf : malloc(len + RECORD_HEADER);
    if (!buf) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    memcpy(buf, hdr, RECORD_HEADER);
    memcpy(buf + RECORD_HEADER, payload, len);
    int rc = write_all(w->fd, buf, len + RECORD_HEADER);
    if (buf != stackbuf)
        free(buf);
    if (rc != 0) {
        rv_errf(err, err_size, "archive write failed: %s", strerror(errno));
        return -1;
    }
    w->written += RECORD_HEADER + len;
    if (w->policy == RV_FSYNC_ALWAYS)
        fdatasync(w->fd);
    return 0;
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
    free(w->dir);
    free(w);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static long cat_segment(const char *path, FILE *out, FILE *errout)
{
    FILE *f = fopen(path, "rb");
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
            fwrite(data + pos + RECORD_HEADER, 1, len, out);
            fputc('\n', out);
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

long rv_archive_cat(const char *dir, FILE *out, FILE *errout)
{
    char **names;
    size_t n;
    if (segment_names(dir, &names, &n) != 0) {
        fprintf(errout, "%s: cannot read archive directory: %s\n", dir, strerror(errno));
        return -1;
    }
    long corrupt = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        corrupt += cat_segment(path, out, errout);
    }
    free_names(names, n);
    return corrupt;
}
