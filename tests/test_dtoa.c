/*
 * test_dtoa.c - the shortest double formatter against the C library: for
 * every double tried, strtod reads the output back to the same bits, it has
 * as few significant digits as any "%.*e" that does, the same digits as the
 * correctly rounded one of that length (the closest), and it is a JSON
 * number. Edge cases first (zeros, subnormals, every power of two and of
 * ten, the extremes), then 10^7 random bit patterns (10^6 under a
 * sanitizer), from a fixed seed.
 */
#include <check.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "test_helpers.h"

#ifdef __SANITIZE_ADDRESS__
#define RANDOM_COUNT 1000000
#else
#define RANDOM_COUNT 10000000
#endif

/* A decimal as its significant digits (no leading or trailing zeros) and
 * the power of ten after the first of them: 0.0125 -> "125", -2. */
typedef struct decimal {
    char digits[40];
    int point;
} decimal;

static void parse(const char *s, decimal *d)
{
    char all[64];
    size_t n = 0;
    int point = -1, exp = 0;
    if (*s == '-')
        s++;
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s == '.')
            point = (int)n;
        else
            all[n++] = *s;
    if (*s)
        exp = atoi(s + 1);
    if (point < 0)
        point = (int)n;
    size_t lead = 0;
    while (lead < n && all[lead] == '0')
        lead++;
    size_t end = n;
    while (end > lead && all[end - 1] == '0')
        end--;
    memcpy(d->digits, all + lead, end - lead);
    d->digits[end - lead] = '\0';
    d->point = point - (int)lead - 1 + exp;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static int reads_back(const char *s, double v)
{
    double r = strtod(s, NULL);
    return memcmp(&r, &v, sizeof v) == 0;
}

/* The k-digit decimals nearest v that read back: the correctly rounded
 * one, else its neighbour one unit of the last digit away (the interval
 * of a power of two is lopsided). The first that reads back goes to out;
 * 0 when none does. */
static int nearest_with(double v, int k, char *out, size_t size)
{
    char e[40];
    snprintf(e, sizeof e, "%.*e", k - 1, fabs(v));
    if (reads_back(e, fabs(v))) {
        snprintf(out, size, "%s%s", signbit(v) ? "-" : "", e);
        return 1;
    }
    /* d.ddd e X -> D e (X - k + 1) */
    uint64_t digits = 0;
    const char *p = e;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits = digits * 10 + (uint64_t)(*p - '0');
    int x = atoi(p + 1) - (k - 1);
    double exact = fabs(v);
    char up[40], down[40];
    snprintf(up, sizeof up, "%llue%d", (unsigned long long)(digits + 1), x);
    snprintf(down, sizeof down, "%llue%d", (unsigned long long)(digits - 1), x);
    /* the neighbour on the side of v (only that one can be nearer) */
    const char *first = strtod(e, NULL) < exact ? up : down;
    const char *second = first == up ? down : up;
    for (const char *c = first;; c = second) {
        if (reads_back(c, exact)) {
            snprintf(out, size, "%s%s", signbit(v) ? "-" : "", c);
            return 1;
        }
        if (c == second)
            return 0;
    }
}

static void check_one(double v)
{
    char got[RV_DTOA_SIZE + 8], want[64];
    memset(got, 'x', sizeof got);
    size_t len = rv_dtoa(v, got);
    if (len >= RV_DTOA_SIZE || strlen(got) != len)
        ck_abort_msg("%a: length %zu", v, len);
    if (!reads_back(got, v))
        ck_abort_msg("%a: %s reads back as %a", v, got, strtod(got, NULL));
    if (!is_json_number(got))
        ck_abort_msg("%a: %s is not a JSON number", v, got);
    if (signbit(v) != (got[0] == '-'))
        ck_abort_msg("%a: sign of %s", v, got);
    if (v == 0) {
        if (strcmp(got, signbit(v) ? "-0" : "0") != 0)
            ck_abort_msg("%a: %s", v, got);
        return;
    }
    /* shortest: no decimal of one digit fewer reads back (if one did, so
     * would the nearest of that length or its neighbour); nearest: the
     * same digits as the nearest that reads back at this length */
    decimal a, b;
    parse(got, &a);
    int k = (int)strlen(a.digits);
    if (k > 1 && nearest_with(v, k - 1, want, sizeof want))
        ck_abort_msg("%a: %s, but %s is shorter and reads back", v, got, want);
    if (!nearest_with(v, k, want, sizeof want))
        ck_abort_msg("%a: %s, but no %d-digit decimal reads back", v, got, k);
    parse(want, &b);
    if (strcmp(a.digits, b.digits) != 0 || a.point != b.point)
        ck_abort_msg("%a: %s, but the shortest nearest is %s", v, got, want);
}

START_TEST(edge_cases)
{
    static const double fixed[] = {0.0,
                                   -0.0,
                                   5e-324,
                                   -5e-324,
                                   2.2250738585072009e-308, /* largest subnormal */
                                   DBL_MIN,
                                   DBL_MAX,
                                   -DBL_MAX,
                                   DBL_EPSILON,
                                   0.1,
                                   0.2,
                                   0.3,
                                   0.1 + 0.2,
                                   1.0 / 3,
                                   2.0 / 3,
                                   1.5,
                                   100,
                                   123456,
                                   1e21,
                                   1e22,
                                   1e-6,
                                   1e-7,
                                   9007199254740992.0,
                                   9007199254740994.0,
                                   4.9406564584124654e-324,
                                   1.7976931348623157e308,
                                   2.9802322387695312e-8,
                                   5.0e-324 * 3,
                                   0.75,
                                   0.65,
                                   0.7};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_one(fixed[i]);
    for (int e = -1074; e <= 1023; e++) {
        check_one(ldexp(1.0, e));
        check_one(-ldexp(1.0, e));
        check_one(nextafter(ldexp(1.0, e), 0));
        check_one(nextafter(ldexp(1.0, e), INFINITY));
    }
    for (int e = -323; e <= 308; e++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", e);
        double v = strtod(s, NULL);
        check_one(v);
        check_one(nextafter(v, 0));
        check_one(nextafter(v, INFINITY));
    }
    for (int i = 0; i <= 100000; i++) {
        check_one(i);
        check_one(i / 1000.0);
    }
    char buf[RV_DTOA_SIZE];
    ck_assert_str_eq((rv_dtoa(0.1, buf), buf), "0.1");
    ck_assert_str_eq((rv_dtoa(-0.0, buf), buf), "-0");
    ck_assert_str_eq((rv_dtoa(100, buf), buf), "100");
    ck_assert_str_eq((rv_dtoa(1e21, buf), buf), "1e+21");
    ck_assert_str_eq((rv_dtoa(1e-7, buf), buf), "1e-7");
    ck_assert_str_eq((rv_dtoa(0.000001, buf), buf), "0.000001");
    ck_assert_str_eq((rv_dtoa(5e-324, buf), buf), "5e-324");
    ck_assert_str_eq((rv_dtoa(DBL_MAX, buf), buf), "1.7976931348623157e+308");
    ck_assert_str_eq((rv_dtoa(NAN, buf), buf), "NaN");
    ck_assert_str_eq((rv_dtoa(-INFINITY, buf), buf), "-Infinity");
}
END_TEST

START_TEST(random_doubles)
{
    uint64_t seed = 0x9e3779b97f4a7c15u, checked = 0;
    while (checked < RANDOM_COUNT) {
        uint64_t bits = test_xorshift(&seed);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        check_one(v);
        checked++;
    }
}
END_TEST

/* Doubles as models write them: scores in [0, 1) from a few operations. */
START_TEST(random_scores)
{
    uint64_t seed = 42;
    for (int i = 0; i < 1000000; i++) {
        double v = (double)(test_xorshift(&seed) >> 11) / 9007199254740992.0;
        check_one(v);
        check_one(1.0 / (1.0 + exp(-v * 8 + 4)));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dtoa");
    TCase *tc = tcase_create("shortest");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, edge_cases);
    tcase_add_test(tc, random_doubles);
    tcase_add_test(tc, random_scores);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
