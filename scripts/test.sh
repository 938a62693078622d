#!/usr/bin/env bash
# npm test: install what is missing, then typecheck, lint and run every test (unit, integration, replay).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
echo "== typecheck" && npx --no-install tsc --noEmit
echo "== lint" && npx --no-install eslint .
mkdir -p .data/test
echo "== tests" && npx --no-install jest --json --outputFile=.data/test/results-main.json "$@"
