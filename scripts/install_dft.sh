#!/usr/bin/env bash
# Install the first-principles reference codes used by ionraman.polarizability.reference (Debian 12).
#
#   quantum-espresso      pw.x + ph.x 6.7 (DFPT dielectric tensor, the reference polarizability)
#   openmpi-bin           mpirun for pw.x/ph.x (k-point pools)
#   libopenblas0-pthread  fast BLAS/LAPACK (the default reference BLAS makes pw.x/ph.x several times slower);
#                         it registers itself as the libblas.so.3 / liblapack.so.3 alternative
#   abinit, abinit-data   optional: cross-check of the psp8 -> UPF conversion (same psp8 read natively)
#
# and the SPMS ONCVPSP PBE pseudopotentials (psp8, GPL-3.0) from the sparc-x-api wheel into the venv.
# The psp8 -> UPF conversion itself happens at run time (ionraman.polarizability.reference.pseudopotentials),
# cached under $IONRAMAN_CACHE/pseudo (default ~/.cache/ionraman/pseudo).
#
# Usage: sudo scripts/install_dft.sh [--no-abinit]      (VENV=.venv by default)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PACKAGES=(quantum-espresso openmpi-bin libopenblas0-pthread)
if [[ "${1:-}" != "--no-abinit" ]]; then
    PACKAGES+=(abinit abinit-data)
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# Another process may hold the dpkg lock (parallel installs): wait for it rather than fail.
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${PACKAGES[@]}"

if [[ -x "$VENV/bin/python" ]]; then
    "$VENV/bin/python" -m pip install "sparc-x-api==1.1.0"
    "$VENV/bin/python" -m ionraman.polarizability.reference.pseudopotentials --check
else
    echo "note: no virtual environment at $VENV; install the pseudopotentials with: pip install sparc-x-api==1.1.0" >&2
fi

command -v pw.x ph.x mpirun
