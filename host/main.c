/*
 * main.c - the `rendezvous` command line: parses arguments and hands over to
 * the subcommand. The only place besides the signal flags that may hold
 * process-wide state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "check_cmd.h"
#include "log.h"

static void usage(FILE *out)
{
    fputs("usage: rendezvous [-c FILE] [-v]            serve the service of FILE\n"
          "       rendezvous check -c FILE              build everything FILE describes, "
          "print a summary, throw it away\n"
          "       rendezvous archive cat DIR            print a decoy archive as JSON lines\n"
          "       rendezvous --help | --version\n"
          "\n"
          "Exit status: 0 on success, 1 on a runtime failure, 2 on bad usage or config.\n",
          out);
}

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
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

static int cmd_archive(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "cat") != 0) {
        fprintf(stderr, "usage: rendezvous archive cat DIR\n");
        return 2;
    }
    long corrupt = rv_archive_cat(argv[2], stdout, stderr);
    if (corrupt < 0)
        return 1;
    if (corrupt > 0)
        fprintf(stderr, "%ld corrupt record(s) skipped\n", corrupt);
    return corrupt ? 1 : 0;
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
        return cmd_archive(argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
