#!/bin/bash
# physflow's end-to-end demo on 2 MPI ranks (`make demo`).
#
# Part 1, Darcy flow (the PIDM/PBFM benchmark's problem on a 22x22-vertex Q1
# box, coarser than the 64x64 benchmark to fit the time budget), the whole
# low-fidelity-pretraining story:
#   datagen: high-fidelity training data and 1000 held-out high-fidelity
#     samples; low-fidelity training data (3x coarser solves: cheap, and
#     inconsistent with the fine-mesh equations);
#   plain flow matching on the high-fidelity data (model_fm.h5);
#   the same network pretrained on the low-fidelity data (model_pretrained.h5)
#     and fine-tuned with the PDE (model_finetuned.h5: endpoint fine-tuning,
#     the residual of its own samples in the error norm, inputs anchored to
#     the pretrained model's samples);
#   1000 samples of each -> eval (re-solve consistency, residuals, boundary
#   and conservation checks, mean/std fields, correlation) -> plots, report.
# Part 2, the generative core on the two-moons toy problem (I-CFM, OT-CFM,
# DDPM baseline).  Outputs in out/demo/: datasets, models, samples, eval JSON,
# PNG plots and report.md.  About 25 minutes on 2 cores.
set -euo pipefail
BIN=${1:-build/physflow}
OUT=${2:-out/demo}
NP=${PF_DEMO_RANKS:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI="mpiexec -n $NP --oversubscribe"
SRC=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
mkdir -p "$OUT"
BIN=$(readlink -f "$BIN"); cd "$OUT"

step() { echo; echo "== $* =="; }
FACES=${PF_DEMO_FACES:-21}
STEPS=${PF_DEMO_STEPS:-6000}
FT_ITERS=${PF_DEMO_FT_ITERS:-1250}
FT_STEPS=${PF_DEMO_FT_STEPS:-10}
ARCH="-net_type meshunet -mesh_levels 3 -mesh_width 32 -mesh_depth 2 -mesh_groups 8"
step "Darcy datagen on $NP ranks: 4000 training and 1000 held-out high-fidelity samples, 4000 low-fidelity samples"
$MPI "$BIN" datagen -physics darcy -mesh_faces $FACES -n 4000 -seed 1 -o data_train.h5
$MPI "$BIN" datagen -physics darcy -mesh_faces $FACES -n 1000 -seed 1000 -o data_test.h5
$MPI "$BIN" datagen -physics darcy -mesh_faces $FACES -n 4000 -seed 2000 -fidelity low -low_coarsen 3 -o data_lowfi.h5
step "Darcy: plain flow matching on the high-fidelity data (mesh U-Net, 3 levels: 21x21, 11x11, 5x5 cells; the batch split over $NP groups of 1 rank)"
t0=$SECONDS
# (on this small mesh splitting the batch is 1.1x faster than splitting the
# mesh, bench/meshnet_speedup.sh; -pf_group_size $NP would split the mesh)
$MPI "$BIN" train -data data_train.h5 $ARCH -train_steps $STEPS -batch_size 16 -lr 1e-3 -lr_warmup 100 -seed 1 -checkpoint_every 1000 -pf_group_size 1 -o model_fm.h5
t_fm=$((SECONDS - t0))
step "Darcy: the same network pretrained on the low-fidelity data"
t0=$SECONDS
$MPI "$BIN" train -data data_lowfi.h5 $ARCH -train_steps $STEPS -batch_size 16 -lr 1e-3 -lr_warmup 100 -seed 1 -checkpoint_every 1000 -pf_group_size 1 -o model_pretrained.h5
t_pre=$((SECONDS - t0))
step "Darcy: fine-tune the pretrained model with the PDE ($FT_ITERS iterations through the $FT_STEPS-step Heun sampler)"
t0=$SECONDS
# (groups of 1 rank split the batch: on this small mesh faster than splitting it)
$MPI "$BIN" finetune -model model_pretrained.h5 -constraint endpoint -endpoint_steps $FT_STEPS -train_steps $FT_ITERS \
    -endpoint_anchor 3 -batch_size 8 -lr 1e-3 -pf_group_size 1 -seed 3 -o model_finetuned.h5
t_ft=$((SECONDS - t0))
step "Darcy: sample 1000 fields of each model"
# Heun, 10 steps (20 network evaluations): the sampler the fine-tuning went through
$MPI "$BIN" sample -model model_fm.h5 -n 1000 -sampler heun -sampler_steps 10 -sample_batch 32 -seed 7 -o samples_fm.h5
$MPI "$BIN" sample -model model_pretrained.h5 -n 1000 -sampler heun -sampler_steps 10 -sample_batch 32 -seed 7 -o samples_pretrained.h5
$MPI "$BIN" sample -model model_finetuned.h5 -n 1000 -sampler heun -sampler_steps $FT_STEPS -sample_batch 32 -seed 7 -o samples_finetuned.h5
step "Darcy physics and distribution evaluation"
$MPI "$BIN" eval -physics darcy -samples data_test.h5 -o eval_darcy_test.json
$MPI "$BIN" eval -physics darcy -samples data_lowfi.h5 -o eval_darcy_lowfi.json
for m in fm pretrained finetuned; do
  $MPI "$BIN" eval -physics darcy -samples samples_$m.h5 -reference data_test.h5 -o eval_darcy_$m.json
done
/usr/bin/python3 "$SRC/plot_fields.py" data_test.h5 --out darcy_test_fields.png --samples 0,1,2 --title "Darcy, high fidelity (solver)"
/usr/bin/python3 "$SRC/plot_fields.py" data_lowfi.h5 --out darcy_lowfi_fields.png --samples 0,1,2 --title "Darcy, low fidelity (3x coarser solve)"
/usr/bin/python3 "$SRC/plot_fields.py" samples_fm.h5 --out darcy_fm_fields.png --samples 0,1,2 --title "Darcy, flow matching on high-fidelity data"
/usr/bin/python3 "$SRC/plot_fields.py" samples_pretrained.h5 --out darcy_pretrained_fields.png --samples 0,1,2 --title "Darcy, pretrained on low-fidelity data"
/usr/bin/python3 "$SRC/plot_fields.py" samples_finetuned.h5 --out darcy_finetuned_fields.png --samples 0,1,2 --title "Darcy, pretrained + physics fine-tuned"
for m in fm pretrained finetuned; do
  /usr/bin/python3 "$SRC/plot_darcy_eval.py" --samples samples_$m.h5 --reference data_test.h5 --out darcy_$m
done
/usr/bin/python3 "$SRC/plot_darcy_eval.py" --samples samples_finetuned.h5 --reference data_test.h5 --out darcy_all \
    --runs "solver (high fidelity)=eval_darcy_test" "low fidelity data=eval_darcy_lowfi" "flow matching=eval_darcy_fm" \
           "pretrained (low fidelity)=eval_darcy_pretrained" "fine-tuned=eval_darcy_finetuned"

step "datagen: 20000 training and 4000 held-out moons samples"
$MPI "$BIN" datagen -toy moons -n 20000 -seed 1 -o toy_train.h5
$MPI "$BIN" datagen -toy moons -n 4000 -seed 2 -o toy_test.h5

for flow in cfm otcfm vp; do
  step "train: flow $flow on $NP ranks (data parallel)"
  $MPI "$BIN" train -data toy_train.h5 -flow_type $flow -net_type mlp -mlp_width 128 -mlp_depth 3 \
      -train_steps 4000 -batch_size 256 -lr 2e-3 -lr_warmup 100 -seed 1 -checkpoint_every 1000 -o toy_model_$flow.h5
done

step "sample and evaluate"
rows=""
run() { # name model sampler steps
  $MPI "$BIN" sample -model "$2" -n 4000 -sampler "$3" -sampler_steps "$4" -seed 5 -o "toy_samples_$1.h5"
  "$BIN" eval -samples "toy_samples_$1.h5" -reference toy_test.h5 -o "toy_eval_$1.json" -plot "toy_samples_$1.png" > /dev/null
  rows="$rows $1"
}
run fm_euler20 toy_model_cfm.h5 euler 20
run fm_euler2 toy_model_cfm.h5 euler 2
run fm_rk4_5 toy_model_cfm.h5 rk4 5
run otfm_euler2 toy_model_otcfm.h5 euler 2
run otfm_euler20 toy_model_otcfm.h5 euler 20
run ddpm200 toy_model_vp.h5 ddpm 200
run ddpm10 toy_model_vp.h5 ddpm 10

step "report"
PF_DEMO_STEPS=$STEPS PF_DEMO_FT_ITERS=$FT_ITERS PF_DEMO_FT_STEPS=$FT_STEPS PF_T_FM=$t_fm PF_T_PRE=$t_pre PF_T_FT=$t_ft \
  /usr/bin/python3 "$SRC/demo_report.py" $rows
echo; echo "demo outputs in $(pwd): report.md, samples_*.png, eval_*.json, model_*.h5"
