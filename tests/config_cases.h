/*
 * config_cases.h - the configs test_config.c expects the loader to refuse,
 * as data: each with how many errors it must give and, for each error
 * asserted, its line, column, key path and a part of its reason. Included
 * by test_config.c only.
 */
#ifndef RV_CONFIG_CASES_H
#define RV_CONFIG_CASES_H

#include <stddef.h>

/* Each line of every test YAML is on its own source line so that the line
 * numbers asserted can be counted by eye. */
#define BASE_STREAMS_TO_MODELS                                                                     \
    "streams:\n"                                                                                   \
    "  brokers: embedded\n"                                                                        \
    "input:\n"                                                                                     \
    "  features: [a, b]\n"

static const struct bad_config {
    const char *name, *yaml;
    size_t n_errors;
    struct {
        int line, col;
        const char *kpath, *reason;
    } errors[16];
} bad_configs[] = {
    {"unknown_keys_at_every_level",
     "service: s\n"
     "colour: red\n"
     "streams:\n"
     "  brokers: embedded\n"
     "  dead-letter: dlq\n"
     "input:\n"
     "  features: [a, b]\n"
     "models:\n"
     "  - name: m\n"
     "    plugin: p.so\n"
     "    instance: 2\n"
     "rendezvous:\n"
     "  schedule:\n"
     "    - { model: m, within_ms: 10, weight: 3 }\n"
     "  default: { label: review, score: 0.5, colour: red }\n",
     5,
     {{2, 1, "colour",
       "unknown key 'colour' (allowed: service, state_dir, watch, "
       "shutdown_timeout_ms, streams, input, models, rendezvous, reload, delivery, archive, "
       "evaluation, alerts, promotion, http, control, site)"},
      {5, 3, "streams.dead-letter", "did you mean 'dead_letter'?"},
      {11, 5, "models[0].instance", "allowed: name, plugin, sha256, builtin, params"},
      {14, 34, "rendezvous.schedule[0].weight", "allowed: model, within_ms"},
      {15, 41, "rendezvous.default.colour", "unknown key 'colour'"}}},
    {"wrong_types",
     "service: {name: s}\n"
     "watch: yes\n"
     "streams:\n"
     "  brokers: [a, b]\n"
     "  partitions: 1.5\n"
     "  kafka: { acks: [1] }\n"
     "input:\n"
     "  features: [a, b]\n"
     "  max_body_bytes: \"12\"\n"
     "models:\n"
     "  - name: m\n"
     "    plugin: p.so\n"
     "    instances: two\n"
     "    max_batch: 0\n"
     "    queue_size: -3\n"
     "    params: [x]\n"
     "  - name: n\n"
     "    builtin: canary\n"
     "    instances: 99999999999\n"
     "rendezvous:\n"
     "  schedule:\n"
     "    - { model: m, within_ms: -1 }\n"
     "  max_in_flight:\n"
     "http: 8080\n",
     14,
     {{1, 10, "service", "expected a string, got a mapping"},
      {2, 8, "watch", "expected a boolean (true or false), got 'yes'"},
      {4, 12, "streams.brokers", "expected a string, got a sequence"},
      {5, 15, "streams.partitions", "expected a positive integer, got '1.5'"},
      {6, 18, "streams.kafka.acks", "expected a scalar value, got a sequence"},
      {9, 19, "input.max_body_bytes", "expected a positive integer, got a quoted string '12'"},
      {13, 16, "models[0].instances", "expected a positive integer, got 'two'"},
      {14, 16, "models[0].max_batch", "0 must be a positive integer"},
      {15, 17, "models[0].queue_size", "-3 must be a positive integer"},
      {16, 13, "models[0].params", "expected a mapping, got a sequence"},
      {19, 16, "models[1].instances", "out of range"},
      {22, 30, "rendezvous.schedule[0].within_ms", "-1 must be a non-negative integer"},
      {23, 17, "rendezvous.max_in_flight", "expected a positive integer, got null"},
      {24, 7, "http", "expected a mapping, got a scalar"}}},
    {"transaction_longer_than_its_timeout",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - {name: m, plugin: p.so}\n"
     "rendezvous:\n"
     "  schedule: [{model: m, within_ms: 5}]\n"
     "delivery:\n"
     "  mode: exactly_once\n"
     "  transaction_ms: 20000\n",
     1,
     {{12, 19, "delivery", "transaction_ms (20000) must be below transaction_timeout_ms (10000)"}}},
    {"evaluation_of_one_label_and_no_delay",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - {name: m, plugin: p.so}\n"
     "rendezvous:\n"
     "  schedule: [{model: m, within_ms: 5}]\n"
     "evaluation:\n"
     "  labels: [fraud]\n"
     "  max_label_delay_s: 0\n",
     2,
     {{11, 11, "evaluation.labels", "one label cannot be measured"},
      {12, 22, "evaluation.max_label_delay_s", "must be a positive integer"}}},
    {"missing_required_top_level", /* No service, streams, input, models or rendezvous: each named once. */
     "# nothing useful\n"
     "watch: false\n",
     5,
     {{2, 1, "service", "missing required key"},
      {2, 1, "streams", "missing required key"},
      {2, 1, "input", "missing required key"},
      {2, 1, "models", "missing required key"},
      {2, 1, "rendezvous", "missing required key"}}},
    {"missing_required_nested",
     "service: s\n"
     "streams:\n"
     "  partitions: 2\n"
     "input:\n"
     "  format: json\n"
     "models:\n"
     "  - plugin: p.so\n"
     "  - name: neither\n"
     "    instances: 2\n"
     "  - { name: both, plugin: p.so, builtin: canary }\n"
     "rendezvous:\n"
     "  max_in_flight: 5\n",
     6,
     {{3, 3, "streams.brokers", "missing required key"},
      {5, 3, "input.features", "missing required key"},
      {7, 5, "models[0].name", "missing required key"},
      {8, 5, "models[1]", "missing required key: one of plugin or builtin"},
      {10, 33, "models[2]", "both plugin and builtin"},
      {12, 3, "rendezvous.schedule", "missing required key"}}},
    {"empty_models_and_schedule",
     "service: s\n" BASE_STREAMS_TO_MODELS "models: []\n"
     "rendezvous:\n"
     "  schedule: []\n",
     2,
     {{6, 9, "models", "must list at least one model"},
      {8, 13, "rendezvous.schedule", "must list at least one entry"}}},
    {"duplicate_model_name_reports_both_lines",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - name: m\n"
     "    plugin: p.so\n"
     "  - name: other\n"
     "    builtin: canary\n"
     "  - name: m\n"
     "    builtin: canary\n"
     "rendezvous:\n"
     "  schedule: [{model: m, within_ms: 1}]\n",
     1,
     {{11, 11, "models[2].name", "duplicate model name 'm' (first at line 7, here line 11)"}}},
    {"duplicate_key_in_mapping",
     "service: s\n"
     "streams:\n"
     "  brokers: embedded\n"
     "  brokers: other\n"
     "input:\n"
     "  features: [a]\n"
     "models:\n"
     "  - { name: m, plugin: p.so, params: { k: 1, k: 2 } }\n"
     "rendezvous:\n"
     "  schedule: [{model: m, within_ms: 1}]\n"
     "service: t\n",
     3,
     {{4, 3, "streams.brokers", "duplicate key 'brokers' (first at line 3, column 3)"},
      {8, 46, "models[0].params.k", "duplicate key 'k' (first at line 8, column 40)"},
      {11, 1, "service", "duplicate key 'service' (first at line 1, column 1)"}}},
    {"schedule_entry_naming_no_model",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - { name: m, plugin: p.so }\n"
     "rendezvous:\n"
     "  schedule:\n"
     "    - { model: m, within_ms: 10 }\n"
     "    - { model: ghost, within_ms: 20 }\n"
     "    - { within_ms: 30 }\n"
     "    - { model: m, within_ms: 40 }\n",
     3,
     {{11, 16, "rendezvous.schedule[1].model", "no model named 'ghost'"},
      {12, 7, "rendezvous.schedule[2].model", "missing required key"},
      {13, 16, "rendezvous.schedule[3].model", "already in the schedule"}}},
    {"within_ms_decreasing",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - { name: a, plugin: p.so }\n"
     "  - { name: b, plugin: p.so }\n"
     "  - { name: c, plugin: p.so }\n"
     "rendezvous:\n"
     "  schedule:\n"
     "    - model: a\n"
     "      within_ms: 30\n"
     "    - model: b\n"
     "      within_ms: 30\n"
     "    - model: c\n"
     "      within_ms: 29\n",
     1,
     {{17, 18, "rendezvous.schedule[2].within_ms",
       "within_ms 29 is less than 30 of the entry before (line 15)"}}},
    {"unknown_builtin",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - { name: m, plugin: p.so }\n"
     "  - { name: s, builtin: shadow }\n"
     "rendezvous:\n"
     "  schedule: [{model: m, within_ms: 1}]\n",
     1,
     {{8, 25, "models[1].builtin", "unknown builtin 'shadow' (known: canary, decoy)"}}},
    {"duplicate_features",
     "service: s\n"
     "streams: { brokers: embedded }\n"
     "input:\n"
     "  features:\n"
     "    - amount\n"
     "    - hour\n"
     "    - amount\n"
     "models: [{ name: m, plugin: p.so }]\n"
     "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n",
     1,
     {{7, 7, "input.features[2]", "duplicate feature 'amount' (first at line 5, column 7)"}}},
    {"empty_features",
     "service: s\n"
     "streams: { brokers: embedded }\n"
     "input:\n"
     "  features: []\n"
     "models: [{ name: m, plugin: p.so }]\n"
     "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n",
     1,
     {{4, 13, "input.features", "must list at least one feature"}}},
    {"schedule_naming_decoy",
     "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
     "  - { name: m, plugin: p.so }\n"
     "  - { name: watcher, builtin: decoy }\n"
     "rendezvous:\n"
     "  schedule:\n"
     "    - { model: m, within_ms: 10 }\n"
     "    - { model: watcher, within_ms: 20 }\n",
     1,
     {{12, 16, "rendezvous.schedule[1].model", "'watcher' is the decoy"}}},
    {"format_listen_and_topic_values",
     "service: my service\n"
     "streams:\n"
     "  brokers: embedded\n"
     "  scores: \"bad/topic\"\n"
     "input:\n"
     "  format: csv\n"
     "  features: [a]\n"
     "models: [{ name: m, plugin: p.so }]\n"
     "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n"
     "http: { listen: localhost }\n",
     4,
     {{1, 10, "service", "may contain only letters"},
      {4, 11, "streams.scores", "not a valid topic name"},
      {6, 11, "input.format", "unsupported format 'csv' (only json)"},
      {10, 17, "http.listen", "expected HOST:PORT"}}},
    {"site_names",
     "service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
     "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n"
     "site:\n"
     "  name: us.east\n"
     "  peers: [west, us.east, west]\n",
     3,
     {{9, 9, "site.name", "may contain only letters, digits, '_' and '-'"},
      {10, 26, "site.peers[2]", "duplicate site 'west'"},
      {10, 10, "site", "'us.east' is not another site's name"}}},
    {"site_without_name",
     "service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
     "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n"
     "site: { peers: [west] }\n",
     1,
     {{8, 7, "site.name", "missing required key"}}},
    {"promotion_without_evaluation_and_its_values",
     "service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
     "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n"
     "alerts: { false_alarms_per_day: 0 }\n"
     "promotion:\n"
     "  metric: f1\n"
     "  mode: maybe\n"
     "  alpha: 0.7\n"
     "  min_labels: 500\n"
     "  max_labels: 100\n"
     "  pinned: [m, n]\n",
     7,
     {{8, 33, "alerts.false_alarms_per_day", "not a rate of false alarms a day"},
      {10, 11, "promotion.metric", "'f1' is not accuracy, auc, brier or log_loss"},
      {11, 9, "promotion.mode", "'maybe' is neither propose nor apply"},
      {12, 10, "promotion.alpha", "0.7 is not a level"},
      {10, 3, "promotion", "needs the evaluation section"},
      {10, 3, "promotion", "max_labels (100) is below min_labels (500)"},
      {10, 3, "promotion", "pinned: 'n' is not a model of this config"}}},
};

#endif
