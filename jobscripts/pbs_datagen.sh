#!/bin/bash
# physflow datagen -physics darcy on PBS Pro / OpenPBS (UNTESTED: no PBS
# server was available; the Slurm version, slurm_datagen.sh, is tested).
# G groups x P ranks, one parallel HDF5 file; OUT.partial holds the finished
# samples until complete.  PBS has no early-warning signal: a timer
# sends SIGUSR1 to this script LEAD seconds before the walltime, physflow
# writes its buffered samples and stops, and the script submits itself again
# (SELF) to continue with -resume, then exits 1 so that jobs depending on
# this one do not start on unfinished work (rerun pbs_pipeline.sh later).
#   qsub -v OUT=darcy.h5,N=10000 pbs_datagen.sh
# ---- site: edit these lines -------------------------------------------------
#PBS -N pf-datagen
#PBS -l select=1:ncpus=4:mpiprocs=4
#PBS -l walltime=01:00:00
#PBS -j oe
##PBS -A myproject
##PBS -q workq
SELF=${SELF:-$HOME/physflow/jobscripts/pbs_datagen.sh}   # this script's path (PBS runs a copy)
PHYSFLOW=${PHYSFLOW:-physflow}
LAUNCH=${LAUNCH:-mpiexec}                 # Open MPI reads $PBS_NODEFILE
LEAD=${LEAD:-120}                         # seconds before the walltime to stop
# ---- the run ------------------------------------------------------------------
OUT=${OUT:-darcy.h5}
N=${N:-10000}
SEED=${SEED:-1}
P=${P:-1}
DATAGEN_OPTS=${DATAGEN_OPTS:--physics darcy}
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
NTASKS=$(wc -l <"$PBS_NODEFILE")
echo "pf-job $PBS_JOBID: datagen $N samples -> $OUT on $NTASKS ranks (groups of $P), $(date)"
# shellcheck disable=SC2086
launch $LAUNCH -n "$NTASKS" "$PHYSFLOW" datagen $DATAGEN_OPTS -n "$N" -seed "$SEED" -pf_group_size "$P" -o "$OUT" -resume
if [ "$rc" = 0 ] && [ -e "$OUT" ] && [ ! -e "$OUT.partial" ]; then
  echo "pf-job $PBS_JOBID: dataset complete: $OUT"
  exit 0
fi
continue_or_fail datagen
