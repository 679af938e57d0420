/*
 * proc_runner.c - a model process. Must never outlive its host (PDEATHSIG,
 * checked against the parent it was told), never hold an fd but its
 * channel and the standard three, and never load a plugin's code before
 * its limits are set. The sandbox (seccomp) is loaded after the plugin is
 * mapped and before any of its functions runs.
 */
#include "proc_runner.h"

#include <errno.h>
#include <malloc.h>
#include <seccomp.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "proc_channel.h"
#include "errbuf.h"
#include "log.h"
#include "plugin_open.h"

#define MAX_STRINGS 4096

typedef struct runner {
    rv_proc_channel ch;
    const rv_plugin *desc;
    void *instance;
    int created;
    char name[128];
    /* the batch in progress, for emit()'s `about` */
    const rv_request *reqs;
    uint32_t n;
} runner;

static void services_log(void *ctx, int level, const char *msg)
{
    runner *r = ctx;
    char comp[160];
    rv_errf(comp, sizeof comp, "model %s", r->name);
    rv_log(level, comp, "%s", msg);
}

static int services_emit(void *ctx, const rv_request *about, const char *stream, const void *key,
                         size_t key_len, const void *value, size_t value_len)
{
    runner *r = ctx;
    uint32_t idx = UINT32_MAX;
    if (about && r->reqs && about >= r->reqs && about < r->reqs + r->n)
        idx = (uint32_t)(about - r->reqs);
    if (rv_proc_channel_put_emit(&r->ch, r->n, idx, stream, key, key_len, value, value_len) != 0) {
        rv_log(RV_LOG_WARNING, "runner", "model %s: emit buffer full, record to %s dropped",
               r->name, stream);
        return RV_EAGAIN;
    }
    return RV_OK;
}

static void set_limits(uint32_t max_memory_mb)
{
    struct rlimit nofile = {256, 256};
    setrlimit(RLIMIT_NOFILE, &nofile);
#ifndef __SANITIZE_ADDRESS__
    if (max_memory_mb) {
        rlim_t bytes = (rlim_t)max_memory_mb << 20;
        struct rlimit as = {bytes, bytes};
        setrlimit(RLIMIT_AS, &as);
    }
#else
    (void)max_memory_mb; /* the sanitizer's hard_rss_limit_mb, set by the host */
#endif
    /* fewer malloc arenas: each reserves 64 MiB of address space */
    mallopt(M_ARENA_MAX, 2);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* sandbox: strict - no new processes, no programs, no sockets, no tracing.
 * Refused with an errno, never a kill, so a library that probes gets an
 * error it can handle; threads (clone with CLONE_THREAD) stay allowed, and
 * clone3 answers ENOSYS so that the C library falls back to clone. */
static int load_sandbox(char *err, size_t err_size)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        rv_errf(err, err_size, "seccomp_init failed");
        return -1;
    }
    static const int denied[] = {
        SCMP_SYS(socket),
        SCMP_SYS(socketpair),
        SCMP_SYS(execve),
        SCMP_SYS(execveat),
        SCMP_SYS(fork),
        SCMP_SYS(vfork),
        SCMP_SYS(ptrace),
        SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev),
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof denied / sizeof *denied && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        rv_errf(err, err_size, "cannot load the sandbox: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

/* INIT: strings [model, plugin, shown, instance, max_memory_mb, sandbox,
 * max_batch], the features, the params (key, value, ...). */
static int do_init(runner *r)
{
    rv_proc_channel_hdr *h = r->ch.h;
    static const char *head[8], *feats[MAX_STRINGS], *kv[MAX_STRINGS];
    uint64_t pos = 0;
    int nh = rv_proc_channel_get_strings(&r->ch, &pos, head, 8);
    int nf = rv_proc_channel_get_strings(&r->ch, &pos, feats, MAX_STRINGS);
    int np = rv_proc_channel_get_strings(&r->ch, &pos, kv, MAX_STRINGS);
    if (nh != 7 || nf < 0 || np < 0 || np % 2) {
        rv_errf(h->err, sizeof h->err, "model process: malformed INIT message");
        return RV_EINVAL;
    }
    rv_errf(r->name, sizeof r->name, "%s", head[0]);
    char comm[16] = "rv:"; /* the kernel keeps 15 characters */
    size_t n = strnlen(r->name, sizeof comm - 4);
    memcpy(comm + 3, r->name, n);
    comm[3 + n] = '\0';
    prctl(PR_SET_NAME, comm);
    set_limits((uint32_t)strtoul(head[4], NULL, 10));
    void *handle;
    char err[RV_ERR_SIZE] = "";
    r->desc = rv_module_open(head[1], head[2], &handle, err, sizeof err);
    if (!r->desc) {
        rv_errf(h->err, sizeof h->err, "%s", err);
        return RV_EINVAL;
    }
    if (strcmp(head[5], "strict") == 0 && load_sandbox(err, sizeof err) != 0) {
        rv_errf(h->err, sizeof h->err, "%s", err);
        return RV_EINVAL;
    }
    static rv_param params[MAX_STRINGS / 2];
    for (int i = 0; i < np / 2; i++)
        params[i] = (rv_param){kv[2 * i], kv[2 * i + 1]};
    static rv_host_services services;
    services = (rv_host_services){sizeof services, r, services_log, services_emit};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = r->name,
                           .params = params,
                           .n_params = (size_t)np / 2,
                           .feature_names = feats,
                           .n_features = (size_t)nf,
                           .services = &services};
    rv_model_info info = {0};
    int code = r->desc->create(&args, &info, &r->instance, err, sizeof err);
    if (code != RV_OK) {
        rv_errf(h->err, sizeof h->err, "create failed (code %d): %s", code,
                *err ? err : "no reason given");
        return code;
    }
    r->created = 1;
    if (r->desc->warm && (code = r->desc->warm(r->instance, err, sizeof err)) != RV_OK) {
        rv_errf(h->err, sizeof h->err, "warm failed (code %d) on instance %s: %s", code, head[3],
                *err ? err : "no reason given");
        return code;
    }
    if (!info.labels ||
        rv_proc_channel_put_answer_strings(&r->ch, info.labels, info.n_labels) != 0) {
        rv_errf(h->err, sizeof h->err, "create declared no labels, or too many");
        return RV_EINVAL;
    }
    return RV_OK;
}

static int do_score(runner *r)
{
    static rv_request *reqs;
    static rv_header *hdrs;
    static rv_result *res;
    static rv_result **resp;
    static const rv_request **rptr;
    static uint32_t cap;
    static size_t hcap;
    rv_proc_channel_hdr *h = r->ch.h;
    uint32_t n = h->n;
    size_t nh = rv_proc_channel_count_headers(&r->ch);
    if (n > cap) {
        free(reqs);
        free(res);
        free(resp);
        free(rptr);
        reqs = calloc(n, sizeof *reqs);
        res = calloc(n, sizeof *res);
        resp = calloc(n, sizeof *resp);
        rptr = calloc(n, sizeof *rptr);
        cap = reqs && res && resp && rptr ? n : 0;
    }
    if (nh > hcap) {
        free(hdrs);
        hdrs = calloc(nh, sizeof *hdrs);
        hcap = hdrs ? nh : 0;
    }
    if (cap < n || hcap < nh) {
        rv_errf(h->err, sizeof h->err, "model process: out of memory for a batch of %u", n);
        return RV_ENOMEM;
    }
    if (rv_proc_channel_get_requests(&r->ch, reqs, hdrs) != 0) {
        rv_errf(h->err, sizeof h->err, "model process: malformed batch");
        return RV_EINVAL;
    }
    rv_proc_channel_ans *ans = rv_proc_channel_answers(&r->ch);
    for (uint32_t i = 0; i < n; i++) {
        ans[i].status = RV_STATUS_ERROR;
        ans[i].n_answers = 0;
        ans[i].error[0] = '\0';
        res[i] = (rv_result){RV_STATUS_ERROR,    0, RV_MAX_ANSWERS, ans[i].answers, ans[i].error,
                             sizeof ans[i].error};
        resp[i] = &res[i];
    }
    h->ans_len = (uint64_t)n * sizeof *ans;
    r->reqs = reqs;
    r->n = n;
    for (uint32_t i = 0; i < n; i++)
        rptr[i] = &reqs[i];
    char err[RV_ERR_SIZE] = "";
    int rc = r->desc->score(r->instance, rptr, resp, n, err, sizeof err);
    r->reqs = NULL;
    for (uint32_t i = 0; i < n; i++) {
        ans[i].status = res[i].status;
        ans[i].n_answers = res[i].n_answers;
    }
    if (rc != RV_OK)
        rv_errf(h->err, sizeof h->err, "%s", err);
    return rc;
}

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* SIGTERM (the host stopping the model): the plugin's destroy, then exit
 * 0. SIGTERM is blocked but while waiting for a message (ppoll), so it is
 * taken between calls, never inside the plugin. */
static int stop(runner *r)
{
    if (r->created && r->desc->destroy)
        r->desc->destroy(r->instance);
    return 0;
}

int rv_proc_runner_main(int argc, char **argv)
{
    long parent = argc >= 3 && strcmp(argv[1], "--parent") == 0 ? strtol(argv[2], NULL, 10) : -1;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (parent <= 0 || getppid() != (pid_t)parent) {
        fprintf(stderr, "model-runner: started by the host only (its parent is gone)\n");
        return 1;
    }
    runner r = {0};
    char err[RV_ERR_SIZE];
    if (rv_proc_channel_attach(&r.ch, 3, 4, 5, err, sizeof err) != 0) {
        fprintf(stderr, "model-runner: %s\n", err);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t term, waiting;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &waiting);
    sigdelset(&waiting, SIGTERM);
    uint32_t done = 0;
    for (;;) {
        struct pollfd f = {r.ch.to_proc, POLLIN, 0};
        int n = ppoll(&f, 1, NULL, &waiting);
        if (stopping)
            return stop(&r);
        if (n < 0 && errno == EINTR)
            continue;
        uint64_t v;
        if (n != 1 || read(r.ch.to_proc, &v, sizeof v) != sizeof v)
            return 1;
        uint32_t seq = atomic_load_explicit(&r.ch.h->req_seq, memory_order_acquire);
        if (seq == done)
            continue;
        rv_proc_channel_hdr *h = r.ch.h;
        h->err[0] = '\0';
        h->n_emits = 0;
        h->ans_len = 0;
        if (h->op == RV_CHAN_INIT)
            h->rc = do_init(&r);
        else if (h->op == RV_CHAN_SCORE && r.created)
            h->rc = do_score(&r);
        else
            h->rc = RV_EINVAL;
        done = seq;
        atomic_store_explicit(&h->ans_seq, seq, memory_order_release);
        rv_proc_channel_wake(r.ch.to_host);
    }
}
