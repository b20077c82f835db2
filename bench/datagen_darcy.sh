#!/bin/bash
# Darcy datagen throughput (issue 4): the 64x64 benchmark box on 1 and 2
# ranks (2 groups of 1, 1 group of 2), and a ~1e5-vertex Gmsh mesh with a
# hole; the time split (field generation / solve / gather+I/O) is datagen's
# own report.  Also the low-fidelity error and cost against high fidelity.
# Usage: bench/datagen_darcy.sh [build-dir]
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow"); SRC=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI="mpiexec --oversubscribe --bind-to none"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
N=${N:-1000}
run() { # label, launcher..., -- datagen options
  local label=$1; shift
  local out; out=$("$@" 2>&1) || { echo "$out"; exit 1; }
  local line; line=$(echo "$out" | grep "samples in")
  echo "| $label | $(echo "$line" | sed -E 's/.*\(([0-9.]+) samples\/s\); time on the busiest rank: field ([0-9]+)%, solve ([0-9]+)%, gather\+I\/O ([0-9]+)%.*/\1 | \2% | \3% | \4%/') | $(echo "$out" | grep -o 'setup [0-9.]* s' | head -1) |"
}
echo "| case | samples/s | field | solve | gather + I/O | one-off setup |"
echo "|---|---|---|---|---|---|"
run "64x64 box, 1 rank" "$BIN" datagen -physics darcy -n $N -seed 1 -o a.h5
run "64x64 box, 2 ranks = 2 groups x 1" $MPI -n 2 "$BIN" datagen -physics darcy -n $N -seed 1 -o b.h5
run "64x64 box, 2 ranks = 1 group x 2" $MPI -n 2 "$BIN" datagen -physics darcy -n $N -seed 1 -pf_group_size 2 -o c.h5
gmsh -2 -format msh41 -clscale 0.115 "$SRC/examples/meshes/plate_hole.geo" -o big.msh > /dev/null
NV=$(awk '/\$Nodes/{getline; print $2; exit}' big.msh)
run "plate with hole, $NV vertices (P1), 1 rank" "$BIN" datagen -physics darcy -mesh big.msh -n 40 -seed 1 -o d.h5
run "plate with hole, $NV vertices (P1), 2 ranks = 1 group x 2" $MPI -n 2 "$BIN" datagen -physics darcy -mesh big.msh -n 40 -seed 1 -pf_group_size 2 -o e.h5
run "plate with hole, $NV vertices (P1), 2 ranks = 2 groups x 1" $MPI -n 2 "$BIN" datagen -physics darcy -mesh big.msh -n 40 -seed 1 -o f.h5
echo
echo "Low fidelity (coarse box solve, bilinear interpolation) against high fidelity, same $N inputs:"
echo
echo "| -low_coarsen | coarse unknowns | samples/s | relative L2 error of p (median over samples) |"
echo "|---|---|---|---|"
for k in 3 7; do
  out=$("$BIN" datagen -physics darcy -n $N -seed 1 -fidelity low -low_coarsen $k -o low$k.h5)
  rate=$(echo "$out" | sed -nE 's/.*\(([0-9.]+) samples\/s\).*/\1/p')
  nc=$(( (63 / k + 1) * (63 / k + 1) ))
  err=$(/usr/bin/python3 -c "
import h5py, numpy as np
a = h5py.File('a.h5')['fields/p'][:]; b = h5py.File('low$k.h5')['fields/p'][:]
m = h5py.File('a.h5')['coords'].shape[0]
print('%.4f' % np.median(np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)))")
  echo "| $k | $nc | $rate | $err |"
done
