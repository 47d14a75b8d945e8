#!/usr/bin/env bash
# Builds what the benchmarks need and runs scripts/bench.py (see its header). Installs wrk from
# Debian when missing. `--quick` is the smoke mode CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked --quiet --bin rapport --example framework_ceiling --example storage_ceiling
RAPPORT_BINARY=target/release/rapport exec python3 scripts/bench.py "$@"
