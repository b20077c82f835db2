#!/bin/bash
# Mesh U-Net speed of two physflow binaries, back to back on the same
# machine (the demo's network: 3 levels, width 32, 96k parameters, on the
# demo's 22x22 box): training steps on 1 rank, on 2 ranks with the mesh
# split (1 group x 2) and the batch split (2 groups x 1), and the demo's
# endpoint fine-tuning (10-step Heun sampler, 8 samples on 2 groups).
# Usage: bench/meshnet_speedup.sh OLD_BINARY NEW_BINARY  (STEPS, FT_ITERS env)
set -euo pipefail
OLD=$(readlink -f "$1"); NEW=$(readlink -f "$2"); STEPS=${STEPS:-300}; FT_ITERS=${FT_ITERS:-40}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
ARCH="-net_type meshunet -mesh_levels 3 -mesh_width 32 -mesh_depth 2 -mesh_groups 8"
mpiexec -q -n 2 "$NEW" datagen -physics darcy -mesh_faces 21 -n 256 -seed 1 -o d.h5 > /dev/null
mpiexec -q -n 2 "$NEW" train -data d.h5 $ARCH -train_steps 200 -batch_size 16 -lr 1e-3 -seed 1 -o base.h5 > /dev/null
secs() { /usr/bin/time -f "%e" -o t.txt "$@" > /dev/null; cat t.txt; }
train() { # binary ranks group
  secs mpiexec -q -n $2 "$1" train -data d.h5 $ARCH -train_steps $STEPS -batch_size 16 -lr 1e-3 -seed 1 -pf_group_size $3 -checkpoint_every 100000 -o m.h5
}
finetune() {
  secs mpiexec -q -n 2 "$1" finetune -model base.h5 -data d.h5 -constraint endpoint -endpoint_steps 10 -train_steps $FT_ITERS \
    -endpoint_anchor 3 -batch_size 8 -lr 1e-3 -pf_group_size 1 -seed 3 -o ft.h5
}
echo "| run | old s | new s | speed-up |"
echo "|---|---|---|---|"
row() { o=$($1 "$OLD" "${@:3}"); n=$($1 "$NEW" "${@:3}"); echo "| $2 | $o | $n | $(/usr/bin/python3 -c "print(f'{$o/$n:.2f}x')") |"; }
row train "training, $STEPS steps, 1 rank" 1 1
row train "training, $STEPS steps, 2 ranks, mesh split" 2 2
row train "training, $STEPS steps, 2 ranks, batch split" 2 1
row finetune "endpoint fine-tuning, $FT_ITERS iterations, 2 groups" 
