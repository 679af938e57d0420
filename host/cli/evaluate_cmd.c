/*
 * evaluate_cmd.c - `rendezvous evaluate`: the evaluator thread
 * (evaluator.h) until SIGTERM or SIGINT, and with --http its figures over
 * HTTP (the config's http TLS and tokens apply).
 */
#include "evaluate_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "errbuf.h"
#include "evaluator.h"
#include "http.h"
#include "log.h"
#include "signals.h"

static int usage(void)
{
    fprintf(stderr, "usage: rendezvous evaluate -c FILE [-b BROKERS] [-H HOST:PORT] [-v]\n"
                    "  -H, --http HOST:PORT  serve /v1/evaluation and /metrics there\n");
    return 2;
}

static rv_config *load(const rv_config_env *env, const char *path)
{
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(path, env, &errs);
    for (size_t i = 0; !cfg && i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    return cfg;
}

int rv_evaluate_main(const rv_config_env *env, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"brokers", required_argument, 0, 'b'},
                                         {"http", required_argument, 0, 'H'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *brokers = NULL, *http_listen = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:H:v", opts, NULL)) != -1) {
        if (c == 'c')
            path = optarg;
        else if (c == 'H')
            http_listen = optarg;
        else if (c == 'b')
            brokers = optarg;
        else if (c == 'v')
            rv_log_set_level(RV_LOG_DEBUG);
        else
            return usage();
    }
    if (!path || optind != argc)
        return usage();
    rv_config *cfg = load(env, path);
    if (!cfg)
        return 2;
    if (!brokers)
        brokers = cfg->streams.brokers;
    int status = 2;
    if (!cfg->evaluation.labels)
        fprintf(stderr, "%s: no evaluation section: nothing to evaluate\n", path);
    else if (strcmp(brokers, "embedded") == 0)
        fprintf(stderr,
                "%s: streams.brokers is embedded, a broker inside the host: run the evaluation "
                "in the host (evaluation.in_host: true) or give -b BROKERS\n",
                path);
    else
        status = 0;
    if (status != 0) {
        rv_config_free(cfg);
        return status;
    }
    if (cfg->evaluation.in_host)
        rv_warn("evaluation",
                "%s has evaluation.in_host: true: its hosts evaluate too (in the same group, "
                "they and this process share the partitions)",
                path);
    rv_signals_install();
    char err[RV_ERR_SIZE];
    rv_evaluator *v = rv_evaluator_start(cfg, brokers, NULL, err, sizeof err);
    if (!v) {
        rv_error("evaluation", "%s", err);
        rv_config_free(cfg);
        return 1;
    }
    rv_http *http = NULL;
    if (http_listen) { /* the hosts' listen address is theirs: this one is given */
        free(cfg->http.listen);
        if (!(cfg->http.listen = strdup(http_listen)) ||
            !(http = rv_http_start_evaluation(cfg, rv_evaluator_evaluation(v),
                                              rv_evaluator_promoter(v), err, sizeof err))) {
            rv_error("http", "%s", cfg->http.listen ? err : "out of memory");
            rv_evaluator_stop(v);
            rv_config_free(cfg);
            return 1;
        }
    }
    rv_info("evaluation", "service %s evaluating: %s, %s and %s -> %s (group %s.evaluation)",
            cfg->service, cfg->streams.scores, cfg->streams.results, cfg->streams.labels,
            cfg->streams.evaluation, cfg->streams.group);
    while (!rv_signals_stop())
        usleep(100 * 1000);
    rv_info("evaluation", "stopping (signal %d): committing what was read", rv_signals_stop());
    rv_http_stop(http);
    rv_evaluator_stop(v);
    rv_config_free(cfg);
    return 0;
}
