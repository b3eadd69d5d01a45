#!/usr/bin/env bash
# Installs what the demo and the tests use when it is missing: Debian's docker-registry and skopeo,
# and the project's npm dependencies. (Node 24 comes from scripts/with-node24.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "docker-registry or skopeo is missing: install them (Debian/Ubuntu: sudo apt-get install docker-registry skopeo), then run this again" >&2
    exit 1
  fi
  echo "installing docker-registry and skopeo (Debian packages)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker-registry skopeo >/dev/null
fi
[ -d node_modules/undici ] || npm ci --no-audit --no-fund --silent
