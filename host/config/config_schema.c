/*
 * config_schema.c - every key of the config file, one row each: its name,
 * type, slot in rv_config, flags, bounds, default, nested table, rule and
 * help text, and the rules of one key (the listen address parses, a plugin
 * is a file); the rules that span keys are in config_rules.c. The walker
 * (config_walk.c) reads, defaults, frees and documents (docs/config.md) by
 * these rows alone. A new key is one row here.
 * Must never hold a default anywhere but in a row, read YAML by hand, or
 * allocate into the config from a rule.
 */
#include "config_internal.h"

#include "errbuf.h"
#include "schedule.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define C(f) offsetof(rv_config, f)
#define M(f) offsetof(rv_model_conf, f)
#define E(f) offsetof(rv_schedule_entry, f)

/* ---------------------------------------------------------------- rules of one key */

static void check_service(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                          void *base)
{
    /* The service name becomes part of topic names by default. */
    const char *s = cf_slot_text(k, base);
    if (s && !cy_valid_topic(s))
        cy_report(l, v, kp,
                  "'%s' may contain only letters, digits, '.', '_' and '-' (it names topics)", s);
}

static void check_topic(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                        void *base)
{
    const char *s = cf_slot_text(k, base);
    if (s && !cy_valid_topic(s))
        cy_report(l, v, kp,
                  "'%s' is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)",
                  s);
}

static void check_format(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    const char *s = cf_slot_text(k, base);
    if (s && strcmp(s, "json"))
        cy_report(l, v, kp, "unsupported format '%s' (only json)", s);
}

static void check_choice(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base, const char *a, const char *b)
{
    const char *s = cf_slot_text(k, base);
    if (s && strcmp(s, a) != 0 && strcmp(s, b) != 0)
        cy_report(l, v, kp, "'%s' is neither %s nor %s", s, a, b);
}

static void check_isolation(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                            void *base)
{
    check_choice(l, k, v, kp, base, "process", "none");
}

static void check_sandbox(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                          void *base)
{
    check_choice(l, k, v, kp, base, "strict", "off");
}

static void check_delivery_mode(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                                void *base)
{
    check_choice(l, k, v, kp, base, "at_least_once", "exactly_once");
}

static void check_sha256(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    const char *s = cf_slot_text(k, base);
    size_t n = s ? strspn(s, "0123456789abcdef") : 0;
    if (s && (n != 64 || s[n]))
        cy_report(l, v, kp, "'%s' is not a SHA-256 in hex (64 digits 0-9, a-f)", s);
}

static void check_plugin(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                         void *base)
{
    char **slot = cf_slot(base, k);
    struct stat st;
    if (!*slot)
        return;
    if (stat(*slot, &st) != 0)
        cy_report(l, v, kp, "plugin '%s' not found (resolved to %s): %s", cy_scalar_text(v), *slot,
                  strerror(errno));
    else if (!S_ISREG(st.st_mode))
        cy_report(l, v, kp, "plugin '%s' (resolved to %s) is not a regular file", cy_scalar_text(v),
                  *slot);
    else
        return;
    free(*slot);
    *slot = NULL;
}

static void check_builtin(loader *l, const cf_key *k, const yaml_node_t *v, const char *kp,
                          void *base)
{
    const char *s = cf_slot_text(k, base);
    const rv_builtins *t = l->cfg->env ? l->cfg->env->builtins : NULL;
    if (!s || rv_builtins_find(t, s))
        return;
    char list[256];
    rv_builtins_join(t, list, sizeof list);
    cy_report(l, v, kp, "unknown builtin '%s' (known: %s)", s, list[0] ? list : "?");
}

/* Every file named must be readable now, so that a missing secret fails
 * the load (and `check`) at its line, not the broker connection later. */
static void check_secret_files(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                               void *base)
{
    const rv_kv *kv = *(rv_kv *const *)cf_slot(base, k);
    size_t n = *(const size_t *)((const char *)base + k->n_offset);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *key = cy_node_at(l, p->key), *v = cy_node_at(l, p->value);
        if (!key || !v || key->type != YAML_SCALAR_NODE)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(kv[i].key, cy_scalar_text(key)) != 0)
                continue;
            char kpk[KP_MAX];
            cy_kp_key(kpk, kp, kv[i].key);
            struct stat st;
            errno = 0;
            if (stat(kv[i].value, &st) != 0 || !S_ISREG(st.st_mode) || access(kv[i].value, R_OK))
                cy_report(l, v, kpk, "cannot read the file '%s' (resolved to %s): %s",
                          cy_scalar_text(v), kv[i].value,
                          errno ? strerror(errno) : "not a regular file");
            break;
        }
    }
}

/* ---------------------------------------------------------------- the rows */

#define TOPIC(key, field, what)                                                                    \
    {                                                                                              \
        .name = key, .type = CF_STRING, .offset = C(streams.field), .def = "{service}." what,      \
        .check = check_topic, .help = "Topic name of the " what " stream."                         \
    }

static const cf_key streams_keys[] = {
    {.name = "brokers",
     .type = CF_STRING,
     .offset = C(streams.brokers),
     .flags = CF_REQUIRED,
     .help = "`embedded` for the in-process broker (development: keeps nothing across "
             "restarts), or a Kafka bootstrap list `host:port,...`. `-b` overrides it."},
    TOPIC("requests", requests, "requests"),
    TOPIC("scores", scores, "scores"),
    TOPIC("results", results, "results"),
    TOPIC("archive", archive, "archive"),
    TOPIC("alerts", alerts, "alerts"),
    TOPIC("dead_letter", dead_letter, "dead-letter"),
    TOPIC("control", control, "control"),
    TOPIC("labels", labels, "labels"),
    TOPIC("evaluation", evaluation, "evaluation"),
    {.name = "group",
     .type = CF_STRING,
     .offset = C(streams.group),
     .def = "{service}-rendezvous",
     .help = "Consumer group of the requests topic."},
    {.name = "partitions",
     .type = CF_U32,
     .offset = C(streams.partitions),
     .flags = CF_POSITIVE,
     .def = "4",
     .help = "Partitions of each topic the embedded broker creates, and of those `rendezvous "
             "topics --create` makes while the requests topic is missing too."},
    {.name = "kafka",
     .type = CF_KV,
     .offset = C(streams.kafka),
     .n_offset = C(streams.n_kafka),
     .help = "librdkafka properties, passed as they are (e.g. `security.protocol`)."},
    {.name = "kafka_files",
     .type = CF_KV,
     .offset = C(streams.kafka_files),
     .n_offset = C(streams.n_kafka_files),
     .flags = CF_FILES,
     .check = check_secret_files,
     .help = "librdkafka properties whose values are read from files, each time a client is "
             "made (a secret such as `sasl.password` kept out of this file); a final newline "
             "is dropped. The file must be readable when the config is loaded."},
    {0},
};

static const cf_key input_keys[] = {
    {.name = "format",
     .type = CF_STRING,
     .offset = C(input.format),
     .def = "json",
     .check = check_format,
     .help = "Encoding of request bodies; only `json` (one JSON object per body)."},
    {.name = "features",
     .type = CF_LIST,
     .offset = C(input.features),
     .n_offset = C(input.n_features),
     .flags = CF_REQUIRED | CF_NONEMPTY | CF_UNIQUE,
     .many = "a sequence of feature names",
     .one = "feature",
     .help = "The feature vector, in order: each body's field of that name (a missing one is "
             "NaN)."},
    {.name = "max_body_bytes",
     .type = CF_U32,
     .offset = C(input.max_body_bytes),
     .flags = CF_POSITIVE,
     .def = "65536",
     .help = "A larger body goes to the dead-letter topic."},
    {.name = "max_age_ms",
     .type = CF_U32,
     .offset = C(input.max_age_ms),
     .def = "0",
     .help = "A request whose Kafka timestamp is older than this when read (a backlog after an "
             "outage) gets the default answer at once, reason `expired`: the decoy archives it, "
             "no model scores it. 0: off."},
    {.name = "max_id_bytes",
     .type = CF_U32,
     .offset = C(input.max_id_bytes),
     .flags = CF_POSITIVE,
     .def = "256",
     .help = "A request whose id (its rv-id header, else its key) is longer goes to the "
             "dead-letter topic: the id is in every record about the request."},
    {0},
};

static const cf_key model_keys[] = {
    {.name = "name",
     .type = CF_STRING,
     .offset = M(name),
     .flags = CF_REQUIRED,
     .help = "Unique among the models; the schedule and every record use it."},
    {.name = "plugin",
     .type = CF_PATH,
     .offset = M(plugin),
     .check = check_plugin,
     .help = "The model's shared object, an existing file. Exactly one of `plugin` and "
             "`builtin`."},
    {.name = "sha256",
     .type = CF_STRING,
     .offset = M(sha256),
     .check = check_sha256,
     .help = "The plugin pinned: the SHA-256 of its file, 64 hex digits (`rendezvous check` "
             "prints it). A file with another digest is refused, at start and at reload."},
    {.name = "builtin",
     .type = CF_STRING,
     .offset = M(builtin),
     .check = check_builtin,
     .help = "`canary` (the reference model) or `decoy` (records every request; never in "
             "the schedule). Exactly one of `plugin` and `builtin`."},
    {.name = "params",
     .type = CF_KV,
     .offset = M(params),
     .n_offset = M(n_params),
     .flags = CF_FILES,
     .help = "Given to the model's create as strings; a value naming an existing file is "
             "made absolute."},
    {.name = "instances",
     .type = CF_U32,
     .offset = M(instances),
     .flags = CF_POSITIVE,
     .def = "1",
     .help = "Workers of this model, each with its own queue."},
    {.name = "max_batch",
     .type = CF_U32,
     .offset = M(max_batch),
     .flags = CF_POSITIVE,
     .def = "32",
     .help = "Requests per call of the model's score."},
    {.name = "queue_size",
     .type = CF_U32,
     .offset = M(queue_size),
     .flags = CF_POSITIVE,
     .def = "1024",
     .help = "Bounded queue per instance; a full queue sheds the request for this model only. "
             "The decoy's queue starts at this size and grows instead: it never sheds."},
    {.name = "isolation",
     .type = CF_STRING,
     .offset = M(isolation),
     .def = "process",
     .check = check_isolation,
     .help = "`process`: each instance runs in a model process of its own, so a crash, hang or "
             "leak costs this model only; `none`: in the host process (a crash takes the host "
             "down). The builtins always run in the host."},
    {.name = "sandbox",
     .type = CF_STRING,
     .offset = M(sandbox),
     .def = "strict",
     .check = check_sandbox,
     .help = "`strict`: the model process may not open sockets, start programs, fork or "
             "trace (seccomp); `off`: no filter. Only with `isolation: process`."},
    {.name = "max_score_ms",
     .type = CF_U32,
     .offset = M(max_score_ms),
     .flags = CF_POSITIVE,
     .def = "1000",
     .help = "A score call that takes longer gets its model process killed and restarted; its "
             "requests are answered with an error. Only with `isolation: process`."},
    {.name = "max_memory_mb",
     .type = CF_U32,
     .offset = M(max_memory_mb),
     .def = "4096",
     .help = "Address space of each model process (RLIMIT_AS, which counts reservations: "
             "thread stacks and malloc arenas too); 0: no limit. Only with "
             "`isolation: process`."},
    {.name = "remote",
     .type = CF_BOOL,
     .offset = M(remote),
     .def = "false",
     .help = "The host does not run this model: its answers arrive as score records on the "
             "scores stream (from `rendezvous scorer` or any program that writes them) and are "
             "joined by request id. Needs `labels`; `plugin` is optional (what a scorer runs)."},
    {.name = "labels",
     .type = CF_LIST,
     .offset = M(labels),
     .n_offset = M(n_labels),
     .flags = CF_NONEMPTY | CF_UNIQUE,
     .many = "a sequence of labels",
     .one = "label",
     .help = "A remote model's labels, as its score records name them; a score naming "
             "another is an error answer. Only with `remote: true`."},
    {0},
};

const cf_section cf_model_section = {
    .path = "models[]",
    .help = "One mapping per model. Every model scores every request.",
    .keys = model_keys,
    .size = sizeof(rv_model_conf),
    .what = "a mapping describing a model",
    .check = cf_check_model,
};

static const cf_key schedule_keys[] = {
    {.name = "model",
     .type = CF_STRING,
     .offset = E(model),
     .flags = CF_REQUIRED,
     .help = "A model of `models`, not the decoy, at most once in the schedule."},
    {.name = "within_ms",
     .type = CF_U32,
     .offset = E(within_ms),
     .flags = CF_REQUIRED,
     .help = "Deadline from the request's arrival; never less than the entry before's."},
    {0},
};

const cf_section cf_schedule_section = {
    .path = "rendezvous.schedule[]",
    .help = "The order of preference. The answer chosen is that of the first entry with an "
            "ok answer in hand provided every entry before it has answered with an error, was "
            "shed, or is past its `within_ms`; else the `default` answer.",
    .keys = schedule_keys,
    .size = sizeof(rv_schedule_entry),
    .what = "a mapping {model, within_ms}",
};

static const cf_key default_keys[] = {
    {.name = "label",
     .type = CF_STRING,
     .offset = C(rendezvous.default_label),
     .flags = CF_REQUIRED,
     .help = "Label of the fallback answer."},
    {.name = "score",
     .type = CF_NUMBER,
     .offset = C(rendezvous.default_score),
     .flags = CF_REQUIRED,
     .help = "Score of the fallback answer."},
    {0},
};

static const cf_section default_section = {
    .path = "rendezvous.default",
    .help = "The answer when no schedule entry answered ok in time. Without it such a result "
            "has no answers and the status `error`.",
    .keys = default_keys,
    .check = cf_check_default,
};

static const cf_key rendezvous_keys[] = {
    {.name = "schedule",
     .type = CF_SEQ,
     .offset = C(rendezvous.schedule),
     .n_offset = C(rendezvous.n_schedule),
     .flags = CF_REQUIRED | CF_NONEMPTY,
     .section = &cf_schedule_section,
     .many = "a sequence of {model, within_ms}",
     .one = "entry",
     .check = cf_check_schedule,
     .help = "Ordered list of `{model, within_ms}`."},
    {.name = "default",
     .type = CF_SECTION,
     .section = &default_section,
     .help = "`{label, score}`: the fallback answer."},
    {.name = "max_in_flight",
     .type = CF_U32,
     .offset = C(rendezvous.max_in_flight),
     .flags = CF_POSITIVE,
     .def = "10000",
     .help = "Requests in flight at which the host stops reading requests until some are done "
             "(what the broker sent meanwhile waits in the consumer's bounded prefetch queue). "
             "A request is in flight until its records are delivered, with `exactly_once` "
             "until its transaction is over."},
    {.name = "background_nice",
     .type = CF_U32,
     .offset = C(rendezvous.background_nice),
     .max = 19,
     .def = "2",
     .help = "Nice value of the workers and model processes of every model but the first in "
             "the schedule (the fallbacks, the canary, the decoy): when a request wakes every "
             "model at once, the preferred one's answer gets the CPU first. Follows the "
             "schedule (reload, control stream); moving a model back to 0 needs CAP_SYS_NICE "
             "or `LimitNICE=` when the host is not root. 0: all alike."},
    {.name = "colocate",
     .type = CF_BOOL,
     .offset = C(rendezvous.colocate),
     .def = "true",
     .help = "While the preferred model's path (the input thread, the first scheduled model's "
             "workers and the scoring thread of each of its model processes) uses under 40 % "
             "of a CPU, keep it on one CPU: a hand-off along it is then a switch on a busy "
             "CPU, not the wake-up of an idle one (20-25 us on a virtual machine without halt "
             "polling). Let go above 70 %, while a reload builds, and on a host with one "
             "CPU."},
    {0},
};

static const cf_key reload_keys[] = {
    {.name = "warmup_requests",
     .type = CF_U32,
     .offset = C(reload.warmup_requests),
     .def = "200",
     .help = "New or changed models warm up on up to this many recent requests before they "
             "go live, each must score ok (0: none)."},
    {.name = "warmup_budget_ms",
     .type = CF_U32,
     .offset = C(reload.warmup_budget_ms),
     .flags = CF_POSITIVE,
     .def = "10000",
     .help = "Time for a model's whole warm-up on recent requests."},
    {0},
};

static const cf_key delivery_keys[] = {
    {.name = "mode",
     .type = CF_STRING,
     .offset = C(delivery.mode),
     .check = check_delivery_mode,
     .def = "at_least_once",
     .help = "`at_least_once`: a request's records are produced as they come and its offset "
             "committed once the broker has them all; a host killed under load answers some "
             "requests twice. `exactly_once`: every record a request causes (scores, the "
             "decoy's copy, its result or dead letter) and the offsets of the requests done "
             "commit together in one Kafka transaction every `transaction_ms`; a "
             "`read_committed` reader sees each request's records once. Needs a real Kafka "
             "cluster (the embedded broker keeps no transaction markers). Read at start: a "
             "reload does not change it."},
    {.name = "transaction_ms",
     .type = CF_U32,
     .offset = C(delivery.transaction_ms),
     .flags = CF_POSITIVE,
     .max = 60000,
     .def = "100",
     .help = "With `exactly_once`: a transaction commits this long after it began (a "
             "`read_committed` reader sees a result up to this much later than it was "
             "decided)."},
    {.name = "transaction_requests",
     .type = CF_U32,
     .offset = C(delivery.transaction_requests),
     .def = "10000",
     .help = "With `exactly_once`: a transaction commits before `transaction_ms` is up once "
             "this many finished requests have been put in it, and at half of "
             "`rendezvous.max_in_flight` at most (a request counts against that bound until "
             "its transaction is over, so the other half is read and scored during the commit; "
             "0: that half alone). A trigger, not a cap: requests go in by batches, each batch "
             "every request finished since the one before, and the count is looked at after "
             "each; those finishing while a commit is under way (it flushes the records first) "
             "make the next batch."},
    {.name = "transaction_timeout_ms",
     .type = CF_U32,
     .offset = C(delivery.transaction_timeout_ms),
     .flags = CF_POSITIVE,
     .def = "10000",
     .help = "With `exactly_once`: the broker aborts a transaction open this long (a host "
             "killed with a transaction open holds back `read_committed` readers of the "
             "partitions it wrote until then, unless it is restarted with the same "
             "`transactional_id` sooner, which aborts it at once). At most the broker's "
             "`transaction.max.timeout.ms`."},
    {.name = "transactional_id",
     .type = CF_STRING,
     .offset = C(delivery.transactional_id),
     .help = "With `exactly_once`: the producer's transactional id, the same across restarts "
             "of this host and different from every other host's (two hosts sharing one "
             "fence each other). Default: `<streams.group>.<host name>`; a scorer appends "
             "`.scorer.<model>`."},
    {0},
};

static const cf_key archive_keys[] = {
    {.name = "max_mb",
     .type = CF_U32,
     .offset = C(archive.max_mb),
     .def = "10240",
     .help = "The decoy's segment files (its `params.dir`) kept, in MiB: once they add up to "
             "more, whole segments are deleted, oldest first, never the one being written (so "
             "the files can reach this plus one `segment_bytes`). Checked at the decoy's "
             "first record, at each new segment and every minute while it writes. 0: no "
             "bound."},
    {.name = "max_age_s",
     .type = CF_U32,
     .offset = C(archive.max_age_s),
     .def = "604800",
     .help = "A segment last written longer ago than this is deleted, oldest first, as with "
             "`max_mb`. 0: no bound."},
    {0},
};

static const cf_section streams_section = {
    .path = "streams",
    .help = "The Kafka side: brokers, topic names, client settings.",
    .keys = streams_keys,
};
static const cf_section input_section = {
    .path = "input",
    .help = "How a request body becomes a feature vector.",
    .keys = input_keys,
};
static const cf_section rendezvous_section = {
    .path = "rendezvous",
    .help = "Which model's answer each request gets.",
    .keys = rendezvous_keys,
};
static const cf_section reload_section = {
    .path = "reload",
    .help = "Reloads (SIGHUP, or a change with `watch: true`).",
    .keys = reload_keys,
};
static const cf_section delivery_section = {
    .path = "delivery",
    .help = "What a restart or a fault may cost: a request answered twice (at-least-once) or "
            "never twice (exactly-once, Kafka transactions).",
    .keys = delivery_keys,
    .check = cf_check_delivery,
};
static const cf_section archive_section = {
    .path = "archive",
    .help = "How much of the decoy's segment files is kept (the archive stream is Kafka's to "
            "keep: its topic's retention). A record the decoy cannot write to them (the disk "
            "full, an I/O error) is counted (`rendezvous_archive_write_failures_total`), "
            "logged and alerted (`archive_write`); the request is still served and on the "
            "archive stream.",
    .keys = archive_keys,
};
static const cf_key root_keys[] = {
    {.name = "service",
     .type = CF_STRING,
     .offset = C(service),
     .flags = CF_REQUIRED,
     .check = check_service,
     .help = "The service's name: letters, digits, `.`, `_`, `-`. Default topic names derive "
             "from it."},
    {.name = "state_dir",
     .type = CF_PATH,
     .offset = C(state_dir),
     .def = "state",
     .help = "Private plugin copies and other state of the host."},
    {.name = "watch",
     .type = CF_BOOL,
     .offset = C(watch),
     .def = "false",
     .help = "Reload on a change of the config file or of a plugin file, as on SIGHUP."},
    {.name = "shutdown_timeout_ms",
     .type = CF_U32,
     .offset = C(shutdown_timeout_ms),
     .flags = CF_POSITIVE,
     .def = "30000",
     .help = "SIGTERM or SIGINT ends the host within this: it drains, flushes and commits what "
             "the broker and the models allow, then exits (status 1 when requests were left "
             "uncommitted: they are read again). A second signal exits at once."},
    {.name = "streams",
     .type = CF_SECTION,
     .flags = CF_REQUIRED,
     .section = &streams_section,
     .help = "Kafka: brokers, topic names, client settings."},
    {.name = "input",
     .type = CF_SECTION,
     .flags = CF_REQUIRED,
     .section = &input_section,
     .help = "How a request body becomes a feature vector."},
    {.name = "models",
     .type = CF_SEQ,
     .offset = C(models),
     .n_offset = C(n_models),
     .flags = CF_REQUIRED | CF_NONEMPTY,
     .section = &cf_model_section,
     .many = "a sequence of models",
     .one = "model",
     .check = cf_check_model_names,
     .help = "The models, each scoring every request."},
    {.name = "rendezvous",
     .type = CF_SECTION,
     .flags = CF_REQUIRED,
     .section = &rendezvous_section,
     .help = "Which model's answer each request gets."},
    {.name = "reload",
     .type = CF_SECTION,
     .section = &reload_section,
     .help = "How a reload warms new models."},
    {.name = "delivery",
     .type = CF_SECTION,
     .section = &delivery_section,
     .help = "At-least-once or exactly-once delivery."},
    {.name = "archive",
     .type = CF_SECTION,
     .section = &archive_section,
     .help = "How much of the decoy's segment files is kept."},
    {.name = "evaluation",
     .type = CF_SECTION,
     .section = &cf_evaluation_section,
     .help = "Live evaluation against true labels; none without this section."},
    {.name = "alerts",
     .type = CF_SECTION,
     .section = &cf_alerts_section,
     .help = "How the canary's and the evaluation's alerts decide."},
    {.name = "promotion",
     .type = CF_SECTION,
     .section = &cf_promotion_section,
     .help = "A challenger put first by evidence; none without this section."},
    {.name = "http",
     .type = CF_SECTION,
     .section = &cf_http_section,
     .help = "The HTTP endpoints; none without this section."},
    {.name = "control",
     .type = CF_SECTION,
     .section = &cf_control_section,
     .help = "Signed schedule changes; unsigned ones are applied without this section."},
    {.name = "site",
     .type = CF_SECTION,
     .section = &cf_site_section,
     .help = "The site this host serves at, with the other sites mirrored here."},
    {0},
};

const cf_section cf_root = {
    .path = "",
    .help = "The top of the file. Paths are relative to the config file's directory.",
    .keys = root_keys,
};
