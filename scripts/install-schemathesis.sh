#!/usr/bin/env bash
# Installs the pinned schemathesis (the OpenAPI fuzzer test/integration/fuzz.test.ts runs) into its
# own environment under .tools/ (git-ignored): a venv, or, where Python has no venv module (Debian
# without python3-venv), a plain target directory with a small `st` wrapper. Idempotent and
# instant when the pinned set is in place.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5 # PyPI schemathesis; it and every dependency pinned in schemathesis-requirements.txt

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/scripts/schemathesis-requirements.txt"
dir="$root/.tools/schemathesis"
stamp="$dir/.requirements"
if [[ -x "$dir/bin/st" ]] && cmp -s "$stamp" "$requirements"; then exit 0; fi
python="$(command -v python3 || command -v python || true)"
if [[ -z "$python" ]]; then
  echo "install-schemathesis: python3 with pip is needed to install schemathesis==$SCHEMATHESIS_VERSION" >&2; exit 1
fi
echo "install-schemathesis: installing schemathesis==$SCHEMATHESIS_VERSION into .tools/schemathesis" >&2
rm -rf "$dir"
if "$python" -m venv "$dir" >/dev/null 2>&1; then
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
else
  rm -rf "$dir" && mkdir -p "$dir/bin"
  "$python" -m pip install --quiet --disable-pip-version-check --target "$dir/lib" -r "$requirements" >&2
  cat > "$dir/bin/st" <<SH
#!/usr/bin/env bash
PYTHONPATH="$dir/lib\${PYTHONPATH:+:\$PYTHONPATH}" exec "$python" -m schemathesis.cli "\$@"
SH
  chmod +x "$dir/bin/st"
fi
cp "$requirements" "$stamp"
