/*
 * fuzz.h - what every harness shares: libFuzzer's entry points, and a
 * scratch directory for the harnesses that must go through a file.
 */
#ifndef RV_FUZZ_H
#define RV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory of this process's own, made once, removed at exit. */
const char *fuzz_scratch_dir(void);
/* Writes data to dir/name (replacing it). 0, or -1. */
int fuzz_write(const char *dir, const char *name, const void *data, size_t size);

#endif
