#!/usr/bin/env bash
# Swagger UI in a real browser (tests/browser/swagger-ui.mjs): Debian's chromium, driven by
# the pinned playwright-core, against a live release build on a scratch SQLite database.
# Installs chromium (apt) and playwright-core (npm, into target/tools/browser) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT=playwright-core@1.65.1
TOOLS=target/tools/browser

if [[ ! -x /usr/bin/chromium ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! -f $TOOLS/node_modules/playwright-core/package.json ]] \
  || ! grep -q "\"version\": \"${PLAYWRIGHT##*@}\"" "$TOOLS/node_modules/playwright-core/package.json"; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "$PLAYWRIGHT" >/dev/null
fi

BIN=${RAPPORT_BINARY:-target/release/rapport}
[[ -n ${RAPPORT_BINARY:-} ]] || cargo build --release --locked --quiet
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RAPPORT_BIND="127.0.0.1:$port" RAPPORT_DATABASE_URL="sqlite://$work/rapport.db?mode=rwc" \
  RAPPORT_LOG_FILTER=warn "$BIN" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

json='Content-Type: application/json'
curl -sf -X POST "$base/v1/auth/register" -H "$json" \
  -d '{"email": "browser@example.com", "password": "correct horse battery", "display_name": "Browser"}' >/dev/null
token=$(curl -sf -X POST "$base/v1/auth/token" -H "$json" \
  -d '{"email": "browser@example.com", "password": "correct horse battery"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -X POST "$base/v1/contacts" -H "$json" -H "Authorization: Bearer $token" \
  -d '{"full_name": "Grace Hopper"}' >/dev/null

PLAYWRIGHT_CORE="$(pwd)/$TOOLS/node_modules/playwright-core/index.mjs" \
  RAPPORT_BASE="$base" RAPPORT_TOKEN="$token" node tests/browser/swagger-ui.mjs
