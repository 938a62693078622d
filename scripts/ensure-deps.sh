#!/usr/bin/env bash
# Installs what a fresh clone is missing: npm packages (exactly as locked), the pinned Temporal
# binaries and Prometheus. Instant when everything is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # `npm install` against the committed lock installs exactly the locked versions. Not `npm ci`: this
  # npm (11.19) writes locks without other platforms' optional binaries (@swc/core-*), and ci rejects those.
  echo "ensure-deps: installing npm packages from package-lock.json" >&2
  npm install --no-audit --no-fund >&2
fi
bash scripts/install-temporal.sh
# Prometheus for npm start and its integration test (Debian's package); elsewhere npm start runs without it.
bash scripts/install-prometheus.sh || echo "ensure-deps: continuing without Prometheus" >&2
bash scripts/install-schemathesis.sh
