#!/usr/bin/env bash
# mypy over the package by its real name, from the tree tools/package_tree.sh lays out.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(bash tools/package_tree.sh)
MYPYPATH="$tree" exec "${MYPY:-mypy}" -p legalrag "$@"
