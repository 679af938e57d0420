/*
 * fuzz_control.c - the control record parser against a real generation (the
 * builtins): any record gives a new generation or a reason, and the serving
 * one is never touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_cmd.h"
#include "control.h"
#include "fuzz.h"
#include "generation.h"
#include "../test_env.h"

static rv_generation *gen;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fuzz_scratch_dir();
    static const char weights[] = "{\"kind\": \"logistic\", \"features\": [\"x\"], "
                                  "\"labels\": [\"no\", \"yes\"], \"coef\": [[1.0]], "
                                  "\"intercept\": [0.0]}\n";
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "service: fz\n"
             "state_dir: %s/state\n"
             "streams: { brokers: embedded }\n"
             "input: { features: [x] }\n"
             "models:\n"
             "  - { name: canary, builtin: canary, params: { model_file: w.json } }\n"
             "  - { name: other, builtin: canary, params: { model_file: w.json } }\n"
             "  - { name: decoy, builtin: decoy }\n"
             "rendezvous:\n"
             "  schedule: [{ model: canary, within_ms: 20 }, { model: other, within_ms: 40 }]\n",
             dir);
    if (fuzz_write(dir, "w.json", weights, sizeof weights - 1) ||
        fuzz_write(dir, "c.yaml", cfg, strlen(cfg)))
        abort();
    char path[512];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    rv_errors errs = {0};
    rv_config *c = rv_config_load(path, rv_test_env(), &errs);
    gen = c ? rv_generation_build(c, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    if (!gen)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    err[0] = '\0';
    uint32_t version = gen->schedule_version;
    rv_generation *next = rv_control_apply(gen, data, size, err, sizeof err);
    if (next) {
        if (next->schedule_version != version + 1 || next->n_schedule == 0)
            abort();
        rv_generation_unref(next);
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    if (gen->schedule_version != version)
        abort();
    return 0;
}
