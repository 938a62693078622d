#!/usr/bin/env bash
# Installs what the `cluster` profile runs, pinned, into .tools/bin (git-ignored), from public
# registries only:
#   temporal-server     go.temporal.io/server/cmd/server            (Go module proxy)
#   temporal-sql-tool   go.temporal.io/server/cmd/tools/sql         (same module: its schemas are embedded)
#   temporal-ui-server  github.com/temporalio/ui-server/v2/cmd/server (the Web UI for a remote frontend)
#   PostgreSQL 15       Debian's postgresql-15 package (apt)
# The server needs a newer Go than Debian's; any `go` >= 1.21 fetches the pinned toolchain itself
# (GOTOOLCHAIN, from the Go module proxy). Building takes 7-15 minutes on 2 cores, once.
# Idempotent and instant when the pinned versions are in place.
set -euo pipefail

TEMPORAL_SERVER_VERSION=1.32.2
TEMPORAL_UI_SERVER_VERSION=2.54.1      # the version the pinned Temporal CLI (1.9.1) embeds
GO_TOOLCHAIN=go1.26.10                 # the server's go.mod needs >= 1.26.10
POSTGRES_MAJOR=15
POSTGRES_DEB_VERSION=15.18-0+deb12u1   # `apt-cache policy postgresql-15`, Debian 12 (bookworm)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

say() { echo "install-cluster: $*" >&2; }

go_install() { # <version> <module>@<version> <binary-name>=<package-path-in-module>...
  local version="$1" module="$2"; shift 2
  local missing=()
  for pair in "$@"; do
    local name="${pair%%=*}"
    [[ -x "$bin/$name" && "$(cat "$bin/.$name.version" 2>/dev/null)" == "$version" ]] || missing+=("$pair")
  done
  ((${#missing[@]})) || return 0
  if ! command -v go >/dev/null; then
    say "Go (any version >= 1.21) is needed to build ${missing[*]%%=*}; install it (https://go.dev/dl) and run again"; exit 1
  fi
  local gobin="$root/.tools/go-build/${module##*/}-$version" pkgs=()
  for pair in "${missing[@]}"; do pkgs+=("${module%@*}${pair#*=}@${module#*@}"); done
  mkdir -p "$gobin"
  say "building ${pkgs[*]} with $GO_TOOLCHAIN (niced; once: the Temporal server takes 7-15 min on 2 cores)"
  local t0=$SECONDS
  # One `go install` for packages of one module: they share the compile.
  GOTOOLCHAIN="$GO_TOOLCHAIN" GOBIN="$gobin" nice -n 10 go install "${pkgs[@]}" >&2
  for pair in "${missing[@]}"; do
    local name="${pair%%=*}" pkg="${pair#*=}"
    install -m 0755 "$gobin/$(basename "$pkg")" "$bin/$name.partial"
    mv "$bin/$name.partial" "$bin/$name" # atomic: a half-written binary is never picked up
    echo "$version" > "$bin/.$name.version"
  done
  say "built ${missing[*]%%=*} in $((SECONDS - t0)) s"
}

install_postgres() {
  local pgbin="/usr/lib/postgresql/$POSTGRES_MAJOR/bin"
  if [[ -x "$pgbin/initdb" && -x "$pgbin/postgres" ]]; then
    local have; have="$(dpkg-query -W -f='${Version}' "postgresql-$POSTGRES_MAJOR" 2>/dev/null || true)"
    [[ "$have" == "$POSTGRES_DEB_VERSION" ]] || say "note: postgresql-$POSTGRES_MAJOR $have is installed (pinned: $POSTGRES_DEB_VERSION); using it"
    return 0
  fi
  if [[ "$(id -u)" != 0 ]]; then
    say "PostgreSQL $POSTGRES_MAJOR is missing: sudo apt-get install postgresql-$POSTGRES_MAJOR=$POSTGRES_DEB_VERSION"; exit 1
  fi
  say "installing postgresql-$POSTGRES_MAJOR=$POSTGRES_DEB_VERSION from Debian"
  # The project runs its own PostgreSQL under .data/: the package must not create (and start) a system-wide one.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/saga-coordinator.conf
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "postgresql-$POSTGRES_MAJOR=$POSTGRES_DEB_VERSION" >&2
}

install_postgres
command -v openssl >/dev/null || { say "openssl is needed (apt-get install openssl)"; exit 1; }
go_install "$TEMPORAL_UI_SERVER_VERSION" "github.com/temporalio/ui-server/v2@v$TEMPORAL_UI_SERVER_VERSION" temporal-ui-server=/cmd/server
go_install "$TEMPORAL_SERVER_VERSION" "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" temporal-server=/cmd/server temporal-sql-tool=/cmd/tools/sql
