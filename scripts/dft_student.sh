#!/usr/bin/env bash
# The DFT-anchored NEP student of Na-Sb-W-S, step by step and resumable.
#
#   nohup scripts/dft_student.sh labels  > out/dft/student.log 2>&1 &   # DFT forces (hours)
#   scripts/dft_student.sh train [ROUND]                                # student on rounds <= ROUND
#                                                                       # (PRETRAIN=pool or FINETUNE=nep.txt)
#   scripts/dft_student.sh explore ROUND                                # student MD -> scf/al_ROUND
#   scripts/dft_student.sh audit                                        # every model vs DFT
#
# labels   QE pw.x SCF (energy, forces, stress) of the reference snapshots (training and held-out
#          splits: src/ionraman/data/reference/snapshots_*.extxyz, 15-32 atoms, MD at 300-900 K of
#          t-/c-Na3SbS4 and W-doped cells, plus rattled/strained cells), the stretch displacements
#          of t-Na3SbS4, and every active-learning round's snapshots; records in
#          src/ionraman/data/reference/scf/ (committed), raw runs in out/dft/scf_work (scratch).
#          Two single-rank workers share the work (per-structure locks); run it again to resume.
# train    ionraman forcefield train on scf/train + scf/al_001..ROUND, held-out scf/heldout,
#          pre-trained on the 7net-l3i5 pool (scripts/pretrain_pool.py makes a new one)
#          -> out/dft/student_rROUND (copy to src/ionraman/data/forcefields/<name> to ship).
#          The shipped nep-na-sb-w-s is `train 3`; scf/al_004 is its held-out contact check.
# explore  student MD of 16-32-atom cells at 300/600/900 K; the frames it extrapolates most on
#          (MaxVol grade) become scf/al_ROUND/snapshots.extxyz, labelled by the next `labels`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
IR=${IR:-.venv/bin/ionraman}
DATA=src/ionraman/data/reference
SCF=$DATA/scf
WORK=${WORK:-out/dft/scf_work}
SETTINGS=(--kspacing 0.5 --ecutwfc 44 --ranks 1 --npool 1)
export OMP_NUM_THREADS=1

label() {  # label FILE OUTDIR: two workers on one file, then one pass that writes the union
    local file=$1 out=$2
    "$IR" reference forces "$file" --out "$out" --workdir "$WORK" "${SETTINGS[@]}" --quiet &
    sleep 5
    "$IR" reference forces "$file" --out "$out" --workdir "$WORK" "${SETTINGS[@]}" --quiet || true
    wait || true
    "$IR" reference forces "$file" --out "$out" --workdir "$WORK" "${SETTINGS[@]}" --quiet
}

rounds() {  # active-learning rounds with labels, up to $1
    local max=${1:-999}
    for d in "$SCF"/al_*; do
        [[ -f $d/labelled.extxyz ]] || continue
        local n=${d##*_}
        ((10#$n <= max)) && echo "$d/labelled.extxyz"
    done
}

case "${1:-labels}" in
labels)
    mkdir -p out/dft
    label "$DATA/snapshots_heldout.extxyz" "$SCF/heldout"
    label "$DATA/snapshots_train.extxyz" "$SCF/train"
    "$PY" -c "
from ionraman.forcefields.audit import STRETCH_RECORDS, dft_stretch_reference, shipped_scf_dir
from ionraman.polarizability.reference.qe import QESettings
from ionraman.structures import load_structure
dft_stretch_reference(load_structure('t-Na3SbS4'), shipped_scf_dir() / STRETCH_RECORDS / 't-Na3SbS4',
                      '$WORK', QESettings(kspacing_inv_A=0.5, mpi_ranks=1, npool=1))"
    for d in "$SCF"/al_*; do
        [[ -f $d/snapshots.extxyz ]] && label "$d/snapshots.extxyz" "$d"
    done
    ;;
train)
    round=${2:-999}
    mapfile -t extra < <(rounds "$round")
    if [[ -n ${FINETUNE:-} ]]; then start=(--finetune-from "$FINETUNE")
    else start=(--pretrain "${PRETRAIN:-$DATA/pretrain/pool_7net-l3i5.extxyz.gz}"); fi
    "$IR" forcefield train "$SCF/train/labelled.extxyz" "${extra[@]}" \
        --test "$SCF/heldout/labelled.extxyz" --out "out/dft/student_r${2:-all}" \
        --epochs "${EPOCHS:-300}" --zbl 1.8 "${start[@]}"
    ;;
explore)
    round=$(printf "%03d" "${2:?round number}")
    prev=$((10#$round - 1))
    student=out/dft/student_r$prev/nep.txt
    "$IR" forcefield explore "$student" t-Na3SbS4 c-Na3SbS4 "c-Na3SbS4:W0.5" \
        "t-Na3SbS4@2x1x1" "c-Na3SbS4@2x1x1" -T 300 -T 600 -T 900 --time "${TIME:-10ps}" \
        --max-new "${MAX_NEW:-30}" --seed "$((10#$round))" --out "out/dft/explore_$round"
    mkdir -p "$SCF/al_$round"
    cp "out/dft/explore_$round/selected.extxyz" "$SCF/al_$round/snapshots.extxyz"
    ;;
audit)
    "$IR" forcefield audit "$SCF/heldout/labelled.extxyz" --stretch t-Na3SbS4 \
        --phonons t-Na3SbS4 --phonons "$SCF/relaxed/t-Na3SbS4_dft_relaxed.extxyz" --out out/dft/audit
    ;;
*)
    echo "usage: $0 labels|train [ROUND]|explore ROUND|audit" >&2
    exit 2
    ;;
esac
