#!/usr/bin/env bash
# npm start: install what is missing, then run the supervisor.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
exec node --import tsx scripts/start.ts
