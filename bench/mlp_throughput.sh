#!/bin/bash
# Training throughput of the MLP (width 256, depth 4, batch 1024) in physflow
# and in PyTorch (bench/torch_mlp.py, same network and loss), on 1 and 2
# threads, measured back to back in one run; plus the OpenBLAS sgemm rate.
# Usage: bench/mlp_throughput.sh [build-dir]   -> a Markdown table on stdout
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow")
HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
W=256; D=4; B=1024; STEPS=${STEPS:-100}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pf() { # threads, launcher...
  local th=$1; shift
  OPENBLAS_NUM_THREADS=$th "$@" "$BIN" train -toy moons -mlp_width $W -mlp_depth $D -batch_size $B \
    -train_steps $STEPS -lr 1e-3 -o "$tmp/m.h5" -monitor_every 100000 | awk '/samples\/s/ {for(i=1;i<=NF;i++) if($(i)=="samples/s,") print $(i-1)}'
}
torch() { /usr/bin/python3 "$HERE/torch_mlp.py" throughput --width $W --depth $D --batch $B --steps $STEPS --warmup 10 --threads $1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["samples_per_s"])'; }
peak() { /usr/bin/python3 "$HERE/sgemm_peak.py" --threads $1 --n 2048 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["gflops_per_s"])'; }
# GEMM flops per sample of one training step (forward + backward = 3x forward)
FLOPS=$(/usr/bin/python3 -c "nz=2+64; print(3*2*(nz*$W + $D*$W*$W + $W*2))")
p1=$(pf 1); t1=$(torch 1); p2t=$(pf 2); p2r=$(pf 1 mpiexec -n 2 --bind-to none); t2=$(torch 2)
k1=$(peak 1); k2=$(peak 2)
/usr/bin/python3 - "$p1" "$t1" "$p2t" "$p2r" "$t2" "$k1" "$k2" "$FLOPS" <<'PY'
import sys
p1, t1, p2t, p2r, t2, k1, k2, f = map(float, sys.argv[1:])
g = lambda s: s * f * 1e-9
print("| configuration | samples/s | GFLOP/s | fraction of sgemm peak | physflow / PyTorch |")
print("|---|---|---|---|---|")
print(f"| PyTorch, 1 thread | {t1:.0f} | {g(t1):.1f} | {g(t1)/k1:.2f} | |")
print(f"| physflow, 1 rank, 1 thread | {p1:.0f} | {g(p1):.1f} | {g(p1)/k1:.2f} | {p1/t1:.2f} |")
print(f"| PyTorch, 2 threads | {t2:.0f} | {g(t2):.1f} | {g(t2)/k2:.2f} | |")
print(f"| physflow, 1 rank, 2 OpenBLAS threads | {p2t:.0f} | {g(p2t):.1f} | {g(p2t)/k2:.2f} | {p2t/t2:.2f} |")
print(f"| physflow, 2 ranks (data parallel), 1 thread each | {p2r:.0f} | {g(p2r):.1f} | {g(p2r)/k2:.2f} | {p2r/t2:.2f} |")
print(f"\nOpenBLAS sgemm 2048^3: {k1:.1f} GFLOP/s on 1 thread, {k2:.1f} on 2 threads.")
PY
