/*
 * fuzz_config.c - the config loader (libyaml, the schema walk, every check):
 * any file gives a config or errors that name file and line, and nothing
 * leaks either way.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "../test_env.h"

static char path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(path, sizeof path, "%s/c.yaml", fuzz_scratch_dir());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_write(fuzz_scratch_dir(), "c.yaml", data, size) != 0)
        abort();
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(path, rv_test_env(), &errs);
    if (!cfg && errs.n == 0)
        abort(); /* a refusal always says why */
    for (size_t i = 0; i < errs.n; i++)
        if (!strstr(errs.lines[i], "c.yaml"))
            abort(); /* every error names the file */
    rv_config_free(cfg);
    rv_errors_clear(&errs);
    return 0;
}
