/*
 * test_archive.c - the decoy's archive: a record is the request's exact
 * copy (key, headers, body, then provenance) and round-trips byte for byte
 * through segment files, which rotate by size; a corrupt record is reported
 * and skipped, not fatal; a truncated or lying one is refused on decode.
 * Retention deletes whole segments, oldest first, by size and by age, never
 * one being written, and what remains reads as before (`archive cat`).
 * Also the decoy plugin itself: what it emits and writes, its params, and
 * what it does when its files cannot be written: it serves, alerts, counts.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "archive.h"
#include "builtins.h"
#include "test_helpers.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir();
}

static void teardown(void)
{
    test_rm_rf(dir);
    free(dir);
}

/* Every valid record of dir, in order: copies of the payloads. */
typedef struct walked {
    uint8_t *payload[512];
    size_t len[512];
    size_t n;
} walked;

static int collect(void *ctx, const uint8_t *payload, size_t len)
{
    walked *w = ctx;
    ck_assert_uint_lt(w->n, 512);
    w->payload[w->n] = malloc(len ? len : 1);
    memcpy(w->payload[w->n], payload, len);
    w->len[w->n++] = len;
    return 0;
}

static long walk(walked *w, char **errors)
{
    size_t elen = 0;
    FILE *e = open_memstream(errors, &elen);
    w->n = 0;
    long corrupt = rv_archive_walk(dir, collect, w, e);
    fclose(e);
    return corrupt;
}

static void walked_free(walked *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->payload[i]);
    w->n = 0;
}

/* Decodes payload and checks that it is r's exact copy: key, own headers,
 * provenance, body. */
static void assert_copy_of(const uint8_t *payload, size_t len, const rv_request *r)
{
    rv_archived a;
    char err[256];
    ck_assert_msg(rv_archive_decode(payload, len, &a, err, sizeof err) == 0, "%s", err);
    if (r->key) {
        ck_assert_uint_eq(a.key_len, r->key_len);
        ck_assert(memcmp(a.key, r->key, r->key_len) == 0);
    } else
        ck_assert_ptr_null(a.key);
    ck_assert_uint_eq(a.n_own, r->n_headers);
    ck_assert_uint_eq(a.n_headers, r->n_headers + RV_ARCHIVE_PROVENANCE);
    for (size_t i = 0; i < r->n_headers; i++) {
        ck_assert_str_eq(a.headers[i].name, r->headers[i].name);
        ck_assert_uint_eq(a.headers[i].value_len, r->headers[i].value_len);
        /* a header without a value stays without one */
        ck_assert_int_eq(!a.headers[i].value, !r->headers[i].value);
        if (r->headers[i].value)
            ck_assert(memcmp(a.headers[i].value, r->headers[i].value, r->headers[i].value_len) ==
                      0);
    }
    rv_provenance p;
    rv_archive_provenance(r, &p);
    for (size_t i = 0; i < RV_ARCHIVE_PROVENANCE; i++) {
        const rv_header *h = &a.headers[r->n_headers + i];
        ck_assert_str_eq(h->name, rv_archive_provenance_names[i]);
        ck_assert_uint_eq(h->value_len, p.h[i].value_len);
        ck_assert(memcmp(h->value, p.h[i].value, h->value_len) == 0);
    }
    ck_assert_uint_eq(a.value_len, r->body_len);
    ck_assert(memcmp(a.value, r->body, r->body_len) == 0);
    free(a.headers);
}

/* Requests r-0.. of about 200 bytes each as archive records, with and
 * without keys and headers. */
enum { MANY = 300 };
static char g_body[MANY][120], g_key[MANY][16], g_id[MANY][16];
static rv_header g_hdr[2] = {{"trace", "t-1", 3}, {"empty", NULL, 0}};
static rv_request g_reqs[MANY];

static void make_requests(void)
{
    for (int i = 0; i < MANY; i++) {
        snprintf(g_id[i], sizeof g_id[i], "r-%d", i);
        snprintf(g_key[i], sizeof g_key[i], "k-%d", i);
        int n = snprintf(g_body[i], sizeof g_body[i], "{\"i\":%d,\"pad\":\"%080d\"}", i, i);
        g_reqs[i] = (rv_request){.id = g_id[i],
                                 .body = (const uint8_t *)g_body[i],
                                 .body_len = (size_t)n,
                                 .topic = "t.requests",
                                 .partition = i % 3,
                                 .offset = 1000 + i,
                                 .timestamp_ms = i % 2 ? 1795470000123 + i : -1,
                                 .key = i % 5 ? (const uint8_t *)g_key[i] : NULL,
                                 .key_len = i % 5 ? strlen(g_key[i]) : 0,
                                 .headers = g_hdr,
                                 .n_headers = (size_t)(i % 3)};
    }
}

static void append(rv_segment_writer *w, int from, int to)
{
    char err[256];
    for (int i = from; i < to; i++)
        ck_assert_msg(rv_segment_writer_append_request(w, &g_reqs[i], err, sizeof err) == 0, "%s",
                      err);
}

START_TEST(records_round_trip_and_rotate)
{
    char err[256];
    rv_segment_writer *w =
        rv_segment_writer_open(dir, 4096, RV_FSYNC_ROTATE, NULL, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    make_requests();
    append(w, 0, 100);
    rv_segment_writer_close(w);
    walked got;
    char *errors;
    ck_assert_int_eq(walk(&got, &errors), 0);
    ck_assert_str_eq(errors, "");
    ck_assert_uint_eq(got.n, 100);
    for (int i = 0; i < 100; i++)
        assert_copy_of(got.payload[i], got.len[i], &g_reqs[i]);
    walked_free(&got);
    free(errors);
    /* 100 records of ~200 bytes in 4 KiB segments: several files */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -ge 3", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Two writers of one directory (two decoy instances, or the decoy a reload
 * replaces and its successor), both rotating: a sequence the other took is
 * skipped, not a failure, and every record of both is there. */
START_TEST(two_writers_of_one_dir_both_rotate)
{
    char err[256];
    rv_segment_writer *a = rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, NULL, err, sizeof err);
    rv_segment_writer *b = rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, NULL, err, sizeof err);
    ck_assert(a && b);
    make_requests();
    for (int i = 0; i < 100; i += 2) {
        append(a, i, i + 1);
        append(b, i + 1, i + 2);
    }
    rv_segment_writer_close(a);
    rv_segment_writer_close(b);
    walked got;
    char *errors;
    ck_assert_int_eq(walk(&got, &errors), 0);
    ck_assert_str_eq(errors, "");
    free(errors);
    ck_assert_uint_eq(got.n, 100);
    walked_free(&got);
}
END_TEST

/* Every prefix of a record and every single flipped byte decodes to an
 * error or to a record whose lengths stay inside the payload: never a read
 * past its end (the sanitizer build checks the reads). */
START_TEST(decode_refuses_truncated_and_lying_records)
{
    char err[256];
    rv_segment_writer *w =
        rv_segment_writer_open(dir, 1 << 20, RV_FSYNC_NEVER, NULL, err, sizeof err);
    rv_header hdr[] = {{"trace", "t-1", 3}, {"bin", "\xff\x00", 2}};
    rv_request r = {.id = "r-1",
                    .body = (const uint8_t *)"{\"x\": 1}",
                    .body_len = 8,
                    .topic = "t",
                    .key = (const uint8_t *)"k",
                    .key_len = 1,
                    .headers = hdr,
                    .n_headers = 2};
    ck_assert_int_eq(rv_segment_writer_append_request(w, &r, err, sizeof err), 0);
    rv_segment_writer_close(w);
    walked got;
    char *errors;
    ck_assert_int_eq(walk(&got, &errors), 0);
    free(errors);
    ck_assert_uint_eq(got.n, 1);
    size_t len = got.len[0];
    rv_archived a;
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees an overread */
        memcpy(cut, got.payload[0], n);
        ck_assert_int_eq(rv_archive_decode(cut, n, &a, err, sizeof err), -1);
        free(cut);
    }
    for (size_t i = 4; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *bad = malloc(len);
            memcpy(bad, got.payload[0], len);
            bad[i] ^= (uint8_t)(1u << bit);
            if (rv_archive_decode(bad, len, &a, err, sizeof err) == 0) {
                for (size_t k = 0; k < a.n_headers; k++)
                    ck_assert(a.headers[k].value_len <= len);
                ck_assert(a.value_len <= len);
                free(a.headers);
            } else
                ck_assert_msg(strstr(err, "malformed"), "%s", err);
            free(bad);
        }
    ck_assert_int_eq(rv_archive_decode((const uint8_t *)"{\"a\":1}", 7, &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not an archive record"), "%s", err);
    walked_free(&got);
}
END_TEST

START_TEST(corrupt_record_is_reported_and_skipped)
{
    char err[256];
    rv_segment_writer *w =
        rv_segment_writer_open(dir, 1 << 20, RV_FSYNC_NEVER, NULL, err, sizeof err);
    ck_assert_int_eq(rv_segment_writer_append(w, "{\"a\":1}", 7, err, sizeof err), 0);
    ck_assert_int_eq(rv_segment_writer_append(w, "{\"b\":2}", 7, err, sizeof err), 0);
    ck_assert_int_eq(rv_segment_writer_append(w, "{\"c\":3}", 7, err, sizeof err), 0);
    rv_segment_writer_close(w);
    /* flip one payload byte of the second record */
    char path[4300];
    snprintf(path, sizeof path, "%s/seg-%020d.rva", dir, 0);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 15 + 8 + 2, SEEK_SET);
    fputc('X', f);
    fclose(f);
    walked got;
    char *errors;
    ck_assert_int_eq(walk(&got, &errors), 1);
    ck_assert_uint_eq(got.n, 2);
    ck_assert(got.len[0] == 7 && memcmp(got.payload[0], "{\"a\":1}", 7) == 0);
    ck_assert(got.len[1] == 7 && memcmp(got.payload[1], "{\"c\":3}", 7) == 0);
    ck_assert_msg(strstr(errors, "offset 15: corrupt record (CRC mismatch)"), "%s", errors);
    walked_free(&got);
    free(errors);
}
END_TEST

/* The segments of dir: how many, their bytes, the first and last sequence. */
typedef struct segs {
    size_t n;
    uint64_t bytes, first, last;
} segs;

static segs list_segments(void)
{
    segs g = {0, 0, UINT64_MAX, 0};
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long seq;
        if (sscanf(e->d_name, "seg-%20llu.rva", &seq) != 1)
            continue;
        char path[4300];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ck_assert_int_eq(stat(path, &st), 0);
        g.n++;
        g.bytes += (uint64_t)st.st_size;
        g.first = seq < g.first ? seq : g.first;
        g.last = seq > g.last ? seq : g.last;
    }
    closedir(d);
    return g;
}

static void set_mtime(uint64_t seq, time_t t)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/seg-%020llu.rva", dir, (unsigned long long)seq);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* What remains is the tail of what was written: the records
 * g_reqs[to - n .. to), in order, none corrupt; and `rendezvous archive cat`
 * prints the same. The number of records. */
static size_t assert_tail(int to)
{
    walked got;
    char *errors;
    ck_assert_int_eq(walk(&got, &errors), 0);
    ck_assert_str_eq(errors, "");
    free(errors);
    size_t n = got.n;
    ck_assert_uint_gt(n, 0);
    for (size_t k = 0; k < n; k++)
        assert_copy_of(got.payload[k], got.len[k], &g_reqs[(size_t)to - n + k]);
    walked_free(&got);
    char cmd[4400], line[4096], want[64];
    snprintf(cmd, sizeof cmd, "'%s' archive cat '%s'", RV_RUNNER, dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t lines = 0;
    while (fgets(line, sizeof line, p)) {
        snprintf(want, sizeof want, "\"id\":\"%s\"", g_id[(size_t)to - n + lines]);
        ck_assert_msg(strstr(line, want), "line %zu: %s", lines, line);
        lines++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_uint_eq(lines, n);
    return n;
}

START_TEST(retention_deletes_the_oldest_whole_segments_past_max_bytes)
{
    char err[256];
    rv_archive_counts before, after;
    rv_archive_counts_get(&before);
    rv_archive_retention keep = {5 * 4096, 0};
    rv_segment_writer *w =
        rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, &keep, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    make_requests();
    for (int i = 0; i < MANY; i += 10) {
        append(w, i, i + 10);
        /* never more than the bound and the segment being filled */
        segs g = list_segments();
        ck_assert_uint_le(g.bytes, keep.max_bytes + 4096);
        ck_assert_uint_eq(g.last - g.first + 1, g.n); /* no hole */
    }
    rv_segment_writer_close(w);
    segs g = list_segments(); /* 300 records of ~200 bytes: ~16 segments */
    ck_assert_uint_ge(g.first, 8);
    ck_assert_uint_ge(g.n, 4);
    rv_archive_counts_get(&after);
    ck_assert_uint_eq(after.segments_deleted - before.segments_deleted, g.first);
    uint64_t freed = after.bytes_deleted - before.bytes_deleted;
    ck_assert_uint_gt(freed, g.first * 3500);
    ck_assert_uint_le(freed, g.first * 4096);
    ck_assert_uint_ge(assert_tail(MANY), 60);
}
END_TEST

START_TEST(retention_never_deletes_a_segment_being_written)
{
    char err[256];
    make_requests();
    /* another writer of the same dir (the old decoy while a reload
     * overlaps): its open segment is the oldest */
    rv_segment_writer *a = rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, NULL, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    append(a, 0, 1);
    rv_archive_retention keep = {1, 0};
    rv_segment_writer *w =
        rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, &keep, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    append(w, 1, 100);
    segs g = list_segments();
    ck_assert_uint_eq(g.first, 0); /* a's: kept, and so is all after it */
    ck_assert_uint_ge(g.n, 4);
    rv_segment_writer_close(a);
    ck_assert_int_eq(rv_segment_writer_retain(w), (long)g.n - 1);
    append(w, 100, 110);
    g = list_segments(); /* at a bound of 1 byte: only the one being written */
    ck_assert_uint_eq(g.n, 1);
    rv_segment_writer_close(w);
    assert_tail(110);
}
END_TEST

START_TEST(retention_deletes_segments_past_max_age)
{
    char err[256];
    make_requests();
    rv_segment_writer *w = rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, NULL, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    append(w, 0, 100);
    rv_segment_writer_close(w);
    segs g = list_segments();
    ck_assert_uint_ge(g.n, 4);
    time_t now = time(NULL);
    for (uint64_t s = 0; s < g.n; s++)
        set_mtime(s, now - 7200);
    set_mtime(0, now - 60); /* the oldest is young: nothing goes (no hole) */
    set_mtime(g.last, now - 60);
    rv_archive_counts before, after;
    rv_archive_counts_get(&before);
    rv_archive_retention keep = {0, 3600};
    w = rv_segment_writer_open(dir, 4096, RV_FSYNC_NEVER, &keep, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_uint_eq(list_segments().n, g.n + 1); /* opening deletes nothing */
    append(w, 100, 101);
    ck_assert_uint_eq(list_segments().n, g.n + 1);
    set_mtime(0, now - 7200);
    ck_assert_int_eq(rv_segment_writer_retain(w), (long)g.n - 1);
    rv_archive_counts_get(&after);
    ck_assert_uint_eq(after.segments_deleted - before.segments_deleted, g.n - 1);
    segs left = list_segments();
    ck_assert_uint_eq(left.n, 2);
    ck_assert_uint_eq(left.first, g.last);
    append(w, 101, 110);
    rv_segment_writer_close(w);
    assert_tail(110);
}
END_TEST

static int emitted;

/* The decoy's record on the archive stream is the request itself: its key
 * and body, unchanged (the host adds headers and provenance). */
static int capture_emit(void *ctx, const rv_request *about, const char *stream, const void *key,
                        size_t key_len, const void *value, size_t value_len)
{
    (void)ctx;
    ck_assert_str_eq(stream, "archive");
    ck_assert_ptr_nonnull(about);
    ck_assert_ptr_eq(key, about->key);
    ck_assert_uint_eq(key_len, about->key_len);
    ck_assert_uint_eq(value_len, about->body_len);
    ck_assert(memcmp(value, about->body, value_len) == 0);
    emitted++;
    return RV_OK;
}

START_TEST(decoy_records_exact_bytes)
{
    const rv_plugin *p = rv_builtin_decoy();
    rv_host_services hs = {sizeof hs, NULL, NULL, capture_emit};
    rv_param params[] = {{"dir", dir}};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = "decoy",
                           .params = params,
                           .n_params = 1,
                           .services = &hs};
    rv_model_info info;
    void *inst;
    char err[256];
    ck_assert_int_eq(p->create(&args, &info, &inst, err, sizeof err), RV_OK);
    double feat = 1.5;
    rv_header hdr = {"rv-reply-to", "other.results", 13};
    const uint8_t body_bin[] = {0xff, 0x00, 'x'};
    rv_request reqs[3] = {
        {.id = "r-1",
         .body = (const uint8_t *)"{\"x\": \"\\u00e9\"}",
         .body_len = 15,
         .features = &feat,
         .n_features = 1,
         .topic = "t.requests",
         .partition = 2,
         .offset = 4411,
         .timestamp_ms = 1795470000123,
         .key = (const uint8_t *)"r-1",
         .key_len = 3,
         .headers = &hdr,
         .n_headers = 1},
        {.id = "r-2",
         .body = body_bin,
         .body_len = 3,
         .features = &feat,
         .n_features = 1,
         .topic = "t.requests",
         .offset = 5,
         .timestamp_ms = -1},
        {.id = "r-3",
         .body = (const uint8_t *)"{}",
         .body_len = 2,
         .features = &feat,
         .n_features = 1,
         .topic = "t.requests",
         .offset = 6,
         .timestamp_ms = -1},
    };
    for (int i = 0; i < 3; i++) {
        rv_answer a[2];
        char e[64] = "";
        rv_result res = {RV_STATUS_ERROR, 0, 2, a, e, sizeof e};
        const rv_request *rp[1] = {&reqs[i]};
        rv_result *resp[1] = {&res};
        ck_assert_int_eq(p->score(inst, rp, resp, 1, err, sizeof err), RV_OK);
        ck_assert_int_eq(res.status, RV_STATUS_OK);
        ck_assert_uint_eq(res.n_answers, 0);
    }
    ck_assert_int_eq(emitted, 3);
    p->destroy(inst);
    walked got;
    char *errors;
    ck_assert_int_eq(walk(&got, &errors), 0);
    ck_assert_str_eq(errors, "");
    ck_assert_uint_eq(got.n, 3);
    for (int i = 0; i < 3; i++)
        assert_copy_of(got.payload[i], got.len[i], &reqs[i]);
    walked_free(&got);
    free(errors);
}
END_TEST

START_TEST(decoy_refuses_keep_unknown_and_repeated_params)
{
    const rv_plugin *p = rv_builtin_decoy();
    rv_host_services hs = {sizeof hs, NULL, NULL, capture_emit};
    rv_param params[] = {{"keep", "2"}, {"max_bytes", "1"}};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = "decoy",
                           .params = params,
                           .n_params = 1,
                           .services = &hs};
    rv_model_info info;
    void *inst = NULL;
    char err[256] = "";
    ck_assert_int_eq(p->create(&args, &info, &inst, err, sizeof err), RV_EINVAL);
    ck_assert_msg(strstr(err, "params.keep") && strstr(err, "reload.warmup_requests"), "%s", err);
    params[0] = (rv_param){"segment_byte", "4096"};
    ck_assert_int_eq(p->create(&args, &info, &inst, err, sizeof err), RV_EINVAL);
    ck_assert_msg(strstr(err, "params.segment_byte: unknown"), "%s", err);
    params[0] = (rv_param){"max_age_s", "-1"};
    ck_assert_int_eq(p->create(&args, &info, &inst, err, sizeof err), RV_EINVAL);
    ck_assert_msg(strstr(err, "params.max_age_s: '-1'"), "%s", err);
    /* the host sets these from the archive section: not in params too */
    params[0] = (rv_param){"max_bytes", "1048576"};
    args.n_params = 2;
    ck_assert_int_eq(p->create(&args, &info, &inst, err, sizeof err), RV_EINVAL);
    ck_assert_msg(strstr(err, "params.max_bytes: given twice") && strstr(err, "archive"), "%s",
                  err);
}
END_TEST

/* The decoy's host services for the write-failure test: what it logs and
 * emits. */
static int archived, errors_logged;
static char alerts[4][1024];
static int n_alerts;

static int count_emit(void *ctx, const rv_request *about, const char *stream, const void *k,
                      size_t key_len, const void *value, size_t value_len)
{
    (void)ctx;
    (void)k;
    (void)key_len;
    if (strcmp(stream, "archive") == 0 && about)
        archived++;
    else if (strcmp(stream, "alerts") == 0 && !about && n_alerts < 4)
        snprintf(alerts[n_alerts++], sizeof alerts[0], "%.*s", (int)value_len, (const char *)value);
    return RV_OK;
}

static void count_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)msg;
    errors_logged += level == RV_LOG_ERROR;
}

/* Scores g_reqs[from, to) one by one: statuses into st, errors into e. */
static void score_each(const rv_plugin *p, void *inst, int from, int to, int *st, char (*e)[256])
{
    for (int i = from; i < to; i++) {
        rv_answer a[1];
        char why[256] = "";
        rv_result res = {RV_STATUS_ERROR, 0, 1, a, e[i], sizeof e[i]};
        const rv_request *rp[1] = {&g_reqs[i]};
        rv_result *resp[1] = {&res};
        st[i] = p->score(inst, rp, resp, 1, why, sizeof why) == RV_OK ? res.status : -1;
    }
}

/* A file that cannot grow (RLIMIT_FSIZE, as a full disk: the record being
 * written is cut short, then every write fails) costs only the files: every
 * request is still emitted on the archive stream and scored, one alert and
 * one error line for the run, every record counted; once writes work again,
 * one clear, and the files hold every record written, none torn. */
START_TEST(decoy_serves_alerts_and_counts_when_its_files_cannot_be_written)
{
    const rv_plugin *p = rv_builtin_decoy();
    rv_host_services hs = {sizeof hs, NULL, count_log, count_emit};
    rv_param params[] = {{"dir", dir}, {"segment_bytes", "65536"}};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = "decoy",
                           .params = params,
                           .n_params = 2,
                           .services = &hs};
    rv_model_info info;
    void *inst;
    char err[256];
    ck_assert_int_eq(p->create(&args, &info, &inst, err, sizeof err), RV_OK);
    make_requests();
    static int st[30];
    static char e[30][256];
    score_each(p, inst, 0, 5, st, e);
    char seg[4300];
    struct stat sb;
    snprintf(seg, sizeof seg, "%s/seg-%020d.rva", dir, 0);
    ck_assert_int_eq(stat(seg, &sb), 0);
    off_t whole = sb.st_size;
    rv_archive_counts before, during, after;
    rv_archive_counts_get(&before);
    struct rlimit old, tiny;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    tiny = (struct rlimit){(rlim_t)whole + 40, old.rlim_max};
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    score_each(p, inst, 5, 25, st, e); /* no assertion until the limit is back */
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    rv_archive_counts_get(&during);
    for (int i = 0; i < 25; i++)
        if (i < 5)
            ck_assert_int_eq(st[i], RV_STATUS_OK);
        else {
            ck_assert_int_eq(st[i], RV_STATUS_ERROR);
            ck_assert_msg(strstr(e[i], "archive failed") && strstr(e[i], "File too large"), "%s",
                          e[i]);
        }
    ck_assert_int_eq(archived, 25); /* every request on the stream */
    ck_assert_uint_eq(during.write_failures - before.write_failures, 20);
    ck_assert_uint_eq(during.failing, before.failing + 1);
    ck_assert_int_eq(errors_logged, 1);
    ck_assert_int_eq(n_alerts, 1);
    ck_assert_msg(strstr(alerts[0], "\"type\":\"alert\"") &&
                      strstr(alerts[0], "\"check\":\"archive_write\"") &&
                      strstr(alerts[0], "\"model\":\"decoy\"") &&
                      strstr(alerts[0], "File too large"),
                  "%s", alerts[0]);
    ck_assert_int_eq(stat(seg, &sb), 0);
    ck_assert_int_eq(sb.st_size, whole); /* the record cut short is cut off */
    score_each(p, inst, 25, 30, st, e);
    for (int i = 25; i < 30; i++)
        ck_assert_int_eq(st[i], RV_STATUS_OK);
    ck_assert_int_eq(n_alerts, 2);
    ck_assert_msg(strstr(alerts[1], "\"type\":\"clear\"") &&
                      strstr(alerts[1], "\"not_written\":20"),
                  "%s", alerts[1]);
    rv_archive_counts_get(&after);
    ck_assert_uint_eq(after.failing, before.failing);
    p->destroy(inst);
    walked got;
    char *errs;
    ck_assert_int_eq(walk(&got, &errs), 0);
    ck_assert_str_eq(errs, "");
    free(errs);
    ck_assert_uint_eq(got.n, 10);
    for (size_t k = 0; k < 10; k++)
        assert_copy_of(got.payload[k], got.len[k], &g_reqs[k < 5 ? k : k + 20]);
    walked_free(&got);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("segments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, records_round_trip_and_rotate);
    tcase_add_test(tc, two_writers_of_one_dir_both_rotate);
    tcase_add_test(tc, corrupt_record_is_reported_and_skipped);
    tcase_add_test(tc, decode_refuses_truncated_and_lying_records);
    tcase_add_test(tc, decoy_records_exact_bytes);
    tcase_add_test(tc, decoy_refuses_keep_unknown_and_repeated_params);
    tcase_add_test(tc, retention_deletes_the_oldest_whole_segments_past_max_bytes);
    tcase_add_test(tc, retention_never_deletes_a_segment_being_written);
    tcase_add_test(tc, retention_deletes_segments_past_max_age);
    tcase_add_test(tc, decoy_serves_alerts_and_counts_when_its_files_cannot_be_written);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
