#!/usr/bin/env bash
# Lay out build/typecheck/legalrag as the installed package looks (plugin/ → legalrag/plugin, ...), as
# symlinks: mypy and the docs' API reference read the package by its real name from there, since neither
# follows setuptools' package-dir mapping. Prints the tree's path.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/legalrag"
for f in legalrag/*; do ln -s "$PWD/$f" "$tree/legalrag/$(basename "$f")"; done
for pkg in plugin ingest eval train; do ln -s "$PWD/$pkg" "$tree/legalrag/$pkg"; done
echo "$tree"
