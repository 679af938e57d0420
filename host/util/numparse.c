/*
 * numparse.c - Clinger's fast path with strtod behind it. Must agree with
 * strtod bit for bit: tests/test_numparse.c checks it on ten million numbers.
 */
#include "numparse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static rv_num_status slow(const char *s, size_t len, double *out)
{
    char stackbuf[128];
    char *z = len < sizeof stackbuf ? stackbuf : malloc(len + 1);
    if (!z) { /* cannot copy: the digits strtod would have read, roughly */
        *out = NAN;
        return RV_NUM_OK;
    }
    memcpy(z, s, len);
    z[len] = '\0';
    errno = 0;
    double v = strtod(z, NULL);
    int overflow = errno == ERANGE && isinf(v);
    if (z != stackbuf)
        free(z);
    *out = v;
    return overflow ? RV_NUM_FLOAT_OVERFLOW : RV_NUM_OK;
}

static rv_num_status integer(const char *s, size_t len, double *out)
{
    size_t i = 0;
    int neg = s[0] == '-';
    i += (size_t)neg;
    uint64_t v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return RV_NUM_INT_OVERFLOW;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)LLONG_MAX + 1 : v > (uint64_t)LLONG_MAX)
        return RV_NUM_INT_OVERFLOW;
    /* as yajl: a long long, then a double (one rounding, to nearest) */
    long long ll = neg ? (long long)(0 - v) : (long long)v;
    *out = (double)ll;
    return RV_NUM_OK;
}

/* Twenty digits or more before any '.' or exponent. */
static rv_num_status long_number(const char *s, size_t len, double *out)
{
    if (!memchr(s, '.', len) && !memchr(s, 'e', len) && !memchr(s, 'E', len))
        return integer(s, len, out);
    return slow(s, len, out);
}

rv_num_status rv_parse_number(const char *s, size_t len, double *out)
{
    if (len == 0) {
        *out = NAN;
        return RV_NUM_OK;
    }
    size_t i = 0;
    int neg = s[0] == '-';
    i += (size_t)neg;
    uint64_t w = 0;
    int digits = 0, exp10 = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        if (digits < 19) {
            w = w * 10 + (uint64_t)(s[i] - '0');
            digits += w != 0;
        } else
            return long_number(s, len, out);
    if (i == len) {
        if (digits >= 19) /* may not fit a long long: as yajl says */
            return integer(s, len, out);
        long long ll = neg ? -(long long)w : (long long)w;
        *out = (double)ll;
        return RV_NUM_OK;
    }
    if (s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (digits >= 19)
                return slow(s, len, out);
            w = w * 10 + (uint64_t)(s[i] - '0');
            digits += w != 0;
            exp10--;
        }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = s[i] == '-';
        if (s[i] == '-' || s[i] == '+')
            i++;
        int e = 0;
        for (; i < len; i++) {
            if (e > 100000)
                return slow(s, len, out);
            e = e * 10 + (s[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (w == 0) {
        *out = neg ? -0.0 : 0.0;
        return RV_NUM_OK;
    }
    if (w > (1ull << 53) || exp10 < -22 || exp10 > 22)
        return slow(s, len, out);
    double v = (double)w;
    v = exp10 < 0 ? v / exact_pow10[-exp10] : v * exact_pow10[exp10];
    *out = neg ? -v : v;
    return RV_NUM_OK;
}
