#!/usr/bin/env bash
# Installs every Debian package Rendezvous needs to build, test, benchmark
# and run its demo, and the pinned Apache Kafka the tests also run on.
# Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config      # toolchain
  librdkafka-dev kcat                   # streams, and a real Kafka client for tests
  libyaml-dev                           # config
  libyajl-dev                           # JSON (see docs/decisions.md)
  libssl-dev                            # SHA-256, base64
  zlib1g-dev                            # CRC-32 of archive records
  libmicrohttpd-dev curl hey wrk         # HTTP gateway, its tests and load
  libgnutls28-dev                       # its TLS (client certificates are checked with GnuTLS)
  libseccomp-dev                        # the model processes' sandbox
  libsystemd-dev                        # sd_notify: readiness, reload and watchdog for systemd
  liblmdb-dev                           # the evaluation's on-disk join store (see docs/decisions.md)
  prometheus                            # promtool checks /metrics
  libxgboost-dev                        # XGBoost plugin
  check                                 # unit tests
  valgrind                              # memory checks
  stress-ng                             # a busy core for scripts/soak.sh
  gnuplot-nox                           # the benchmark's curves (bench/scenarios/scaling.sh)
  clang-format                          # the format check (.clang-format)
  chromium fonts-dejavu-core            # the dashboard's test in a headless browser
  clang libclang-rt-14-dev              # libFuzzer and its sanitizers (scripts/fuzz.sh)
  python3 python3-xgboost python3-sklearn python3-numpy python3-confluent-kafka
  libpython3.11-dev                     # Python models: the interpreter embedded (plugins/python)
  libtorch-dev python3-torch            # TorchScript models (plugins/torch), and training them
  openjdk-17-jre-headless maven openssl # a real Apache Kafka for the tests (scripts/kafka.sh)
  podman runc catatonit uidmap containernetworking-plugins # containers (docs/containers.md)
  iproute2 iptables                     # the containers' bridge: its gateway, its NAT
  mmdebstrap                            # the image, from Debian packages (scripts/image.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# Apache Kafka itself, pinned in scripts/kafka/pom.xml, from Maven Central
# into a cache folder (once): the integration tests also run on it.
bash "$(dirname "$0")/kafka.sh" install
