#!/usr/bin/env bash
# Installs what the tests need beyond npm: Debian's ONNX conformance corpus (libonnx-testdata,
# 1,072 models with reference inputs/outputs) and the toolchain for native addons.
# Idempotent; needs root (as on CI and GitHub's hosted runners with sudo).
set -euo pipefail
need=()
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Public TF.js graph models (tfjs-converter output) for the graph import's end-to-end tests: BlazeFace,
# the liveness and the anti-spoofing classifiers from @vladmandic/human's tarball (pinned; a 28.6 MB
# download of which 2.1 MB is kept), fetched with npm pack into a gitignored cache, skipped when present.
HUMAN_VERSION=3.3.6
HUMAN_DIR="$(cd "$(dirname "$0")/.." && pwd)/test/.cache/vladmandic-human-$HUMAN_VERSION"
HUMAN_MODELS=(blazeface liveness antispoof)
if [ ! -f "$HUMAN_DIR/models/antispoof.bin" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack "@vladmandic/human@$HUMAN_VERSION" --silent >/dev/null)
  files=(package/LICENSE)
  for m in "${HUMAN_MODELS[@]}"; do files+=("package/models/$m.json" "package/models/$m.bin"); done
  tar -xzf "$tmp/vladmandic-human-$HUMAN_VERSION.tgz" -C "$tmp" "${files[@]}"
  mkdir -p "$HUMAN_DIR/models"
  mv "$tmp"/package/models/* "$HUMAN_DIR/models/"
  mv "$tmp/package/LICENSE" "$HUMAN_DIR/"
  rm -rf "$tmp"
fi
echo "fixtures: ok (libonnx-testdata at /usr/share/libonnx-testdata/data; TF.js graph models in test/.cache)"
