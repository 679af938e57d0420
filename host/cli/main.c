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
#include "registry.h"
#include "broker_cmd.h"
#include "rate_cmd.h"
#include "check_cmd.h"
#include "evaluate_cmd.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "proc_runner.h"
#include "topics_cmd.h"

static void usage(FILE *out);

static int cmd_check(const rv_config_env *env, int argc, char **argv)
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
    return rv_check(file, env, stdout, stderr);
}

static int cmd_config_doc(const rv_config_env *env, int argc, char **argv)
{
    (void)env;
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

typedef enum { SERVE_HOST, SERVE_SCORER, SERVE_TAKEOVER } serve_kind;

/* serve; `rendezvous scorer` (--model required); `rendezvous takeover`
 * (--from required). */
static int cmd_serve(const rv_config_env *env, int argc, char **argv, serve_kind kind)
{
    rv_serve_options o = {.env = env};
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"brokers", required_argument, 0, 'b'},
        {"model", required_argument, 0, 'm'},  {"http", required_argument, 0, 'H'},
        {"from", required_argument, 0, 'f'},   {"when-silent", required_argument, 0, 's'},
        {"verbose", no_argument, 0, 'v'},      {0, 0, 0, 0}};
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:m:H:v", opts, NULL)) != -1) {
        if (c == 'c')
            o.config_path = optarg;
        else if (c == 'b')
            o.brokers = optarg;
        else if (c == 'm' && kind == SERVE_SCORER)
            o.scorer_model = optarg;
        else if (c == 'H' && kind != SERVE_HOST)
            o.http_listen = optarg;
        else if (c == 'f' && kind == SERVE_TAKEOVER)
            o.takeover_from = optarg;
        else if (c == 's' && kind == SERVE_TAKEOVER &&
                 (o.takeover_silent_s = (unsigned)strtoul(optarg, &end, 10)) > 0 && !*end)
            continue;
        else if (c == 'v')
            rv_log_set_level(RV_LOG_DEBUG);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!o.config_path || optind != argc || (kind == SERVE_SCORER && !o.scorer_model) ||
        (kind == SERVE_TAKEOVER && !o.takeover_from)) {
        usage(stderr);
        return 2;
    }
    return rv_serve(&o);
}

static int cmd_serve_host(const rv_config_env *env, int argc, char **argv)
{
    return cmd_serve(env, argc, argv, SERVE_HOST);
}

static int cmd_scorer(const rv_config_env *env, int argc, char **argv)
{
    return cmd_serve(env, argc, argv, SERVE_SCORER);
}

static int cmd_takeover(const rv_config_env *env, int argc, char **argv)
{
    return cmd_serve(env, argc, argv, SERVE_TAKEOVER);
}

static int cmd_broker(const rv_config_env *env, int argc, char **argv)
{
    (void)env;
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

static int cmd_archive(const rv_config_env *env, int argc, char **argv)
{
    (void)env;
    return rv_archive_main(argc, argv);
}

/* `rendezvous replay` was the offline rating's name until it became
 * `rendezvous rate`: the word is left to `archive replay`. */
static int cmd_replay_renamed(const rv_config_env *env, int argc, char **argv)
{
    (void)env, (void)argc, (void)argv;
    fputs("rendezvous replay is now `rendezvous rate` (rate a candidate offline; "
          "`rendezvous archive replay` puts requests back on a topic)\n",
          stderr);
    return 2;
}

static int cmd_model_runner(const rv_config_env *env, int argc, char **argv)
{
    (void)env;
    return rv_proc_runner_main(argc, argv);
}

/* Every command: its name, what runs it (argv[0] is the command's name),
 * its arguments and what it does, for usage(). NULL synopsis: not listed
 * (the model runner is started by the host, not by people; a former name
 * answers with its new one). */
static const struct command {
    const char *name;
    int (*run)(const rv_config_env *env, int argc, char **argv);
    const char *args, *synopsis;
} commands[] = {
    {.name = "serve",
     .run = cmd_serve_host,
     .args = "-c FILE [-b BROKERS] [-v]",
     .synopsis = "serve the service of FILE (also without the word serve); BROKERS overrides "
                 "streams.brokers"},
    {.name = "check",
     .run = cmd_check,
     .args = "-c FILE",
     .synopsis = "build everything FILE describes, print a summary, throw it away"},
    {.name = "archive",
     .run = cmd_archive,
     .args = "cat (DIR | --topic TOPIC -b BROKERS)",
     .synopsis = "print a decoy archive as JSON lines"},
    {.name = "archive",
     .run = NULL,
     .args = "replay (DIR | --topic TOPIC) --to TOPIC -b BROKERS",
     .synopsis = "put archived requests back on a topic"},
    {.name = "topics",
     .run = rv_topics_main,
     .args = "-c FILE [-b BROKERS] [--create] [--replication N]",
     .synopsis = "the topics FILE needs, checked on the cluster; --create makes the missing"},
    {.name = "rate",
     .run = rv_rate_main,
     .args = "-c CANDIDATE.yaml (DIR | --topic TOPIC -b BROKERS) [--labels FILE] [--results FILE] "
             "[--json] [--limit N]",
     .synopsis = "rate a candidate offline: the archive through its models, a report per model"},
    {.name = "scorer",
     .run = cmd_scorer,
     .args = "-c FILE --model NAME [-b BROKERS] [--http HOST:PORT] [-v]",
     .synopsis = "score one model of FILE for its hosts (remote: true there): its score records"},
    {.name = "takeover",
     .run = cmd_takeover,
     .args = "-c FILE --from SITE [-b BROKERS] [--when-silent S] [--http HOST:PORT] [-v]",
     .synopsis = "answer SITE's requests mirrored here that SITE never answered, from its hosts' "
                 "offsets as the mirror translated them (FILE has a site section); with "
                 "--when-silent, once SITE's heartbeats stop for S s, until they are back"},
    {.name = "evaluate",
     .run = rv_evaluate_main,
     .args = "-c FILE [-b BROKERS] [--http HOST:PORT] [-v]",
     .synopsis =
         "the live evaluation of FILE's service as a process of its own (evaluation.in_host: "
         "false for its hosts): the figures and alerts it writes"},
    {.name = "broker",
     .run = cmd_broker,
     .args = "[--brokers N] [--partitions P] [--topic NAME[:P]]...",
     .synopsis =
         "run the embedded broker standalone; prints bootstrap=HOST:PORT first, then applies fault "
         "commands read on stdin: down ID|all, up ID|all, rtt ID|all MS, leader TOPIC PART ID, "
         "errors API COUNT CODE, clear API"},
    {.name = "config-doc",
     .run = cmd_config_doc,
     .args = "",
     .synopsis = "print the reference of every config key (docs/config.md)"},
    {.name = "model-runner", .run = cmd_model_runner, .args = NULL, .synopsis = NULL},
    {.name = "replay", .run = cmd_replay_renamed, .args = NULL, .synopsis = NULL},
};

/* Prints text's words, each after a space, from column col; a word that
 * would pass column 78 starts a new line indented by indent. */
static void wrapped(FILE *out, const char *text, int col, int indent)
{
    for (const char *w = text + strspn(text, " "); *w; w += strspn(w, " ")) {
        int len = (int)strcspn(w, " ");
        if (col + 1 + len > 78) {
            fprintf(out, "\n%*s%.*s", indent, "", len, w);
            col = indent + len;
        } else {
            fprintf(out, " %.*s", len, w);
            col += 1 + len;
        }
        w += len;
    }
    fputc('\n', out);
}

static void usage(FILE *out)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        const struct command *c = &commands[i];
        if (!c->synopsis)
            continue;
        int col = fprintf(out, "%s rendezvous %s", i ? "      " : "usage:", c->name);
        wrapped(out, c->args, col, 18);
        wrapped(out, c->synopsis, fprintf(out, "%11s", ""), 12);
    }
    fputs("       rendezvous --help | --version\n"
          "\n"
          "Exit status: 0 on success, 1 on a runtime failure, 2 on bad usage or config.\n",
          out);
}

/* The builtins compiled in, registered once and handed down to every
 * command: reloader threads read them until rv_serve() returns. */
static rv_builtins builtins;
static rv_config_env env;

int main(int argc, char **argv)
{
    rv_builtins_register_compiled(&builtins);
    env = (rv_config_env){.builtins = &builtins};
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("rendezvous %s (plugin ABI %d.%d)\n", RV_VERSION, RV_PLUGIN_ABI_MAJOR,
               RV_PLUGIN_ABI_MINOR);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && argv[1][0] == '-') /* `rendezvous -c FILE`: serve */
        return cmd_serve_host(&env, argc, argv);
    for (size_t i = 0; argc >= 2 && i < sizeof commands / sizeof *commands; i++)
        if (commands[i].run && strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(&env, argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
