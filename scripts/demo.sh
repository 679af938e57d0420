#!/usr/bin/env bash
# The demo: set up, build, and build the demo service's whole generation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
./build/rendezvous check -c conf/demo.yaml
