#!/bin/bash
# Mesh-network training throughput (issue 5): physflow's domain-decomposed
# mesh U-Net (LEVELS > 1, default 3; LEVELS=1 is -net_type meshnet) against
# the same network in PyTorch (bench/torch_meshnet.py, torch.sparse
# operators and transfers), and physflow's 1 -> 2 rank strong scaling (one
# group, the mesh split over the ranks), measured back to back.
# Usage: bench/meshnet_throughput.sh [build-dir]  (FACES, W, D, LEVELS, B, STEPS env)
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow"); HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
FACES=${FACES:-63}; W=${W:-32}; D=${D:-2}; LEVELS=${LEVELS:-3}; B=${B:-16}; STEPS=${STEPS:-30}
if [ "$LEVELS" = 1 ]; then NET="-net_type meshnet"; else NET="-net_type meshunet -mesh_levels $LEVELS"; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
"$BIN" datagen -physics darcy -mesh_faces $FACES -n 64 -seed 1 -o d.h5 >/dev/null
pf() { # ranks, group size
  OPENBLAS_NUM_THREADS=1 mpiexec -q -n $1 --bind-to none "$BIN" train -data d.h5 $NET -mesh_width $W -mesh_depth $D \
    -mesh_groups 8 -batch_size $B -train_steps $STEPS -lr 1e-3 -pf_group_size $2 -o m.h5 -monitor_every 100000 |
    awk '/samples\/s,/ {for(i=1;i<=NF;i++) if($(i)=="samples/s,") print $(i-1)}'
}
torch() { /usr/bin/python3 "$HERE/torch_meshnet.py" throughput --faces $FACES --width $W --depth $D --levels $LEVELS --groups 8 --batch $B --steps $STEPS --warmup 3 --threads $1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["samples_per_s"])'; }
p1=$(pf 1 1); p2=$(pf 2 2); p2g=$(pf 2 1); t1=$(torch 1); t2=$(torch 2)
/usr/bin/python3 - "$p1" "$p2" "$p2g" "$t1" "$t2" "$FACES" "$W" "$D" "$B" "$LEVELS" <<'PY'
import sys
p1, p2, p2g, t1, t2 = map(float, sys.argv[1:6]); F, W, D, B, L = sys.argv[6:]
n = (int(F) + 1) ** 2
arch = f"{D} residual blocks" if L == "1" else f"{L}-level U-Net, {D} residual blocks per level and direction"
print(f"mesh {n} vertices, width {W}, {arch}, batch {B}; full training steps (fwd, bwd, allreduce, AdamW)\n")
print("| configuration | samples/s | vs PyTorch (same threads/cores) |")
print("|---|---|---|")
print(f"| PyTorch (torch.sparse), 1 thread | {t1:.1f} | |")
print(f"| physflow, 1 rank | {p1:.1f} | {p1/t1:.2f} |")
print(f"| PyTorch, 2 threads | {t2:.1f} | |")
print(f"| physflow, 2 ranks, mesh split (1 group x 2) | {p2:.1f} | {p2/t2:.2f} |")
print(f"| physflow, 2 ranks, batch split (2 groups x 1) | {p2g:.1f} | {p2g/t2:.2f} |")
print(f"\nstrong scaling 1 -> 2 ranks (mesh split): efficiency {p2/(2*p1):.2f}; batch split: {p2g/(2*p1):.2f}")
PY
