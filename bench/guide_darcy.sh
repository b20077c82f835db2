#!/bin/bash
# Minimum-excess-work guidance of a Darcy field model (issue 10), on the
# demo's 22x22-vertex box with p = 1 on the left side and p = 0 on the
# right (Face Sets 4 and 2; the corner source/sink pair stays):
#  observable guidance: mean_logK over [0.25,0.75]^2 one base std up,
#    against the max-ent answer (4000 base samples of another seed
#    reweighted by the tilt) and the naive baseline (the base model
#    fine-tuned on 1000 max-ent-resampled base samples);
#  path guidance: the outflow through the right side above the base
#    samples' 99% quantile (rare high-flux fields), the paper's KDE of
#    guiding samples and the tilted variant (-path_method tilt: observable
#    guidance toward the exponential tilt in the flux that puts 60% of the
#    mass above the threshold), against the naive baseline (fine-tuned on
#    the ~20 guiding samples); the samples are
#    validated by physflow eval (re-solve, residual) and their flux computed
#    by eval -observable.
# Usage: bench/guide_darcy.sh [build-dir] [out-dir]; reuses the model and
# data in out-dir if present.  About 40 minutes on 2 cores.
set -euo pipefail
BUILD=${1:-build}; OUT=${2:-bench_guide_darcy}
SRC=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
# a private copy: rebuilding during the run must not change the binary
cp "$BUILD/physflow" "$OUT/physflow_bin"; BIN=$(readlink -f "$OUT/physflow_bin")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI="mpiexec -q -n 2"
cd "$OUT"
PROB="-mesh_faces 21 -darcy_dirichlet 4,2 -darcy_dirichlet_value 1,0"
ARCH="-net_type meshunet -mesh_levels 3 -mesh_width 32 -mesh_depth 2 -mesh_groups 8"
[ -s flux_train.h5 ] || $MPI "$BIN" datagen -physics darcy $PROB -n 4000 -seed 1 -o flux_train.h5
[ -s flux_test.h5 ] || $MPI "$BIN" datagen -physics darcy $PROB -n 4000 -seed 1000 -o flux_test.h5
[ -s model_flux.h5 ] || $MPI "$BIN" train -data flux_train.h5 $ARCH -train_steps 6000 -batch_size 16 -lr 1e-3 -lr_warmup 100 -seed 1 -checkpoint_every 1000 -o model_flux.h5
# groups of 1 rank (the small mesh is faster unsplit); Heun 10 steps throughout
S="-pf_group_size 1 -sampler heun -sampler_steps 10"
T="-guide_tune_samples 200 -guide_tune_evals 24"
OBS="-observable mean_logK -observable_region 0.25,0.75,0.25,0.75"
FLUX="-observable boundary_flux -observable_group 2"
t() { /usr/bin/time -f "%e" -o "$1.time" "${@:2}"; }
t base_big $MPI "$BIN" sample -model model_flux.h5 -n 4000 -seed 11 $S -o s_base_big.h5 >s_base_big.log
$MPI "$BIN" sample -model model_flux.h5 -n 1000 -seed 7 $S -o s_base.h5 >s_base.log
t guided $MPI "$BIN" guide -model model_flux.h5 $OBS -observable_shift 1 -guide_samples 1000 $T $S -o guided_obs.h5 >guided_obs.log
t naive $MPI "$BIN" guide -model model_flux.h5 $OBS -observable_shift 1 -guide_samples 1000 $S -guide_baseline -guide_finetune_steps 1000 -batch_size 16 -lr 5e-4 -o naive_obs.h5 >naive_obs.log
t path $MPI "$BIN" guide -model model_flux.h5 -guide_type path $FLUX -path_quantile 0.99 -guide_samples 2000 -path_guides 32 $T $S -o guided_path.h5 >guided_path.log
# (each tuning run solves the PDE for every sample at every step: fewer, smaller runs)
t ptilt $MPI "$BIN" guide -model model_flux.h5 -guide_type path -path_method tilt $FLUX -path_quantile 0.99 -guide_samples 2000 -guide_tune_samples 100 -guide_tune_evals 16 $S -o tilt_path.h5 >tilt_path.log
t pnaive $MPI "$BIN" guide -model model_flux.h5 -guide_type path $FLUX -path_quantile 0.99 -guide_samples 2000 -path_guides 32 $S -guide_baseline -guide_finetune_steps 1000 -batch_size 16 -lr 5e-4 -o naive_path.h5 >naive_path.log
for m in guided_obs naive_obs guided_path tilt_path naive_path; do
  t "s_$m" $MPI "$BIN" sample -model $m.h5 -n 1000 -seed 7 $S -o "s_$m.h5" >"s_$m.log"
done
for m in base base_big guided_obs naive_obs guided_path tilt_path naive_path; do
  $MPI "$BIN" eval -physics darcy -samples "s_$m.h5" $FLUX -o "e_$m.json" >/dev/null
done
$MPI "$BIN" eval -physics darcy -samples flux_test.h5 $FLUX -o e_test.json >/dev/null
/usr/bin/python3 "$SRC/guide_darcy.py" .
