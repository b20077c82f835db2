#!/bin/bash
# physflow finetune on a Slurm allocation: a pretrained model fine-tuned with
# the PDE residual (-constraint pbfm by default), G groups x P ranks as in
# slurm_train.sh.  The output model is the checkpoint: stopped at the
# time-limit warning, requeued, resumed bitwise.
#   MODEL=pre.h5 DATA=lowfi.h5 OUT=tuned.h5 sbatch slurm_finetune.sh
# ---- site: edit these lines -------------------------------------------------
#SBATCH --job-name=pf-finetune
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --time=02:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=pf-finetune-%j.out
##SBATCH --account=myproject
##SBATCH --partition=compute
PHYSFLOW=${PHYSFLOW:-physflow}            # path of the physflow program
LAUNCH=${LAUNCH:-srun --mpi=pmix}         # or: mpirun (Open MPI reads the allocation)
# ---- the run: environment variables override these defaults -----------------
MODEL=${MODEL:-model.h5}                  # the pretrained model (read only)
DATA=${DATA:-lowfi.h5}                    # fine-tuning data
OUT=${OUT:-tuned.h5}
P=${P:-1}                                 # ranks per group; "node": all ranks of a node
STEPS=${STEPS:-2000}
SEED=${SEED:-0}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-200}
FINETUNE_OPTS=${FINETUNE_OPTS:--constraint pbfm -batch_size 16}
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

NTASKS=${SLURM_NTASKS:?not inside a Slurm job}
[ "$P" = node ] && P=${SLURM_TASKS_PER_NODE%%[(,]*}
if [ $((NTASKS % P)) -ne 0 ]; then
  echo "pf-job: P=$P ranks per group does not divide the $NTASKS tasks of the allocation"
  exit 1
fi
echo "pf-job $SLURM_JOB_ID: finetune $MODEL on $DATA -> $OUT, $NTASKS ranks = $((NTASKS / P)) group(s) x $P rank(s), run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date)"
resume=""
[ -e "$OUT" ] && resume="-resume $OUT"
# shellcheck disable=SC2086  # option lists are meant to split
launch $LAUNCH "$PHYSFLOW" finetune -model "$MODEL" -data "$DATA" $FINETUNE_OPTS -pf_group_size "$P" \
  -train_steps "$STEPS" -seed "$SEED" -checkpoint_every "$CHECKPOINT_EVERY" -o "$OUT" $resume
if [ "$rc" = 0 ] && { [ "$signalled" = 0 ] || model_complete "$OUT"; }; then
  echo "pf-job $SLURM_JOB_ID: fine-tuning complete: $OUT ($(date))"
  exit 0
fi
requeue_or_fail "fine-tuning"
