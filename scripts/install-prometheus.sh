#!/usr/bin/env bash
# Installs Prometheus from Debian's packages when it is missing, at the pinned version (what
# Debian 12 "bookworm" ships). npm start runs it itself on 127.0.0.1 with data under .data/, so the
# package's own service is kept from starting (it would take port 9090 for everyone). Instant when
# the pinned version is already there. Elsewhere: install Prometheus 2.x yourself and put it on PATH.
set -euo pipefail

PROMETHEUS_DEB_VERSION="2.42.0+ds-5+deb12u1"

if command -v prometheus >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || [[ "$(id -u)" != 0 ]]; then
  echo "install-prometheus: prometheus is not on PATH; install Prometheus 2.x (Debian: apt-get install prometheus=$PROMETHEUS_DEB_VERSION)" >&2
  exit 1
fi
echo "install-prometheus: installing Debian's prometheus=$PROMETHEUS_DEB_VERSION" >&2
if ! apt-cache show "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1; then apt-get update -qq >&2; fi

# policy-rc.d (Debian policy §9.3.3) keeps maintainer scripts from starting the packaged service.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=true
fi
trap '$own_policy && rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "prometheus=$PROMETHEUS_DEB_VERSION" >&2
command -v prometheus >/dev/null
