#!/usr/bin/env bash
# npm run test:cluster: the integration suite's core files and test/cluster/ against the local
# multi-service cluster (SAGA_PROFILE=cluster; installs the cluster's binaries and PostgreSQL when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SAGA_PROFILE=cluster
bash scripts/ensure-deps.sh
mkdir -p .data/test
npx --no-install jest --config jest.cluster.config.js --json --outputFile=.data/test/results-cluster.json "$@"
