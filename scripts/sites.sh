#!/usr/bin/env bash
# Two sites on loopback as an operator runs them: two Apache Kafka clusters,
# `east` and `west` (one node each, from scripts/kafka.sh), and MirrorMaker 2
# in dedicated mode (org.apache.kafka.connect.mirror.MirrorMaker, pinned
# with Kafka in scripts/kafka/pom.xml) replicating both ways with the
# default replication policy: east's `svc.requests` is `east.svc.requests`
# in west, and the reverse; a topic already named after a site is not sent
# back. Checkpoints (each consumer group's committed offsets, translated)
# and heartbeats flow too.
#
#   sites.sh start DIR [--topics REGEX] [--nodes 1|3]
#       Start both clusters in DIR/east and DIR/west (DIR absent or empty)
#       and the mirror; wait until it replicates both ways; print
#       east=HOST:PORT and west=HOST:PORT (also in DIR/SITE/bootstrap).
#       REGEX (Java) chooses the topics mirrored, default every topic but
#       the internal ones; the mirror's config is DIR/mm2.properties.
#   sites.sh stop DIR               stop the mirror, then both clusters
#   sites.sh kill DIR SITE          SIGKILL SITE's broker(s): the site is lost
#   sites.sh start-site DIR SITE    start SITE's broker(s) again (failback)
#   sites.sh mirror stop|start DIR  stop or start the mirror alone (the
#       split-brain case: both sites up, nothing replicated between them)
#   sites.sh wait-topic DIR SITE TOPIC [SECONDS]
#       Wait until TOPIC exists on SITE (a remote topic the mirror makes)
#
# The mirror's timings are set for tests and said in docs/sites.md:
# checkpoints, heartbeats and offset syncs every second, new topics and
# groups looked for every 5 s. Progress goes to stderr, results to stdout.
#
# Environment: as scripts/kafka.sh (RV_KAFKA_HOME, RV_KAFKA_HEAP, ...);
# RV_MM2_HEAP (the mirror's heap, default 384m).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kafka=$here/kafka.sh
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
lib=${RV_KAFKA_HOME:-$HOME/.cache/rendezvous/kafka-$version}/lib
sites=(east west)

log() { echo "sites.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}
usage() { die "usage: sites.sh start DIR [--topics REGEX] [--nodes 1|3] | stop DIR | kill DIR SITE | start-site DIR SITE | mirror stop|start DIR | wait-topic DIR SITE TOPIC [SECONDS]"; }

site_dir() { # DIR SITE
  [[ $2 == east || $2 == west ]] || die "no site $2: east or west"
  [[ -f $1/$2/bootstrap ]] || die "$1/$2 is not a running site (sites.sh start)"
  echo "$1/$2"
}

mirror_pid() { # DIR: the mirror's pid when it runs
  local pid
  [[ -f $1/mm2.pid ]] && pid=$(<"$1/mm2.pid") && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_mirror_config() { # DIR REGEX NODES
  local rf=$(($3 < 3 ? 1 : 3))
  cat >"$1/mm2.properties" <<EOF
# MirrorMaker 2, dedicated mode: both directions, the default replication
# policy (remote topics prefixed with their site: east.svc.requests).
clusters = east, west
east.bootstrap.servers = $(<"$1/east/bootstrap")
west.bootstrap.servers = $(<"$1/west/bootstrap")
east->west.enabled = true
west->east.enabled = true
topics = $2
# Consumer groups' offsets are translated into checkpoints
# (<source>.checkpoints.internal on the target), read by a host taking
# over; never written into the target's own groups.
groups = .*
emit.checkpoints.enabled = true
sync.group.offsets.enabled = false

# Quick for tests (the defaults are 60 s and 600 s): say in docs/sites.md
# what an operator should choose.
emit.checkpoints.interval.seconds = 1
emit.heartbeats.interval.seconds = 1
refresh.topics.interval.seconds = 5
refresh.groups.interval.seconds = 5
sync.topic.configs.interval.seconds = 60
offset.lag.max = 10

# A site that returns gets its flows' tasks back at once: Connect waits
# up to 5 minutes by default for a lost worker to come back first (a
# worker's setting: given per cluster, the flow's target).
east.scheduled.rebalance.max.delay.ms = 0
west.scheduled.rebalance.max.delay.ms = 0

# Its own topics fit the sites' size.
replication.factor = $rf
checkpoints.topic.replication.factor = $rf
heartbeats.topic.replication.factor = $rf
offset-syncs.topic.replication.factor = $rf
offset.storage.replication.factor = $rf
status.storage.replication.factor = $rf
config.storage.replication.factor = $rf
tasks.max = 1

# Records as they were: the producer waits for every replica, in order.
east.producer.acks = all
west.producer.acks = all
EOF
}

start_mirror() { # DIR
  local dir=$1
  [[ -z $(mirror_pid "$dir" || true) ]] || die "the mirror already runs"
  java -Xms64m "-Xmx${RV_MM2_HEAP:-384m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -XX:-UsePerfData -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:$here/kafka/log4j.properties" \
    -cp "$lib/*" org.apache.kafka.connect.mirror.MirrorMaker "$dir/mm2.properties" \
    </dev/null >>"$dir/mm2.log" 2>&1 &
  echo $! >"$dir/mm2.pid"
}

stop_mirror() { # DIR
  local pid deadline=$((SECONDS + 30))
  pid=$(mirror_pid "$1") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1/mm2.pid"
}

topic_exists() { # BOOTSTRAP TOPIC
  kcat -L -b "$1" -t "$2" -m 5 2>/dev/null | grep -q "topic \"$2\" with [1-9]"
}

wait_topic() { # DIR SITE TOPIC SECONDS
  local b deadline=$((SECONDS + $4))
  b=$(<"$(site_dir "$1" "$2")/bootstrap")
  until topic_exists "$b" "$3"; do
    ((SECONDS < deadline)) || return 1
    [[ -n $(mirror_pid "$1" || true) ]] || die "the mirror exited: $(tail -5 "$1/mm2.log")"
    sleep 0.5
  done
}

cmd_start() {
  local dir="" regex='.*' nodes=1
  while (($#)); do
    case $1 in
      --topics) regex=${2:?}; shift 2 ;;
      --nodes) nodes=${2:?}; shift 2 ;;
      -*) usage ;;
      *) [[ -z $dir ]] || usage; dir=$1; shift ;;
    esac
  done
  [[ -n $dir ]] || usage
  mkdir -p "$dir"
  [[ -z $(ls -A "$dir") ]] || die "$dir is not empty: give a new or empty folder"
  dir=$(cd "$dir" && pwd -P)
  bash "$kafka" install >&2
  local site pids=()
  for site in "${sites[@]}"; do # in parallel: each takes a JVM's start
    bash "$kafka" start "$dir/$site" --nodes "$nodes" >"$dir/$site.start" 2>&1 &
    pids+=($!)
  done
  for i in 0 1; do
    wait "${pids[i]}" || {
      bash "$kafka" stop "$dir/${sites[1 - i]}" >/dev/null 2>&1 || true
      die "site ${sites[i]} did not start: $(tail -5 "$dir/${sites[i]}.start")"
    }
  done
  write_mirror_config "$dir" "$regex" "$nodes"
  log "starting MirrorMaker 2 (east <-> west)"
  start_mirror "$dir"
  # ready when each direction has made its heartbeats' remote topic
  wait_topic "$dir" west east.heartbeats 120 && wait_topic "$dir" east west.heartbeats 120 || {
    cmd_stop "$dir"
    die "the mirror did not replicate within 120 s: $(tail -5 "$dir/mm2.log")"
  }
  log "sites ready: east <-> west, Kafka $version"
  for site in "${sites[@]}"; do echo "$site=$(<"$dir/$site/bootstrap")"; done
}

cmd_stop() {
  (($# == 1)) || usage
  stop_mirror "$1"
  local site
  for site in "${sites[@]}"; do
    [[ -f $1/$site/nodes ]] && bash "$kafka" stop "$1/$site" >&2 || true
  done
}

# every node of a site, in turn: kafka.sh kill/start-node
each_node() { # DIR SITE COMMAND
  local d n
  d=$(site_dir "$1" "$2")
  for ((n = 1; n <= $(<"$d/nodes"); n++)); do bash "$kafka" "$3" "$d" "$n" >&2; done
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  kill) (($# == 3)) || usage; each_node "$2" "$3" kill ;;
  start-site) (($# == 3)) || usage; each_node "$2" "$3" start-node ;;
  mirror)
    (($# == 3)) || usage
    case $2 in
      stop) stop_mirror "$3" ;;
      start) start_mirror "$3" ;;
      *) usage ;;
    esac
    ;;
  wait-topic)
    (($# == 4 || $# == 5)) || usage
    wait_topic "$2" "$3" "$4" "${5:-60}" || die "no topic $4 on $3 after ${5:-60} s"
    ;;
  *) usage ;;
esac
