/*
 * dtoa.c - Ryu's shortest round-trip conversion (the d2s variant with full
 * tables, dtoa_tables.h), and the layout of its digits. Must stay free of
 * floating-point arithmetic: the result is decided on integers alone.
 */
#include "dtoa.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dtoa_tables.h"

#define MANTISSA_BITS 52
#define EXPONENT_BITS 11
#define BIAS 1023
#define POW5_BITCOUNT 125
#define POW5_INV_BITCOUNT 125

__extension__ typedef unsigned __int128 u128;

/* floor(e * log10(2)) for 0 <= e <= 1650 */
static uint32_t log10_pow2(int32_t e)
{
    return ((uint32_t)e * 78913) >> 18;
}

/* floor(e * log10(5)) for 0 <= e <= 2620 */
static uint32_t log10_pow5(int32_t e)
{
    return ((uint32_t)e * 732923) >> 20;
}

/* ceil(log2(5^e)) for 1 <= e <= 3528, 1 for e == 0 */
static int32_t pow5_bits(int32_t e)
{
    return (int32_t)((((uint32_t)e) * 1217359) >> 19) + 1;
}

static uint32_t pow5_factor(uint64_t v)
{
    uint32_t n = 0;
    while (v % 5 == 0) {
        v /= 5;
        n++;
    }
    return n;
}

static bool multiple_of_pow5(uint64_t v, uint32_t p)
{
    return pow5_factor(v) >= p;
}

static bool multiple_of_pow2(uint64_t v, uint32_t p)
{
    return (v & ((1ull << p) - 1)) == 0;
}

static uint64_t mul_shift(uint64_t m, const uint64_t *mul, int32_t j)
{
    u128 lo = (u128)m * mul[0], hi = (u128)m * mul[1];
    return (uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

static uint32_t decimal_length(uint64_t v)
{
    uint32_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* The shortest digits and their power of ten for a finite, non-zero
 * double's bits. */
static void shortest(uint64_t ieee_mantissa, uint32_t ieee_exponent, uint64_t *digits,
                     int32_t *exp10)
{
    int32_t e2;
    uint64_t m2;
    if (ieee_exponent == 0) {
        e2 = 1 - BIAS - MANTISSA_BITS - 2;
        m2 = ieee_mantissa;
    } else {
        e2 = (int32_t)ieee_exponent - BIAS - MANTISSA_BITS - 2;
        m2 = (1ull << MANTISSA_BITS) | ieee_mantissa;
    }
    const bool accept_bounds = (m2 & 1) == 0; /* round half to even */

    /* The interval of decimals that read back as v: (mm, mp) around mv,
     * all times 4 so that its bounds are integers. */
    const uint64_t mv = 4 * m2;
    const uint32_t mm_shift = ieee_mantissa != 0 || ieee_exponent <= 1;
    uint64_t vr, vp, vm;
    int32_t e10;
    bool vm_trailing_zeros = false, vr_trailing_zeros = false;
    if (e2 >= 0) {
        const uint32_t q = log10_pow2(e2) - (e2 > 3);
        e10 = (int32_t)q;
        const int32_t k = POW5_INV_BITCOUNT + pow5_bits((int32_t)q) - 1;
        const int32_t i = -e2 + (int32_t)q + k;
        vr = mul_shift(4 * m2, POW5_INV_SPLIT[q], i);
        vp = mul_shift(4 * m2 + 2, POW5_INV_SPLIT[q], i);
        vm = mul_shift(4 * m2 - 1 - mm_shift, POW5_INV_SPLIT[q], i);
        if (q <= 21) {
            /* only one of mp, mv and mm can be a multiple of 5, if any */
            if (mv % 5 == 0)
                vr_trailing_zeros = multiple_of_pow5(mv, q);
            else if (accept_bounds)
                vm_trailing_zeros = multiple_of_pow5(mv - 1 - mm_shift, q);
            else
                vp -= multiple_of_pow5(mv + 2, q);
        }
    } else {
        const uint32_t q = log10_pow5(-e2) - (-e2 > 1);
        e10 = (int32_t)q + e2;
        const int32_t i = -e2 - (int32_t)q;
        const int32_t k = pow5_bits(i) - POW5_BITCOUNT;
        const int32_t j = (int32_t)q - k;
        vr = mul_shift(4 * m2, POW5_SPLIT[i], j);
        vp = mul_shift(4 * m2 + 2, POW5_SPLIT[i], j);
        vm = mul_shift(4 * m2 - 1 - mm_shift, POW5_SPLIT[i], j);
        if (q <= 1) {
            /* mv = 4 * m2 has at least two trailing zero bits */
            vr_trailing_zeros = true;
            if (accept_bounds)
                vm_trailing_zeros = mm_shift == 1;
            else
                --vp;
        } else if (q < 63) {
            vr_trailing_zeros = multiple_of_pow2(mv, q);
        }
    }

    /* Remove digits while the interval still holds a shorter decimal. */
    int32_t removed = 0;
    uint64_t output;
    if (vm_trailing_zeros || vr_trailing_zeros) { /* the rare general case */
        uint8_t last = 0;
        while (vp / 10 > vm / 10) {
            vm_trailing_zeros &= vm % 10 == 0;
            vr_trailing_zeros &= last == 0;
            last = (uint8_t)(vr % 10);
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        if (vm_trailing_zeros)
            while (vm % 10 == 0) {
                vr_trailing_zeros &= last == 0;
                last = (uint8_t)(vr % 10);
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }
        if (vr_trailing_zeros && last == 5 && vr % 2 == 0)
            last = 4; /* exactly ...50..0: round to even */
        output = vr + ((vr == vm && (!accept_bounds || !vm_trailing_zeros)) || last >= 5);
    } else {
        bool round_up = false;
        if (vp / 100 > vm / 100) { /* two digits at once, most of the time */
            round_up = vr % 100 >= 50;
            vr /= 100;
            vp /= 100;
            vm /= 100;
            removed += 2;
        }
        while (vp / 10 > vm / 10) {
            round_up = vr % 10 >= 5;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        output = vr + (vr == vm || round_up);
    }
    *digits = output;
    *exp10 = e10 + removed;
}

size_t rv_dtoa(double v, char *out)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    const bool neg = bits >> 63;
    const uint64_t ieee_mantissa = bits & ((1ull << MANTISSA_BITS) - 1);
    const uint32_t ieee_exponent =
        (uint32_t)((bits >> MANTISSA_BITS) & ((1u << EXPONENT_BITS) - 1));
    char *p = out;
    if (ieee_exponent == (1u << EXPONENT_BITS) - 1) {
        const char *s = ieee_mantissa ? "NaN" : neg ? "-Infinity" : "Infinity";
        size_t n = strlen(s);
        memcpy(out, s, n + 1);
        return n;
    }
    if (neg)
        *p++ = '-';
    if (ieee_exponent == 0 && ieee_mantissa == 0) {
        *p++ = '0';
        *p = '\0';
        return (size_t)(p - out);
    }
    uint64_t digits;
    int32_t e10;
    shortest(ieee_mantissa, ieee_exponent, &digits, &e10);

    char d[20];
    uint32_t k = decimal_length(digits);
    for (uint32_t i = k; i-- > 0;) {
        d[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    /* v = 0.d[0..k) * 10^n */
    int32_t n = e10 + (int32_t)k;
    if ((int32_t)k <= n && n <= 21) { /* an integer: 100 */
        memcpy(p, d, k);
        p += k;
        memset(p, '0', (size_t)(n - (int32_t)k));
        p += n - (int32_t)k;
    } else if (0 < n && n <= 21) { /* 1.5 */
        memcpy(p, d, (size_t)n);
        p += n;
        *p++ = '.';
        memcpy(p, d + n, k - (uint32_t)n);
        p += k - (uint32_t)n;
    } else if (-6 < n && n <= 0) { /* 0.001 */
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)-n);
        p += -n;
        memcpy(p, d, k);
        p += k;
    } else { /* 1.5e+300, 5e-324 */
        *p++ = d[0];
        if (k > 1) {
            *p++ = '.';
            memcpy(p, d + 1, k - 1);
            p += k - 1;
        }
        int32_t x = n - 1;
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        if (x < 0)
            x = -x;
        if (x >= 100)
            *p++ = (char)('0' + x / 100);
        if (x >= 10)
            *p++ = (char)('0' + x / 10 % 10);
        *p++ = (char)('0' + x % 10);
    }
    *p = '\0';
    return (size_t)(p - out);
}
