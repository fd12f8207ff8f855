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
echo "fixtures: ok (libonnx-testdata at /usr/share/libonnx-testdata/data)"
