#!/bin/bash
#SBATCH --job-name=physflow-datagen
#SBATCH --ntasks=4
#SBATCH --time=01:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --output=datagen-%j.out
# Darcy samples in situ: each rank a group (-pf_group_size 1) solving its share.
set -u
PHYSFLOW=${PHYSFLOW:-physflow}
OUT=${OUT:-darcy.h5}
N=${N:-10000}
SEED=${SEED:-1}
resume=""
[ -e "$OUT.partial" ] && resume="-resume"
# forward Slurm's early-warning signal to the ranks, then requeue
trap 'kill -USR1 "$pid" 2>/dev/null; wait "$pid"; [ -e "$OUT.partial" ] && scontrol requeue "$SLURM_JOB_ID"; exit 0' USR1
srun "$PHYSFLOW" datagen -physics darcy -n "$N" -seed "$SEED" -pf_group_size 1 -o "$OUT" $resume &
pid=$!
wait "$pid"
