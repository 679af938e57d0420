/*
 * test_records_layout.c - the score and result records the host writes in
 * fixed layout are the very bytes the JSON writer's structured calls give
 * (test_jsonw checks the writer against yajl), over random ids, names,
 * versions, answers, statuses and scores.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "records_helpers.h"
#include "test_helpers.h"

/* ------------------------------------------------ fixed layout = writer */

/* The score and result records written field by field with the JSON
 * writer's structured calls (the writer is checked against yajl's bytes in
 * test_jsonw): the fixed-layout records must be the same bytes. */
static void ref_answers(rv_jw *w, const rv_slot *slot, const char *const *lab)
{
    rv_jw_array_open(w);
    for (uint32_t i = 0; i < slot->n_answers; i++) {
        rv_jw_map_open(w);
        rv_jw_kv_string(w, "label", lab[slot->answers[i].label]);
        rv_jw_string(w, "score");
        rv_jw_double(w, slot->answers[i].score);
        rv_jw_map_close(w);
    }
    rv_jw_array_close(w);
}

static void ref_score(rv_jw *w, const char *id, const char *model, const char *version,
                      const rv_slot *slot, const char *const *lab)
{
    int status = atomic_load(&slot->status);
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "id", id);
    rv_jw_kv_string(w, "model", model);
    rv_jw_kv_string(w, "version", version);
    rv_jw_kv_string(w, "status", rv_slot_status_name(status));
    rv_jw_kv_int(w, "latency_us", slot->latency_us);
    rv_jw_string(w, "answers");
    ref_answers(w, slot, lab);
    if (status != RV_SLOT_OK && slot->error[0])
        rv_jw_bytes_field(w, "error", slot->error, strlen(slot->error));
    rv_jw_map_close(w);
}

typedef struct ref_model {
    const char *name, *status;
    int64_t latency_us;
} ref_model;

static void ref_result(rv_jw *w, const char *id, const char *model, const char *version,
                       rv_reason reason, int rank, const rv_slot *answer, const char *const *lab,
                       const char *default_label, double default_score, int64_t latency_us,
                       uint64_t schedule_version, const ref_model *models, size_t n_models)
{
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "id", id);
    rv_jw_kv_string(w, "model", model);
    rv_jw_kv_string(w, "version", model ? version : NULL);
    rv_jw_kv_string(w, "reason", rv_reason_name(reason));
    if (!model && !default_label)
        rv_jw_kv_string(w, "status", "error");
    rv_jw_string(w, "rank");
    if (rank >= 0)
        rv_jw_integer(w, rank);
    else
        rv_jw_null(w);
    rv_jw_string(w, "answers");
    if (model && answer)
        ref_answers(w, answer, lab);
    else {
        rv_jw_array_open(w);
        if (default_label) {
            rv_jw_map_open(w);
            rv_jw_kv_string(w, "label", default_label);
            rv_jw_string(w, "score");
            rv_jw_double(w, default_score);
            rv_jw_map_close(w);
        }
        rv_jw_array_close(w);
    }
    rv_jw_kv_int(w, "latency_us", latency_us);
    rv_jw_kv_int(w, "schedule_version", (long long)schedule_version);
    rv_jw_string(w, "models");
    rv_jw_map_open(w);
    for (size_t i = 0; i < n_models; i++) {
        rv_jw_string(w, models[i].name);
        rv_jw_map_open(w);
        rv_jw_kv_string(w, "status", models[i].status);
        if (models[i].latency_us >= 0)
            rv_jw_kv_int(w, "latency_us", models[i].latency_us);
        rv_jw_map_close(w);
    }
    rv_jw_map_close(w);
    rv_jw_map_close(w);
}

/* Random text: mostly ASCII, with escapes, controls, UTF-8 and now and
 * then a byte that makes it invalid. */
static void random_text(uint64_t *rng, char *out, size_t max)
{
    static const char *const pieces[] = {
        "a",    "Z",    "-",    "9", " ",           "\"",           "\\",
        "\n",   "\t",   "\x01", "/", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xff", "\xc3", "x"};
    size_t n = test_xorshift(rng) % 12, len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[test_xorshift(rng) % (sizeof pieces / sizeof *pieces)];
        if (p[0] == '\xff' || p[0] == '\xc3') /* invalid pieces: rare */
            if (test_xorshift(rng) % 8)
                p = "q";
        size_t k = strlen(p);
        if (len + k >= max)
            break;
        memcpy(out + len, p, k);
        len += k;
    }
    out[len] = '\0';
}

static double random_score(uint64_t *rng)
{
    static const double special[] = {0.0, -0.0, 1.0, 0.5, NAN, INFINITY, 1e300, 5e-324};
    uint64_t r = test_xorshift(rng);
    if (r % 5 == 0)
        return special[(r >> 8) % 8];
    return (double)(r >> 11) / (double)(1ull << 53);
}

START_TEST(fixed_layout_is_the_writers_bytes)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    rv_jw ref = {0};
    enum { MODELS = 3, LABELS = 3 };
    for (int round = 0; round < 20000; round++) {
        char names[MODELS][64], versions[MODELS][16], labs[MODELS][LABELS][64];
        const char *lab_ptrs[MODELS][LABELS];
        rv_model_json js[MODELS];
        for (int m = 0; m < MODELS; m++) {
            random_text(&rng, names[m], sizeof names[m]);
            snprintf(versions[m], sizeof versions[m], "%08llx",
                     (unsigned long long)(test_xorshift(&rng) & 0xffffffff));
            for (int l = 0; l < LABELS; l++) {
                random_text(&rng, labs[m][l], sizeof labs[m][l]);
                lab_ptrs[m][l] = labs[m][l];
            }
            ck_assert_int_eq(rv_model_json_init(&js[m], names[m], versions[m], lab_ptrs[m], LABELS),
                             0);
        }
        char id[64], err_text[64], default_label[64];
        random_text(&rng, id, sizeof id);
        random_text(&rng, err_text, sizeof err_text);
        random_text(&rng, default_label, sizeof default_label);
        rv_slot slots[MODELS];
        ref_model refs[MODELS];
        rv_result_model rms[MODELS];
        static const char *const statuses[] = {"ok", "error", "shed", "timeout", "pending"};
        for (int m = 0; m < MODELS; m++) {
            int st = (int)(test_xorshift(&rng) % RV_SLOT_STATUS_COUNT);
            fill_slot(&slots[m], st, (int64_t)(test_xorshift(&rng) % 100000) - 10, err_text);
            slots[m].n_answers = (uint32_t)(test_xorshift(&rng) % (LABELS + 1));
            for (uint32_t a = 0; a < slots[m].n_answers; a++)
                slots[m].answers[a] =
                    (rv_answer){(uint32_t)(test_xorshift(&rng) % LABELS), random_score(&rng)};
            const char *status = statuses[test_xorshift(&rng) % 5];
            int64_t lat = test_xorshift(&rng) % 3 ? (int64_t)(test_xorshift(&rng) % 1000000) : -1;
            refs[m] = (ref_model){names[m], status, lat};
            rms[m] = (rv_result_model){&js[m], status, lat};
        }
        for (int m = 0; m < MODELS; m++) {
            rv_jw_restart(g);
            rv_jw_restart(&ref);
            rv_record_score(g, &js[m], id, &slots[m]);
            ref_score(&ref, id, names[m], versions[m], &slots[m], lab_ptrs[m]);
            ck_assert_uint_eq(g->len, ref.len);
            ck_assert_msg(memcmp(g->buf, ref.buf, ref.len) == 0, "score %d: %.*s vs %.*s", round,
                          (int)g->len, g->buf, (int)ref.len, ref.buf);
        }
        int chosen = (int)(test_xorshift(&rng) % (MODELS + 1)) - 1; /* -1: none */
        int has_default = (int)(test_xorshift(&rng) % 2);
        int with_answer = (int)(test_xorshift(&rng) % 4) != 0;
        rv_reason reason = (rv_reason)(test_xorshift(&rng) % 3);
        double default_score = random_score(&rng);
        int64_t latency = (int64_t)(test_xorshift(&rng) % 10000000);
        uint64_t version = test_xorshift(&rng) >> (test_xorshift(&rng) % 64);
        size_t n_models = test_xorshift(&rng) % (MODELS + 1);
        rv_result_fields r = {.id = id,
                              .chosen = chosen >= 0 ? &js[chosen] : NULL,
                              .reason = reason,
                              .rank = chosen,
                              .answer = chosen >= 0 && with_answer ? &slots[chosen] : NULL,
                              .default_label = has_default ? default_label : NULL,
                              .default_score = default_score,
                              .latency_us = latency,
                              .schedule_version = version,
                              .models = rms,
                              .n_models = n_models};
        rv_jw_restart(g);
        rv_jw_restart(&ref);
        rv_record_result(g, &r);
        ref_result(&ref, id, chosen >= 0 ? names[chosen] : NULL,
                   chosen >= 0 ? versions[chosen] : NULL, reason, chosen, r.answer,
                   chosen >= 0 ? lab_ptrs[chosen] : NULL, r.default_label, default_score, latency,
                   version, refs, n_models);
        ck_assert_uint_eq(g->len, ref.len);
        ck_assert_msg(memcmp(g->buf, ref.buf, ref.len) == 0, "result %d: %.*s vs %.*s", round,
                      (int)g->len, g->buf, (int)ref.len, ref.buf);
        assert_valid_json(out());
        for (int m = 0; m < MODELS; m++)
            rv_model_json_free(&js[m]);
    }
    rv_jw_free(&ref);
}
END_TEST

static Suite *records_layout_suite(void)
{
    Suite *s = suite_create("records_layout");
    TCase *tc = tcase_create("layout");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fixed_layout_is_the_writers_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(records_layout_suite());
}
