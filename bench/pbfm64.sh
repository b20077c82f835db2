#!/bin/bash
# Physics in training, fine-tuning and sampling on the 64x64 Darcy benchmark
# (issue 6): plain flow matching on high-fidelity data, PBFM on the same
# data, flow matching pretrained on low-fidelity data (3x coarser solves)
# and that model fine-tuned three ways (adjoint matching, PBFM-style on the
# low-fidelity data, endpoint), and DPS residual guidance of the plain
# model; NSAMP samples of each against the 1000 held-out solver samples.
# Every step is skipped when its output exists, so an interrupted run
# continues where it stopped; the wall time and peak RSS (largest rank) of
# each step go to time_<name>.txt, and bench/pbfm64_report.py writes the
# table (pbfm64.md) from the eval files and those times.
# Usage: bench/pbfm64.sh BUILD DIR [NSAMP]
#   env: PBFM_BATCH (residual rows per batch of PBFM training, 0 = all; 4),
#        STEPS (training steps, 3000), EP_ITERS (endpoint iterations, 150),
#        EP2_ITERS, EP2_LR (the second endpoint row: 100, 3e-4; Heun 5),
#        EP3_ITERS (the third, Heun 10 at EP2_LR: 50)
set -euo pipefail
BUILD=${1:-build}; mkdir -p "${2:-bench64}"; D=$(readlink -f "${2:-bench64}"); NSAMP=${3:-500}
SRC=$(cd "$(dirname "$0")" && pwd)
STEPS=${STEPS:-3000}; PBFM_BATCH=${PBFM_BATCH:-4}; EP_ITERS=${EP_ITERS:-150}; EP2_ITERS=${EP2_ITERS:-100}; EP2_LR=${EP2_LR:-3e-4}; EP3_ITERS=${EP3_ITERS:-50}
cp "$BUILD/physflow" "$D/physflow_bin"; BIN=$D/physflow_bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
RUN="mpiexec -q -n 2 $BIN"
ARCH="-net_type meshunet -mesh_levels 4 -mesh_width 32 -mesh_depth 2 -mesh_groups 8"
TRAIN="$ARCH -train_steps $STEPS -batch_size 16 -lr 1e-3 -lr_warmup 100 -seed 1 -checkpoint_every 500"
cd "$D"
# step NAME OUTPUT COMMAND...: run COMMAND (log NAME.log, wall time and peak
# RSS in time_NAME.txt) unless it has finished before: time_NAME.txt holds
# just "seconds,KB" only after a successful run (a failed or killed one adds
# a status line, and an interrupted training leaves a checkpoint as OUTPUT:
# the step starts again); an OUTPUT without a log was made by hand
finished() { # NAME OUTPUT
  grep -qxE '[0-9.]+,[0-9]+' "time_$1.txt" 2>/dev/null && [ "$(wc -l <"time_$1.txt")" -eq 1 ] && [ -s "$2" ]
}
step() {
  local name=$1 out=$2
  shift 2
  finished "$name" "$out" && return 0
  [ -s "$out" ] && [ ! -e "$name.log" ] && return 0
  echo "$(date +%H:%M:%S) $name"
  rm -f "time_$name.txt"
  /usr/bin/time -f "%e,%M" -o "time_$name.txt" "$@" >>"$name.log" 2>&1 || { echo "pbfm64: $name failed (see $D/$name.log)"; exit 1; }
}
# the options that continue an interrupted training from its checkpoint
# (the log keeps every segment's "N steps in S s"; the report adds them)
resume() { # NAME OUTPUT
  if [ -s "$2" ] && [ -e "$1.log" ] && ! finished "$1" "$2"; then echo "-resume $2"; fi
}

step datagen_train train64.h5 $RUN datagen -physics darcy -n 4000 -seed 1 -o train64.h5
step datagen_test test64.h5 $RUN datagen -physics darcy -n 1000 -seed 1000 -o test64.h5
step datagen_lowfi lowfi64.h5 $RUN datagen -physics darcy -n 4000 -seed 2000 -fidelity low -low_coarsen 3 -o lowfi64.h5

# time per training step and peak memory (largest rank), back to back on an
# otherwise idle machine: plain, PBFM with 4 unrolled steps on the whole
# batch (activations kept, and recomputed) and on PBFM_BATCH rows
if [ ! -s step_time.txt ]; then
  rm -f step_time.part
  for v in "plain:" "pbfm4:-constraint pbfm -pbfm_unroll 4 -pbfm_unroll_grow 0" \
           "pbfm4_recompute:-constraint pbfm -pbfm_unroll 4 -pbfm_unroll_grow 0 -pbfm_keep_activations 0" \
           "pbfm4_batch$PBFM_BATCH:-constraint pbfm -pbfm_unroll 4 -pbfm_unroll_grow 0 -pbfm_batch $PBFM_BATCH"; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%M" -o steptime.rss $RUN train -data train64.h5 $ARCH -train_steps 30 -batch_size 16 -seed 1 ${v#*:} \
      -o steptime.h5 >steptime.log 2>&1 || { echo "pbfm64: step-time run ${v%%:*} failed"; cat steptime.log; exit 1; }
    echo "${v%%:*} $(grep -oE '30 steps in [0-9.]+ s' steptime.log | awk '{print $4}') $(cat steptime.rss)" >>step_time.part
  done
  rm -f steptime.h5 steptime.log steptime.rss; mv step_time.part step_time.txt
fi

# the models; PBFM, the longest, last (a run stopped before it has the rest)
# shellcheck disable=SC2046
step train_fm unet64.h5 $RUN train -data train64.h5 $TRAIN $(resume train_fm unet64.h5) -o unet64.h5
# shellcheck disable=SC2046
step train_pre pre64.h5 $RUN train -data lowfi64.h5 $TRAIN $(resume train_pre pre64.h5) -o pre64.h5
step ft_adjoint am64.h5 $RUN finetune -model pre64.h5 -constraint adjoint -constraint_norm error2 -am_lambda 300 -am_iters 20 -am_steps 40 \
  -batch_size 8 -lr 3e-4 -pf_group_size 1 -o am64.h5
step ft_pbfm pbft64.h5 $RUN finetune -model pre64.h5 -data lowfi64.h5 -constraint pbfm -constraint_norm error2 -train_steps 300 -pbfm_unroll 2 \
  -batch_size 16 -o pbft64.h5
step ft_endpoint ep64.h5 $RUN finetune -model pre64.h5 -constraint endpoint -endpoint_steps 5 -train_steps "$EP_ITERS" -endpoint_anchor 3 \
  -batch_size 8 -lr 1e-3 -pf_group_size 1 -o ep64.h5
# the same within the 25% budget: activations kept (the default since
# this row), EP2_ITERS iterations, a smaller rate warmed up (Adam's first,
# sign-like steps at 1e-3 raised the loss 14x in ft_endpoint)
step ft_endpoint2 ep2_64.h5 $RUN finetune -model pre64.h5 -constraint endpoint -endpoint_steps 5 -train_steps "$EP2_ITERS" -endpoint_anchor 3 \
  -batch_size 8 -lr "$EP2_LR" -lr_warmup 10 -pf_group_size 1 -o ep2_64.h5
# and through the 10-step sampler the other rows use, in the same budget
# (each iteration costs twice as much: EP3_ITERS iterations)
step ft_endpoint3 ep3_64.h5 $RUN finetune -model pre64.h5 -constraint endpoint -endpoint_steps 10 -train_steps "$EP3_ITERS" -endpoint_anchor 3 \
  -batch_size 8 -lr "$EP2_LR" -lr_warmup 5 -pf_group_size 1 -o ep3_64.h5

# samples (Heun 10; the endpoint model with the 5-step sampler it was tuned for) and eval
SAMP="-n $NSAMP -sample_batch 16 -seed 7"
sample_eval() { # TAG MODEL SAMPLER-OPTIONS...
  local tag=$1 model=$2
  shift 2
  step "sample_$tag" "s_$tag.h5" $RUN sample -model "$model" $SAMP "$@" -o "s_$tag.h5"
  step "eval_$tag" "e_$tag.json" $RUN eval -physics darcy -samples "s_$tag.h5" -reference test64.h5 -o "e_$tag.json"
}
step eval_lowfi e_lowfi.json $RUN eval -physics darcy -samples lowfi64.h5 -reference test64.h5 -o e_lowfi.json
for m in fm:unet64 pre:pre64 am:am64 pbft:pbft64; do sample_eval "${m%%:*}" "${m#*:}.h5" -sampler heun -sampler_steps 10; done
sample_eval ep ep64.h5 -sampler heun -sampler_steps 5
sample_eval ep2 ep2_64.h5 -sampler heun -sampler_steps 5
sample_eval ep3 ep3_64.h5 -sampler heun -sampler_steps 10
# the pretrained model through the endpoint rows' 5-step sampler: what of
# their distribution error the coarser sampler itself brings
sample_eval pre5 pre64.h5 -sampler heun -sampler_steps 5
sample_eval dps unet64.h5 -sampler heun -sampler_steps 10 -guidance dps -guidance_scale 10
# shellcheck disable=SC2046
step train_pbfm pbfm64.h5 $RUN train -data train64.h5 $TRAIN -constraint pbfm -pbfm_unroll 4 -pbfm_batch "$PBFM_BATCH" \
  $(resume train_pbfm pbfm64.h5) -o pbfm64.h5
sample_eval pbfm pbfm64.h5 -sampler heun -sampler_steps 10
/usr/bin/python3 "$SRC/pbfm64_report.py" "$D"
