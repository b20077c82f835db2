#!/bin/bash
# The pipeline of slurm_pipeline.sh (read its header) on PBS (UNTESTED):
# datagen x3 -> train -> finetune -> sample -> eval with depend=afterok.
# A stage that hits its walltime submits its continuation and exits 1, which
# removes its dependents: when the continuation has finished, run this
# script again (finished stages do nothing).
# ---- edit ---------------------------------------------------------------------
JOBSCRIPTS=${JOBSCRIPTS:-$(cd "$(dirname "$0")" && pwd)}
RUN=${RUN:-$PWD/pipeline}
MESH_OPTS=${MESH_OPTS:--mesh_faces 63}
N_TRAIN=${N_TRAIN:-10000}
N_LOWFI=${N_LOWFI:-5000}
N_TEST=${N_TEST:-1000}
N_SAMPLES=${N_SAMPLES:-1000}
LOWFI_OPTS=${LOWFI_OPTS:--fidelity low -low_coarsen 3 -obs_noise 0.01}
TRAIN_STEPS=${TRAIN_STEPS:-20000}
FINETUNE_STEPS=${FINETUNE_STEPS:-2000}
QSUB_OPTS=${QSUB_OPTS:-}                  # e.g. "-A myproject -q workq"
set -euo pipefail
mkdir -p "$RUN"
cd "$RUN"
# submit SCRIPT VAR=VALUE... [-- QSUB OPTIONS...]: variables go through qsub -V
submit() {
  local script=$1 vars=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  # shellcheck disable=SC2086
  env "${vars[@]}" SELF="$JOBSCRIPTS/$script" qsub -V $QSUB_OPTS "$@" "$JOBSCRIPTS/$script"
}
D1=$(submit pbs_datagen.sh OUT=train.h5 N="$N_TRAIN" SEED=1 DATAGEN_OPTS="-physics darcy $MESH_OPTS")
D2=$(submit pbs_datagen.sh OUT=lowfi.h5 N="$N_LOWFI" SEED=2 DATAGEN_OPTS="-physics darcy $MESH_OPTS $LOWFI_OPTS")
D3=$(submit pbs_datagen.sh OUT=test.h5 N="$N_TEST" SEED=3 DATAGEN_OPTS="-physics darcy $MESH_OPTS")
T=$(submit pbs_train.sh DATA=train.h5 MODEL=model.h5 STEPS="$TRAIN_STEPS" -- -W depend=afterok:"$D1")
F=$(submit pbs_finetune.sh MODEL=model.h5 DATA=lowfi.h5 OUT=tuned.h5 STEPS="$FINETUNE_STEPS" -- -W depend=afterok:"$T":"$D2")
S=$(submit pbs_sample.sh MODEL=tuned.h5 OUT=samples.h5 N="$N_SAMPLES" -- -W depend=afterok:"$F")
E=$(submit pbs_eval.sh SAMPLES=samples.h5 REFERENCE=test.h5 OUT=eval.json -- -W depend=afterok:"$S":"$D3")
echo "pf-pipeline (PBS): in $RUN: $D1 $D2 $D3 -> $T -> $F -> $S -> $E"
