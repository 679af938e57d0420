/*
 * test_sites.c - what a site reads of another's mirrored streams: a
 * MirrorMaker 2 checkpoint record decoded as Kafka 3.9's mirror wrote it
 * (its bytes copied from a real one), anything else refused; the set of
 * ids answered elsewhere; a peer's evaluation record read as its figure.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "idset.h"
#include "sites.h"

/* A checkpoint MirrorMaker 2 (3.9.1) wrote in west's east.checkpoints.internal:
 * group geo-rendezvous, east.geo.requests [3], upstream 49, downstream 45 */
static const unsigned char key[] = {0x00, 0x0e, 'g', 'e', 'o', '-',  'r',  'e',  'n', 'd',
                                    'e',  'z',  'v', 'o', 'u', 's',  0x00, 0x11, 'e', 'a',
                                    's',  't',  '.', 'g', 'e', 'o',  '.',  'r',  'e', 'q',
                                    'u',  'e',  's', 't', 's', 0x00, 0x00, 0x00, 0x03};
static const unsigned char value[] = {0x00, 0x00, 0, 0, 0, 0, 0, 0,    0,    0x31,
                                      0,    0,    0, 0, 0, 0, 0, 0x2d, 0x00, 0x00};

START_TEST(a_checkpoint_as_the_mirror_writes_it)
{
    rv_checkpoint cp;
    ck_assert_int_eq(rv_checkpoint_decode(key, sizeof key, value, sizeof value, &cp), 0);
    ck_assert_str_eq(cp.group, "geo-rendezvous");
    ck_assert_str_eq(cp.topic, "east.geo.requests");
    ck_assert_int_eq(cp.partition, 3);
    ck_assert_int_eq(cp.upstream, 49);
    ck_assert_int_eq(cp.downstream, 45);
}
END_TEST

START_TEST(anything_else_is_refused)
{
    rv_checkpoint cp;
    unsigned char v[sizeof value];
    /* cut short, anywhere */
    for (size_t n = 0; n < sizeof key; n++)
        ck_assert_int_eq(rv_checkpoint_decode(key, n, value, sizeof value, &cp), -1);
    for (size_t n = 0; n < sizeof value; n++)
        ck_assert_int_eq(rv_checkpoint_decode(key, sizeof key, value, n, &cp), -1);
    /* a version this reader does not know */
    memcpy(v, value, sizeof v);
    v[1] = 1;
    ck_assert_int_eq(rv_checkpoint_decode(key, sizeof key, v, sizeof v, &cp), -1);
    /* a key with bytes after it, a string longer than the record */
    unsigned char k[sizeof key + 1];
    memcpy(k, key, sizeof key);
    k[sizeof key] = 0;
    ck_assert_int_eq(rv_checkpoint_decode(k, sizeof k, value, sizeof value, &cp), -1);
    memcpy(k, key, sizeof key);
    k[1] = 0x7f;
    ck_assert_int_eq(rv_checkpoint_decode(k, sizeof key, value, sizeof value, &cp), -1);
    ck_assert_int_eq(rv_checkpoint_decode(NULL, 0, NULL, 0, &cp), -1);
}
END_TEST

START_TEST(a_negative_offset_reads_as_one)
{
    rv_checkpoint cp;
    unsigned char v[sizeof value];
    memcpy(v, value, sizeof v);
    memset(v + 10, 0xff, 8); /* downstream -1 */
    ck_assert_int_eq(rv_checkpoint_decode(key, sizeof key, v, sizeof v, &cp), 0);
    ck_assert_int_eq(cp.downstream, -1);
}
END_TEST

START_TEST(the_ids_answered_elsewhere)
{
    rv_idset *s = rv_idset_new();
    ck_assert_ptr_nonnull(s);
    char id[32];
    for (int i = 0; i < 10000; i++) { /* grown many times */
        int n = snprintf(id, sizeof id, "east-%d", i);
        ck_assert_int_eq(rv_idset_add(s, id, (size_t)n), 1);
    }
    ck_assert_int_eq(rv_idset_add(s, "east-17", 7), 0);
    ck_assert_uint_eq(rv_idset_count(s), 10000);
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(id, sizeof id, "east-%d", i);
        ck_assert(rv_idset_has(s, id, (size_t)n));
    }
    ck_assert(!rv_idset_has(s, "east-10000", 10));
    ck_assert(!rv_idset_has(s, "east-", 5));
    ck_assert(!rv_idset_has(s, "", 0));
    ck_assert_int_eq(rv_idset_add(s, "", 0), 1); /* the empty id is one too */
    ck_assert(rv_idset_has(s, "", 0));
    rv_idset_free(s);
}
END_TEST

START_TEST(a_peer_evaluation_record)
{
    /* as the evaluator writes it (docs/records.md) */
    const char *rec = "{\"type\":\"evaluation\",\"time\":1796423188101,\"source\":\"linear\","
                      "\"version\":\"2f49fdbf\",\"window\":\"start\",\"schedule_version\":\"7\","
                      "\"count\":569,\"accuracy\":0.9859,\"log_loss\":0.0583,\"brier\":0.0129,"
                      "\"auc\":null,\"precision\":{\"a\":1}}";
    rv_site_figure f;
    ck_assert_int_eq(rv_site_figure_decode(rec, strlen(rec), &f), 0);
    ck_assert_str_eq(f.source, "linear");
    ck_assert_str_eq(f.window, "start");
    ck_assert_str_eq(f.version, "2f49fdbf");
    ck_assert_str_eq(f.schedule_version, "7");
    ck_assert_int_eq(f.time_ms, 1796423188101LL);
    ck_assert_uint_eq(f.count, 569);
    ck_assert_double_eq_tol(f.accuracy, 0.9859, 1e-12);
    ck_assert_double_eq_tol(f.brier, 0.0129, 1e-12);
    ck_assert(isnan(f.auc)); /* null: none */
    /* not one: another type, no source, not JSON, truncated */
    const char *bad[] = {"{\"type\":\"alert\",\"source\":\"a\",\"window\":\"hour\"}",
                         "{\"type\":\"evaluation\",\"window\":\"hour\"}", "evaluation",
                         "{\"type\":\"evaluation\",\"source\":\"a\",\"window\":\"ho", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(rv_site_figure_decode(bad[i], strlen(bad[i]), &f), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sites");
    TCase *tc = tcase_create("sites");
    tcase_add_test(tc, a_checkpoint_as_the_mirror_writes_it);
    tcase_add_test(tc, anything_else_is_refused);
    tcase_add_test(tc, a_negative_offset_reads_as_one);
    tcase_add_test(tc, the_ids_answered_elsewhere);
    tcase_add_test(tc, a_peer_evaluation_record);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
