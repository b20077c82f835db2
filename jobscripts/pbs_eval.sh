#!/bin/bash
# physflow eval on PBS Pro / OpenPBS (UNTESTED; the Slurm version,
# slurm_eval.sh, is tested).  Short, no checkpoint: submitting again redoes it.
#   qsub -v SAMPLES=samples.h5,REFERENCE=test.h5,OUT=eval.json pbs_eval.sh
# ---- site: edit these lines -------------------------------------------------
#PBS -N pf-eval
#PBS -l select=1:ncpus=1:mpiprocs=1
#PBS -l walltime=00:30:00
#PBS -j oe
##PBS -A myproject
##PBS -q workq
PHYSFLOW=${PHYSFLOW:-physflow}
LAUNCH=${LAUNCH:-mpiexec}
# ---- the run ------------------------------------------------------------------
SAMPLES=${SAMPLES:-samples.h5}
REFERENCE=${REFERENCE:-}
OUT=${OUT:-eval.json}
EVAL_OPTS=${EVAL_OPTS:--physics darcy}
set -u
cd "${PBS_O_WORKDIR:?not inside a PBS job}" || exit 1
ref=""
[ -n "$REFERENCE" ] && ref="-reference $REFERENCE"
# shellcheck disable=SC2086
$LAUNCH -n "$(wc -l <"$PBS_NODEFILE")" "$PHYSFLOW" eval -samples "$SAMPLES" $ref $EVAL_OPTS -o "$OUT" >"$OUT.log"
