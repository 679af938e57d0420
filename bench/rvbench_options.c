/*
 * rvbench_options.c - rvbench's command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvbench.h"

static void usage(FILE *out)
{
    fputs("usage: rvbench -b BOOTSTRAP --requests TOPIC --results TOPIC --data FILE.jsonl\n"
          "               (--count N | --duration S) [--rate R] [--window N] [--warmup N]\n"
          "               [--timeout S] [--max-seconds S] [--json FILE] [--label NAME]\n"
          "               [--windows MS] [--hup-pid PID --hup-at S] [--from beginning|end]\n"
          "               [--id-prefix P] [--labels TOPIC --truth FILE.jsonl]\n"
          "               [-X producer.key=value]...\n"
          "  --rate R     offered load in requests/s, paced in 1 ms batches (default: as fast\n"
          "               as the window of outstanding requests allows)\n"
          "  --window N   at most N requests without a result (default 20000 without\n"
          "               --rate, unbounded with it)\n"
          "  --warmup N   leave the first N requests out of the statistics (default 1000)\n"
          "  --timeout S  give up waiting for results after S s without one (default 30)\n"
          "  --labels T   after each request, its row's true label (the \"label\" of the\n"
          "               same line of --truth) to topic T: {\"id\", \"label\"}, key the id\n"
          "  --windows MS latency per window of send time (with --hup-*, relative to the\n"
          "               SIGHUP)\n",
          out);
}

int rvbench_parse_options(int argc, char **argv, options *o)
{
    enum {
        O_REQ = 256,
        O_RES,
        O_DATA,
        O_COUNT,
        O_DUR,
        O_RATE,
        O_WINDOW,
        O_WARMUP,
        O_TIMEOUT,
        O_MAXS,
        O_JSON,
        O_LABEL,
        O_WINDOWS,
        O_HUPPID,
        O_HUPAT,
        O_FROM,
        O_PREFIX,
        O_LABELS,
        O_TRUTH
    };
    static const struct option longs[] = {
        {"requests", 1, 0, O_REQ},     {"results", 1, 0, O_RES},      {"data", 1, 0, O_DATA},
        {"count", 1, 0, O_COUNT},      {"duration", 1, 0, O_DUR},     {"rate", 1, 0, O_RATE},
        {"window", 1, 0, O_WINDOW},    {"warmup", 1, 0, O_WARMUP},    {"timeout", 1, 0, O_TIMEOUT},
        {"max-seconds", 1, 0, O_MAXS}, {"json", 1, 0, O_JSON},        {"label", 1, 0, O_LABEL},
        {"windows", 1, 0, O_WINDOWS},  {"hup-pid", 1, 0, O_HUPPID},   {"hup-at", 1, 0, O_HUPAT},
        {"from", 1, 0, O_FROM},        {"id-prefix", 1, 0, O_PREFIX}, {"labels", 1, 0, O_LABELS},
        {"truth", 1, 0, O_TRUTH},      {"help", 0, 0, 'h'},           {0, 0, 0, 0}};
    int window_set = 0, c;
    *o = (options){.warmup = 1000,
                   .timeout_s = 30,
                   .max_seconds = 600,
                   .label = "run",
                   .id_prefix = "b-",
                   .window = 20000};
    while ((c = getopt_long(argc, argv, "b:X:h", longs, NULL)) != -1) {
        switch (c) {
        case 'b': o->bootstrap = optarg; break;
        case 'X':
            if (o->n_pconf >= 32 || !strchr(optarg, '=')) {
                fprintf(stderr, "rvbench: bad -X %s\n", optarg);
                return -1;
            }
            o->pconf[o->n_pconf++] = optarg;
            break;
        case O_REQ: o->requests = optarg; break;
        case O_RES: o->results = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_COUNT: o->count = strtoull(optarg, NULL, 10); break;
        case O_DUR: o->duration_s = atof(optarg); break;
        case O_RATE: o->rate = atof(optarg); break;
        case O_WINDOW:
            o->window = strtoull(optarg, NULL, 10);
            window_set = 1;
            break;
        case O_WARMUP: o->warmup = strtoull(optarg, NULL, 10); break;
        case O_TIMEOUT: o->timeout_s = atof(optarg); break;
        case O_MAXS: o->max_seconds = atof(optarg); break;
        case O_JSON: o->json = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_WINDOWS: o->windows_ms = atoi(optarg); break;
        case O_HUPPID: o->hup_pid = (pid_t)atol(optarg); break;
        case O_HUPAT: o->hup_at_s = atof(optarg); break;
        case O_FROM:
            if (strcmp(optarg, "beginning") && strcmp(optarg, "end")) {
                fprintf(stderr, "rvbench: --from beginning|end\n");
                return -1;
            }
            o->from_beginning = strcmp(optarg, "beginning") == 0;
            break;
        case O_PREFIX: o->id_prefix = optarg; break;
        case O_LABELS: o->labels = optarg; break;
        case O_TRUTH: o->truth = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (!o->bootstrap || !o->requests || !o->results || !o->data) {
        fprintf(stderr, "rvbench: -b, --requests, --results and --data are required\n");
        return -1;
    }
    if ((o->count == 0) == (o->duration_s <= 0)) {
        fprintf(stderr, "rvbench: give exactly one of --count and --duration\n");
        return -1;
    }
    if (o->rate < 0 || o->timeout_s <= 0 || o->max_seconds <= 0 || o->windows_ms < 0) {
        fprintf(stderr, "rvbench: --rate, --timeout, --max-seconds, --windows must be >= 0\n");
        return -1;
    }
    if (strlen(o->id_prefix) > 40) { /* a key is the prefix and a number, in 64 bytes */
        fprintf(stderr, "rvbench: --id-prefix: at most 40 bytes\n");
        return -1;
    }
    if (!o->labels != !o->truth) {
        fprintf(stderr, "rvbench: --labels and --truth go together\n");
        return -1;
    }
    if (o->rate > 0 && !window_set)
        o->window = 0;
    if ((o->hup_pid > 0) != (o->hup_at_s > 0)) {
        fprintf(stderr, "rvbench: --hup-pid and --hup-at go together\n");
        return -1;
    }
    return 0;
}
