#!/usr/bin/env bash
# mypy cannot follow setuptools' package-dir mapping (plugin/ → legalrag.plugin, ...), so give it
# a tree of symlinks laid out as the installed package is, and check the package by its real name.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/legalrag"
for f in legalrag/*; do ln -s "$PWD/$f" "$tree/legalrag/$(basename "$f")"; done
for pkg in plugin ingest eval train; do ln -s "$PWD/$pkg" "$tree/legalrag/$pkg"; done
MYPYPATH="$tree" exec "${MYPY:-mypy}" -p legalrag "$@"
