/*
 * numparse.h - a JSON number's text to a double, as strtod reads it (the
 * nearest double, ties to even) without strtod on the common path: up to 19
 * significant digits and a power of ten the double arithmetic holds
 * exactly (Clinger's fast path: a value exact in a double times or over an
 * exact power of ten is rounded once, correctly). Everything else goes to
 * strtod. Integers (no fraction, no exponent) are read as a long long
 * first, as yajl reads them.
 */
#ifndef RV_NUMPARSE_H
#define RV_NUMPARSE_H

#include <stddef.h>

typedef enum {
    RV_NUM_OK = 0,
    RV_NUM_INT_OVERFLOW,   /* an integer outside long long */
    RV_NUM_FLOAT_OVERFLOW, /* beyond the largest double */
} rv_num_status;

/* s[0..len) is a JSON number (the parser checked its grammar). */
rv_num_status rv_parse_number(const char *s, size_t len, double *out);

#endif
