/*
 * test_tokens.c - the bearer token file and the Authorization header: a
 * file parses into hashes, scopes and limits; each mistake is refused with
 * its line; a token is found by its hash and only by it; a client
 * certificate's subject only among subjects; a header gives its token only
 * in the Bearer form.
 */
#include <check.h>

#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "tokens.h"

static char err[256];

/* A file line for token with scopes and the rest. */
static void line_for(char *out, size_t size, const char *token, const char *rest)
{
    char hex[RV_SHA256_HEX];
    rv_sha256_hex(token, strlen(token), hex);
    snprintf(out, size, "%s %s\n", hex, rest);
}

START_TEST(a_file_gives_scopes_names_and_limits)
{
    char a[200], b[200], text[600];
    line_for(a, sizeof a, "alpha-token", "score,read name=fraud-api rate=50 concurrent=4");
    line_for(b, sizeof b, "beta-token", "metrics");
    snprintf(text, sizeof text, "# tokens\n\n  %s\t%s", a, b);
    rv_tokens t;
    ck_assert_msg(rv_tokens_parse(text, strlen(text), &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.n, 2);
    const rv_token *x = rv_tokens_find(&t, RV_TOKEN_BEARER, "alpha-token", 11);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->scopes, RV_SCOPE_SCORE | RV_SCOPE_READ);
    ck_assert_str_eq(x->name, "fraud-api");
    ck_assert_uint_eq(x->rate, 50);
    ck_assert_uint_eq(x->concurrent, 4);
    const rv_token *y = rv_tokens_find(&t, RV_TOKEN_BEARER, "beta-token", 10);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(y->scopes, RV_SCOPE_METRICS);
    ck_assert_str_eq(y->name, "line-4"); /* unnamed: its line */
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_BEARER, "alpha-toke", 10));
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_BEARER, "alpha-tokenx", 12));
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_BEARER, "", 0));
    rv_tokens_free(&t);
}
END_TEST

START_TEST(a_subject_line_grants_a_client_certificate_and_only_it)
{
    char a[200], text[600];
    line_for(a, sizeof a, "alpha-token", "score");
    snprintf(text, sizeof text,
             "%ssubject:\"CN=fraud api,O=Example Bank\" read,score name=fraud-api rate=7\n"
             "subject:CN=churn metrics\n",
             a);
    rv_tokens t;
    ck_assert_msg(rv_tokens_parse(text, strlen(text), &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.n, 3);
    const char *dn = "CN=fraud api,O=Example Bank";
    const rv_token *x = rv_tokens_find(&t, RV_TOKEN_SUBJECT, dn, strlen(dn));
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->scopes, RV_SCOPE_SCORE | RV_SCOPE_READ);
    ck_assert_str_eq(x->name, "fraud-api");
    ck_assert_uint_eq(x->rate, 7);
    const rv_token *y = rv_tokens_find(&t, RV_TOKEN_SUBJECT, "CN=churn", 8);
    ck_assert(y && y->scopes == RV_SCOPE_METRICS);
    /* a bearer token that spells a subject is not that client, nor the
     * other way round */
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_BEARER, dn, strlen(dn)));
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_BEARER, "CN=churn", 8));
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_SUBJECT, "alpha-token", 11));
    ck_assert_ptr_nonnull(rv_tokens_find(&t, RV_TOKEN_BEARER, "alpha-token", 11));
    /* the whole name, exactly */
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_SUBJECT, "CN=fraud api", 12));
    ck_assert_ptr_null(rv_tokens_find(&t, RV_TOKEN_SUBJECT, "cn=churn", 8));
    rv_tokens_free(&t);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"subject:\"CN=a read\n", "quote is not closed"},
        {"subject:\"\" read\n", "empty subject"},
        {"subject: read\n", "empty subject"},
        {"subject:CN=a\n", "no scopes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(rv_tokens_parse(bad[i].text, strlen(bad[i].text), &t, err, sizeof err),
                         -1);
        ck_assert_msg(strstr(err, bad[i].want), "case %zu: %s", i, err);
    }
}
END_TEST

START_TEST(each_mistake_is_refused_with_its_line)
{
    char good[200];
    line_for(good, sizeof good, "t", "read");
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"abc read\n", "64 digits"},
        {"ZZ%s read\n", "64 digits"},
        {"%.64s\n", "no scopes"},
        {"%.64s write\n", "unknown scope 'write'"},
        {"%.64s read,\n", "unknown scope ''"},
        {"%.64s read rate=x\n", "rate=N"},
        {"%.64s read colour=red\n", "name=TEXT"},
        {"%.64s read rate=1234567890\n", "rate=N"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char line[300], text[600];
        snprintf(line, sizeof line, cases[i].line, good);
        snprintf(text, sizeof text, "%s# two\n%s", good, line);
        rv_tokens t;
        ck_assert_msg(rv_tokens_parse(text, strlen(text), &t, err, sizeof err) == -1, "case %zu",
                      i);
        ck_assert_msg(strncmp(err, "line 3: ", 8) == 0 && strstr(err, cases[i].want),
                      "case %zu: %s", i, err);
        ck_assert_uint_eq(t.n, 0);
    }
    char upper[200];
    snprintf(upper, sizeof upper, "%s", good);
    for (char *c = upper; *c && *c != ' '; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    rv_tokens t;
    if (strcmp(upper, good) != 0) {
        ck_assert_int_eq(rv_tokens_parse(upper, strlen(upper), &t, err, sizeof err), -1);
        ck_assert_ptr_nonnull(strstr(err, "lowercase hex"));
    }
}
END_TEST

START_TEST(only_the_bearer_form_gives_a_token)
{
    size_t n;
    const char *t = rv_bearer_token("Bearer abc.DEF-123", &n);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(n, 11);
    ck_assert_int_eq(memcmp(t, "abc.DEF-123", n), 0);
    t = rv_bearer_token("bearer   tok  ", &n);
    ck_assert(t && n == 3 && memcmp(t, "tok", 3) == 0);
    ck_assert_ptr_null(rv_bearer_token(NULL, &n));
    ck_assert_ptr_null(rv_bearer_token("", &n));
    ck_assert_ptr_null(rv_bearer_token("Basic dXNlcjpwYXNz", &n));
    ck_assert_ptr_null(rv_bearer_token("Bearer", &n));
    ck_assert_ptr_null(rv_bearer_token("Bearer ", &n));
    ck_assert_ptr_null(rv_bearer_token("Bearer a b", &n));
    ck_assert_ptr_null(rv_bearer_token("Bearertok", &n));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokens");
    TCase *tc = tcase_create("tokens");
    tcase_add_test(tc, a_file_gives_scopes_names_and_limits);
    tcase_add_test(tc, a_subject_line_grants_a_client_certificate_and_only_it);
    tcase_add_test(tc, each_mistake_is_refused_with_its_line);
    tcase_add_test(tc, only_the_bearer_form_gives_a_token);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
