#!/usr/bin/env bash
# Tags a release of the action: vX.Y.Z on HEAD, and moves the major tag vX to it (what `uses: modelgate/modelgate@vX`
# resolves to). The version is package.json's. Refuses a dirty work tree, and a dist/ that a fresh build changes:
# runners execute the committed dist/, so a tag must point at a dist/ built from the tagged sources.
#
#   bash scripts/release.sh            tag locally and print the push command
#   bash scripts/release.sh --push     also push both tags to origin
set -euo pipefail
cd "$(dirname "$0")/.."

push=false
case "${1:-}" in
  --push) push=true ;;
  '') ;;
  *) echo "usage: scripts/release.sh [--push]" >&2; exit 2 ;;
esac

version="$(node -p "require('./package.json').version")"
if ! [[ "$version" =~ ^([0-9]+)\.[0-9]+\.[0-9]+$ ]]; then
  echo "release: package.json version '$version' is not X.Y.Z" >&2
  exit 1
fi
tag="v$version"
major="v${BASH_REMATCH[1]}"

if [ -n "$(git status --porcelain)" ]; then
  echo "release: the work tree has uncommitted changes; commit or stash them first:" >&2
  git status --short >&2
  exit 1
fi
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  echo "release: $tag already exists (at $(git rev-parse --short "$tag^{commit}")); bump the version in package.json" >&2
  exit 1
fi

echo "release: rebuilding dist/ to check it matches the sources"
npm run --silent build >/dev/null
git add --intent-to-add --all dist/
if ! git diff --quiet -- dist/; then
  git diff --stat -- dist/ >&2
  # Put dist/ back as committed: drop the intent-to-add entries, then the rebuilt files.
  git reset -q -- dist/ && git checkout -- dist/ && git clean -fdq -- dist/
  echo "release: the committed dist/ is out of date; run 'npm run build' and commit dist/ first" >&2
  exit 1
fi

git tag -a "$tag" -m "ModelGate $tag"
git tag -fa "$major" -m "ModelGate $major (currently $tag)" "$tag^{commit}"
echo "release: tagged $tag and moved $major to $(git rev-parse --short HEAD)"
if $push; then
  git push origin "refs/tags/$tag"
  git push --force origin "refs/tags/$major"
else
  echo "push with: git push origin $tag && git push --force origin $major"
fi
