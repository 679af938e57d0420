/*
 * records_helpers.h - what the record tests share: the JSON writer under
 * test (g) and its fixture, the output as a string, a JSON check, model
 * fragments and slots. Each test file that includes it gets its own copy.
 */
#ifndef RV_RECORDS_HELPERS_H
#define RV_RECORDS_HELPERS_H

#include <check.h>

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "records.h"

static rv_jw jw, *const g = &jw;

static inline void setup(void)
{
    rv_jw_init(g);
}

static rv_model_json built[16];
static size_t n_built;

static inline void teardown(void)
{
    rv_jw_free(g);
    while (n_built > 0)
        rv_model_json_free(&built[--n_built]);
}

/* The writer's whole output as a string (valid until the next call). */
static inline const char *out(void)
{
    static char buf[32768];
    ck_assert(!g->oom);
    ck_assert_uint_lt(g->len, sizeof buf);
    memcpy(buf, g->buf, g->len);
    buf[g->len] = '\0';
    return buf;
}

static inline void assert_valid_json(const char *text)
{
    char err[256];
    yajl_val v = yajl_tree_parse(text, err, sizeof err);
    ck_assert_msg(v != NULL, "not valid JSON (%s): %s", err, text);
    ck_assert_msg(YAJL_IS_OBJECT(v), "not an object: %s", text);
    yajl_tree_free(v);
}

#define ASSERT_RECORD(expected)                                                                    \
    do {                                                                                           \
        const char *got_ = out();                                                                  \
        ck_assert_str_eq(got_, expected);                                                          \
        assert_valid_json(got_);                                                                   \
    } while (0)

static const char *const labels[] = {"fraud", "legit"};

/* A model's record fragments, as the host encodes them once per model;
 * freed at teardown. */
static inline const rv_model_json *mj(const char *name, const char *version)
{
    ck_assert_uint_lt(n_built, 16);
    ck_assert_int_eq(rv_model_json_init(&built[n_built], name, version, labels, 2), 0);
    return &built[n_built++];
}

/* A slot with room for RV_MAX_ANSWERS answers and its error text, as a
 * request's would have: the room of one of 16 slots in turn (no test holds
 * more at once). */
static inline void fill_slot(rv_slot *s, int status, int64_t latency_us, const char *error)
{
    static rv_answer rooms[16][RV_MAX_ANSWERS];
    static char texts[16][RV_SLOT_ERROR_SIZE];
    static unsigned next;
    unsigned k = next++ % 16;
    memset(s, 0, sizeof *s);
    atomic_init(&s->status, status);
    s->latency_us = latency_us;
    s->answers = rooms[k];
    s->max_answers = RV_MAX_ANSWERS;
    if (error) {
        snprintf(texts[k], sizeof texts[k], "%s", error);
        s->error = texts[k];
    }
}

static inline void two_answers(rv_slot *s)
{
    s->n_answers = 2;
    s->answers[0] = (rv_answer){0, 0.75};
    s->answers[1] = (rv_answer){1, 0.25};
}

#endif
