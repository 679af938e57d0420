/*
 * dtoa.h - the shortest decimal that reads back as the same double: the
 * fewest significant digits for which strtod returns the same bits, and of
 * those the closest to the exact value (Ryu's algorithm, Ulf Adams 2018).
 * Written as JSON and JavaScript write numbers: 0.1, 100, 1e+21, 5e-324.
 */
#ifndef RV_DTOA_H
#define RV_DTOA_H

#include <stddef.h>

/* Enough for any finite double: "-2.2250738585072014e-308" and a NUL. */
#define RV_DTOA_SIZE 32

/* Writes v into out (RV_DTOA_SIZE bytes) with a NUL; returns the length.
 * NaN and infinities, which JSON cannot hold, are written "NaN", "Infinity"
 * and "-Infinity": callers that write JSON check isfinite first. */
size_t rv_dtoa(double v, char *out);

#endif
