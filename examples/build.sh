#!/usr/bin/env bash
# Rebuilds the example packages in examples/debs from the trees in
# examples/src. The built .debs are committed so the README's first command
# works on a fresh clone; this script is how they were made (dpkg-deb, with
# fixed timestamps and root ownership so rebuilds are byte-stable).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/debs"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for src in "$here"/src/*/; do
  name=$(basename "$src")
  cp -a "$src" "$work/$name"
  find "$work/$name" -exec touch -h -d '2026-01-01 00:00:00 UTC' {} +
  version=$(sed -n 's/^Version: //p' "$work/$name/DEBIAN/control")
  arch=$(sed -n 's/^Architecture: //p' "$work/$name/DEBIAN/control")
  SOURCE_DATE_EPOCH=1767225600 dpkg-deb --root-owner-group -Zxz --build "$work/$name" \
    "$out/${name}_${version}_${arch}.deb" >/dev/null
  echo "built $out/${name}_${version}_${arch}.deb"
done
