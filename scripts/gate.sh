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
# Every line a check prints starting with SKIPPED names a check that did not run; the gate
# lists them all at the end, so that a green gate never hides one.
skipped=$(mktemp) out=$(mktemp)
trap 'rm -f "$skipped" "$out"' EXIT
timed() {
  local name=$1 begin
  shift
  begin=$(date +%s)
  printf '\n--> %s\n' "$name"
  "$@" | tee "$out"
  grep '^SKIPPED' "$out" >>"$skipped" || true
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
if [[ -s $skipped ]]; then
  printf '\ngate: every check that ran passed in %ss; %s did not run:\n' \
    $(($(date +%s) - started)) "$(wc -l <"$skipped")"
  sed 's/^SKIPPED /  - /' "$skipped"
else
  printf '\ngate: all checks passed in %ss, none skipped\n' $(($(date +%s) - started))
fi
