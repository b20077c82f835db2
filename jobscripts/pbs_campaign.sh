#!/bin/bash
# The campaign of slurm_campaign.sh (read its header) as a PBS job array
# (UNTESTED; the Slurm version is tested): array index k of K takes the files
# k, k+K, ... of LIST; done-markers OUTDIR/done/<name>; a merge job after the
# whole array writes OUTDIR/summary.json.
#   LIST=files.txt OUTDIR=out bash pbs_campaign.sh submit
# ---- site: edit these lines -------------------------------------------------
#PBS -N pf-campaign
#PBS -l select=1:ncpus=1:mpiprocs=1
#PBS -l walltime=01:00:00
#PBS -j oe
##PBS -A myproject
##PBS -q workq
SELF=${SELF:-$HOME/physflow/jobscripts/pbs_campaign.sh}   # this script's path
PHYSFLOW=${PHYSFLOW:-physflow}
LAUNCH=${LAUNCH:-mpiexec}
# ---- the campaign ---------------------------------------------------------------
LIST=${LIST:-inputs.txt}
OUTDIR=${OUTDIR:-campaign}
DEFAULT_ARGS='eval -physics darcy -samples {in} -o {out} -plot none'
ARGS=${ARGS:-$DEFAULT_ARGS}
OUT_EXT=${OUT_EXT:-.json}
TASKS=${TASKS:-16}
MODE=${MODE:-${1:-task}}
set -u
[ -n "${PBS_O_WORKDIR:-}" ] && cd "$PBS_O_WORKDIR"
read_list() {
  [ -r "$LIST" ] || { echo "pf-campaign: cannot read the input list '$LIST' (set LIST)"; exit 1; }
  mapfile -t inputs < <(grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$LIST")
  [ "${#inputs[@]}" -gt 0 ] || { echo "pf-campaign: '$LIST' lists no input files"; exit 1; }
}
name_of() { local b=${1##*/}; echo "${b%.*}"; }
case "$MODE" in
submit)
  read_list
  k=$((TASKS < ${#inputs[@]} ? TASKS : ${#inputs[@]}))
  # PBS arrays need at least 2 indices
  [ "$k" -lt 2 ] && k=2
  a=$(qsub -V -v "MODE=task,TASKS=$k,LIST=$LIST,OUTDIR=$OUTDIR" -J "0-$((k - 1))" "$SELF") || exit 1
  m=$(qsub -V -v "MODE=merge,LIST=$LIST,OUTDIR=$OUTDIR" -W depend=afterok:"$a" "$SELF") || exit 1
  echo "pf-campaign: ${#inputs[@]} files over $k array tasks: job $a; merge: job $m"
  exit 0
  ;;
merge)
  # the same summary as slurm_campaign.sh: delegate to it (no Slurm needed)
  LIST="$LIST" OUTDIR="$OUTDIR" ARGS="$ARGS" OUT_EXT="$OUT_EXT" bash "$(dirname "$SELF")/slurm_campaign.sh" merge
  exit $?
  ;;
esac
read_list
k=${PBS_ARRAY_INDEX:?not inside a PBS job array: submit with 'bash pbs_campaign.sh submit'}
mkdir -p "$OUTDIR/done" "$OUTDIR/log"
nfail=0
for ((i = k; i < ${#inputs[@]}; i += TASKS)); do
  in=${inputs[i]}
  n=$(name_of "$in")
  [ -e "$OUTDIR/done/$n" ] && continue
  a=${ARGS//\{in\}/$in}
  a=${a//\{out\}/$OUTDIR/$n$OUT_EXT}
  # shellcheck disable=SC2086
  if $LAUNCH -n "$(wc -l <"$PBS_NODEFILE")" "$PHYSFLOW" $a >"$OUTDIR/log/$n.log" 2>&1; then echo "$in" >"$OUTDIR/done/$n"; else nfail=$((nfail + 1)); fi
done
[ "$nfail" -eq 0 ]
