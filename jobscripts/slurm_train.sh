#!/bin/bash
#SBATCH --job-name=physflow-train
#SBATCH --ntasks=4
#SBATCH --time=02:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --output=train-%j.out
# Flow matching on a PDE dataset: groups of P ranks share the mesh, groups
# split the batch; the model file is the checkpoint.
set -u
PHYSFLOW=${PHYSFLOW:-physflow}
DATA=${DATA:-darcy.h5}
MODEL=${MODEL:-model.h5}
P=${P:-2}          # ranks per group (domain decomposition)
STEPS=${STEPS:-20000}
resume=""
[ -e "$MODEL" ] && resume="-resume $MODEL"
trap 'kill -USR1 "$pid" 2>/dev/null; wait "$pid"; scontrol requeue "$SLURM_JOB_ID"; exit 0' USR1
srun "$PHYSFLOW" train -data "$DATA" -net_type meshnet -mesh_width 32 -mesh_depth 8 -pf_group_size "$P" \
  -train_steps "$STEPS" -batch_size 32 -lr 1e-3 -lr_warmup 200 -checkpoint_every 500 -o "$MODEL" $resume &
pid=$!
wait "$pid"
