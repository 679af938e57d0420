/*
 * broker_faults.c - the embedded broker's fault commands. Every command is
 * checked before anything is applied, so a bad one changes nothing and says
 * why; a good one is answered only once the mock cluster has applied it.
 */
#include "broker_faults.h"

#include <errno.h>
#include <stdarg.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 6
#define MAX_ERRORS 100000

/* Kafka's request types by name (the protocol's ApiKey numbers). */
static const struct {
    const char *name;
    int16_t key;
} apis[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"InitProducerId", 22},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

/* A whole decimal number in [lo, hi], or -1 with *ok = 0. */
static long number(const char *s, long lo, long hi, int *ok)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    *ok = errno == 0 && end != s && *end == '\0' && v >= lo && v <= hi;
    return *ok ? v : -1;
}

static int api_key(const char *s, int16_t *key)
{
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (strcasecmp(s, apis[i].name) == 0) {
            *key = apis[i].key;
            return 0;
        }
    int ok;
    long v = number(s, 0, 100, &ok);
    *key = (int16_t)v;
    return ok ? 0 : -1;
}

/* An error code by librdkafka's name (NOT_LEADER_FOR_PARTITION, with or
 * without RD_KAFKA_RESP_ERR_) or by Kafka's number. */
static int error_code(const char *s, rd_kafka_resp_err_t *code)
{
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && descs[i].code > 0 && strcasecmp(s, descs[i].name) == 0) {
            *code = descs[i].code;
            return 0;
        }
    int ok;
    long v = number(s, 1, 1000, &ok);
    *code = (rd_kafka_resp_err_t)v;
    return ok ? 0 : -1;
}

/* Applies fn to one broker id or to every one ("all"). */
static rd_kafka_resp_err_t
each_broker(rd_kafka_mock_cluster_t *mc, int n_brokers, long id,
            rd_kafka_resp_err_t (*fn)(rd_kafka_mock_cluster_t *, int32_t, int), int arg)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (long b = id ? id : 1; b <= (id ? id : n_brokers) && !e; b++)
        e = fn(mc, (int32_t)b, arg);
    return e;
}
static rd_kafka_resp_err_t set_down(rd_kafka_mock_cluster_t *mc, int32_t id, int unused)
{
    (void)unused;
    return rd_kafka_mock_broker_set_down(mc, id);
}
static rd_kafka_resp_err_t set_up(rd_kafka_mock_cluster_t *mc, int32_t id, int unused)
{
    (void)unused;
    return rd_kafka_mock_broker_set_up(mc, id);
}

static int reply(char *out, size_t size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reply(char *out, size_t size, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
    return rc;
}

/* Each command: its name, its arguments (for the reply to a bad call). */
static const struct {
    const char *name, *args;
} commands[] = {
    {"down", "ID|all"},           {"up", "ID|all"},
    {"rtt", "ID|all MS"},         {"leader", "TOPIC PARTITION ID"},
    {"errors", "API COUNT CODE"}, {"clear", "API"},
};

/* A broker id 1..n_brokers, or 0 for "all". */
static long broker_id(const char *s, int n_brokers, int *ok)
{
    if (strcmp(s, "all") == 0) {
        *ok = 1;
        return 0;
    }
    return number(s, 1, n_brokers, ok);
}

int rv_broker_fault(rv_broker *b, int n_brokers, const char *line, char *out, size_t size)
{
    char buf[512], *w[MAX_WORDS], *save = NULL;
    int n = 0, ok = 1;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == MAX_WORDS)
            return reply(out, size, -1, "error: too many words");
        w[n++] = t;
    }
    if (n == 0 || w[0][0] == '#')
        return 1;
    size_t c = 0;
    while (c < sizeof commands / sizeof commands[0] && strcmp(w[0], commands[c].name) != 0)
        c++;
    if (c == sizeof commands / sizeof commands[0])
        return reply(out, size, -1, "error: unknown command '%s' (the commands: %s)", w[0],
                     RV_BROKER_FAULTS_USAGE);
    int want = 1;
    for (const char *a = commands[c].args; *a; a++)
        want += *a == ' ';
    if (n - 1 != want)
        return reply(out, size, -1, "error: %s takes %s", w[0], commands[c].args);

    rd_kafka_mock_cluster_t *mc = rv_broker_mock(b);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    const char *cmd = commands[c].name;
    if (!strcmp(cmd, "down") || !strcmp(cmd, "up") || !strcmp(cmd, "rtt")) {
        long id = broker_id(w[1], n_brokers, &ok);
        if (!ok)
            return reply(out, size, -1, "error: no broker '%s' (brokers are 1..%d, or all)", w[1],
                         n_brokers);
        long ms = 0;
        if (!strcmp(cmd, "rtt") && (ms = number(w[2], 0, 600000, &ok), !ok))
            return reply(out, size, -1, "error: rtt '%s' is not a whole number of ms in 0..600000",
                         w[2]);
        e = each_broker(mc, n_brokers, id,
                        !strcmp(cmd, "down") ? set_down
                        : !strcmp(cmd, "up") ? set_up
                                             : rd_kafka_mock_broker_set_rtt,
                        (int)ms);
    } else if (!strcmp(cmd, "leader")) {
        long part = number(w[2], 0, 1000000, &ok);
        if (!ok)
            return reply(out, size, -1, "error: partition '%s' is not a number", w[2]);
        long id = number(w[3], 1, n_brokers, &ok);
        if (!ok)
            return reply(out, size, -1, "error: no broker '%s' (brokers are 1..%d)", w[3],
                         n_brokers);
        e = rd_kafka_mock_partition_set_leader(mc, w[1], (int32_t)part, (int32_t)id);
    } else {
        int16_t api;
        if (api_key(w[1], &api) != 0)
            return reply(out, size, -1,
                         "error: unknown request type '%s' (a name such as Produce, "
                         "OffsetCommit, Fetch, or its ApiKey number)",
                         w[1]);
        if (!strcmp(cmd, "clear")) {
            rd_kafka_mock_clear_request_errors(mc, api);
        } else {
            long count = number(w[2], 1, MAX_ERRORS, &ok);
            if (!ok)
                return reply(out, size, -1, "error: count '%s' is not a number in 1..%d", w[2],
                             MAX_ERRORS);
            rd_kafka_resp_err_t code;
            if (error_code(w[3], &code) != 0)
                return reply(out, size, -1,
                             "error: unknown error code '%s' (librdkafka's name such as "
                             "NOT_LEADER_FOR_PARTITION, or Kafka's number)",
                             w[3]);
            rd_kafka_resp_err_t *codes = malloc((size_t)count * sizeof *codes);
            if (!codes)
                return reply(out, size, -1, "error: out of memory");
            for (long i = 0; i < count; i++)
                codes[i] = code;
            rd_kafka_mock_push_request_errors_array(mc, api, (size_t)count, codes);
            free(codes);
        }
    }
    /* the command, words joined by one space */
    size_t len = (size_t)snprintf(out, size, e ? "error:" : "ok");
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, " %s", w[i]);
    if (e && len < size)
        snprintf(out + len, size - len, ": %s", rd_kafka_err2str(e));
    return e ? -1 : 0;
}
