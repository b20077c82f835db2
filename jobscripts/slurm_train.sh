#!/bin/bash
# physflow train on a Slurm allocation: G groups x P ranks (-pf_group_size P).
# Each group shares one mesh (domain decomposition over its P ranks); the G
# groups split the batch (data parallel).  The model file is the checkpoint:
# before the time limit Slurm sends SIGUSR1, physflow writes it and stops, the
# job requeues itself and the next run continues with -resume, bitwise as if
# it had never stopped.
#   DATA=darcy.h5 MODEL=model.h5 sbatch slurm_train.sh
# ---- site: edit these lines -------------------------------------------------
#SBATCH --job-name=pf-train
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --time=02:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=pf-train-%j.out
##SBATCH --account=myproject
##SBATCH --partition=compute
PHYSFLOW=${PHYSFLOW:-physflow}            # path of the physflow program
LAUNCH=${LAUNCH:-srun --mpi=pmix}         # or: mpirun (Open MPI reads the allocation)
# ---- the run: environment variables override these defaults -----------------
DATA=${DATA:-darcy.h5}
MODEL=${MODEL:-model.h5}
P=${P:-1}                                 # ranks per group; "node": all ranks of a node
STEPS=${STEPS:-20000}                     # total steps (a resumed run stops here too)
SEED=${SEED:-0}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-500} # also a checkpoint every K steps (hard kills)
NET_OPTS=${NET_OPTS:--net_type meshunet -mesh_levels 3 -mesh_width 32 -mesh_depth 2}
TRAIN_OPTS=${TRAIN_OPTS:--batch_size 32 -lr 1e-3 -lr_warmup 200}
set -u

# ---- time limit: checkpoint, then requeue (same block in every slurm_*.sh
# that checkpoints).  The signal reaches this shell only (B:); it is passed
# on to physflow, whose run is in the background so that the trap runs at
# once.  rc: physflow's exit status.
signalled=0 pid="" rc=0
trap 'signalled=1; [ -n "$pid" ] && kill -USR1 "$pid" 2>/dev/null' USR1
launch() {
  "$@" &
  pid=$!
  [ "$signalled" = 1 ] && kill -USR1 "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  # an interrupted wait returns 128+signal: wait for physflow's own status
  if [ "$signalled" = 1 ]; then wait "$pid" 2>/dev/null && rc=0 || { r=$?; [ "$r" != 127 ] && rc=$r; }; fi
  pid=""
}
requeue_or_fail() {
  if [ "$signalled" = 1 ]; then
    echo "pf-job $SLURM_JOB_ID: $1 stopped at the time-limit warning (run $((${SLURM_RESTART_COUNT:-0} + 1))); requeueing"
    scontrol requeue "$SLURM_JOB_ID" || { echo "pf-job: scontrol requeue failed: submit the script again to continue"; exit 1; }
    exit 0
  fi
  echo "pf-job $SLURM_JOB_ID: $1 failed (exit code $rc)"
  exit $((rc == 0 ? 1 : rc))
}
# model_complete FILE: the checkpoint has run all of its -train_steps
model_complete() {
  "$PHYSFLOW" info "$1" 2>/dev/null | awk '/^ *train_steps = /{t=$3} /^ *training: /{n=$2} END{exit !(t != "" && n == t)}'
}

# ---- layout: G x P from the allocation
NTASKS=${SLURM_NTASKS:?not inside a Slurm job}
[ "$P" = node ] && P=${SLURM_TASKS_PER_NODE%%[(,]*}
if [ $((NTASKS % P)) -ne 0 ]; then
  echo "pf-job: P=$P ranks per group does not divide the $NTASKS tasks of the allocation"
  exit 1
fi
G=$((NTASKS / P))
echo "pf-job $SLURM_JOB_ID: train $DATA -> $MODEL, $NTASKS ranks = $G group(s) x $P rank(s) on ${SLURM_JOB_NUM_NODES:-1} node(s), run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date)"
resume=""
[ -e "$MODEL" ] && resume="-resume $MODEL"
# shellcheck disable=SC2086  # option lists are meant to split
launch $LAUNCH "$PHYSFLOW" train -data "$DATA" $NET_OPTS $TRAIN_OPTS -pf_group_size "$P" \
  -train_steps "$STEPS" -seed "$SEED" -checkpoint_every "$CHECKPOINT_EVERY" -o "$MODEL" $resume
if [ "$rc" = 0 ] && { [ "$signalled" = 0 ] || model_complete "$MODEL"; }; then
  echo "pf-job $SLURM_JOB_ID: training complete: $MODEL ($(date))"
  exit 0
fi
requeue_or_fail "training"
