/*
 * fuzz_evalrecord.c - the evaluation's streaming reader of score, result
 * and label records (evaluation/evaluator_read.h), on any bytes: it accepts a
 * JSON object or says what the bytes are instead; what it found lies in
 * its own store, is NUL-terminated there, and within its bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "evaluator_read.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void inside(const rv_eval_record *r, const char *s)
{
    if (!s)
        return;
    if (s < r->store || s >= r->store + r->used ||
        !memchr(s, '\0', (size_t)(r->store + r->used - s)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rv_eval_record r;
    rv_eval_read st = rv_eval_record_read(data, size, &r);
    if (st > RV_EVAL_READ_NO_MEMORY)
        abort();
    if (st != RV_EVAL_READ_OK)
        return 0;
    const char *root[] = {r.id, r.model, r.version, r.status, r.label};
    for (size_t i = 0; i < sizeof root / sizeof *root; i++)
        inside(&r, root[i]);
    if (r.n_answers > RV_EVAL_READ_ANSWERS || r.n_models > RV_EVAL_READ_MODELS || r.used > r.cap)
        abort();
    for (size_t i = 0; i < r.n_answers; i++)
        inside(&r, r.labels[i]);
    for (size_t i = 0; i < r.n_models; i++) {
        inside(&r, r.models[i]);
        inside(&r, r.model_status[i]);
    }
    return 0;
}
