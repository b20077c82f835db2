#!/bin/bash
# physflow sample on a Slurm allocation: each group of P ranks generates its
# share of the N samples; one parallel HDF5 file.  Sampling keeps no
# checkpoint: its output appears only when complete (OUT.partial, then
# renamed), so at the time-limit warning the job requeues itself at once and
# the next run samples again from the start; a run that finds OUT complete
# does nothing.
#   MODEL=model.h5 N=1000 OUT=samples.h5 sbatch slurm_sample.sh
# ---- site: edit these lines -------------------------------------------------
#SBATCH --job-name=pf-sample
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --time=00:30:00
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=pf-sample-%j.out
##SBATCH --account=myproject
##SBATCH --partition=compute
PHYSFLOW=${PHYSFLOW:-physflow}            # path of the physflow program
LAUNCH=${LAUNCH:-srun --mpi=pmix}         # or: mpirun (Open MPI reads the allocation)
# ---- the run: environment variables override these defaults -----------------
MODEL=${MODEL:-model.h5}
OUT=${OUT:-samples.h5}
N=${N:-1000}
SEED=${SEED:-0}
P=${P:-1}                                 # ranks per group (one mesh per group)
SAMPLE_OPTS=${SAMPLE_OPTS:--sampler heun -sampler_steps 10}
set -u

# ---- time limit: nothing to checkpoint, requeue at once (same block in every
# slurm_*.sh that does not checkpoint; scontrol requeue ends this run)
trap 'echo "pf-job $SLURM_JOB_ID: time-limit warning, requeueing (run $((${SLURM_RESTART_COUNT:-0} + 1)))"; scontrol requeue "$SLURM_JOB_ID"; exit 0' USR1

echo "pf-job $SLURM_JOB_ID: sample $N from $MODEL -> $OUT on ${SLURM_NTASKS:?not inside a Slurm job} ranks (groups of $P), run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date)"
if [ -e "$OUT" ]; then
  echo "pf-job $SLURM_JOB_ID: $OUT exists: nothing to do"
  exit 0
fi
# in the background, so that the trap runs at once
# shellcheck disable=SC2086  # option lists are meant to split
$LAUNCH "$PHYSFLOW" sample -model "$MODEL" -n "$N" -seed "$SEED" -pf_group_size "$P" $SAMPLE_OPTS -o "$OUT" &
wait $!
rc=$?
[ "$rc" = 0 ] && echo "pf-job $SLURM_JOB_ID: wrote $OUT ($(date))" || echo "pf-job $SLURM_JOB_ID: sample failed (exit code $rc)"
exit "$rc"
