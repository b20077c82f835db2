#!/bin/bash
# physflow eval on a Slurm allocation: physics checks of every sample and,
# with a reference dataset, the distribution metrics; a JSON report, PNGs and
# per-sample checks beside it.  Eval is short and keeps no checkpoint: at the
# time-limit warning the job requeues itself and the next run evaluates again.
#   SAMPLES=samples.h5 REFERENCE=test.h5 OUT=eval.json sbatch slurm_eval.sh
# ---- site: edit these lines -------------------------------------------------
#SBATCH --job-name=pf-eval
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --time=00:30:00
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=pf-eval-%j.out
##SBATCH --account=myproject
##SBATCH --partition=compute
PHYSFLOW=${PHYSFLOW:-physflow}            # path of the physflow program
LAUNCH=${LAUNCH:-srun --mpi=pmix}         # or: mpirun (Open MPI reads the allocation)
# ---- the run: environment variables override these defaults -----------------
SAMPLES=${SAMPLES:-samples.h5}
REFERENCE=${REFERENCE:-}                  # a held-out dataset (optional)
OUT=${OUT:-eval.json}
EVAL_OPTS=${EVAL_OPTS:--physics darcy}
set -u

# ---- time limit: nothing to checkpoint, requeue at once (same block in every
# slurm_*.sh that does not checkpoint; scontrol requeue ends this run)
trap 'echo "pf-job $SLURM_JOB_ID: time-limit warning, requeueing (run $((${SLURM_RESTART_COUNT:-0} + 1)))"; scontrol requeue "$SLURM_JOB_ID"; exit 0' USR1

echo "pf-job $SLURM_JOB_ID: eval $SAMPLES${REFERENCE:+ against $REFERENCE} -> $OUT, run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date)"
ref=""
[ -n "$REFERENCE" ] && ref="-reference $REFERENCE"
# shellcheck disable=SC2086  # option lists are meant to split
$LAUNCH "$PHYSFLOW" eval -samples "$SAMPLES" $ref $EVAL_OPTS -o "$OUT" >"$OUT.log" &
wait $!
rc=$?
[ "$rc" = 0 ] && echo "pf-job $SLURM_JOB_ID: wrote $OUT ($(date))" || echo "pf-job $SLURM_JOB_ID: eval failed (exit code $rc), see $OUT.log"
exit "$rc"
