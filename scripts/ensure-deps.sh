#!/usr/bin/env bash
# Installs what a fresh clone is missing: npm packages (exactly as locked), the pinned Temporal
# binaries and Prometheus; with SAGA_PROFILE=cluster also the cluster's (scripts/install-cluster.sh).
# Instant when everything is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ ! -d node_modules ]]; then
  echo "ensure-deps: installing npm packages from package-lock.json (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
elif [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # The lock changed since the last install (a pull): bring node_modules up to it, leaving the lock as it is.
  echo "ensure-deps: updating npm packages to package-lock.json" >&2
  npm install --no-audit --no-fund >&2
fi
bash scripts/install-temporal.sh
# Prometheus for npm start and its integration test (Debian's package); elsewhere npm start runs without it.
bash scripts/install-prometheus.sh || echo "ensure-deps: continuing without Prometheus" >&2
bash scripts/install-schemathesis.sh
if [[ "${SAGA_PROFILE:-}" == cluster ]]; then bash scripts/install-cluster.sh; fi
