/*
 * test_jsonw.c - the record writer against yajl's generator: the same
 * calls give the same bytes, for random strings (quotes, backslashes,
 * control characters, multi-byte UTF-8), integers and nesting; a string
 * that is not UTF-8 becomes null (a key "") and the text stays JSON.
 */
#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "jsonw.h"
#include "test_helpers.h"

/* A random valid UTF-8 string of up to 40 bytes, rich in what needs
 * escaping. */
static size_t random_utf8(uint64_t *seed, char *out)
{
    static const char *const pieces[] = {"\"",   "\\",   "/",    "\n", "\t", "\b", "\f", "\r",
                                         "\x01", "\x1f", "\x7f", "a",  "Z",  "0",  " ",  "é",
                                         "€",    "😀",    "ü",    "{}", "[",  ":",  ","};
    size_t n = 0, k = test_xorshift(seed) % 12;
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[test_xorshift(seed) % (sizeof pieces / sizeof *pieces)];
        memcpy(out + n, p, strlen(p));
        n += strlen(p);
    }
    out[n] = '\0';
    return n;
}

static void assert_same(rv_jw *w, yajl_gen y)
{
    const unsigned char *yb;
    size_t ylen;
    ck_assert_int_eq(yajl_gen_get_buf(y, &yb, &ylen), yajl_gen_status_ok);
    ck_assert(!w->oom);
    ck_assert_msg(w->len == ylen && memcmp(w->buf, yb, ylen) == 0, "writer: %.*s\nyajl:   %.*s",
                  (int)w->len, w->buf, (int)ylen, (const char *)yb);
}

START_TEST(same_bytes_as_yajl)
{
    uint64_t seed = 7;
    rv_jw w;
    rv_jw_init(&w);
    yajl_gen y = rv_json_gen_new();
    for (int round = 0; round < 20000; round++) {
        rv_jw_restart(&w);
        yajl_gen_clear(y);
        yajl_gen_reset(y, NULL);
        rv_jw_map_open(&w);
        yajl_gen_map_open(y);
        int fields = (int)(test_xorshift(&seed) % 6);
        for (int f = 0; f < fields; f++) {
            char key[64], value[64];
            size_t kn = random_utf8(&seed, key), vn = random_utf8(&seed, value);
            rv_jw_string_n(&w, key, kn);
            yajl_gen_string(y, (const unsigned char *)key, kn);
            switch (test_xorshift(&seed) % 4) {
            case 0:
                rv_jw_string_n(&w, value, vn);
                yajl_gen_string(y, (const unsigned char *)value, vn);
                break;
            case 1: {
                long long v = (long long)test_xorshift(&seed);
                rv_jw_integer(&w, v);
                yajl_gen_integer(y, v);
                break;
            }
            case 2:
                rv_jw_null(&w);
                yajl_gen_null(y);
                break;
            default: /* an array of strings and maps */
                rv_jw_array_open(&w);
                yajl_gen_array_open(y);
                for (int i = 0; i < 3; i++) {
                    rv_jw_string_n(&w, value, vn);
                    yajl_gen_string(y, (const unsigned char *)value, vn);
                    rv_jw_map_open(&w);
                    yajl_gen_map_open(y);
                    rv_jw_kv_int(&w, key, i);
                    yajl_gen_string(y, (const unsigned char *)key, strlen(key));
                    yajl_gen_integer(y, i);
                    rv_jw_map_close(&w);
                    yajl_gen_map_close(y);
                }
                rv_jw_array_close(&w);
                yajl_gen_array_close(y);
            }
        }
        rv_jw_map_close(&w);
        yajl_gen_map_close(y);
        assert_same(&w, y);
    }
    yajl_gen_free(y);
    rv_jw_free(&w);
}
END_TEST

START_TEST(not_utf8_becomes_null_and_stays_json)
{
    rv_jw w;
    rv_jw_init(&w);
    rv_jw_map_open(&w);
    rv_jw_kv_string(&w, "a", "ok");
    rv_jw_string_n(&w, "b", 1);
    rv_jw_string_n(&w, "\xff\xfe", 2); /* a value */
    rv_jw_string_n(&w, "\xc3", 1);     /* a key */
    rv_jw_integer(&w, 1);
    rv_jw_bytes_field(&w, "body", "\xff", 1);
    rv_jw_kv_string(&w, "z", NULL);
    rv_jw_map_close(&w);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)w.len, w.buf);
    ck_assert_str_eq(text, "{\"a\":\"ok\",\"b\":null,\"\":1,\"body_b64\":\"/w==\",\"z\":null}");
    char err[128];
    yajl_val v = yajl_tree_parse(text, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    yajl_tree_free(v);
    rv_jw_free(&w);
}
END_TEST

START_TEST(doubles_are_shortest_and_keep_a_point)
{
    rv_jw w;
    rv_jw_init(&w);
    rv_jw_array_open(&w);
    double vs[] = {0.1, 1, -2, 0.75, 1e21, 1e-7, 0.0 / 0.0, 1.0 / 0.0};
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++)
        rv_jw_double(&w, vs[i]);
    rv_jw_array_close(&w);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)w.len, w.buf);
    ck_assert_str_eq(text, "[0.1,1.0,-2.0,0.75,1e+21,1e-7,null,null]");
    rv_jw_free(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, same_bytes_as_yajl);
    tcase_add_test(tc, not_utf8_becomes_null_and_stays_json);
    tcase_add_test(tc, doubles_are_shortest_and_keep_a_point);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
