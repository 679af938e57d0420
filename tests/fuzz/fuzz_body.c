/*
 * fuzz_body.c - the request body parser (yajl for structure, our number
 * parser for the features): any bytes give features or a reason, and the
 * features it gives are finite or NaN (missing), never infinite.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature_vector.h"
#include "fuzz.h"

static rv_feature_index *ix;
#define N_FEATURES 4

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char *names[N_FEATURES] = {"x", "y", "amount", "z"};
    ix = rv_feature_index_new(names, N_FEATURES);
    return ix ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double out[N_FEATURES];
    char err[512];
    err[0] = '\0';
    if (rv_features_parse(ix, data, size, out, err, sizeof err) == 0) {
        for (int i = 0; i < N_FEATURES; i++)
            if (isinf(out[i]))
                abort();
    } else if (!err[0] || !memchr(err, '\0', sizeof err)) {
        abort(); /* a refusal always says why */
    }
    return 0;
}
