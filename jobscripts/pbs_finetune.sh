#!/bin/bash
# physflow finetune on PBS Pro / OpenPBS (UNTESTED: no PBS server was available;
# the Slurm version, slurm_finetune.sh, is tested).  G groups x P ranks; the
# model file is the checkpoint.  PBS has no early-warning signal: a timer
# sends SIGUSR1 to this script LEAD seconds before the walltime, physflow
# writes its checkpoint and stops, and the script submits itself again
# (SELF) to continue with -resume, then exits 1 so that jobs depending on
# this one do not start on unfinished work (rerun pbs_pipeline.sh later).
#   qsub -v MODEL=pre.h5,DATA=lowfi.h5,OUT=tuned.h5 pbs_finetune.sh
# ---- site: edit these lines -------------------------------------------------
#PBS -N pf-finetune
#PBS -l select=1:ncpus=4:mpiprocs=4
#PBS -l walltime=02:00:00
#PBS -j oe
##PBS -A myproject
##PBS -q workq
SELF=${SELF:-$HOME/physflow/jobscripts/pbs_finetune.sh}   # this script's path (PBS runs a copy)
PHYSFLOW=${PHYSFLOW:-physflow}
LAUNCH=${LAUNCH:-mpiexec}                 # Open MPI reads $PBS_NODEFILE
LEAD=${LEAD:-120}                         # seconds before the walltime to stop
# ---- the run ------------------------------------------------------------------
MODEL=${MODEL:-model.h5}                  # pretrained (read only)
DATA=${DATA:-lowfi.h5}
OUT=${OUT:-tuned.h5}
P=${P:-1}
STEPS=${STEPS:-2000}
SEED=${SEED:-0}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-200}
FINETUNE_OPTS=${FINETUNE_OPTS:--constraint pbfm -batch_size 16}
set -u
cd "${PBS_O_WORKDIR:?not inside a PBS job}" || exit 1

# ---- early warning, continuation (same block in every pbs_*.sh that checkpoints)
walltime=$(qstat -f "$PBS_JOBID" | awk -F' = ' '/Resource_List.walltime/ {print $2}')
secs=$(echo "$walltime" | awk -F: '{print $1 * 3600 + $2 * 60 + $3}')
(sleep $((secs > LEAD ? secs - LEAD : 1)) && kill -USR1 $$) &
timer=$!
signalled=0 pid="" rc=0
trap 'signalled=1; [ -n "$pid" ] && kill -USR1 "$pid" 2>/dev/null' USR1
launch() {
  "$@" &
  pid=$!
  wait "$pid"
  rc=$?
  if [ "$signalled" = 1 ]; then wait "$pid" 2>/dev/null && rc=0 || { r=$?; [ "$r" != 127 ] && rc=$r; }; fi
  pid=""
  kill "$timer" 2>/dev/null
}
continue_or_fail() {
  if [ "$signalled" = 1 ]; then
    echo "pf-job $PBS_JOBID: $1 stopped before the walltime; submitting the continuation"
    qsub -V "$SELF" && exit 1
    echo "pf-job: qsub of the continuation failed: submit $SELF again"
    exit 1
  fi
  echo "pf-job $PBS_JOBID: $1 failed (exit code $rc)"
  exit $((rc == 0 ? 1 : rc))
}
model_complete() {
  "$PHYSFLOW" info "$1" 2>/dev/null | awk '/^ *train_steps = /{t=$3} /^ *training: /{n=$2} END{exit !(t != "" && n == t)}'
}

NTASKS=$(wc -l <"$PBS_NODEFILE")
[ $((NTASKS % P)) -eq 0 ] || { echo "pf-job: P=$P does not divide the $NTASKS ranks"; exit 1; }
echo "pf-job $PBS_JOBID: finetune $MODEL on $DATA -> $OUT, $NTASKS ranks = $((NTASKS / P)) group(s) x $P rank(s), $(date)"
resume=""
[ -e "$OUT" ] && resume="-resume $OUT"
# shellcheck disable=SC2086
launch $LAUNCH -n "$NTASKS" "$PHYSFLOW" finetune -model "$MODEL" -data "$DATA" $FINETUNE_OPTS -pf_group_size "$P" \
  -train_steps "$STEPS" -seed "$SEED" -checkpoint_every "$CHECKPOINT_EVERY" -o "$OUT" $resume
if [ "$rc" = 0 ] && { [ "$signalled" = 0 ] || model_complete "$OUT"; }; then
  echo "pf-job $PBS_JOBID: fine-tuning complete: $OUT"
  exit 0
fi
continue_or_fail fine-tuning
