#!/bin/bash
# physflow sample on PBS Pro / OpenPBS (UNTESTED; the Slurm version,
# slurm_sample.sh, is tested).  No checkpoint: give it a walltime that
# covers the run.  OUT appears only when complete (OUT.partial, renamed), so
# a killed run leaves nothing that looks finished; submitting again redoes
# it, and a run that finds OUT does nothing.
#   qsub -v MODEL=model.h5,N=1000,OUT=samples.h5 pbs_sample.sh
# ---- site: edit these lines -------------------------------------------------
#PBS -N pf-sample
#PBS -l select=1:ncpus=4:mpiprocs=4
#PBS -l walltime=00:30:00
#PBS -j oe
##PBS -A myproject
##PBS -q workq
PHYSFLOW=${PHYSFLOW:-physflow}
LAUNCH=${LAUNCH:-mpiexec}
# ---- the run ------------------------------------------------------------------
MODEL=${MODEL:-model.h5}
OUT=${OUT:-samples.h5}
N=${N:-1000}
SEED=${SEED:-0}
P=${P:-1}
SAMPLE_OPTS=${SAMPLE_OPTS:--sampler heun -sampler_steps 10}
set -u
cd "${PBS_O_WORKDIR:?not inside a PBS job}" || exit 1
[ -e "$OUT" ] && { echo "pf-job $PBS_JOBID: $OUT exists: nothing to do"; exit 0; }
# shellcheck disable=SC2086
$LAUNCH -n "$(wc -l <"$PBS_NODEFILE")" "$PHYSFLOW" sample -model "$MODEL" -n "$N" -seed "$SEED" -pf_group_size "$P" $SAMPLE_OPTS -o "$OUT"
