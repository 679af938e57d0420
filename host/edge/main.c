/*
 * main.c - the `rendezvous` command line: parses arguments and hands over to
 * the subcommand. The only place besides the signal flags that may hold
 * process-wide state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_cmd.h"
#include "broker_cmd.h"
#include "replay_cmd.h"
#include "check_cmd.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "runner.h"
#include "topics_cmd.h"

static void usage(FILE *out)
{
    fputs("usage: rendezvous -c FILE [-b BROKERS] [-v]  serve the service of FILE\n"
          "       rendezvous check -c FILE              build everything FILE describes, "
          "print a summary, throw it away\n"
          "       rendezvous archive cat (DIR | --topic TOPIC -b BROKERS)\n"
          "                                             print a decoy archive as JSON lines\n"
          "       rendezvous archive replay (DIR | --topic TOPIC) --to TOPIC -b BROKERS\n"
          "                                             put archived requests back on a topic\n"
          "       rendezvous topics -c FILE [-b BROKERS] [--create] [--replication N]\n"
          "                                             the topics FILE needs, checked on the\n"
          "                                             cluster; --create makes the missing\n"
          "       rendezvous config-doc                 print the reference of every config "
          "key (docs/config.md)\n"
          "       rendezvous replay -c CANDIDATE.yaml (DIR | --topic TOPIC -b BROKERS)\n"
          "                         [--labels FILE] [--results FILE] [--json] [--limit N]\n"
          "                                             the archive through the candidate's\n"
          "                                             models, offline: a report per model\n"
          "       rendezvous scorer -c FILE --model NAME [-b BROKERS] [--http HOST:PORT] [-v]\n"
          "                                             score one model of FILE for its hosts\n"
          "                                             (remote: true there): its score records\n"
          "       rendezvous broker [--brokers N] [--partitions P] [--topic NAME]...\n"
          "                                             run the embedded broker standalone;\n"
          "                                             prints bootstrap=HOST:PORT first,\n"
          "                                             then applies fault commands read on\n"
          "                                             stdin: down ID|all, up ID|all,\n"
          "                                             rtt ID|all MS, leader TOPIC PART ID,\n"
          "                                             errors API COUNT CODE, clear API\n"
          "       rendezvous --help | --version\n"
          "\n"
          "Exit status: 0 on success, 1 on a runtime failure, 2 on bad usage or config.\n",
          out);
}

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            file = optarg;
        else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (!file) {
        fprintf(stderr, "rendezvous check: -c FILE is required\n");
        return 2;
    }
    return rv_check(file, stdout, stderr);
}

static int cmd_config_doc(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: rendezvous config-doc\n");
        return 2;
    }
    if (rv_config_write_doc(stdout) != 0) {
        fprintf(stderr, "rendezvous config-doc: cannot write the reference\n");
        return 1;
    }
    return 0;
}

/* serve, or with scorer set, `rendezvous scorer` (--model required). */
static int cmd_serve(int argc, char **argv, int scorer)
{
    rv_serve_options o = {0};
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"brokers", required_argument, 0, 'b'},
        {"model", required_argument, 0, 'm'},  {"http", required_argument, 0, 'H'},
        {"verbose", no_argument, 0, 'v'},      {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:m:H:v", opts, NULL)) != -1) {
        if (c == 'c')
            o.config_path = optarg;
        else if (c == 'b')
            o.brokers = optarg;
        else if (c == 'm' && scorer)
            o.scorer_model = optarg;
        else if (c == 'H' && scorer)
            o.scorer_http = optarg;
        else if (c == 'v')
            rv_log_set_level(RV_LOG_DEBUG);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!o.config_path || optind != argc || (scorer && !o.scorer_model)) {
        usage(stderr);
        return 2;
    }
    return rv_serve(&o);
}

static int cmd_broker(int argc, char **argv)
{
    int brokers = 1, partitions = 4, n_topics = 0;
    char **topics = calloc((size_t)argc, sizeof *topics);
    static const struct option opts[] = {{"brokers", required_argument, 0, 'n'},
                                         {"partitions", required_argument, 0, 'p'},
                                         {"topic", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:p:t:", opts, NULL)) != -1) {
        if (c == 'n' && (brokers = atoi(optarg)) > 0)
            continue;
        if (c == 'p' && (partitions = atoi(optarg)) > 0)
            continue;
        if (c == 't') {
            topics[n_topics++] = optarg;
            continue;
        }
        fprintf(stderr, "usage: rendezvous broker [--brokers N] [--partitions P] "
                        "[--topic NAME]...\n");
        free(topics);
        return 2;
    }
    rc = rv_broker_main(brokers, partitions, topics, n_topics);
    free(topics);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("rendezvous %s (plugin ABI %d.%d)\n", RV_VERSION, RV_PLUGIN_ABI_MAJOR,
               RV_PLUGIN_ABI_MINOR);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "archive") == 0)
        return rv_archive_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return rv_replay_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "config-doc") == 0)
        return cmd_config_doc(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "model-runner") == 0)
        return rv_runner_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "topics") == 0)
        return rv_topics_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "broker") == 0)
        return cmd_broker(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1, 0);
    if (argc >= 2 && strcmp(argv[1], "scorer") == 0)
        return cmd_serve(argc - 1, argv + 1, 1);
    if (argc >= 2 && argv[1][0] == '-')
        return cmd_serve(argc, argv, 0);
    usage(stderr);
    return 2;
}
