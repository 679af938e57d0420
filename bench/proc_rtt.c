/*
 * proc_rtt.c - what a model process costs per score() call, without a
 * broker: the same plugin called in this process (dlopen, as isolation:
 * none) and through a model process (rv_proc_score, as isolation: process),
 * alternating call by call so both see the same machine. Prints p50/p90/p99
 * of each and the difference of the medians.
 *
 *   proc_rtt --runner RENDEZVOUS --plugin SO [--batch N] [--calls N]
 *            [--gap-us N] [--features N] [--param K=V]...
 *
 * --features N: requests of N features (default 4: a, b, c, d; else f0...),
 * the demo's first values over and over.
 *
 * --gap-us sleeps between calls (a quiet request stream: both sides of the
 * channel asleep when the batch comes); 0 calls back to back.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "proc.h"
#include "module.h"
#include "slot.h"

#define MAX_PARAMS 16

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *ns, int calls)
{
    qsort(ns, (size_t)calls, sizeof *ns, cmp_i64);
    printf("%-18s p50 %7.1f us  p90 %7.1f us  p99 %7.1f us\n", what, ns[calls / 2] / 1e3,
           ns[calls * 9 / 10] / 1e3, ns[calls * 99 / 100] / 1e3);
}

static int fail(const char *why)
{
    fprintf(stderr, "proc_rtt: %s\n", why);
    return 1;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *runner = NULL, *plugin = NULL;
    int batch = 1, calls = 5000, gap_us = 200, nf = 4;
    rv_kv params[MAX_PARAMS];
    rv_param pparams[MAX_PARAMS];
    size_t n_params = 0;
    static const struct option opts[] = {
        {"runner", 1, 0, 'r'}, {"plugin", 1, 0, 'p'}, {"batch", 1, 0, 'b'},    {"calls", 1, 0, 'n'},
        {"gap-us", 1, 0, 'g'}, {"param", 1, 0, 'k'},  {"features", 1, 0, 'f'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *eq;
        switch (c) {
        case 'r': runner = optarg; break;
        case 'p': plugin = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 'n': calls = atoi(optarg); break;
        case 'g': gap_us = atoi(optarg); break;
        case 'f': nf = atoi(optarg); break;
        case 'k':
            if (n_params == MAX_PARAMS || !(eq = strchr(optarg, '=')))
                return fail("--param K=V, at most 16") + 1;
            *eq = '\0';
            params[n_params] = (rv_kv){optarg, eq + 1};
            pparams[n_params] = (rv_param){optarg, eq + 1};
            n_params++;
            break;
        default: return 2;
        }
    }
    if (!runner || !plugin || batch < 1 || batch > 4096 || calls < 100 || nf < 1 || nf > 4096) {
        fprintf(stderr, "usage: proc_rtt --runner RENDEZVOUS --plugin SO [--batch N (1..4096)] "
                        "[--calls N (>=100)] [--gap-us N] [--features N (1..4096)] "
                        "[--param K=V]...\n");
        return 2;
    }
    rv_proc_set_runner(runner);
    static const char *const first[] = {"a", "b", "c", "d"};
    static const double values[] = {17.99, 10.38, 122.8, 1001.0};
    const char **features = calloc((size_t)nf, sizeof *features);
    double *fv = calloc((size_t)nf, sizeof *fv);
    char(*names)[16] = calloc((size_t)nf, sizeof *names);
    if (!features || !fv || !names)
        return fail("out of memory");
    for (int i = 0; i < nf; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        features[i] = nf == 4 ? first[i] : names[i];
        fv[i] = values[i % 4];
    }
    char err[RV_ERR_SIZE];

    void *handle;
    const rv_plugin *desc = rv_module_open(plugin, plugin, &handle, err, sizeof err);
    void *inst = NULL;
    rv_model_info info = {0};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = "bench",
                           .params = pparams,
                           .n_params = n_params,
                           .feature_names = features,
                           .n_features = (size_t)nf};
    if (!desc || desc->create(&args, &info, &inst, err, sizeof err) != RV_OK)
        return fail(err);

    rv_proc_spec spec = {.model = "bench",
                         .plugin = plugin,
                         .shown = plugin,
                         .params = params,
                         .n_params = n_params,
                         .features = features,
                         .n_features = (size_t)nf,
                         .max_batch = (uint32_t)batch,
                         .max_body_bytes = 1 << 20,
                         .max_score_ms = 1000,
                         .max_memory_mb = 4096,
                         .sandbox = 1};
    char **labels;
    uint32_t n_labels;
    rv_proc *proc = rv_proc_start(&spec, &labels, &n_labels, err, sizeof err);
    if (!proc)
        return fail(err);
    for (uint32_t i = 0; i < n_labels; i++)
        free(labels[i]);
    free(labels);

    /* one body of a demo request's size, its feature vector, its answers */
    static const char body[] = "{\"a\": 17.99, \"b\": 10.38, \"c\": 122.8, \"d\": 1001.0, "
                               "\"pad\": \"................................................\"}";
    rv_request *rq = calloc((size_t)batch, sizeof *rq);
    rv_result *rs = calloc((size_t)batch, sizeof *rs);
    const rv_request **rp = calloc((size_t)batch, sizeof *rp);
    rv_result **rr = calloc((size_t)batch, sizeof *rr);
    rv_answer *answers = calloc((size_t)batch * RV_MAX_ANSWERS, sizeof *answers);
    char *errs = calloc((size_t)batch, 256);
    int64_t *in_host = calloc((size_t)calls, sizeof *in_host);
    int64_t *in_proc = calloc((size_t)calls, sizeof *in_proc);
    if (!rq || !rs || !rp || !rr || !answers || !errs || !in_host || !in_proc)
        return fail("out of memory");
    char ids[4096][16];
    for (int i = 0; i < batch; i++) {
        snprintf(ids[i], sizeof ids[i], "b-%d", i);
        rq[i] = (rv_request){.id = ids[i],
                             .body = (const uint8_t *)body,
                             .body_len = sizeof body - 1,
                             .features = fv,
                             .n_features = (size_t)nf,
                             .topic = "bench.requests",
                             .offset = i,
                             .timestamp_ms = -1};
        rp[i] = &rq[i];
        rs[i] = (rv_result){.max_answers = RV_MAX_ANSWERS,
                            .answers = answers + i * RV_MAX_ANSWERS,
                            .error = errs + i * 256,
                            .error_size = 256};
        rr[i] = &rs[i];
    }
    for (int c = 0; c < calls; c++) {
        for (int way = 0; way < 2; way++) {
            if (gap_us)
                usleep((useconds_t)gap_us);
            int64_t t0 = now_ns();
            if (way == 0)
                desc->score(inst, rp, rr, (size_t)batch, err, sizeof err);
            else
                rv_proc_score(proc, rp, rr, (size_t)batch, NULL, NULL);
            (way == 0 ? in_host : in_proc)[c] = now_ns() - t0;
            if (rs[0].status != RV_STATUS_OK)
                return fail(rs[0].error);
        }
    }
    printf("score() of %d request(s), %d calls each, %d us apart\n", batch, calls, gap_us);
    report("isolation: none", in_host, calls);
    report("isolation: process", in_proc, calls);
    printf("process - none, p50: %.1f us\n", (in_proc[calls / 2] - in_host[calls / 2]) / 1e3);
    rv_proc_stop(proc, 1000);
    if (desc->destroy)
        desc->destroy(inst);
    return 0;
}
