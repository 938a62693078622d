#!/usr/bin/env bash
# npm run cluster [-- --check]: install what is missing (npm packages, the pinned Temporal server, its
# SQL tool and Web UI, PostgreSQL), then run the local cluster (scripts/cluster.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SAGA_PROFILE=cluster bash scripts/ensure-deps.sh
exec node --import tsx scripts/cluster.ts "$@"
