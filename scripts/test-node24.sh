#!/usr/bin/env bash
# The committed action under Node 24, the runtime GitHub runs it on (action.yml: runs.using node24): the end-to-end
# tests of dist/ run with vitest itself on Node 24, so the action, the CLI and the benchmark workers they fork
# (process.execPath) all run on it, with the native addons (onnxruntime-node, tfjs-tflite-node) loaded by it.
# Extra arguments go to vitest (e.g. another test file).
set -euo pipefail
cd "$(dirname "$0")/.."
node24="$(bash scripts/node24.sh)"
echo "Node $("$node24" --version): $node24"
"$node24" -e "require('onnxruntime-node'); console.log('onnxruntime-node loads')"
"$node24" -e "
  const path = require('node:path');
  let dir;
  try { dir = path.dirname(require.resolve('tfjs-tflite-node/package.json')); } catch { console.log('tfjs-tflite-node not installed (optional)'); process.exit(0); }
  require(path.join(dir, 'build/Release/node_tflite_binding.node'));
  console.log('tfjs-tflite-node addon loads');
"
PATH="$(dirname "$node24"):$PATH" "$node24" node_modules/vitest/vitest.mjs run test/action.e2e.test.ts test/dist-bundle.e2e.test.ts "$@"
