/*
 * test_records.c - golden records: every public record the host writes,
 * compared whole, byte for byte, with the JSON that docs/records.md
 * describes (score, result in each of its shapes, alert, archive with
 * bytes that are not UTF-8), and the dead-letter headers with their values.
 * Scores are written shortest (0.75, 1.0): the writer's own tests cover
 * every double.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "records.h"
#include "records_helpers.h"
#include "test_helpers.h"

/* ---------------------------------------------------------------- score */

START_TEST(score_ok)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_OK, 812, NULL);
    two_answers(&s);
    rv_record_score(g, mj("gbdt-v7", "3f2a9c1e"), "r-17", &s);
    ASSERT_RECORD(
        "{\"id\":\"r-17\",\"model\":\"gbdt-v7\",\"version\":\"3f2a9c1e\",\"status\":\"ok\","
        "\"latency_us\":812,\"answers\":[{\"label\":\"fraud\",\"score\":0.75},"
        "{\"label\":\"legit\",\"score\":0.25}]}");
}
END_TEST

START_TEST(score_ok_ignores_a_stale_error)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_OK, 3, "left over from an earlier request");
    s.n_answers = 1;
    s.answers[0] = (rv_answer){1, 0.5};
    rv_record_score(g, mj("m", "00000000"), "r-1", &s);
    ASSERT_RECORD("{\"id\":\"r-1\",\"model\":\"m\",\"version\":\"00000000\",\"status\":\"ok\","
                  "\"latency_us\":3,\"answers\":[{\"label\":\"legit\",\"score\":0.5}]}");
}
END_TEST

START_TEST(score_error_carries_the_reason)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_ERROR, 90, "fixture always errors");
    rv_record_score(g, mj("a", "12345678"), "r-2", &s);
    ASSERT_RECORD("{\"id\":\"r-2\",\"model\":\"a\",\"version\":\"12345678\",\"status\":\"error\","
                  "\"latency_us\":90,\"answers\":[],\"error\":\"fixture always errors\"}");
}
END_TEST

START_TEST(score_shed)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_SHED, 0, "queue full (1024 requests): shed");
    rv_record_score(g, mj("a", "12345678"), "r-3", &s);
    ASSERT_RECORD(
        "{\"id\":\"r-3\",\"model\":\"a\",\"version\":\"12345678\",\"status\":\"shed\","
        "\"latency_us\":0,\"answers\":[],\"error\":\"queue full (1024 requests): shed\"}");
}
END_TEST

START_TEST(score_error_not_utf8_goes_as_base64)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_ERROR, 1, "bad \xff");
    rv_record_score(g, mj("a", "12345678"), "r-4", &s);
    ASSERT_RECORD("{\"id\":\"r-4\",\"model\":\"a\",\"version\":\"12345678\",\"status\":\"error\","
                  "\"latency_us\":1,\"answers\":[],\"error_b64\":\"YmFkIP8=\"}");
}
END_TEST

START_TEST(score_error_without_reason_has_no_error_field)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_ERROR, 7, NULL);
    rv_record_score(g, mj("a", "12345678"), "r-5", &s);
    ASSERT_RECORD("{\"id\":\"r-5\",\"model\":\"a\",\"version\":\"12345678\",\"status\":\"error\","
                  "\"latency_us\":7,\"answers\":[]}");
}
END_TEST

START_TEST(generator_restart_starts_a_new_record)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_ERROR, 7, NULL);
    rv_record_score(g, mj("a", "12345678"), "first", &s);
    rv_jw_restart(g);
    rv_record_score(g, mj("a", "12345678"), "second", &s);
    ASSERT_RECORD("{\"id\":\"second\",\"model\":\"a\",\"version\":\"12345678\",\"status\":"
                  "\"error\",\"latency_us\":7,\"answers\":[]}");
}
END_TEST

/* A plugin's score is a double it chose: a NaN or an infinity must not make
 * the record invalid JSON (yajl refuses non-finite numbers and writes
 * nothing for them). */
START_TEST(score_not_finite_still_valid_json)
{
    static const double bad[] = {NAN, INFINITY, -INFINITY};
    rv_slot s;
    fill_slot(&s, RV_SLOT_OK, 5, NULL);
    two_answers(&s);
    s.answers[0].score = bad[_i];
    rv_record_score(g, mj("a", "12345678"), "r-nan", &s);
    assert_valid_json(out());
}
END_TEST

/* ---------------------------------------------------------------- result */

START_TEST(result_preferred_with_answers)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_OK, 812, NULL);
    two_answers(&s);
    rv_result_model models[] = {{mj("gbdt-v7", "00000000"), "ok", 812},
                                {mj("logreg-v3", "00000000"), "pending", -1}};
    rv_result_fields r = {.id = "r-17",
                          .chosen = mj("gbdt-v7", "3f2a9c1e"),
                          .reason = RV_REASON_PREFERRED,
                          .rank = 0,
                          .answer = &s,
                          .default_label = "review",
                          .default_score = 0.5,
                          .latency_us = 1430,
                          .schedule_version = 3,
                          .models = models,
                          .n_models = 2};
    rv_record_result(g, &r);
    ASSERT_RECORD("{\"id\":\"r-17\",\"model\":\"gbdt-v7\",\"version\":\"3f2a9c1e\",\"reason\":"
                  "\"preferred\",\"rank\":0,\"answers\":[{\"label\":\"fraud\",\"score\":0.75},"
                  "{\"label\":\"legit\",\"score\":0.25}],\"latency_us\":1430,"
                  "\"schedule_version\":3,\"models\":{\"gbdt-v7\":{\"status\":\"ok\","
                  "\"latency_us\":812},\"logreg-v3\":{\"status\":\"pending\"}}}");
}
END_TEST

START_TEST(result_fallback)
{
    rv_slot s;
    fill_slot(&s, RV_SLOT_OK, 900, NULL);
    s.n_answers = 1;
    s.answers[0] = (rv_answer){1, 0.875};
    rv_result_model models[] = {{mj("gbdt-v7", "00000000"), "timeout", -1},
                                {mj("logreg-v3", "00000000"), "ok", 900}};
    rv_result_fields r = {.id = "r-20",
                          .chosen = mj("logreg-v3", "a1b2c3d4"),
                          .reason = RV_REASON_FALLBACK,
                          .rank = 1,
                          .answer = &s,
                          .latency_us = 21000,
                          .schedule_version = 12,
                          .models = models,
                          .n_models = 2};
    rv_record_result(g, &r);
    ASSERT_RECORD(
        "{\"id\":\"r-20\",\"model\":\"logreg-v3\",\"version\":\"a1b2c3d4\",\"reason\":"
        "\"fallback\",\"rank\":1,\"answers\":[{\"label\":\"legit\",\"score\":0.875}],"
        "\"latency_us\":21000,\"schedule_version\":12,\"models\":{\"gbdt-v7\":"
        "{\"status\":\"timeout\"},\"logreg-v3\":{\"status\":\"ok\",\"latency_us\":900}}}");
}
END_TEST

START_TEST(result_default_answer)
{
    rv_result_model models[] = {{mj("gbdt-v7", "00000000"), "error", 300},
                                {mj("logreg-v3", "00000000"), "timeout", -1}};
    rv_result_fields r = {.id = "r-18",
                          .reason = RV_REASON_DEFAULT,
                          .rank = -1,
                          .answer = NULL,
                          .default_label = "review",
                          .default_score = 0.5,
                          .latency_us = 40000,
                          .schedule_version = 3,
                          .models = models,
                          .n_models = 2};
    rv_record_result(g, &r);
    ASSERT_RECORD("{\"id\":\"r-18\",\"model\":null,\"version\":null,\"reason\":\"default\","
                  "\"rank\":null,\"answers\":[{\"label\":\"review\",\"score\":0.5}],"
                  "\"latency_us\":40000,\"schedule_version\":3,\"models\":{\"gbdt-v7\":"
                  "{\"status\":\"error\",\"latency_us\":300},\"logreg-v3\":{\"status\":"
                  "\"timeout\"}}}");
}
END_TEST

START_TEST(result_error_without_default)
{
    rv_result_model models[] = {{mj("a", "00000000"), "shed", 5}};
    rv_result_fields r = {.id = "r-19",
                          .reason = RV_REASON_DEFAULT,
                          .rank = -1,
                          .latency_us = 6,
                          .schedule_version = 1,
                          .models = models,
                          .n_models = 1};
    rv_record_result(g, &r);
    ASSERT_RECORD("{\"id\":\"r-19\",\"model\":null,\"version\":null,\"reason\":\"default\","
                  "\"status\":\"error\",\"rank\":null,\"answers\":[],\"latency_us\":6,"
                  "\"schedule_version\":1,\"models\":{\"a\":{\"status\":\"shed\","
                  "\"latency_us\":5}}}");
}
END_TEST

START_TEST(result_without_models)
{
    rv_result_fields r = {.id = "r-21",
                          .reason = RV_REASON_DEFAULT,
                          .rank = -1,
                          .default_label = "review",
                          .default_score = 0.25,
                          .latency_us = 0,
                          .schedule_version = 18446744073709551615ull >> 1};
    rv_record_result(g, &r);
    ASSERT_RECORD("{\"id\":\"r-21\",\"model\":null,\"version\":null,\"reason\":\"default\","
                  "\"rank\":null,\"answers\":[{\"label\":\"review\",\"score\":0.25}],"
                  "\"latency_us\":0,\"schedule_version\":9223372036854775807,\"models\":{}}");
}
END_TEST

/* ---------------------------------------------------------------- alert */

START_TEST(alert_and_clear)
{
    rv_alert_fields a = {.raised = 1,
                         .check = "agreement",
                         .model = "gbdt-v7",
                         .version = "3f2a9c1e",
                         .canary = "canary",
                         .value = 0.75,
                         .threshold = 0.875,
                         .p_value = 2.5e-9,
                         .alpha = 1.25e-6,
                         .window = 200,
                         .for_tests = 3,
                         .message = "model gbdt-v7 diverges"};
    rv_record_alert(g, &a);
    ASSERT_RECORD("{\"type\":\"alert\",\"check\":\"agreement\",\"model\":\"gbdt-v7\",\"version\":"
                  "\"3f2a9c1e\",\"canary\":\"canary\",\"value\":0.75,\"threshold\":0.875,"
                  "\"p_value\":2.5e-9,\"alpha\":0.00000125,\"window\":200,\"for\":3,"
                  "\"message\":\"model gbdt-v7 diverges\"}");
    rv_jw_restart(g);
    a.raised = 0;
    a.check = "input_drift";
    a.model = "canary";
    a.value = 0.0625;
    a.threshold = 0.125;
    a.p_value = 0.5;
    a.window = 10;
    a.reference_window = 20;
    a.message = "canary canary is back";
    rv_record_alert(g, &a);
    ASSERT_RECORD("{\"type\":\"clear\",\"check\":\"input_drift\",\"model\":\"canary\",\"version\":"
                  "\"3f2a9c1e\",\"canary\":\"canary\",\"value\":0.0625,\"threshold\":0.125,"
                  "\"p_value\":0.5,\"alpha\":0.00000125,\"window\":10,\"reference_window\":20,"
                  "\"for\":3,\"message\":\"canary canary is back\"}");
}
END_TEST

/* ---------------------------------------------------------------- archive */

/* What `archive cat` prints for r: its archive record (own headers, then
 * provenance, as the decoy writes it) as JSON. */
static void record_archive(const rv_request *r)
{
    rv_provenance p;
    rv_archive_provenance(r, &p);
    rv_header h[8];
    ck_assert_uint_le(r->n_headers + RV_ARCHIVE_PROVENANCE, 8);
    if (r->n_headers)
        memcpy(h, r->headers, r->n_headers * sizeof *h);
    memcpy(h + r->n_headers, p.h, sizeof p.h);
    rv_archived a = {.key = r->key,
                     .key_len = r->key_len,
                     .headers = h,
                     .n_headers = r->n_headers + RV_ARCHIVE_PROVENANCE,
                     .value = r->body ? r->body : (const uint8_t *)"",
                     .value_len = r->body_len};
    rv_archived_split(&a);
    ck_assert_uint_eq(a.n_own, r->n_headers);
    rv_record_archive(g, &a);
}

START_TEST(archive_utf8)
{
    static const char body[] = "{\"amount\": 12.5}";
    rv_header h[] = {{"rv-reply-to", "other.results", 13}};
    rv_request r = {.id = "r-17",
                    .body = (const uint8_t *)body,
                    .body_len = sizeof body - 1,
                    .topic = "fraud.requests",
                    .partition = 2,
                    .offset = 4411,
                    .timestamp_ms = 1795470000123,
                    .key = (const uint8_t *)"r-17",
                    .key_len = 4,
                    .headers = h,
                    .n_headers = 1};
    record_archive(&r);
    ASSERT_RECORD("{\"id\":\"r-17\",\"topic\":\"fraud.requests\",\"partition\":2,\"offset\":4411,"
                  "\"timestamp_ms\":1795470000123,\"key\":\"r-17\",\"headers\":{\"rv-reply-to\":"
                  "\"other.results\"},\"body\":\"{\\\"amount\\\": 12.5}\"}");
}
END_TEST

START_TEST(archive_not_utf8_goes_as_base64)
{
    static const uint8_t body[] = {0xff, 0x00, 'a'};
    static const uint8_t key[] = {'k', 0xfe};
    static const uint8_t surrogate[] = {0xed, 0xa0, 0x80}; /* U+D800: not UTF-8 */
    rv_header h[] = {
        {"x-bin", "\xc3\x28", 2}, {"x-text", "caf\xc3\xa9", 5}, {"x-sur", surrogate, 3}};
    rv_request r = {.id = "fraud.requests-0-9",
                    .body = body,
                    .body_len = sizeof body,
                    .topic = "fraud.requests",
                    .partition = 0,
                    .offset = 9,
                    .timestamp_ms = -1,
                    .key = key,
                    .key_len = sizeof key,
                    .headers = h,
                    .n_headers = 3};
    record_archive(&r);
    ASSERT_RECORD("{\"id\":\"fraud.requests-0-9\",\"topic\":\"fraud.requests\",\"partition\":0,"
                  "\"offset\":9,\"timestamp_ms\":-1,\"key_b64\":\"a/4=\",\"headers\":{"
                  "\"x-bin_b64\":\"wyg=\",\"x-text\":\"caf\xc3\xa9\",\"x-sur_b64\":\"7aCA\"},"
                  "\"body_b64\":\"/wBh\"}");
}
END_TEST

START_TEST(archive_without_key_topic_or_body)
{
    rv_request r = {.id = "http-1",
                    .body = NULL,
                    .body_len = 0,
                    .topic = NULL,
                    .partition = -1,
                    .offset = -1,
                    .timestamp_ms = -1};
    record_archive(&r);
    ASSERT_RECORD("{\"id\":\"http-1\",\"topic\":\"\",\"partition\":-1,\"offset\":-1,"
                  "\"timestamp_ms\":-1,\"key\":null,\"headers\":{},\"body\":\"\"}");
}
END_TEST

START_TEST(archive_body_with_nul_and_controls_is_escaped)
{
    static const uint8_t body[] = {'a', 0x00, 'b', '\n', '"', '\\', 0x1f};
    rv_request r = {.id = "r",
                    .body = body,
                    .body_len = sizeof body,
                    .topic = "t",
                    .partition = 1,
                    .offset = 2,
                    .timestamp_ms = 3};
    record_archive(&r);
    ASSERT_RECORD("{\"id\":\"r\",\"topic\":\"t\",\"partition\":1,\"offset\":2,\"timestamp_ms\":3,"
                  "\"key\":null,\"headers\":{},\"body\":\"a\\u0000b\\n\\\"\\\\\\u001F\"}");
}
END_TEST

START_TEST(archive_large_binary_body)
{
    /* larger than the encoder's stack buffer: the heap path */
    size_t n = 10000;
    uint8_t *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(0x80 + i % 64); /* continuation bytes alone: not UTF-8 */
    rv_request r = {.id = "big", .body = body, .body_len = n, .topic = "t", .timestamp_ms = -1};
    record_archive(&r);
    const char *o = out();
    assert_valid_json(o);
    const char *b = strstr(o, "\"body_b64\":\"");
    ck_assert_ptr_nonnull(b);
    b += strlen("\"body_b64\":\"");
    const char *end = strchr(b, '"');
    ck_assert_ptr_nonnull(end);
    ck_assert_uint_eq((size_t)(end - b), 4 * ((n + 2) / 3));
    ck_assert_str_eq(end, "\"}");
    free(body);
}
END_TEST

/* ---------------------------------------------------------------- dead letter */

static void assert_header(rd_kafka_headers_t *h, size_t idx, const char *name, const void *value,
                          size_t len)
{
    const char *n;
    const void *v;
    size_t sz;
    ck_assert_int_eq(rd_kafka_header_get_all(h, idx, &n, &v, &sz), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_str_eq(n, name);
    ck_assert_uint_eq(sz, len);
    ck_assert_msg(memcmp(v, value, len) == 0, "header %s: value differs", name);
}

START_TEST(dead_letter_headers_with_source_headers)
{
    rd_kafka_headers_t *src = rd_kafka_headers_new(2);
    rd_kafka_header_add(src, "content-type", -1, "application/json", -1);
    rd_kafka_header_add(src, "x-bin", -1, "a\0b", 3);
    rv_request r = {.id = "r-17", .topic = "fraud.requests", .partition = 3, .offset = 4411};
    rd_kafka_headers_t *h =
        rv_record_dead_letter_headers(src, "body is not a JSON object: unexpected 'x'", &r);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_ne(h, src);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), 7);
    assert_header(h, 0, "content-type", "application/json", 16);
    assert_header(h, 1, "x-bin", "a\0b", 3);
    assert_header(h, 2, "rv-error", "body is not a JSON object: unexpected 'x'", 41);
    assert_header(h, 3, "rv-id", "r-17", 4);
    assert_header(h, 4, "rv-source-topic", "fraud.requests", 14);
    assert_header(h, 5, "rv-source-partition", "3", 1);
    assert_header(h, 6, "rv-source-offset", "4411", 4);
    /* the request's own headers are not touched */
    ck_assert_uint_eq(rd_kafka_header_cnt(src), 2);
    rd_kafka_headers_destroy(h);
    rd_kafka_headers_destroy(src);
}
END_TEST

START_TEST(dead_letter_headers_without_source_headers)
{
    rv_request r = {
        .id = "t-0-9223372036854775807", .topic = NULL, .partition = -1, .offset = INT64_MAX};
    rd_kafka_headers_t *h = rv_record_dead_letter_headers(NULL, "empty body", &r);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), 5);
    assert_header(h, 0, "rv-error", "empty body", 10);
    assert_header(h, 1, "rv-id", "t-0-9223372036854775807", 23);
    assert_header(h, 2, "rv-source-topic", "", 0);
    assert_header(h, 3, "rv-source-partition", "-1", 2);
    assert_header(h, 4, "rv-source-offset", "9223372036854775807", 19);
    const void *v;
    size_t sz;
    ck_assert_int_eq(rd_kafka_header_get_last(h, "rv-error", &v, &sz), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_uint_eq(sz, 10);
    rd_kafka_headers_destroy(h);
}
END_TEST

static Suite *records_suite(void)
{
    Suite *s = suite_create("records");
    TCase *tc = tcase_create("golden");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, score_ok);
    tcase_add_test(tc, score_ok_ignores_a_stale_error);
    tcase_add_test(tc, score_error_carries_the_reason);
    tcase_add_test(tc, score_shed);
    tcase_add_test(tc, score_error_not_utf8_goes_as_base64);
    tcase_add_test(tc, score_error_without_reason_has_no_error_field);
    tcase_add_test(tc, generator_restart_starts_a_new_record);
    tcase_add_loop_test(tc, score_not_finite_still_valid_json, 0, 3);
    tcase_add_test(tc, result_preferred_with_answers);
    tcase_add_test(tc, result_fallback);
    tcase_add_test(tc, result_default_answer);
    tcase_add_test(tc, result_error_without_default);
    tcase_add_test(tc, result_without_models);
    tcase_add_test(tc, alert_and_clear);
    tcase_add_test(tc, archive_utf8);
    tcase_add_test(tc, archive_not_utf8_goes_as_base64);
    tcase_add_test(tc, archive_without_key_topic_or_body);
    tcase_add_test(tc, archive_body_with_nul_and_controls_is_escaped);
    tcase_add_test(tc, archive_large_binary_body);
    tcase_add_test(tc, dead_letter_headers_with_source_headers);
    tcase_add_test(tc, dead_letter_headers_without_source_headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(records_suite());
}
