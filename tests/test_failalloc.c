/*
 * test_failalloc.c - out of memory at every allocation of the middle of the
 * host: for N = 1, 2, 3, ... the Nth allocation of an operation fails
 * (failalloc.h) and the operation must fail cleanly: NULL (or -1) with a
 * message, nothing left allocated once the caller has released what it
 * got, no crash. The loop ends at the first N the operation never reaches
 * (it then succeeds unharmed). Each N runs in a child process of its own,
 * so a crash or a sanitizer report names its N, and the leak sanitizer of
 * an ASan build checks each failure path at the child's exit.
 *
 * Outcomes other than a clean failure are collected and reported together
 * with their N: a crash, a leak, NULL without a message, a failure without
 * any injected failure, and a success after an injected failure whose
 * result differs from the normal one (memory lost silently).
 *
 * Operations: rv_config_load of tests/configs/valid.yaml and of
 * five_mistakes.yaml (which must never become an accepted config);
 * rv_generation_build, rv_control_apply and rv_generation_warm_and_start
 * (with recent requests) on a config written to a temporary directory
 * (valid.yaml names a fake plugin and would create its state and archive
 * dirs in the source tree): two fixture plugins, the canary and the decoy
 * with an archive dir. The first case checks the harness itself on a
 * function that leaks on its failure path.
 *
 * Debugging one N: CK_FORK=no CK_RUN_CASE=config FAILALLOC_N=4 runs only
 * that N in the test process (e.g. under gdb); FAILALLOC_START=n starts
 * the loop at n.
 */
#include <check.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_cmd.h"
#include "control.h"
#include "errbuf.h"
#include "failalloc.h"
#include "failalloc_loop.h"
#include "generation.h"
#include "reload.h"
#include "test_helpers.h"
#include "test_env.h"

static char *tmpdir;
static char gen_cfg_path[4200];

static const char weights_json[] = "{\"kind\": \"logistic\", \"features\": [\"x\", \"y\"], "
                                   "\"labels\": [\"no\", \"yes\"], \"coef\": [[1.0, 0.5]], "
                                   "\"intercept\": [0.0]}\n";

static void setup(void)
{
    tmpdir = test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/w.json", tmpdir);
    test_write_file(p, weights_json);
    snprintf(gen_cfg_path, sizeof gen_cfg_path, "%s/g.yaml", tmpdir);
    FILE *f = fopen(gen_cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "service: fa\n"
            "state_dir: state\n"
            "streams: { brokers: embedded }\n"
            "input: { features: [x, y] }\n"
            "models:\n"
            "  - name: a\n"
            "    plugin: %s/ok.so\n"
            "    params: { score: \"0.6\" }\n"
            "    instances: 2\n"
            "    max_batch: 4\n"
            "  - { name: b, plugin: %s/ok_b.so, max_batch: 4 }\n"
            "  - { name: canary, builtin: canary, params: { model_file: w.json, window: 10 } }\n"
            "  - { name: decoy, builtin: decoy, params: { dir: archive } }\n"
            "rendezvous:\n"
            "  schedule: [{ model: a, within_ms: 20 }, { model: b, within_ms: 40 }]\n"
            "  default: { label: review, score: 0.5 }\n"
            "reload: { warmup_requests: 8, warmup_budget_ms: 10000 }\n",
            RV_FIXTURE_DIR, RV_FIXTURE_DIR);
    fclose(f);
}

static void teardown(void)
{
    test_rm_rf(tmpdir);
    free(tmpdir);
}

/* ---------------------------------------------------------------- the harness itself */

/* Three allocations; when the second or third fails, the first leaks. */
static void *leaky_run(void *ctx, char *msg, size_t size)
{
    char **pair = malloc(2 * sizeof *pair);
    if (!pair) {
        snprintf(msg, size, "out of memory");
        return NULL;
    }
    pair[0] = malloc(32);
    pair[1] = malloc(32);
    if (!pair[0] || !pair[1]) {
        free(pair[0]);
        free(pair[1]); /* and pair is forgotten */
        snprintf(msg, size, "out of memory");
        return NULL;
    }
    memset(pair[0], 1, 32);
    memset(pair[1], 2, 32);
    return pair;
}

static void leaky_release(void *ctx, void *res)
{
    char **pair = res;
    free(pair[0]);
    free(pair[1]);
    free(pair);
}

static void leaky_fp(void *ctx, void *res, char *out, size_t size)
{
    snprintf(out, size, "pair");
}

START_TEST(harness_finds_a_leaking_failure_path)
{
    static op o = {.what = "a leaking function (harness self-test)",
                   .run = leaky_run,
                   .release = leaky_release,
                   .fingerprint = leaky_fp};
    static loop_result r;
    failalloc_run_loop(&o, &r);
    ck_assert_int_eq(r.total, 3);
    ck_assert_int_eq(r.end, 4);
    ck_assert_int_eq(r.clean, 1);
    ck_assert_msg(r.bad == 2 && strstr(r.report, " N=2: ") && strstr(r.report, " N=3: "),
                  "the leaks at N=2 and N=3 went unseen: %d bad:%s", r.bad, r.report);
}
END_TEST

static void join_errors(rv_errors *errs, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < errs->n && used + 1 < size; i++) {
        int w = snprintf(out + used, size - used, "%s%s", i ? " | " : "", errs->lines[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Appends to a fingerprint. */
static void fp_add(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fp_add(char *out, size_t size, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, size - used, fmt, ap);
    va_end(ap);
}

#define S(x) ((x) ? (x) : "(null)")

static void config_fingerprint(const rv_config *c, char *out, size_t size)
{
    out[0] = '\0';
    fp_add(out, size, "path=%s dir=%s service=%s state_dir=%s watch=%d\n", S(c->path), S(c->dir),
           S(c->service), S(c->state_dir), c->watch);
    fp_add(out, size, "streams %s %s %s %s %s %s %s %s %s %u\n", S(c->streams.brokers),
           S(c->streams.requests), S(c->streams.scores), S(c->streams.results),
           S(c->streams.archive), S(c->streams.alerts), S(c->streams.dead_letter),
           S(c->streams.control), S(c->streams.group), c->streams.partitions);
    for (size_t i = 0; i < c->streams.n_kafka; i++)
        fp_add(out, size, "kafka %s=%s\n", S(c->streams.kafka[i].key),
               S(c->streams.kafka[i].value));
    fp_add(out, size, "input %s %u:", S(c->input.format), c->input.max_body_bytes);
    for (size_t i = 0; i < c->input.n_features; i++)
        fp_add(out, size, " %s", S(c->input.features[i]));
    fp_add(out, size, "\n");
    for (size_t i = 0; i < c->n_models; i++) {
        const rv_model_conf *m = &c->models[i];
        fp_add(out, size, "model %s plugin=%s builtin=%s %u/%u/%u line %d:", S(m->name),
               S(m->plugin), S(m->builtin), m->instances, m->max_batch, m->queue_size, m->line);
        for (size_t k = 0; k < m->n_params; k++)
            fp_add(out, size, " %s=%s", S(m->params[k].key), S(m->params[k].value));
        fp_add(out, size, "\n");
    }
    fp_add(out, size, "schedule:");
    for (size_t i = 0; i < c->rendezvous.n_schedule; i++)
        fp_add(out, size, " %s/%u", S(c->rendezvous.schedule[i].model),
               c->rendezvous.schedule[i].within_ms);
    fp_add(out, size, "\ndefault %d %s %g max_in_flight %u reload %u %u http %s\n",
           c->rendezvous.has_default, S(c->rendezvous.default_label), c->rendezvous.default_score,
           c->rendezvous.max_in_flight, c->reload.warmup_requests, c->reload.warmup_budget_ms,
           S(c->http.listen));
}

static void generation_fingerprint(const rv_generation *g, char *out, size_t size)
{
    config_fingerprint(g->cfg, out, size);
    fp_add(out, size, "generation %llu schedule_version %llu canary %d decoy %d reused %zu\n",
           (unsigned long long)g->id, (unsigned long long)g->schedule_version, g->canary, g->decoy,
           g->n_reused);
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *m = g->models[i];
        fp_add(out, size, "built %s %s %s created %u labels", m->name, m->version, m->identity,
               m->n_created);
        for (uint32_t k = 0; k < m->n_labels; k++)
            fp_add(out, size, " %s", m->labels[k]);
        for (size_t k = 0; k < m->n_params; k++)
            fp_add(out, size, " %s=%s", S(m->params[k].key), S(m->params[k].value));
        fp_add(out, size, "\n");
    }
    fp_add(out, size, "entries:");
    for (size_t i = 0; i < g->n_schedule; i++)
        fp_add(out, size, " %zu/%u", g->schedule[i], g->within_ms[i]);
    fp_add(out, size, "\n");
}

/* ---------------------------------------------------------------- (a) config load */

typedef struct config_ctx {
    const char *path;
    rv_errors errs;
} config_ctx;

static void *config_run(void *ctx, char *msg, size_t size)
{
    config_ctx *c = ctx;
    rv_config *cfg = rv_config_load(c->path, rv_test_env(), &c->errs);
    if (!cfg)
        join_errors(&c->errs, msg, size);
    return cfg;
}

static void config_release(void *ctx, void *res)
{
    rv_config_free(res);
}

static void config_finish(void *ctx)
{
    rv_errors_clear(&((config_ctx *)ctx)->errs);
}

static void config_fp(void *ctx, void *res, char *out, size_t size)
{
    config_fingerprint(res, out, size);
}

START_TEST(config_load_out_of_memory)
{
    static config_ctx c = {RV_SOURCE_DIR "/tests/configs/valid.yaml", {0}};
    static op o = {.what = "rv_config_load(valid.yaml)",
                   .run = config_run,
                   .release = config_release,
                   .finish = config_finish,
                   .fingerprint = config_fp,
                   .ctx = &c};
    failalloc_run_all(&o);
}
END_TEST

START_TEST(config_load_with_errors_out_of_memory)
{
    /* the error-collecting paths: five mistakes reported at once; out of
     * memory must never turn the file into an accepted config */
    static config_ctx c = {RV_SOURCE_DIR "/tests/configs/five_mistakes.yaml", {0}};
    static op o = {.what = "rv_config_load(five_mistakes.yaml)",
                   .run = config_run,
                   .release = config_release,
                   .finish = config_finish,
                   .fingerprint = config_fp,
                   .ctx = &c,
                   .must_fail = 1};
    failalloc_run_all(&o);
}
END_TEST

/* ---------------------------------------------------------------- (b) generation build */

/* The decoy's archive dir as every attempt finds it: two earlier segments
 * (the writer lists them to number its own), none from earlier attempts,
 * so that every attempt allocates the same way. */
static void reset_archive(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/archive", tmpdir);
    test_rm_rf(p);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    for (int i = 1; i <= 2; i++) {
        snprintf(p, sizeof p, "%s/archive/seg-%020d.rva", tmpdir, i);
        test_write_file(p, "");
    }
}

typedef struct build_ctx {
    rv_config *cfg;
    rv_errors errs;
} build_ctx;

static int build_prepare(void *ctx)
{
    build_ctx *b = ctx;
    reset_archive();
    b->cfg = rv_config_load(gen_cfg_path, rv_test_env(), &b->errs);
    if (!b->cfg)
        for (size_t i = 0; i < b->errs.n; i++)
            fprintf(stderr, "  | %s\n", b->errs.lines[i]);
    return b->cfg ? 0 : -1;
}

static void *build_run(void *ctx, char *msg, size_t size)
{
    build_ctx *b = ctx;
    rv_config *cfg = b->cfg;
    b->cfg = NULL; /* taken over, freed on failure too */
    rv_generation *g = rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &b->errs);
    if (!g)
        join_errors(&b->errs, msg, size);
    return g;
}

static void build_release(void *ctx, void *res)
{
    rv_generation_unref(res);
}

static void build_finish(void *ctx)
{
    rv_errors_clear(&((build_ctx *)ctx)->errs);
}

static void build_fp(void *ctx, void *res, char *out, size_t size)
{
    generation_fingerprint(res, out, size);
}

START_TEST(generation_build_out_of_memory)
{
    static build_ctx b;
    static op o = {.what = "rv_generation_build",
                   .prepare = build_prepare,
                   .run = build_run,
                   .release = build_release,
                   .finish = build_finish,
                   .fingerprint = build_fp,
                   .ctx = &b};
    failalloc_run_all(&o);
}
END_TEST

/* ---------------------------------------------------------------- (c) control apply */

typedef struct control_ctx {
    rv_generation *g;
    const char *record;
} control_ctx;

static void *control_run(void *ctx, char *msg, size_t size)
{
    control_ctx *c = ctx;
    return rv_control_apply(c->g, c->record, strlen(c->record), msg, size);
}

static void control_release(void *ctx, void *res)
{
    rv_generation_unref(res);
}

static void control_fp(void *ctx, void *res, char *out, size_t size)
{
    generation_fingerprint(res, out, size);
}

static rv_generation *build_unarmed(void)
{
    rv_errors errs = {0};
    reset_archive();
    rv_config *cfg = rv_config_load(gen_cfg_path, rv_test_env(), &errs);
    rv_generation *g = cfg ? rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    ck_assert_ptr_nonnull(g);
    return g;
}

START_TEST(control_apply_out_of_memory)
{
    static control_ctx c;
    c.g = build_unarmed();
    c.record =
        "{\"schedule\": [{\"model\": \"b\", \"within_ms\": 10}, "
        "{\"model\": \"canary\", \"within_ms\": 30}, {\"model\": \"a\", \"within_ms\": 30}]}";
    static op o = {.what = "rv_control_apply",
                   .run = control_run,
                   .release = control_release,
                   .fingerprint = control_fp,
                   .ctx = &c};
    failalloc_run_all(&o);
    /* the serving generation is as it was */
    ck_assert_int_eq(atomic_load(&c.g->refs), 1);
    ck_assert_uint_eq(c.g->schedule_version, 1);
    for (size_t i = 0; i < c.g->n_models; i++)
        ck_assert_int_eq(atomic_load(&c.g->models[i]->refs), 1);
    rv_generation_unref(c.g);
}
END_TEST

/* ---------------------------------------------------------------- (d) warm-up */

typedef struct warm_ctx {
    rv_generation *g;
    rv_pipeline pipe;
} warm_ctx;

static int warm_prepare(void *ctx)
{
    warm_ctx *w = ctx;
    w->g = build_unarmed();
    w->pipe = (rv_pipeline){.sink = rv_discard_sink, .recent = rv_recent_new(8)};
    if (!w->pipe.recent)
        return -1;
    for (int i = 0; i < 5; i++) {
        char id[16], body[64];
        snprintf(id, sizeof id, "r-%d", i);
        snprintf(body, sizeof body, "{\"x\": %d, \"y\": 0.5}", i);
        rv_recent_add(w->pipe.recent, id, body, strlen(body));
    }
    return 0;
}

static void *warm_run(void *ctx, char *msg, size_t size)
{
    warm_ctx *w = ctx;
    return rv_generation_warm_and_start(w->g, &w->pipe, msg, size) == 0 ? w->g : NULL;
}

static void warm_release(void *ctx, void *res) {}

static void warm_finish(void *ctx)
{
    warm_ctx *w = ctx;
    rv_generation_unref(w->g); /* stops the workers that were started */
    rv_recent_free(w->pipe.recent);
    w->g = NULL;
    w->pipe.recent = NULL;
}

static void warm_fp(void *ctx, void *res, char *out, size_t size)
{
    const rv_generation *g = res;
    out[0] = '\0';
    for (size_t i = 0; i < g->n_models; i++)
        fp_add(out, size, "%s workers %d\n", g->models[i]->name, g->models[i]->workers != NULL);
}

START_TEST(warm_and_start_out_of_memory)
{
    static warm_ctx w;
    static op o = {.what = "rv_generation_warm_and_start",
                   .prepare = warm_prepare,
                   .run = warm_run,
                   .release = warm_release,
                   .finish = warm_finish,
                   .fingerprint = warm_fp,
                   .ctx = &w};
    failalloc_run_all(&o);
}
END_TEST

/* One case per operation, so that CK_RUN_CASE can pick one. */
static void add_case(Suite *s, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);
    /* unchecked: the runner removes the directory even when the case fails */
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

static Suite *failalloc_suite(void)
{
    Suite *s = suite_create("failalloc");
    add_case(s, "harness", harness_finds_a_leaking_failure_path);
    add_case(s, "config", config_load_out_of_memory);
    add_case(s, "config_errors", config_load_with_errors_out_of_memory);
    add_case(s, "generation", generation_build_out_of_memory);
    add_case(s, "control", control_apply_out_of_memory);
    add_case(s, "warm", warm_and_start_out_of_memory);
    return s;
}

int main(void)
{
    return test_run_suite(failalloc_suite());
}
