/*
 * fuzz_archive.c - the archive segment reader and the record decoder: the
 * input is a segment file as `rendezvous archive cat` would find it (framing,
 * checksums, lengths), and each record it yields is decoded and split.
 */
#include <stdlib.h>

#include "archive.h"
#include "fuzz.h"

static int on_record(void *ctx, const uint8_t *payload, size_t len)
{
    rv_archived a;
    char err[256];
    if (rv_archive_decode(payload, len, &a, err, sizeof err) == 0) {
        rv_archived_split(&a);
        if (a.n_own > a.n_headers)
            abort();
        (void)rv_archived_provenance(&a, "rv-id");
        free(a.headers);
    }
    (*(long *)ctx)++;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch_dir();
    if (fuzz_write(dir, "seg-00000000000000000001.rva", data, size) != 0)
        abort();
    long records = 0;
    FILE *devnull = fopen("/dev/null", "w");
    rv_archive_walk(dir, on_record, &records, devnull);
    fclose(devnull);
    /* the decoder alone, on the raw bytes */
    on_record(&records, data, size);
    return 0;
}
