#!/usr/bin/env bash
# Installs the pinned schemathesis (the OpenAPI fuzzer the contract test runs) into its own venv
# under .tools/ (git-ignored). Idempotent and instant when the pinned version is in place.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5 # PyPI schemathesis; every dependency pinned in schemathesis-requirements.txt

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/schemathesis"
stamp="$venv/.version"
if [[ -x "$venv/bin/st" && "$(cat "$stamp" 2>/dev/null)" == "$SCHEMATHESIS_VERSION" ]]; then exit 0; fi
python="$(command -v python3 || command -v python || true)"
if [[ -z "$python" ]]; then
  echo "install-schemathesis: python3 (with venv and pip) is needed to install schemathesis==$SCHEMATHESIS_VERSION" >&2; exit 1
fi
echo "install-schemathesis: installing schemathesis==$SCHEMATHESIS_VERSION into .tools/schemathesis" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/scripts/schemathesis-requirements.txt" >&2
echo "$SCHEMATHESIS_VERSION" > "$stamp"
