#!/usr/bin/env bash
# The conformance and reliability gate: every check of tests/ and scripts/ that runs against a
# live release build, in one go. Each script also runs alone (see its header).
#   1 spec lint (Redocly, Spectral)      4 durability under kill -9
#   2 Schemathesis (SQLite, PostgreSQL)  5 concurrency
#   3 Swagger UI in chromium             6 scale-out on PostgreSQL   7 limits
#   8 disk full (SQLite on a loop-mounted 16 MiB filesystem)
# PostgreSQL checks run when RAPPORT_TEST_DATABASE_URL names a server.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
timed() {
  local name=$1 begin
  shift
  begin=$(date +%s)
  printf '\n--> %s\n' "$name"
  "$@"
  printf '    (%s: %ss)\n' "$name" $(($(date +%s) - begin))
}

cargo build --release --locked --quiet
export RAPPORT_BINARY=target/release/rapport ST_BINARY=target/release/rapport

timed "spec lint" bash scripts/lint-spec.sh
timed "schemathesis" bash scripts/schemathesis.sh
timed "swagger ui" bash scripts/swagger-ui.sh
timed "durability" python3 scripts/durability.py
timed "disk full" python3 scripts/disk_full.py
timed "concurrency" python3 scripts/concurrency.py
timed "scale-out" python3 scripts/scale_out.py
timed "limits" python3 scripts/limits.py
printf '\ngate: all checks passed in %ss\n' $(($(date +%s) - started))
