/*
 * test_archive.c - the decoy's segment files: records round-trip byte for
 * byte, segments rotate by size, and a corrupt record is reported and
 * skipped, not fatal. Also the decoy plugin itself: archive records and its
 * ring of recent requests.
 */
#include <check.h>

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

static char *cat_to_string(long *corrupt, char **errors)
{
    char *out = NULL, *err = NULL;
    size_t olen = 0, elen = 0;
    FILE *o = open_memstream(&out, &olen), *e = open_memstream(&err, &elen);
    *corrupt = rv_archive_cat(dir, o, e);
    fclose(o);
    fclose(e);
    *errors = err;
    return out;
}

START_TEST(records_round_trip_and_rotate)
{
    char err[256];
    rv_segment_writer *w = rv_segment_writer_open(dir, 4096, RV_FSYNC_ROTATE, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    char rec[200];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(rec, sizeof rec, "{\"i\":%d,\"pad\":\"%080d\"}", i, i);
        ck_assert_int_eq(rv_segment_writer_append(w, rec, (size_t)n, err, sizeof err), 0);
    }
    rv_segment_writer_close(w);
    long corrupt;
    char *errors;
    char *out = cat_to_string(&corrupt, &errors);
    ck_assert_int_eq(corrupt, 0);
    ck_assert_str_eq(errors, "");
    /* 100 lines, in order */
    char *p = out;
    for (int i = 0; i < 100; i++) {
        char want[200];
        snprintf(want, sizeof want, "{\"i\":%d,\"pad\":\"%080d\"}\n", i, i);
        ck_assert_msg(strncmp(p, want, strlen(want)) == 0, "record %d", i);
        p += strlen(want);
    }
    ck_assert_str_eq(p, "");
    free(out);
    free(errors);
    /* 100 records of ~110 bytes in 4 KiB segments: several files */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -ge 3", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(corrupt_record_is_reported_and_skipped)
{
    char err[256];
    rv_segment_writer *w = rv_segment_writer_open(dir, 1 << 20, RV_FSYNC_NEVER, err, sizeof err);
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
    long corrupt;
    char *errors;
    char *out = cat_to_string(&corrupt, &errors);
    ck_assert_int_eq(corrupt, 1);
    ck_assert_str_eq(out, "{\"a\":1}\n{\"c\":3}\n");
    ck_assert_msg(strstr(errors, "offset 15: corrupt record (CRC mismatch)"), "%s", errors);
    free(out);
    free(errors);
}
END_TEST

static int emitted;
static char last_emit[1024];

static int capture_emit(void *ctx, const rv_request *about, const char *stream, const void *key,
                        size_t key_len, const void *value, size_t value_len)
{
    ck_assert_str_eq(stream, "archive");
    emitted++;
    snprintf(last_emit, sizeof last_emit, "%.*s", (int)value_len, (const char *)value);
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
        if (i == 0)
            ck_assert_str_eq(last_emit,
                             "{\"id\":\"r-1\",\"topic\":\"t.requests\",\"partition\":2,"
                             "\"offset\":4411,\"timestamp_ms\":1795470000123,\"key\":\"r-1\","
                             "\"headers\":{\"rv-reply-to\":\"other.results\"},"
                             "\"body\":\"{\\\"x\\\": \\\"\\\\u00e9\\\"}\"}");
        if (i == 1)
            ck_assert_msg(strstr(last_emit, "\"body_b64\":\"/wB4\""), "%s", last_emit);
    }
    ck_assert_int_eq(emitted, 3);
    p->destroy(inst);
    long corrupt;
    char *errors;
    char *out = cat_to_string(&corrupt, &errors);
    ck_assert_int_eq(corrupt, 0);
    ck_assert_ptr_nonnull(strstr(out, "\"id\":\"r-3\""));
    free(out);
    free(errors);
}
END_TEST

START_TEST(decoy_refuses_keep_and_unknown_params)
{
    const rv_plugin *p = rv_builtin_decoy();
    rv_host_services hs = {sizeof hs, NULL, NULL, capture_emit};
    rv_param params[] = {{"keep", "2"}};
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
}
END_TEST

int main(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("segments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, records_round_trip_and_rotate);
    tcase_add_test(tc, corrupt_record_is_reported_and_skipped);
    tcase_add_test(tc, decoy_records_exact_bytes);
    tcase_add_test(tc, decoy_refuses_keep_and_unknown_params);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
