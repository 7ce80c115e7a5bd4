#!/usr/bin/env bash
# Prepare bench/gpu/check.py for a GPU machine that reaches no package index: wheels of what its image
# lacks go to .whl/, a few MB of statutes to .gpu_corpus/ (both git-ignored through .git/info/exclude),
# and the one command to run there is printed. Run from the repository root, then copy the checkout with
# .whl/ and .gpu_corpus/ to the GPU machine:
#
#   bash bench/gpu/prepare.sh
#
# The image is assumed to hold torch, transformers, sentence-transformers, numpy, pandas, pyarrow, grpcio,
# httpx, rich, typer and tiktoken; everything else legalrag imports on the GPU path travels here. Korean
# BM25 (kiwipiepy's 105 MB model) is left out to keep the copy small, so the check's ingest runs without
# sparse vectors.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
grep -qx '/.gpu_corpus/' .git/info/exclude 2>/dev/null || echo '/.gpu_corpus/' >> .git/info/exclude
rm -rf .whl .gpu_corpus && mkdir -p .whl .gpu_corpus
PLATFORMS=()
for n in 2_39 2_35 2_34 2_31 2_28 2_27 2_24 2_17 2014 1; do
  case $n in 2014|1) PLATFORMS+=(--platform "manylinux${n}_x86_64");; *) PLATFORMS+=(--platform "manylinux_${n}_x86_64");; esac
done
# the versions this checkout's environment runs (a consistent set: pydantic pins pydantic-core exactly)
NAMES=(qdrant-edge-py qdrant-client h2 hpack hyperframe pydantic pydantic-core pydantic-settings python-dotenv
  typing-inspection annotated-types langchain-core langchain-text-splitters langsmith jsonpatch jsonpointer
  tenacity orjson requests-toolbelt zstandard uuid-utils datasets dill multiprocess
  ray msgpack jsonschema jsonschema-specifications referencing rpds-py attrs fsspec)
mapfile -t WHEELS < <("$PY" -c '
import importlib.metadata as m, sys
for name in sys.argv[1:]:
    try:
        print(f"{name}=={m.version(name)}")
    except m.PackageNotFoundError:
        print(name)
' "${NAMES[@]}")
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" -d .whl "${WHEELS[@]}"
# legalrag itself as a wheel: building it there would need a newer setuptools than the image may hold
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w .whl .
"$PY" - <<'EOF'
import shutil, sys
from pathlib import Path
from bench.common import legal_files
total = 0
for path in legal_files(max_mb=4.0):
    target = Path(".gpu_corpus") / path.name
    shutil.copyfile(path, target)
    total += target.stat().st_size
print(f".gpu_corpus: {total / 1e6:.1f} MB")
EOF
du -sh .whl .gpu_corpus
cat <<'EOF'

On the GPU machine, from the copied checkout (writes gpu.json and log.txt to $OUT):

R=$PWD; OUT=${OUT:-$R/out}; mkdir -p $OUT; python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && cd /tmp && PYTHONPATH=/tmp/site:$R PYTHONUNBUFFERED=1 python3 -m bench.gpu.check --corpus $R/.gpu_corpus --no-sparse --out $OUT/gpu.json 2>&1 | tee $OUT/log.txt

The Ray engine's scaling over every GPU of the machine (1 worker, then one per GPU; a few minutes):

cd /tmp && PYTHONPATH=/tmp/site:$R PYTHONUNBUFFERED=1 python3 -m bench.gpu.ray_scaling --corpus $R/.gpu_corpus 2>&1 | tee $OUT/ray_scaling.txt

(from /tmp, with /tmp/site first on the path: the checkout's legalrag/ folder holds the import root alone
and would shadow the installed package, in `python -m legalrag.ingest.prepare` too. The GPU tests, likewise:
`cd /tmp && PYTHONPATH=/tmp/site:$R PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python3 -m pytest -c $R/pyproject.toml --rootdir $R -m gpu $R/tests/gpu`;
no plugin autoload: langsmith's pytest plugin needs sniffio, which is not copied)
EOF
