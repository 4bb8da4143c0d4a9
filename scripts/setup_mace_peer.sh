#!/usr/bin/env bash
# Separate virtual environment for the MACE polarizability peer (benchmarks/polarizability.py):
# mace-torch pins e3nn 0.4.4, which conflicts with the e3nn 0.6 that sevenn needs in .venv.
# Offline-safe (PyPI only); the CPU torch build is installed first.  ~3 min.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-mace}
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q "mace-torch==0.3.16" h5py
"$VENV/bin/python" -c "from mace.modules import AtomicDielectricMACE; print('MACE peer ready')"
