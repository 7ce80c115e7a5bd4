#!/usr/bin/env bash
# Build the documentation site into site/, strictly: a broken link, a missing page or an API name that
# does not resolve fails the build. The API reference reads the package from tools/package_tree.sh's tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/package_tree.sh >/dev/null
export NO_MKDOCS_2_WARNING=1
exec "${MKDOCS:-mkdocs}" build --strict --site-dir site "$@"
