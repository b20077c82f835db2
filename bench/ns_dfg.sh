#!/bin/bash
# DFG benchmark (Schafer & Turek 1996) for the Navier-Stokes solver (issue 8):
#   2D-1 (steady, Re = 20): c_D, c_L, dp on meshes of
#        examples/meshes/dfg_cylinder.geo refined by gmsh -clscale S;
#   2D-2 (periodic, Re = 100, U_mean = 1): c_Dmax, c_Lmax and the Strouhal
#        number of the lift, BDF2 with fixed dt from rest to t = TFINAL.
# Output: OUT/steady_S.txt, OUT/unsteady_S.txt (+ the force history).
# Usage: bench/ns_dfg.sh BUILD OUT [NP] [STEADY_SCALES] [UNSTEADY_SCALES] [DT] [TFINAL]
set -euo pipefail
BUILD=$(readlink -f "${1:-build}"); OUT=$(readlink -m "${2:-bench_ns}"); NP=${3:-1}
STEADY=${4:-"2 1 0.5 0.25"}; UNSTEADY=${5:-"1"}; DT=${6:-0.005}; TF=${7:-8}
SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"; cd "$OUT"
cp "$BUILD/tests/test_ns_dfg" ./ns_dfg_bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
RUN="mpiexec -q -n $NP ./ns_dfg_bin"
for s in $STEADY $UNSTEADY; do
  [ -s dfg_$s.msh ] || gmsh -2 -format msh41 "$SRC/examples/meshes/dfg_cylinder.geo" -clscale "$s" -o dfg_$s.msh >/dev/null
done
for s in $STEADY; do $RUN -mesh dfg_$s.msh >steady_$s.txt; cat steady_$s.txt; done
for s in $UNSTEADY; do
  $RUN -mesh dfg_$s.msh -unsteady -Re 100 -ns_U_mean 1 -dt "$DT" -tfinal "$TF" -history history_$s.txt >unsteady_$s.txt
  grep -v "^  t = " unsteady_$s.txt
done
