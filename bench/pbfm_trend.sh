#!/bin/bash
# How PBFM's advantage in the samples' residual grows with training (issue 6):
# plain flow matching and PBFM (4 unrolled Euler steps on PBFM_BATCH rows of
# each batch, ConFIG) on the demo box's data, trained side by side at a
# constant learning rate (so a run continued from its checkpoint is the same
# run as one that never stopped) and sampled at each length of STEPS_LIST
# with the PBFM paper's sampler (Euler 20) and Heun 10 with its last step
# Euler; 500 samples each against 1000 held-out solver samples.
# Each model trains on one rank, the two at the same time (2 cores).
# Resumable: a length counts as done when its eval files exist.
# Usage: bench/pbfm_trend.sh BUILD DIR
#   env: STEPS_LIST ("1500 3000 6000 12000 24000 48000"), LR (5e-4),
#        PBFM_BATCH (4), NSAMP (500), FACES (21: the demo box),
#        PBFM_EXTRA (more PBFM options) and PBFM_TAG (its files' name, pbfm)
#        for a variant of the PBFM training beside the same flow matching
# Table: python3 bench/pbfm_trend_report.py DIR [fm PBFM_TAG]
set -euo pipefail
BUILD=${1:-build}; mkdir -p "${2:-pbfm_trend}"; D=$(readlink -f "${2:-pbfm_trend}")
STEPS_LIST=${STEPS_LIST:-"1500 3000 6000 12000 24000 48000"}; LR=${LR:-5e-4}; PBFM_BATCH=${PBFM_BATCH:-4}
NSAMP=${NSAMP:-500}; FACES=${FACES:-21}; PBFM_EXTRA=${PBFM_EXTRA:-}; PBFM_TAG=${PBFM_TAG:-pbfm}
SRC=$(cd "$(dirname "$0")" && pwd)
cp "$BUILD/physflow" "$D/physflow_bin"; BIN=$D/physflow_bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cd "$D"
[ -s data_train.h5 ] || mpiexec -q -n 2 "$BIN" datagen -physics darcy -mesh_faces "$FACES" -n 4000 -seed 1 -o data_train.h5 >datagen.log
[ -s data_test.h5 ] || mpiexec -q -n 2 "$BIN" datagen -physics darcy -mesh_faces "$FACES" -n 1000 -seed 1000 -o data_test.h5 >>datagen.log
ARCH="-net_type meshunet -mesh_levels 3 -mesh_width 32 -mesh_depth 2 -mesh_groups 8"
TRAIN="-data data_train.h5 $ARCH -batch_size 16 -lr $LR -lr_schedule constant -lr_warmup 100 -seed 1 -checkpoint_every 500"

# run TAG TRAIN-OPTIONS: the lengths of STEPS_LIST in turn, continuing the
# checkpoint TAG.h5; a copy TAG_S.h5 of each length, sampled twice and evaluated
run() {
  local tag=$1 extra=$2 S smp name
  for S in $STEPS_LIST; do
    if [ ! -s "${tag}_$S.h5" ]; then
      local resume=""
      [ -s "$tag.h5" ] && resume="-resume $tag.h5"
      # shellcheck disable=SC2086
      "$BIN" train $TRAIN $extra $resume -train_steps "$S" -o "$tag.h5" >>"$tag.log" 2>&1 || { echo "pbfm_trend: training $tag to $S failed (see $D/$tag.log)"; return 1; }
      cp "$tag.h5" "${tag}_$S.h5.tmp" && mv "${tag}_$S.h5.tmp" "${tag}_$S.h5"
    fi
    for smp in "e20:-sampler euler -sampler_steps 20" "h10:-sampler heun -sampler_steps 10 -sampler_final_euler"; do
      name=${tag}_${S}_${smp%%:*}
      [ -s "e_$name.json" ] && continue
      # shellcheck disable=SC2086
      "$BIN" sample -model "${tag}_$S.h5" -n "$NSAMP" -sample_batch 50 -seed 7 ${smp#*:} -o "s_$name.h5" >>"$tag.slog" 2>&1 &&
        "$BIN" eval -physics darcy -samples "s_$name.h5" -reference data_test.h5 -plot none -o "e_$name.json" >>"$tag.slog" 2>&1 ||
        { echo "pbfm_trend: sampling $name failed (see $D/$tag.slog)"; return 1; }
      rm -f "s_$name.h5" "s_$name.xmf"
    done
    echo "$(date +%T) $tag: $S steps done"
  done
}
run fm "" &
FM=$!
run "$PBFM_TAG" "-constraint pbfm -pbfm_unroll 4 -pbfm_unroll_grow 0 -pbfm_batch $PBFM_BATCH $PBFM_EXTRA" &
PB=$!
rc=0
wait $FM || rc=1
wait $PB || rc=1
[ $rc -eq 0 ] && /usr/bin/python3 "$SRC/pbfm_trend_report.py" "$D" fm "$PBFM_TAG"
exit $rc
