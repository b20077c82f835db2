#!/bin/bash
# A campaign over many input files as a Slurm job array: array task k of K
# runs one physflow command per input file for the files k, k+K, k+2K, ... of
# LIST (one path per line); a final job, dependent on the whole array
# (afterok), merges the per-file results into one summary.
#
#   LIST=inputs.txt OUTDIR=campaign bash slurm_campaign.sh submit   # array + merge job
#   (or by hand: A=$(sbatch --parsable --array=0-15 slurm_campaign.sh)
#                sbatch --dependency=afterok:$A slurm_campaign.sh merge)
#
# ARGS is the per-file command; {in} is replaced by the input file, {out} by
# OUTDIR/<input name without extension>$OUT_EXT.  Today: eval over many
# sample files (the default) or sample with many seeds; the inference campaign
# (physflow infer -obs {in}, issue 7) plugs in here unchanged when infer exists.
#
# Time limit: a file is done when its command exited 0, recorded by a marker
# OUTDIR/done/<name> written after the command finished.  At the time-limit
# warning a task requeues itself; the next run skips the files with markers
# and redoes the one it was in the middle of.  So no file is lost or counted
# twice, whatever the number of requeues.
# The array size is given at submission (--array), not here: the merge job
# runs this same script and must not become an array itself.
# ---- site: edit these lines -------------------------------------------------
#SBATCH --job-name=pf-campaign
#SBATCH --ntasks=1
#SBATCH --time=01:00:00
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=pf-campaign-%A_%a.out
##SBATCH --account=myproject
##SBATCH --partition=compute
PHYSFLOW=${PHYSFLOW:-physflow}            # path of the physflow program
LAUNCH=${LAUNCH:-srun --mpi=pmix}         # or: mpirun (Open MPI reads the allocation)
# ---- the campaign: environment variables override these defaults ------------
LIST=${LIST:-inputs.txt}                  # input files, one per line (# comments)
OUTDIR=${OUTDIR:-campaign}
DEFAULT_ARGS='eval -physics darcy -samples {in} -o {out} -plot none'
ARGS=${ARGS:-$DEFAULT_ARGS}               # the per-file command ({in}, {out})
OUT_EXT=${OUT_EXT:-.json}                 # per-file output name: OUTDIR/<name>$OUT_EXT
TASKS=${TASKS:-16}                        # 'submit': array size (at most one task per file)
set -u

# the inputs, without blank and comment lines; names must be unique, since
# they name the outputs and markers
read_list() {
  [ -r "$LIST" ] || { echo "pf-campaign: cannot read the input list '$LIST' (set LIST)"; exit 1; }
  mapfile -t inputs < <(grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$LIST")
  [ "${#inputs[@]}" -gt 0 ] || { echo "pf-campaign: '$LIST' lists no input files"; exit 1; }
  local dup
  dup=$(for f in "${inputs[@]}"; do b=${f##*/}; echo "${b%.*}"; done | sort | uniq -d | head -n 1)
  [ -z "$dup" ] || { echo "pf-campaign: two inputs in '$LIST' are both named '$dup': their outputs would clash"; exit 1; }
}
name_of() { local b=${1##*/}; echo "${b%.*}"; }
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

mode=${1:-task}
case "$mode" in
submit)
  read_list
  k=$((TASKS < ${#inputs[@]} ? TASKS : ${#inputs[@]}))
  a=$(sbatch --parsable --array=0-$((k - 1)) "$0") || exit 1
  m=$(sbatch --parsable --dependency=afterok:"${a%%;*}" --output=pf-campaign-merge-%j.out "$0" merge) || exit 1
  echo "pf-campaign: ${#inputs[@]} files over $k array tasks: job ${a%%;*}; merge: job ${m%%;*} -> $OUTDIR/summary.json"
  exit 0
  ;;
merge)
  # one JSON summary: every input with its output and, for JSON outputs, its
  # content; exit 1 if any input has no result
  read_list
  mkdir -p "$OUTDIR"
  tmp="$OUTDIR/summary.json.tmp.$$"
  ndone=0 missing=()
  {
    printf '{"list": %s, "command": %s, "inputs": %d, "results": [' "$(json_string "$LIST")" "$(json_string "$ARGS")" "${#inputs[@]}"
    sep=""
    for in in "${inputs[@]}"; do
      n=$(name_of "$in")
      out="$OUTDIR/$n$OUT_EXT"
      if [ -e "$OUTDIR/done/$n" ]; then
        ndone=$((ndone + 1))
        printf '%s\n  {"input": %s, "output": %s' "$sep" "$(json_string "$in")" "$(json_string "$out")"
        if [ "$OUT_EXT" = .json ] && [ -s "$out" ]; then printf ', "result": '; cat "$out"; fi
        printf '}'
        sep=","
      else
        missing+=("$in")
      fi
    done
    printf '\n], "done": %d, "missing": [' "$ndone"
    sep=""
    for in in "${missing[@]}"; do printf '%s%s' "$sep" "$(json_string "$in")"; sep=", "; done
    printf ']}\n'
  } >"$tmp" && mv "$tmp" "$OUTDIR/summary.json"
  echo "pf-campaign: $ndone of ${#inputs[@]} files done -> $OUTDIR/summary.json"
  [ "${#missing[@]}" -eq 0 ] || { echo "pf-campaign: no result for: ${missing[*]}"; exit 1; }
  exit 0
  ;;
task) ;;
*)
  echo "pf-campaign: unknown mode '$mode' (submit, merge, or none inside the array)"
  exit 1
  ;;
esac

# ---- one array task
: "${SLURM_ARRAY_TASK_ID:?not inside a Slurm job array: submit with 'bash $0 submit'}"
# ---- time limit: requeue this task at once (same block in every slurm_*.sh
# that does not checkpoint; scontrol requeue ends this run)
trap 'echo "pf-job $SLURM_JOB_ID: time-limit warning, requeueing (run $((${SLURM_RESTART_COUNT:-0} + 1)))"; scontrol requeue "$SLURM_JOB_ID"; exit 0' USR1
read_list
step=${SLURM_ARRAY_TASK_STEP:-1}
k=$(((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / step))
K=${SLURM_ARRAY_TASK_COUNT:?}
mkdir -p "$OUTDIR/done" "$OUTDIR/log"
echo "pf-job $SLURM_JOB_ID: campaign task $k of $K over ${#inputs[@]} files, run $((${SLURM_RESTART_COUNT:-0} + 1)), $(date)"
nrun=0 nskip=0 nfail=0
for ((i = k; i < ${#inputs[@]}; i += K)); do
  in=${inputs[i]}
  n=$(name_of "$in")
  if [ -e "$OUTDIR/done/$n" ]; then
    nskip=$((nskip + 1))
    continue
  fi
  out="$OUTDIR/$n$OUT_EXT"
  a=${ARGS//\{in\}/$in}
  a=${a//\{out\}/$out}
  # in the background, so that the trap runs at once
  # shellcheck disable=SC2086  # the command is meant to split
  $LAUNCH "$PHYSFLOW" $a >"$OUTDIR/log/$n.log" 2>&1 &
  if wait $!; then
    echo "$in" >"$OUTDIR/done/$n"
    nrun=$((nrun + 1))
  else
    echo "pf-job $SLURM_JOB_ID: '$in' failed, see $OUTDIR/log/$n.log"
    nfail=$((nfail + 1))
  fi
done
echo "pf-job $SLURM_JOB_ID: task $k: $nrun done now, $nskip done before, $nfail failed ($(date))"
[ "$nfail" -eq 0 ]
