#!/usr/bin/env bash
# Make .gpu/ (ignored; carried by the device tool) for run.sh: the prompts of k (fine-tuning) and h (replay)
# as annotations.json, and MiniLM packed under the tool's 64 MiB (exact for those prompts).
# usage: benchmarks/gpu/prepare.sh DATA   (DATA holds h/ and k/, e.g. demo_out/data)
set -euo pipefail
DATA=${1:?usage: prepare.sh DATA (a folder with h/ and k/)}
PYTHON=${PYTHON:-.venv/bin/python}
grep -qx "/.gpu/" .git/info/exclude || echo "/.gpu/" >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu
for d in h k; do $PYTHON -m nomocap data annotations "$DATA/$d" --out ".gpu/prompts/$d"; done
$PYTHON benchmarks/gpu/pack_minilm.py pack .gpu/site .gpu/prompts/h/annotations.json .gpu/prompts/k/annotations.json
find .gpu -name __pycache__ -prune -exec rm -rf {} +
du -sh .gpu
