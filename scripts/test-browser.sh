#!/usr/bin/env bash
# npm run test:browser: the Web UI walk-through in headless Chromium (test/browser/). Installs Debian's
# chromium when missing (playwright-core never downloads a browser) and the npm packages and Temporal
# binaries, then runs the test, which starts and stops everything it needs on free ports.
# SAGA_PROFILE=cluster: the same walk-through on the local cluster's Web UI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
bash scripts/ensure-deps.sh
mkdir -p .data/test
npx --no-install jest -c jest.browser.config.js --json --outputFile=".data/test/results-browser${SAGA_PROFILE:+-$SAGA_PROFILE}.json" "$@"
