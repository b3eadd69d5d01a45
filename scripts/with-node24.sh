#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH: the runtime action.yml names (runs.using: node24).
# When the machine's node is another major, Node 24 is installed from the npm registry
# (package node-linux-<arch>) into .cache/node24 inside the project, once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want=24
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(major node)" != "$want" ]; then
  prefix="$root/.cache/node$want"
  bin="$prefix/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')/bin"
  if [ ! -x "$bin/node" ] || [ "$(major "$bin/node")" != "$want" ]; then
    echo "with-node24: installing Node $want from the npm registry into $prefix" >&2
    mkdir -p "$prefix"
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$prefix" \
      "node-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')@$want" >&2
  fi
  export PATH="$bin:$PATH"
fi
exec "$@"
