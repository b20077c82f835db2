#!/bin/bash
# The whole physflow pipeline as Slurm jobs chained by dependencies:
#
#   datagen (train set) --+--> train --+--> finetune --> sample --> eval
#   datagen (low fidelity) ------------+                              ^
#   datagen (held-out test set) --------------------------------------+
#
# Run it on the login node (not with sbatch): bash slurm_pipeline.sh
# Each stage is one of the slurm_*.sh scripts beside this one, submitted with
# --dependency=afterok:<the jobs it needs>, so a stage starts only when its
# inputs are complete; a stage that is requeued at its time limit keeps its
# dependents waiting until it has really finished.  If a stage fails, its
# dependents stay pending with reason DependencyNeverSatisfied: scancel them,
# fix, and run this script again (finished stages then do nothing: datagen
# and sample find their outputs complete, train and finetune resume at their
# last step).
# ---- edit: where and how big ------------------------------------------------
JOBSCRIPTS=${JOBSCRIPTS:-$(cd "$(dirname "$0")" && pwd)}
RUN=${RUN:-$PWD/pipeline}                 # all outputs go here
MESH_OPTS=${MESH_OPTS:--mesh_faces 63}   # the Darcy problem (mesh, boundaries, ...)
N_TRAIN=${N_TRAIN:-10000}
N_LOWFI=${N_LOWFI:-5000}
N_TEST=${N_TEST:-1000}
N_SAMPLES=${N_SAMPLES:-1000}
LOWFI_OPTS=${LOWFI_OPTS:--fidelity low -low_coarsen 3 -obs_noise 0.01}
TRAIN_STEPS=${TRAIN_STEPS:-20000}
FINETUNE_STEPS=${FINETUNE_STEPS:-2000}
# extra sbatch options for every stage, e.g. "--account=myproject --partition=compute"
SBATCH_OPTS=${SBATCH_OPTS:-}
set -euo pipefail

mkdir -p "$RUN"
cd "$RUN"
# submit SCRIPT VAR=VALUE... [-- SBATCH OPTIONS...]: the job id.  The
# variables reach the job through sbatch's environment (--export=ALL, the
# default; --export=VAR=... would split values at commas)
submit() {
  local script=$1 vars=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  # shellcheck disable=SC2086  # SBATCH_OPTS is a list
  env "${vars[@]}" sbatch --parsable --export=ALL $SBATCH_OPTS "$@" "$JOBSCRIPTS/$script" | cut -d';' -f1
}
D1=$(submit slurm_datagen.sh OUT=train.h5 N="$N_TRAIN" SEED=1 DATAGEN_OPTS="-physics darcy $MESH_OPTS")
D2=$(submit slurm_datagen.sh OUT=lowfi.h5 N="$N_LOWFI" SEED=2 DATAGEN_OPTS="-physics darcy $MESH_OPTS $LOWFI_OPTS")
D3=$(submit slurm_datagen.sh OUT=test.h5 N="$N_TEST" SEED=3 DATAGEN_OPTS="-physics darcy $MESH_OPTS")
T=$(submit slurm_train.sh DATA=train.h5 MODEL=model.h5 STEPS="$TRAIN_STEPS" -- --dependency=afterok:"$D1")
F=$(submit slurm_finetune.sh MODEL=model.h5 DATA=lowfi.h5 OUT=tuned.h5 STEPS="$FINETUNE_STEPS" -- --dependency=afterok:"$T":"$D2")
S=$(submit slurm_sample.sh MODEL=tuned.h5 OUT=samples.h5 N="$N_SAMPLES" -- --dependency=afterok:"$F")
E=$(submit slurm_eval.sh SAMPLES=samples.h5 REFERENCE=test.h5 OUT=eval.json -- --dependency=afterok:"$S":"$D3")
for j in "$D1" "$D2" "$D3" "$T" "$F" "$S" "$E"; do
  [[ "$j" =~ ^[0-9]+$ ]] || { echo "pf-pipeline: a submission failed (got job id '$j'); scancel the jobs submitted so far"; exit 1; }
done
echo "pf-pipeline: in $RUN: datagen $D1 (train) $D2 (low fidelity) $D3 (test) -> train $T -> finetune $F -> sample $S -> eval $E"
echo "$D1 $D2 $D3 $T $F $S $E" >"$RUN/jobs.txt"
