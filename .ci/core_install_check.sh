#!/usr/bin/env bash
# Issue 28: the answer comes with the install. In a fresh venv with exactly the README's first install line
# (`pip install torch==2.13.0 && pip install -e .`, no extras), `kcnn effects` prints the effects table.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/core-venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet torch==2.13.0
"$venv/bin/python" -m pip install --quiet -e .
store="$(mktemp -d)/store"
KERAS_BACKEND=torch "$venv/bin/python" .ci/effects_store.py "$store"
out="$(KERAS_BACKEND=torch "$venv/bin/kcnn" effects --store "$store")"
echo "$out"
grep -q "Which hyperparameters matter" <<<"$out" && grep -q "real (p" <<<"$out"
echo "core install: kcnn effects answered without any extra"
