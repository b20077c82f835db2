# common.sh: set-up and helpers shared by the shell tests that run physflow
# (test_cli, test_rank_invariance, test_restart, test_darcy_datagen,
# test_darcy_badinput).  Each sources it first thing:
#     . "$(dirname "$0")/common.sh"
# Sourcing it sets -u, disables core files and defines
#   SRC BIN PY MPIEXEC CMP   source tree, physflow (absolute path), python,
#                            mpiexec, tests/h5compare.py
#   fast_mpi_singletons      opt-in Open MPI start-up speed-ups for 1-rank runs
#   enter_scratch NAME       scratch dir (removed on exit), cd, clocks T0/SECONDS
#   seed_random TEST         $RANDOM from PF_TEST_SEED, announced
#   pass fail note section hash_of mpi2 run expect_error compare holds
# and the counters npass, nfail and the text SUMMARY (filled by note, compare).
# Environment (set by ctest): PF_BIN, PF_MPIEXEC, PF_PYTHON, PF_SOURCE_DIR.
set -u
ulimit -c 0 2>/dev/null || true

SRC=$(cd "${PF_SOURCE_DIR:-$(dirname "$0")/..}" && pwd)
BIN=${PF_BIN:-$SRC/build/physflow}
PY=${PF_PYTHON:-/usr/bin/python3}
MPIEXEC=${PF_MPIEXEC:-mpiexec}
CMP="$SRC/tests/h5compare.py"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
[ -x "$BIN" ] || { echo "FAIL: physflow binary '$BIN' not found (set PF_BIN)"; exit 1; }
# absolute: the tests run in their scratch dir
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

# fast_mpi_singletons: 1-rank runs are MPI singletons; Open MPI's default
# start-up probes all transports and spawns a helper daemon (~0.4 s per run,
# ~100 runs in test_cli).  Only shared memory is needed; set
# PF_TEST_DEFAULT_MPI=1 to keep the defaults.  Opt-in, because the pml/btl
# choice also reaches the ranks that mpiexec starts: test_rank_invariance and
# test_restart run with Open MPI's defaults.
fast_mpi_singletons() {
  if [ "${PF_TEST_DEFAULT_MPI:-0}" != 1 ]; then
    export OMPI_MCA_ess_singleton_isolated=${OMPI_MCA_ess_singleton_isolated:-1}
    export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
    export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
  fi
}

# enter_scratch NAME: make ${TMPDIR:-/tmp}/NAME.XXXXXX, remove it on exit, cd
# into it and start the clocks (T0 for date +%s.%N arithmetic, SECONDS).
# Tests that start runs in the background add their pids to BGPIDS, so that
# an early exit does not leave them running.
BGPIDS=""
cleanup() {
  local p
  for p in $BGPIDS; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
enter_scratch() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
  trap cleanup EXIT
  cd "$WORK" || exit 1
  SECONDS=0
  # shellcheck disable=SC2034  # T0 is read by the test scripts
  T0=$(date +%s.%N)
}

# seed_random TEST: seed $RANDOM (kill times) from PF_TEST_SEED, default the
# pid, and print it with the scratch dir so that a failure can be repeated
seed_random() {
  SEED=${PF_TEST_SEED:-$$}
  RANDOM=$SEED
  echo "$1: scratch $WORK, random seed $SEED (set PF_TEST_SEED to repeat)"
}

nfail=0
npass=0
SUMMARY=""
pass() { echo "  ok   $*"; npass=$((npass + 1)); }
fail() { echo "  FAIL $*"; nfail=$((nfail + 1)); }
note() { SUMMARY="$SUMMARY  $*\n"; }
section() { echo; echo "== $*"; }
hash_of() { sha256sum "$1" | cut -d' ' -f1; }
mpi2() { "$MPIEXEC" -n 2 --oversubscribe "$@"; }

# run CMD...: runs physflow on NP ranks (1 = singleton, no mpiexec), leaves
# the exit code in $RC, stdout in out.txt, stderr in err.txt
NP=1
run() {
  if [ "$NP" -eq 1 ]; then
    "$BIN" "$@" >out.txt 2>err.txt
  else
    # -q: Open MPI's own "process returned a non-zero exit code" banner is the
    # launcher's, not physflow's; what is checked here is physflow's output
    "$MPIEXEC" -q -n "$NP" --oversubscribe "$BIN" "$@" >out.txt 2>err.txt
  fi
  RC=$?
}

# expect_error LABEL SUBSTRING CMD... : exit 1 with exactly one stderr line
# "physflow <cmd>: error: ..." that contains SUBSTRING (case-insensitive), no
# PETSc traceback/banner (BANNER_RE, extended by tests that use mpiexec), no
# crash (rc would be >= 128), no core file.  Returns 0 if all that holds.
BANNER_RE='PETSC ERROR|^-{5,}|Caught signal|MPI_ABORT'
expect_error() {
  local label=$1 want=$2
  shift 2
  local cmd=$1
  run "$@"
  local nl first why=""
  nl=$(wc -l <err.txt)
  first=$(head -n 1 err.txt)
  [ "$RC" -eq 1 ] || why="$why exit code $RC (want 1);"
  [ "$nl" -eq 1 ] || why="$why $nl stderr lines (want 1);"
  case "$first" in "physflow $cmd: error: "*) ;; *) why="$why stderr does not start with 'physflow $cmd: error: ';" ;; esac
  grep -qiF -- "$want" err.txt || why="$why message lacks '$want';"
  if grep -qE -- "$BANNER_RE" err.txt out.txt; then why="$why PETSc/MPI traceback or banner printed;"; fi
  if compgen -G "core*" >/dev/null; then why="$why core file left;"; rm -f core*; fi
  if [ -z "$why" ]; then
    pass "$label: rc=$RC, \"$first\""
    return 0
  fi
  fail "$label:$why"
  sed 's/^/       stderr: /' err.txt | head -n 12
  return 1
}

# holds LABEL PYEXPR: pass LABEL if the Python expression is true, else
# fail it (an expression that does not evaluate, e.g. on an empty value, fails)
holds() {
  if "$PY" -c "import sys; sys.exit(0 if ($2) else 1)" 2>/dev/null; then pass "$1"; else fail "$1"; fi
}

# compare LABEL RTOL A B DATASET...: tests/h5compare.py on the DATASETs of A
# and B; prints its lines, passes if they agree to RTOL and notes the largest
# max_rel it measured for the summary: LABEL padded to CMP_LABEL_WIDTH, then,
# if CMP_DSET_WIDTH is set, the datasets padded to that width.
CMP_LABEL_WIDTH=52
CMP_DSET_WIDTH=""
compare() {
  local label=$1 rtol=$2 a=$3 b=$4
  shift 4
  local args=() d
  for d in "$@"; do args+=(--dataset "$d"); done
  "$PY" "$CMP" "$a" "$b" "${args[@]}" --rtol "$rtol" >cmp.txt 2>&1
  local rc=$?
  sed 's/^/       /' cmp.txt
  local worst what
  worst=$(grep -oE 'max_rel [0-9.e+-]+' cmp.txt | awk '{print $2}' | sort -g | tail -n 1)
  what=$(printf '%-*s' "$CMP_LABEL_WIDTH" "$label")
  if [ -n "$CMP_DSET_WIDTH" ]; then what="$what $(printf '%-*s' "$CMP_DSET_WIDTH" "$*")"; fi
  note "$(printf '%s max_rel %-10s (rtol %s)' "$what" "${worst:-?}" "$rtol")"
  if [ "$rc" -eq 0 ]; then pass "$label: $* agree to rtol $rtol (max_rel ${worst:-?})"; else fail "$label: $* differ beyond rtol $rtol (max_rel ${worst:-?})"; fi
}
