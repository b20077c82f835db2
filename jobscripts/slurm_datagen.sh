#!/bin/bash
# physflow datagen -physics darcy on a Slurm allocation: G groups x P ranks,
# each group solving its share of the samples in situ, all writing one
# parallel HDF5 file.  Before the time limit Slurm sends SIGUSR1: datagen
# writes its buffered samples to OUT.partial and stops, the job requeues
# itself and the next run continues with -resume; a finished file is left
# as it is (rerunning the job is harmless).
#   OUT=darcy.h5 N=10000 SEED=1 sbatch slurm_datagen.sh
# ---- site: edit these lines -------------------------------------------------
#SBATCH --job-name=pf-datagen
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --time=01:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=pf-datagen-%j.out
##SBATCH --account=myproject
##SBATCH --partition=compute
PHYSFLOW=${PHYSFLOW:-physflow}            # path of the physflow program
LAUNCH=${LAUNCH:-srun --mpi=pmix}         # or: mpirun (Open MPI reads the allocation)
# ---- the run: environment variables override these defaults -----------------
OUT=${OUT:-darcy.h5}
N=${N:-10000}
SEED=${SEED:-1}
P=${P:-1}                                 # ranks per group (one mesh per group)
DATAGEN_OPTS=${DATAGEN_OPTS:--physics darcy}  # e.g. -mesh m.msh, -fidelity low -low_coarsen 3
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

echo "pf-job $SLURM_JOB_ID: datagen $N samples -> $OUT on ${SLURM_NTASKS:?not inside a Slurm job} ranks (groups of $P), run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date)"
# -resume always: it starts afresh without OUT.partial and does nothing when
# OUT is already complete
# shellcheck disable=SC2086  # option lists are meant to split
launch $LAUNCH "$PHYSFLOW" datagen $DATAGEN_OPTS -n "$N" -seed "$SEED" -pf_group_size "$P" -o "$OUT" -resume
if [ "$rc" = 0 ] && [ -e "$OUT" ] && [ ! -e "$OUT.partial" ]; then
  echo "pf-job $SLURM_JOB_ID: dataset complete: $OUT ($(date))"
  exit 0
fi
requeue_or_fail "datagen"
