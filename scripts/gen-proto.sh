#!/usr/bin/env bash
# Regenerates src/model/proto/onnx.{js,d.ts} from the vendored official schema
# (src/model/proto/onnx.proto, copied from Debian's libonnx-dev 1.12, Apache-2.0).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/model/proto
npx pbjs -t static-module -w es6 --no-verify --no-delimited --no-convert --no-service -o "$out/onnx.js" "$out/onnx.proto"
npx pbts -o "$out/onnx.d.ts" "$out/onnx.js"
# Node's ESM resolver needs the file extension on the protobufjs subpath.
sed -i 's#"protobufjs/minimal"#"protobufjs/minimal.js"#' "$out/onnx.js"
sed -i 's#"protobufjs"#"protobufjs/minimal.js"#' "$out/onnx.d.ts"
# protobufjs is CommonJS: only a default import sees all of it under Node's ESM loader (tsx, node).
sed -i 's#^import \* as \$protobuf from "protobufjs/minimal.js";#import $protobuf from "protobufjs/minimal.js";#' "$out/onnx.js"
