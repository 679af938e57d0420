/*
 * test_numparse.c - the feature number parser against the C library: every
 * JSON number tried reads to the same bits as strtod (a long long first for
 * integers, as yajl did), and overflow is reported where strtod and strtoll
 * report it. Edge cases, then ten million random numbers of every shape from a
 * fixed seed: short and long mantissas, leading and trailing zeros,
 * exponents from -400 to 400, and doubles printed shortest, %.15g and %.17g.
 */
#include <check.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "numparse.h"
#include "test_helpers.h"

/* What yajl and strtod made of s: an integer as a long long, anything else
 * by strtod. */
static rv_num_status reference(const char *s, double *out)
{
    errno = 0;
    if (!strpbrk(s, ".eE")) {
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
            return RV_NUM_INT_OVERFLOW;
        *out = (double)v;
        return RV_NUM_OK;
    }
    *out = strtod(s, NULL);
    return errno == ERANGE && isinf(*out) ? RV_NUM_FLOAT_OVERFLOW : RV_NUM_OK;
}

static void check_one(const char *s)
{
    double got = 0, want = 0;
    rv_num_status a = rv_parse_number(s, strlen(s), &got);
    rv_num_status b = reference(s, &want);
    if (a != b)
        ck_abort_msg("%s: status %d, strtod says %d", s, a, b);
    if (a == RV_NUM_OK && memcmp(&got, &want, sizeof got) != 0)
        ck_abort_msg("%s: %a, strtod reads %a", s, got, want);
}

START_TEST(edge_cases)
{
    static const char *const cases[] = {"0",
                                        "-0",
                                        "0.0",
                                        "-0.0",
                                        "1",
                                        "-1",
                                        "17.99",
                                        "0.1",
                                        "0.3",
                                        "1e22",
                                        "1e23",
                                        "9e22",
                                        "1.5e-22",
                                        "1e-23",
                                        "123456789012345678",
                                        "9007199254740993",
                                        "9007199254740993.0",
                                        "9223372036854775807",
                                        "9223372036854775808",
                                        "-9223372036854775808",
                                        "-9223372036854775809",
                                        "100000000000000000000000000000",
                                        "1e308",
                                        "1.7976931348623157e308",
                                        "1.7976931348623159e308",
                                        "1e309",
                                        "-1e999",
                                        "1e-400",
                                        "4.9e-324",
                                        "2.4703282292062328e-324",
                                        "2.2250738585072011e-308",
                                        "0.000000000000000000000000000001",
                                        "1234567890123456789.5",
                                        "12345678901234567890.5",
                                        "0.30000000000000004",
                                        "2.00000000000000011102230246251565404236316680908203125",
                                        "1.00000000000000011102230246251565404236316680908203125",
                                        "7.1202363472230444e-307",
                                        "1E5",
                                        "1e+5",
                                        "1.0E-5",
                                        "123.456e3",
                                        "0.000123",
                                        "100.000"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_one(cases[i]);
}
END_TEST

START_TEST(random_numbers)
{
    uint64_t seed = 0x2545f4914f6cdd1du;
    char s[128];
    for (int round = 0; round < 10000000; round++) {
        uint64_t r = test_xorshift(&seed);
        switch (r % 4) {
        case 0: { /* a random decimal: digits, a point, an exponent */
            size_t n = 0;
            if (r & 16)
                s[n++] = '-';
            int ints = 1 + (int)(test_xorshift(&seed) % 22);
            s[n++] = (char)('1' + test_xorshift(&seed) % 9);
            for (int k = 1; k < ints; k++)
                s[n++] = (char)('0' + test_xorshift(&seed) % 10);
            if (r & 32) {
                int fr = 1 + (int)(test_xorshift(&seed) % 22);
                s[n++] = '.';
                for (int k = 0; k < fr; k++)
                    s[n++] = (char)('0' + ((r >> 8) & 1 ? test_xorshift(&seed) % 10 : 0));
            }
            if (r & 64)
                n += (size_t)snprintf(s + n, sizeof s - n, "e%d",
                                      (int)(test_xorshift(&seed) % 801) - 400);
            s[n] = '\0';
            break;
        }
        case 1: { /* a small decimal, the common case: 0.00ddd and dd.ddd */
            int scale = (int)(test_xorshift(&seed) % 8);
            long long m = (long long)(test_xorshift(&seed) % 100000000);
            snprintf(s, sizeof s, "%s%lld.%0*lld", r & 16 ? "-" : "", m / 100, scale + 1,
                     (long long)(test_xorshift(&seed) % 1000000000) % 10);
            break;
        }
        default: { /* a random double printed three ways */
            uint64_t bits = test_xorshift(&seed);
            double v;
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                continue;
            if (r % 4 == 2)
                rv_dtoa(v, s);
            else
                snprintf(s, sizeof s, (r & 16) ? "%.17g" : "%.15e", v);
            if (!strpbrk(s, ".eE")) /* %g of an integral value: keep it a double */
                strcat(s, ".0");
        }
        }
        check_one(s);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("numparse");
    TCase *tc = tcase_create("strtod");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, edge_cases);
    tcase_add_test(tc, random_numbers);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
