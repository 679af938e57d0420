/*
 * test_symbols.c - references every element of the public plugin header, so
 * that removing or renaming any of them breaks the build (librdkafka's
 * 0006-symbols test). Also pins the layout rules the ABI promises: the
 * version header first, fixed member order of ABI 1.0.
 */
#include <check.h>
#include <stddef.h>

#include "rendezvous_plugin.h"
#include "test_helpers.h"

START_TEST(every_element_of_the_header_exists)
{
    /* macros */
    ck_assert_uint_eq(RV_PLUGIN_MAGIC, 0x505a5652u);
    ck_assert_int_eq(RV_PLUGIN_ABI_MAJOR, 1);
    ck_assert_int_ge(RV_PLUGIN_ABI_MINOR, 0);
    ck_assert_str_eq(RV_PLUGIN_ENTRY_SYMBOL, "rv_plugin_entry");
    ck_assert_uint_ne(RV_BUILD_SIGNATURE, 0);
    int codes[] = {RV_OK, RV_EINVAL, RV_ENOMEM, RV_EIO, RV_EMODEL, RV_EAGAIN};
    ck_assert_int_eq(codes[0], 0);
    for (size_t i = 1; i < sizeof codes / sizeof *codes; i++)
        ck_assert_int_lt(codes[i], 0);
    int levels[] = {RV_LOG_ERROR, RV_LOG_WARNING, RV_LOG_INFO, RV_LOG_DEBUG};
    ck_assert_int_lt(levels[0], levels[3]);
    ck_assert_int_ne(RV_STATUS_OK, RV_STATUS_ERROR);
    ck_assert_uint_eq(RV_PLUGIN_REENTRANT, 1);

    /* types and every member */
    rv_abi_header h = {0};
    (void)h.magic, (void)h.major, (void)h.minor, (void)h.struct_size, (void)h.build_signature;
    rv_param prm = {"k", "v"};
    (void)prm.key, (void)prm.value;
    rv_host_services hs = {0};
    (void)hs.struct_size, (void)hs.host_ctx, (void)hs.log, (void)hs.emit;
    rv_header hd = {0};
    (void)hd.name, (void)hd.value, (void)hd.value_len;
    rv_request rq = {0};
    (void)rq.id, (void)rq.body, (void)rq.body_len, (void)rq.features, (void)rq.n_features,
        (void)rq.arrival_us, (void)rq.topic, (void)rq.partition, (void)rq.offset,
        (void)rq.timestamp_ms, (void)rq.key, (void)rq.key_len, (void)rq.headers, (void)rq.n_headers;
    rv_answer an = {0};
    (void)an.label, (void)an.score;
    rv_result rs = {0};
    (void)rs.status, (void)rs.n_answers, (void)rs.max_answers, (void)rs.answers, (void)rs.error,
        (void)rs.error_size;
    rv_create_args ca = {0};
    (void)ca.struct_size, (void)ca.model_name, (void)ca.params, (void)ca.n_params,
        (void)ca.feature_names, (void)ca.n_features, (void)ca.services;
    rv_model_info mi = {0};
    (void)mi.labels, (void)mi.n_labels;
    rv_plugin p = {.abi = RV_ABI_HEADER_INIT};
    (void)p.name, (void)p.description, (void)p.version, (void)p.flags, (void)p.create, (void)p.warm,
        (void)p.score, (void)p.destroy;
    ck_assert_uint_eq(p.abi.struct_size, sizeof(rv_plugin));
    /* declared only (a plugin defines it): sizeof does not reference it */
    ck_assert_uint_eq(sizeof(&rv_plugin_entry), sizeof(rv_plugin_entry_fn));
}
END_TEST

START_TEST(abi_1_0_layout_is_pinned)
{
    ck_assert_uint_eq(offsetof(rv_plugin, abi), 0);
    ck_assert_uint_eq(sizeof(rv_abi_header), 16);
    ck_assert_uint_lt(offsetof(rv_plugin, name), offsetof(rv_plugin, flags));
    ck_assert_uint_lt(offsetof(rv_plugin, create), offsetof(rv_plugin, warm));
    ck_assert_uint_lt(offsetof(rv_plugin, warm), offsetof(rv_plugin, score));
    ck_assert_uint_lt(offsetof(rv_plugin, score), offsetof(rv_plugin, destroy));
    ck_assert_uint_eq(offsetof(rv_host_services, struct_size), 0);
    ck_assert_uint_eq(offsetof(rv_create_args, struct_size), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("symbols");
    TCase *tc = tcase_create("header");
    tcase_add_test(tc, every_element_of_the_header_exists);
    tcase_add_test(tc, abi_1_0_layout_is_pinned);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
