#!/usr/bin/env bash
# Lints openapi/openapi.json with Redocly CLI (`recommended`) and Spectral (`spectral:oas`).
# Passes only with zero errors and zero warnings from both. Installs the pinned tools with npm
# into target/tools/spec-lint on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

REDOCLY=@redocly/cli@2.77.0
SPECTRAL=@stoplight/spectral-cli@6.16.3
TOOLS=target/tools/spec-lint
SPEC=openapi/openapi.json

if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! -x $TOOLS/node_modules/.bin/redocly || ! -x $TOOLS/node_modules/.bin/spectral ]]; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "$REDOCLY" "$SPECTRAL" >/dev/null
fi
# Both tools must be the pinned versions, even in a reused tools directory.
[[ $("$TOOLS/node_modules/.bin/redocly" --version 2>/dev/null | tail -n1) == "${REDOCLY##*@}" ]] \
  || { echo "lint-spec: Redocly is not ${REDOCLY##*@}; delete $TOOLS" >&2; exit 1; }

operations=$(python3 -c "import json; d=json.load(open('$SPEC')); print(sum(len([m for m in p if m in ('get','post','put','patch','delete')]) for p in d['paths'].values()))")

redocly_totals=$("$TOOLS/node_modules/.bin/redocly" lint "$SPEC" --format=json 2>/dev/null \
  | python3 -c "import json,sys; t=json.load(sys.stdin)['totals']; print(t['errors'], t['warnings'])")
read -r redocly_errors redocly_warnings <<<"$redocly_totals"
if (( redocly_errors + redocly_warnings > 0 )); then
  "$TOOLS/node_modules/.bin/redocly" lint "$SPEC" --format=stylish 2>/dev/null || true
  echo "lint-spec: Redocly found $redocly_errors errors and $redocly_warnings warnings" >&2
  exit 1
fi

if ! "$TOOLS/node_modules/.bin/spectral" lint --quiet --ruleset .spectral.yaml --fail-severity=warn "$SPEC"; then
  "$TOOLS/node_modules/.bin/spectral" lint --ruleset .spectral.yaml "$SPEC" || true
  echo "lint-spec: Spectral found problems" >&2
  exit 1
fi

echo "lint-spec: $operations operations; Redocly ${REDOCLY##*@} (recommended) and Spectral ${SPECTRAL##*@} (spectral:oas): 0 errors, 0 warnings"
