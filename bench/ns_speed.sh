#!/bin/bash
# Navier-Stokes: time per generated snapshot against time per solver
# snapshot on the same ranks (issue 8), and what the generated flows are
# worth: steady flows past the DFG cylinder for Re uniform in [RE_MIN,
# RE_MAX] on the gmsh -clscale SCALE mesh; a mesh U-Net conditioned on Re
# (train -condition field -cond_fields Re) trained on NTRAIN solver samples;
# samples at the Re of NTEST held-out solver samples (-cond_data) with
# Euler 1, 4 and 20 steps; eval -physics ns against the held-out data
# (re-solve distance, residual, drag and lift).  Times: datagen's solve
# rate and sample's rate, both on NP ranks.
# Usage: bench/ns_speed.sh BUILD OUT [NP] [SCALE] [NTRAIN] [STEPS] [RE_MIN] [RE_MAX]
# Environment: NET_OPTS extra options of the model's training (e.g.
# -mesh_geometry_features).
set -euo pipefail
BUILD=$(readlink -f "${1:-build}"); OUT=$(readlink -m "${2:-bench_ns_speed}"); NP=${3:-2}
SCALE=${4:-1}; NTRAIN=${5:-256}; STEPS=${6:-3000}; RMIN=${7:-20}; RMAX=${8:-60}; NTEST=32
SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"; cd "$OUT"
cp "$BUILD/physflow" ./physflow_bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
RUN="mpiexec -q -n $NP ./physflow_bin"
[ -s cyl.msh ] || gmsh -2 -format msh41 "$SRC/examples/meshes/dfg_cylinder.geo" -clscale "$SCALE" -o cyl.msh >/dev/null
G="-physics ns -mesh cyl.msh -Re_min $RMIN -Re_max $RMAX -pf_group_size 1"
[ -s train.h5 ] || $RUN datagen $G -n "$NTRAIN" -seed 1 -o train.h5 | tee datagen_train.log
[ -s test.h5 ] || $RUN datagen $G -n "$NTEST" -seed 2 -o test.h5 | tee datagen_test.log
[ -s model.h5 ] || $RUN train -data train.h5 -net_type meshunet -mesh_levels 4 -mesh_width 32 -mesh_depth 2 -mesh_groups 8 \
  -condition field -cond_fields Re -train_steps "$STEPS" -batch_size 16 -lr 1e-3 -lr_warmup 100 -seed 1 ${NET_OPTS:-} -o model.h5 > train.log
for k in 1 4 20; do
  $RUN sample -model model.h5 -n "$NTEST" -cond_data test.h5 -sampler euler -sampler_steps $k -pf_group_size 1 -o s$k.h5 | tee sample_$k.log
  $RUN eval -physics ns -samples s$k.h5 -reference test.h5 -o e$k.json > eval_$k.log
done
grep -h "samples in" datagen_test.log sample_*.log
/usr/bin/python3 "$SRC/bench/ns_speed_report.py" .
