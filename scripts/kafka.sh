#!/usr/bin/env bash
# Runs a real Apache Kafka cluster on loopback for Rendezvous's tests: KRaft
# mode, every node both broker and controller, the version pinned in
# scripts/kafka/pom.xml, resolved from Maven Central into a cache folder.
# A real cluster as an operator runs it: topics are not auto-created, and
# with 3 nodes every topic is replicated 3 times with min.insync.replicas=2.
#
#   kafka.sh install
#       Fetch Kafka and its runtime dependencies (once; offline afterwards)
#       into ${RV_KAFKA_HOME:-$HOME/.cache/rendezvous/kafka-VERSION}/lib.
#   kafka.sh start DIR [--nodes 1|3] [--sasl]
#       Start a fresh cluster in DIR (absent or empty), wait until every
#       broker answers, print bootstrap=HOST:PORT,... (also in DIR/bootstrap).
#       --sasl adds a SASL_SSL listener (SCRAM-SHA-512 and -256, TLS with a
#       CA made here: DIR/tls/ca.pem) and ACLs (StandardAuthorizer); users
#       `admin` (super user) and `rv-host` (granted All on every topic, group
#       and transactional id), passwords in DIR/sasl/USER.password, ready
#       librdkafka settings for `kcat -F` in DIR/sasl/USER.conf; prints
#       bootstrap_sasl=... (also in DIR/bootstrap_sasl). The PLAINTEXT
#       listener stays open and is a super user (principal User:ANONYMOUS).
#       RV_KAFKA_HOST (default 127.0.0.1) is the address of the PLAINTEXT
#       listener, e.g. a container bridge's gateway so that containers on
#       that network reach the cluster.
#       RV_KAFKA_JVM (flags) replaces the nodes' JVM sizing, GC and compiler
#       flags (default: small heap, serial GC, C1 only - light, not fast).
#   kafka.sh stop DIR               SIGTERM every node, SIGKILL after a timeout
#   kafka.sh kill DIR N             SIGKILL node N (fault tests)
#   kafka.sh start-node DIR N       start node N again, wait until it serves
#       With 3 nodes the controller notices a killed node only when its
#       session expires (broker.session.timeout.ms, 9 s): until then the
#       partitions it led have no leader, and a restarted node cannot
#       register (DUPLICATE_BROKER_REGISTRATION), so start-node waits too.
#   kafka.sh pids DIR               print "N PID" per node ("N -" if down)
#   kafka.sh topic DIR NAME PARTITIONS [key=value...]
#       Create a topic replicated on every node (at most 3), with topic
#       configs, and wait until every broker knows its partition leaders.
#   kafka.sh topics DIR PARTITIONS NAME[:PARTITIONS]...
#       Create many topics in one Admin API call (Debian's
#       python3-confluent-kafka: no JVM per topic), PARTITIONS each unless
#       the name says otherwise, replicated as above; wait until every
#       partition has a leader.
#   kafka.sh acl DIR ARGS...        kafka.admin.AclCommand on DIR's cluster,
#       e.g. acl DIR --add --deny-principal User:rv-host --operation Read --topic T
#       (--remove asks on stdin unless given --force)
#   kafka.sh run CLASS [ARGS...]    run a Kafka tool's main class, e.g.
#       run org.apache.kafka.tools.TopicCommand --bootstrap-server B --list
#       run org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ...
#
# Progress and errors go to stderr; stdout carries only the results above.
# Needs java (17), mvn (install only), kcat, openssl and python3.
#
# Environment: RV_KAFKA_HOME (install folder), RV_KAFKA_HEAP (heap of a node,
# default 384m), RV_KAFKA_START_TIMEOUT (seconds, default 120),
# RV_KAFKA_STOP_TIMEOUT (seconds, default 30).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/kafka/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
kafka_home=${RV_KAFKA_HOME:-$HOME/.cache/rendezvous/kafka-$version}
lib=$kafka_home/lib
marker=$kafka_home/installed
start_timeout=${RV_KAFKA_START_TIMEOUT:-120}
stop_timeout=${RV_KAFKA_STOP_TIMEOUT:-30}
host=${RV_KAFKA_HOST:-127.0.0.1}

# Light on a small machine: serial GC, no C2 compiler threads, no
# /tmp/hsperfdata files. RV_KAFKA_JVM replaces these for a node (the
# benchmarks give Kafka's own defaults: G1, 1 GiB heap, both compilers).
# shellcheck disable=SC2206 # RV_KAFKA_JVM is a list of flags
node_jvm=(${RV_KAFKA_JVM:--Xms64m -Xmx${RV_KAFKA_HEAP:-384m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
  -XX:-UsePerfData -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$here/kafka/log4j.properties")
tool_jvm=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
  -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$here/kafka/tools-log4j.properties")

log() { echo "kafka.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}
usage() { die "usage: kafka.sh install | start DIR [--nodes 1|3] [--sasl] | stop DIR | kill DIR N | start-node DIR N | pids DIR | topic DIR NAME PARTITIONS [key=value...] | topics DIR PARTITIONS NAME[:PARTITIONS]... | acl DIR ARGS... | run CLASS [ARGS...]"; }

# ---------------------------------------------------------------- install

# What an install is of: the version and the pom's dependencies (a changed
# pom installs again).
install_id() { echo "$version $(sha256sum <"$pom" | cut -c1-16)"; }

cmd_install() {
  (($# == 0)) || usage
  if [[ -f $marker && $(<"$marker") == "$(install_id)" ]]; then
    echo "kafka.sh: Kafka $version already installed in $kafka_home"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  log "resolving Kafka $version from Maven Central"
  mkdir -p "$kafka_home"
  rm -rf "$lib.partial"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$lib.partial" </dev/null >"$kafka_home/mvn.log" 2>&1; then
    cat "$kafka_home/mvn.log" >&2
    die "mvn could not resolve Kafka $version (log above)"
  fi
  [[ -f $lib.partial/kafka_2.13-$version.jar ]] ||
    die "kafka_2.13-$version.jar missing after mvn"
  [[ -f $lib.partial/connect-mirror-$version.jar ]] ||
    die "connect-mirror-$version.jar missing after mvn"
  rm -rf "$lib"
  mv "$lib.partial" "$lib"
  install_id >"$marker"
  echo "kafka.sh: Kafka $version installed in $kafka_home"
}

ensure_installed() {
  [[ -f $marker && $(<"$marker") == "$(install_id)" ]] || cmd_install >&2
}

# Runs a Kafka tool's main class with the cached classpath.
run_tool() {
  java "${tool_jvm[@]}" -cp "$lib/*" "$@"
}

cmd_run() {
  (($# >= 1)) || usage
  ensure_installed
  run_tool "$@"
}

# ---------------------------------------------------------------- cluster state

# The cluster folder as an absolute path; it must hold a started cluster.
cluster_dir() {
  [[ -n ${1:-} && -f $1/nodes ]] || die "${1:-DIR}: no cluster made by kafka.sh start there"
  (cd "$1" && pwd -P)
}

node_count() { cat "$1/nodes"; }

check_node() { # DIR N
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > $(node_count "$1"))); then
    die "no node $2 in $1"
  fi
}

# The pid of node N if that process is alive and still this node's broker
# (a pid file can outlive its process, and pids get reused).
node_pid() { # DIR N
  local pidfile=$1/node$2/pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  grep -aqF -- "$1/node$2/server.properties" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# The PLAINTEXT address (HOST:PORT) of node N, from its config.
node_addr() { # DIR N
  sed -n 's|^listeners=PLAINTEXT://\([^,]*\),.*|\1|p' "$1/node$2/server.properties"
}

# Succeeds when the broker(s) at BOOTSTRAP report COUNT brokers, including
# broker NODE if given. Extra arguments go to kcat (e.g. -X for SASL).
metadata_ok() { # BOOTSTRAP COUNT NODE|"" [kcat args...]
  local bootstrap=$1 count=$2 node=$3 meta
  shift 3
  # Retry a refused connection quickly: the default backoff grows to 10 s.
  meta=$(kcat -L -b "$bootstrap" -m 3 -X reconnect.backoff.max.ms=250 "$@" 2>/dev/null) ||
    return 1
  grep -q "^ $count brokers:" <<<"$meta" || return 1
  [[ -z $node ]] || grep -q "^  broker $node at " <<<"$meta"
}

# ---------------------------------------------------------------- start

# Prints COUNT free loopback TCP ports, below the kernel's ephemeral range
# so that no outgoing connection takes one while its node is down.
free_ports() { # COUNT
  python3 - "$1" <<'EOF'
import random, socket, sys
want, socks = int(sys.argv[1]), []
while len(socks) < want:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(20000, 32000)))
        socks.append(s)
    except OSError:
        s.close()
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# A Kafka cluster id: 16 random bytes, base64url without padding, not
# starting with '-' (it would read as an option), as Uuid.randomUuid does.
cluster_id() {
  local id
  while :; do
    id=$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=')
    [[ $id == -* ]] || break
  done
  echo "$id"
}

# A CA and one certificate for every broker (all on 127.0.0.1); Kafka reads
# the key and certificate from one PEM file.
make_tls() { # TLSDIR
  local tls=$1
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Rendezvous test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 30 -out "$tls/broker.crt" -extfile <(
      echo "subjectAltName=IP:127.0.0.1,DNS:localhost"
      echo "extendedKeyUsage=serverAuth"
    ) 2>/dev/null
  cat "$tls/broker.key" "$tls/broker.crt" >"$tls/broker.pem"
  chmod 600 "$tls"/*.key "$tls/broker.pem"
}

write_node_config() { # DIR N NODES VOTERS PLAIN_PORT CONTROLLER_PORT SASL_PORT|""
  local dir=$1 n=$2 nodes=$3 voters=$4 plain=$5 controller=$6 sasl=$7
  local rf=$((nodes < 3 ? nodes : 3)) min_isr=$((nodes < 3 ? 1 : 2))
  local listeners="PLAINTEXT://$host:$plain,CONTROLLER://127.0.0.1:$controller"
  local advertised="PLAINTEXT://$host:$plain"
  if [[ -n $sasl ]]; then
    listeners+=",SASL_SSL://127.0.0.1:$sasl"
    advertised+=",SASL_SSL://127.0.0.1:$sasl"
  fi
  mkdir -p "$dir/node$n/data"
  cat >"$dir/node$n/server.properties" <<EOF
# Node $n of a $nodes-node test cluster made by scripts/kafka.sh.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=$dir/node$n/data

# As an operator runs it: no auto-creation, replication fits the nodes.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr

# Quick for tests: no delay before the first rebalance, fewer partitions
# for the internal topics (made on first use; 50 each by default).
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Light on a small machine.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=8388608
EOF
  if [[ -n $sasl ]]; then
    cat >>"$dir/node$n/server.properties" <<EOF

# SASL_SSL listener: SCRAM users made at format time, TLS from $dir/tls.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/broker.pem

# ACLs. PLAINTEXT and CONTROLLER connections are User:ANONYMOUS.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
EOF
  fi
}

start_node() { # DIR N
  local node=$1/node$2
  java "${node_jvm[@]}" -cp "$lib/*" kafka.Kafka "$node/server.properties" \
    </dev/null >>"$node/log" 2>&1 &
  echo $! >"$node/pid"
}

# Stops every node of DIR: SIGTERM, then SIGKILL after the stop timeout.
stop_nodes() { # DIR
  local dir=$1 n pid deadline=$((SECONDS + stop_timeout)) running=() killed=()
  for ((n = 1; n <= $(node_count "$dir"); n++)); do
    if pid=$(node_pid "$dir" "$n"); then
      kill -TERM "$pid" 2>/dev/null || true
      running+=("$n")
    fi
  done
  for n in "${running[@]}"; do
    while node_pid "$dir" "$n" >/dev/null && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if pid=$(node_pid "$dir" "$n"); then
      kill -KILL "$pid" 2>/dev/null || true
      killed+=("$n")
    fi
  done
  for n in "${killed[@]}"; do
    while node_pid "$dir" "$n" >/dev/null; do sleep 0.1; done
  done
  rm -f "$dir"/node*/pid
  if ((${#killed[@]})); then
    log "stopped ${#running[@]} node(s) in $dir; killed (SIGKILL after ${stop_timeout}s): ${killed[*]}"
  else
    log "stopped ${#running[@]} node(s) in $dir"
  fi
}

# Shows the end of a node's log on stderr.
show_log() { # DIR N
  log "last lines of $1/node$2/log:"
  tail -n 15 "$1/node$2/log" >&2 || true
}

# Gives up on a start: show why, stop every node, fail.
abort_start() { # DIR MESSAGE
  local dir=$1 n
  log "$2"
  for ((n = 1; n <= $(node_count "$dir"); n++)); do show_log "$dir" "$n"; done
  stop_nodes "$dir"
  exit 1
}

# Waits until metadata from each given node lists all the cluster's brokers,
# the node itself included. Fails if a node exits or on timeout.
wait_ready() { # DIR NODE...
  local dir=$1 count n deadline=$((SECONDS + start_timeout))
  shift
  count=$(node_count "$dir")
  for n in "$@"; do
    until metadata_ok "$(node_addr "$dir" "$n")" "$count" "$n"; do
      if ! node_pid "$dir" "$n" >/dev/null; then
        log "node $n exited while starting"
        return 1
      fi
      if ((SECONDS >= deadline)); then
        log "node $n not ready after ${start_timeout}s"
        return 1
      fi
      sleep 0.5
    done
  done
}

cmd_start() {
  local dir="" nodes=1 sasl=0
  while (($#)); do
    case $1 in
      --nodes)
        [[ ${2:-} == 1 || ${2:-} == 3 ]] || die "--nodes takes 1 or 3"
        nodes=$2
        shift 2
        ;;
      --sasl)
        sasl=1
        shift
        ;;
      -*) usage ;;
      *)
        [[ -z $dir ]] || usage
        dir=$1
        shift
        ;;
    esac
  done
  [[ -n $dir ]] || usage
  local tool
  for tool in java kcat openssl python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done
  mkdir -p "$dir"
  [[ -z $(ls -A "$dir") ]] || die "$dir is not empty: give a new or empty folder"
  dir=$(cd "$dir" && pwd -P)
  ensure_installed

  local per_node=$((sasl ? 3 : 2)) ports n voters="" bootstrap="" bootstrap_sasl=""
  read -ra ports <<<"$(free_ports $((nodes * per_node)))"
  local plain=("${ports[@]:0:nodes}") controller=("${ports[@]:nodes:nodes}")
  local sasl_port=("${ports[@]:2*nodes:nodes}")
  for ((n = 1; n <= nodes; n++)); do
    voters+="${voters:+,}$n@127.0.0.1:${controller[n - 1]}"
    bootstrap+="${bootstrap:+,}$host:${plain[n - 1]}"
    if ((sasl)); then
      bootstrap_sasl+="${bootstrap_sasl:+,}127.0.0.1:${sasl_port[n - 1]}"
    fi
  done
  echo "$nodes" >"$dir/nodes"
  # Leave no node behind if interrupted before the cluster is ready.
  trap 'abort_start "$dir" "interrupted"' INT TERM

  local scram=() user password mechanism
  if ((sasl)); then
    make_tls "$dir/tls"
    mkdir -m 700 "$dir/sasl"
    for user in admin rv-host; do
      password=$(openssl rand -hex 16)
      echo "$password" >"$dir/sasl/$user.password"
      for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
        scram+=(--add-scram "$mechanism=[name=$user,password=$password]")
      done
      cat >"$dir/sasl/$user.conf" <<EOF
bootstrap.servers=$bootstrap_sasl
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$user
sasl.password=$password
ssl.ca.location=$dir/tls/ca.pem
EOF
    done
  fi

  # Format every node's storage with one cluster id, in parallel.
  local id formats=() all_nodes=()
  id=$(cluster_id)
  for ((n = 1; n <= nodes; n++)); do
    write_node_config "$dir" "$n" "$nodes" "$voters" "${plain[n - 1]}" \
      "${controller[n - 1]}" "${sasl_port[n - 1]:-}"
    run_tool kafka.tools.StorageTool format -t "$id" \
      -c "$dir/node$n/server.properties" "${scram[@]}" </dev/null >"$dir/node$n/format.log" 2>&1 &
    formats+=($!)
    all_nodes+=("$n")
  done
  for n in "${all_nodes[@]}"; do
    wait "${formats[n - 1]}" || die "formatting node $n failed: $(cat "$dir/node$n/format.log")"
  done

  log "starting $nodes node(s) in $dir"
  for n in "${all_nodes[@]}"; do start_node "$dir" "$n"; done
  wait_ready "$dir" "${all_nodes[@]}" || abort_start "$dir" "the cluster did not start"

  echo "$bootstrap" >"$dir/bootstrap"
  if ((sasl)); then
    run_tool kafka.admin.AclCommand --bootstrap-server "$bootstrap" --add \
      --allow-principal User:rv-host --operation All \
      --topic '*' --group '*' --transactional-id '*' </dev/null >"$dir/sasl/acls.log" 2>&1 ||
      abort_start "$dir" "could not add ACLs: $(cat "$dir/sasl/acls.log")"
    metadata_ok "$bootstrap_sasl" "$nodes" "" -F "$dir/sasl/rv-host.conf" ||
      abort_start "$dir" "SASL_SSL listener refuses rv-host"
    echo "$bootstrap_sasl" >"$dir/bootstrap_sasl"
  fi
  trap - INT TERM
  log "cluster ready: $nodes node(s), Kafka $version"
  echo "bootstrap=$bootstrap"
  if ((sasl)); then
    echo "bootstrap_sasl=$bootstrap_sasl"
  fi
}

# ---------------------------------------------------------------- other commands

cmd_stop() {
  (($# == 1)) || usage
  stop_nodes "$(cluster_dir "$1")"
}

cmd_kill() {
  (($# == 2)) || usage
  local dir pid
  dir=$(cluster_dir "$1")
  check_node "$dir" "$2"
  pid=$(node_pid "$dir" "$2") || die "node $2 is not running"
  kill -KILL "$pid"
  while node_pid "$dir" "$2" >/dev/null; do sleep 0.1; done
  rm -f "$dir/node$2/pid"
  log "killed node $2 (pid $pid)"
}

cmd_start_node() {
  (($# == 2)) || usage
  local dir
  dir=$(cluster_dir "$1")
  check_node "$dir" "$2"
  ! node_pid "$dir" "$2" >/dev/null || die "node $2 is already running"
  ensure_installed
  start_node "$dir" "$2"
  if ! wait_ready "$dir" "$2"; then
    show_log "$dir" "$2"
    cmd_kill "$dir" "$2" 2>/dev/null || true
    die "node $2 did not come back"
  fi
  log "node $2 is back (pid $(node_pid "$dir" "$2"))"
}

cmd_pids() {
  (($# == 1)) || usage
  local dir n
  dir=$(cluster_dir "$1")
  for ((n = 1; n <= $(node_count "$dir"); n++)); do
    echo "$n $(node_pid "$dir" "$n" || echo -)"
  done
}

cmd_topic() {
  (($# >= 3)) || usage
  local dir name=$2 partitions=$3 nodes rf configs=() kv n deadline meta
  dir=$(cluster_dir "$1")
  shift 3
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive number"
  for kv; do
    [[ $kv == *=* ]] || die "topic config '$kv' is not key=value"
    configs+=(--config "$kv")
  done
  nodes=$(node_count "$dir")
  rf=$((nodes < 3 ? nodes : 3))
  ensure_installed
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(<"$dir/bootstrap")" \
    --create --topic "$name" --partitions "$partitions" --replication-factor "$rf" \
    "${configs[@]}" </dev/null >/dev/null || die "could not create topic $name"
  # The controller has it; wait until each broker serves every partition.
  deadline=$((SECONDS + start_timeout))
  for ((n = 1; n <= nodes; n++)); do
    node_pid "$dir" "$n" >/dev/null || continue
    until meta=$(kcat -L -b "$(node_addr "$dir" "$n")" -t "$name" -m 3 2>/dev/null) &&
      grep -q "with $partitions partitions:" <<<"$meta" &&
      ! grep -qE 'leader -1|Broker: ' <<<"$meta"; do
      ((SECONDS < deadline)) || die "topic $name not served by node $n after ${start_timeout}s"
      sleep 0.2
    done
  done
  log "topic $name: $partitions partition(s), replication factor $rf"
}

cmd_topics() {
  (($# >= 3)) || usage
  local dir
  dir=$(cluster_dir "$1")
  shift
  [[ $1 =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive number"
  /usr/bin/python3 - "$(<"$dir/bootstrap")" "$(node_count "$dir")" "$@" <<'EOF' ||
import sys, time
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, nodes, default, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
admin = AdminClient({"bootstrap.servers": bootstrap})
topics = []
for n in names:
    name, _, parts = n.partition(":")
    topics.append(NewTopic(name, int(parts or default), min(nodes, 3)))
for name, f in admin.create_topics(topics, operation_timeout=30).items():
    f.result()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    md = admin.list_topics(timeout=10).topics
    if all(t.topic in md and md[t.topic].partitions and
           all(p.leader >= 0 for p in md[t.topic].partitions.values()) for t in topics):
        break
    time.sleep(0.2)
else:
    sys.exit("partitions without a leader after 30 s")
EOF
    die "could not create topics ${*:2}"
  log "$(($# - 1)) topic(s) created"
}

cmd_acl() {
  (($# >= 1)) || usage
  local dir
  dir=$(cluster_dir "$1")
  shift
  ensure_installed
  run_tool kafka.admin.AclCommand --bootstrap-server "$(<"$dir/bootstrap")" "$@"
}

main() {
  (($#)) || usage
  local command=$1
  shift
  case $command in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    kill) cmd_kill "$@" ;;
    start-node) cmd_start_node "$@" ;;
    pids) cmd_pids "$@" ;;
    topic) cmd_topic "$@" ;;
    topics) cmd_topics "$@" ;;
    acl) cmd_acl "$@" ;;
    run) cmd_run "$@" ;;
    *) usage ;;
  esac
}

main "$@"
