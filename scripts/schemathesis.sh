#!/usr/bin/env bash
# Schemathesis against a live release build of rapport: phases examples, coverage, fuzzing and
# stateful, every check, authenticated as a freshly registered user. Fails on any failure, on
# more excused rejections than tests/schemathesis/excuse-baseline, and on an operation that never
# answered 2xx. Runs on SQLite, and on
# PostgreSQL too when RAPPORT_TEST_DATABASE_URL names a PostgreSQL server (any database on it;
# a scratch database is created and dropped). Zero failures or it exits non-zero.
#
#   scripts/schemathesis.sh                # SQLite only
#   RAPPORT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/schemathesis.sh
#
# ST_MAX_EXAMPLES (default 40) bounds the cases per operation and phase; ST_SEED fixes the seed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
VENV=target/tools/schemathesis
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-40}
OUT=target/schemathesis
mkdir -p "$OUT"

if [[ ! -x $VENV/bin/schemathesis ]] || [[ $($VENV/bin/schemathesis --version) != *" $VERSION" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

# ST_BINARY runs an existing build instead (a debug build iterates faster).
BIN=${ST_BINARY:-target/release/rapport}
[[ -n ${ST_BINARY:-} ]] || cargo build --release --locked --quiet

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

SERVER_PID=
stop_server() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }
trap stop_server EXIT

# POSTs JSON and prints the response body; fails on a non-2xx answer.
post() { curl -sS --fail-with-body -X POST "$API$1" -H 'Content-Type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} -d "$2"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

run_on() {
  local backend=$1 database_url=$2 port
  port=$(free_port)
  API="http://127.0.0.1:$port"
  # Throttles are per process and would answer 429 to a fuzzer that registers and logs in
  # thousands of times; the integration tests cover them.
  RAPPORT_BIND="127.0.0.1:$port" RAPPORT_DATABASE_URL="$database_url" \
    RAPPORT_JWT_SECRET="schemathesis-run-secret-0123456789abcdef" RAPPORT_LOG_FILTER=warn \
    RAPPORT_REGISTRATIONS_PER_IP=1000000 RAPPORT_LOGIN_FAILURES_PER_IP=1000000 \
    RAPPORT_LOGIN_FAILURES_PER_ACCOUNT=1000000 \
    "$BIN" serve >"$OUT/server-$backend.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "$API/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "$API/readyz" >/dev/null || { cat "$OUT/server-$backend.log"; exit 1; }

  TOKEN=
  post /v1/auth/register '{"email": "schemathesis@example.com", "password": "correct horse battery", "display_name": "Schemathesis"}' >/dev/null
  TOKEN=$(post /v1/auth/token '{"email": "schemathesis@example.com", "password": "correct horse battery"}' | json_field access_token)
  export RAPPORT_ST_CONTACT_ID RAPPORT_ST_OTHER_CONTACT_ID RAPPORT_ST_CONVERSATION_ID RAPPORT_ST_OFFER_ID RAPPORT_ST_ASK_ID
  RAPPORT_ST_CONTACT_ID=$(post /v1/contacts '{"full_name": "Grace Hopper", "cadence_days": 30}' | json_field id)
  RAPPORT_ST_OTHER_CONTACT_ID=$(post /v1/contacts '{"full_name": "Alan Turing"}' | json_field id)
  RAPPORT_ST_CONVERSATION_ID=$(post /v1/conversations "{\"occurred_at\": \"2026-01-05T10:00:00Z\", \"channel\": \"coffee\", \"summary\": \"Coffee\", \"participant_ids\": [\"$RAPPORT_ST_CONTACT_ID\"]}" | json_field id)
  RAPPORT_ST_OFFER_ID=$(post /v1/value-offers "{\"contact_id\": \"$RAPPORT_ST_CONTACT_ID\", \"kind\": \"article\", \"title\": \"An article\"}" | json_field id)
  RAPPORT_ST_ASK_ID=$(post /v1/asks "{\"contact_id\": \"$RAPPORT_ST_CONTACT_ID\", \"kind\": \"advice\", \"title\": \"Advice\"}" | json_field id)
  export RAPPORT_ST_API=$API RAPPORT_ST_TOKEN=$TOKEN RAPPORT_ST_EMAIL=schemathesis@example.com \
    RAPPORT_ST_PASSWORD="correct horse battery"

  echo "schemathesis $VERSION on $backend: $API, up to $MAX_EXAMPLES examples per operation and phase"
  local status=0
  # U+0000 is allowed in generated text: every text schema's pattern rules it out where the
  # server does. --generation-database none: every run starts from its seed, and leaves no cache behind.
  local filtered="$OUT/filtered-$backend.txt" calls="$OUT/calls-$backend.txt"
  : >"$filtered"
  : >"$calls"
  RAPPORT_ST_FILTERED_LOG="$filtered" RAPPORT_ST_CALLS_LOG="$calls" \
    PYTHONPATH=tests/schemathesis SCHEMATHESIS_HOOKS=hooks \
    "$VENV/bin/schemathesis" run openapi/openapi.json \
      --url "$API" \
      --header "Authorization: Bearer $TOKEN" \
      --phases examples,coverage,fuzzing,stateful \
      --checks all \
      --max-examples "$MAX_EXAMPLES" \
      --generation-database none \
      --seed "${ST_SEED:-20261126}" \
      --no-color \
      --report junit --report-junit-path "$OUT/junit-$backend.xml" \
      >"$OUT/run-$backend.txt" 2>&1 || status=$?
  stop_server
  grep -E "generated|Failures:|ST[0-9]{3}|passed|failures" "$OUT/run-$backend.txt" | tail -n 12 || true
  local cases
  cases=$(grep -oE '[0-9]+ generated' "$OUT/run-$backend.txt" | head -n1 | cut -d' ' -f1)
  if (( status != 0 )); then
    echo "schemathesis on $backend failed (exit $status); full output: $OUT/run-$backend.txt" >&2
    sed -n '/FAILURES/,/SUMMARY/p' "$OUT/run-$backend.txt" | head -n 200 >&2
    exit "$status"
  fi
  # A statistics range without `to` ends today, so how many of the seeded run's ranges break the
  # stated two-year rule changes with the day of the run (12 on 2026-12-01, 13 the day after):
  # those are listed but not held to the baseline, which counts the refusals that depend on
  # stored state.
  local excused dated
  dated=$(grep -c '^GET /v1/stats 400 invalid_range ' "$filtered" || true)
  excused=$(( $(wc -l <"$filtered") - dated ))
  echo "schemathesis on $backend: ${cases:-?} test cases, 0 failures;" \
    "$excused rejections of schema-valid requests excused by tests/schemathesis/hooks.py," \
    "and $dated statistics ranges that break the stated rule as of today:"
  sort "$filtered" | uniq -c | sort -rn | head -n 40
  if (( excused > EXCUSE_BASELINE )); then
    echo "schemathesis on $backend: $excused excused rejections, more than the baseline of" \
      "$EXCUSE_BASELINE (tests/schemathesis/excuse-baseline): a rule the document does not state?" >&2
    exit 1
  fi
  # Every operation must be seen to succeed at least once.
  python3 - "$calls" "$backend" <<'PY'
import json, sys
from collections import defaultdict
calls, backend = sys.argv[1], sys.argv[2]
spec = json.load(open("openapi/openapi.json"))
operations = [(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "patch", "delete", "put")]
seen = defaultdict(list)
for line in open(calls):
    method, path, status = line.split()
    seen[(method, path)].append(int(status))
missing = []
print(f"schemathesis on {backend}: answers per operation (2xx of all)")
for method, path in sorted(operations, key=lambda o: (o[1], o[0])):
    statuses = seen[(method, path)]
    ok = sum(200 <= s < 300 for s in statuses)
    print(f"  {'ok ' if ok else 'NO '} {method:6} {path}: {ok} of {len(statuses)}")
    if not ok:
        missing.append(f"{method} {path}")
if missing:
    sys.exit(f"schemathesis on {backend}: {len(missing)} operations never answered 2xx: {', '.join(missing)}")
PY
}

EXCUSE_BASELINE=$(tr -dc '0-9' <tests/schemathesis/excuse-baseline)

rm -f "$OUT"/schemathesis.db*
run_on sqlite "sqlite://$(pwd)/$OUT/schemathesis.db?mode=rwc"

if [[ -n ${RAPPORT_TEST_DATABASE_URL:-} ]]; then
  scratch="rapport_schemathesis_$$"
  pg_url="${RAPPORT_TEST_DATABASE_URL%/*}/$scratch"
  run_on postgres "$pg_url"
  psql "$RAPPORT_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null
else
  echo "SKIPPED schemathesis on postgres: RAPPORT_TEST_DATABASE_URL is not set"
fi
