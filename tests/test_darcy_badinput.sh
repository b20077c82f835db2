#!/bin/bash
# test_darcy_badinput: bad input to datagen/eval -physics darcy.  Each case
# must give exit code 1, exactly one stderr line "physflow datagen: error:"
# (or eval) naming the problem, no PETSc/MPI traceback or banner, no core
# file; datagen must leave an existing output file untouched (sha256) and,
# for a fresh output, leave neither the file nor FILE.partial behind.
#   datagen: missing / text / empty / .h5 mesh file, mesh without the named
#     boundary group, -n 0, -n -3, -pf_group_size 3 on 2 ranks, -o in a
#     missing directory, -fidelity bogus, -low_coarsen 4 with -mesh_faces 15,
#     -fidelity low on a Gmsh mesh, -resume of a truncated .partial
#   eval: a toy /samples file, a mismatched mesh, a truncated dataset, NaN in
#     p (and Inf in logK, NaN in -reference), a missing file
# Environment (set by ctest): PF_BIN, PF_MPIEXEC, PF_PYTHON, PF_SOURCE_DIR;
# optional PF_GMSH.
# set -u, $BIN, $PY, $MPIEXEC, scratch dir, pass/fail/section, run (on NP
# ranks), expect_error, hash_of
. "$(dirname "$0")/common.sh"
GMSH=${PF_GMSH:-gmsh}
fast_mpi_singletons
enter_scratch pf_test_darcy_badinput
# the 2-rank cases run under mpiexec: its ORTE_ERROR lines count as a banner too
BANNER_RE="$BANNER_RE|ORTE_ERROR"

# datagen_error LABEL SUBSTRING ARGS...: the datagen run fails as expect_error
# wants, twice: with -o keep.h5 (an existing dataset: must stay byte-identical,
# no keep.h5.partial) and with -o fresh.h5 (nothing named fresh.h5* may appear)
datagen_error() {
  local label=$1 want=$2
  shift 2
  local h
  h=$(hash_of keep.h5)
  expect_error "$label [-o existing keep.h5]" "$want" datagen "$@" -o keep.h5
  if [ "$(hash_of keep.h5)" != "$h" ]; then fail "$label: keep.h5 was modified"; cp keep0.h5 keep.h5; fi
  if [ -e keep.h5.partial ]; then fail "$label: left keep.h5.partial"; rm -f keep.h5.partial; fi
  expect_error "$label [-o fresh.h5]" "$want" datagen "$@" -o fresh.h5
  local left
  left=$(ls -d fresh.h5 fresh.h5.* fresh.xmf 2>/dev/null | tr '\n' ' ')
  if [ -n "$left" ]; then fail "$label: left $left"; rm -f fresh.h5 fresh.h5.* fresh.xmf; fi
}

D="-physics darcy -n 4 -seed 1"

# ---------------------------------------------------------------------------
section "setup: a good dataset, meshes, broken files"
run datagen $D -mesh_faces 15 -o keep.h5
if [ "$RC" -eq 0 ] && [ -s keep.h5 ]; then pass "datagen of keep.h5 (box 15x15, 4 samples)"; else fail "cannot make keep.h5: rc $RC $(cat err.txt)"; exit 1; fi
cp keep.h5 keep0.h5
cp keep.h5 good.h5
echo "  keep.h5 sha256 $(hash_of keep.h5)"
GM=0
if command -v "$GMSH" >/dev/null 2>&1 && "$GMSH" -2 -format msh41 "$SRC/examples/meshes/plate_hole.geo" -o plate_hole.msh -clscale 2 >gmsh.log 2>&1 && [ -s plate_hole.msh ]; then
  GM=1
  pass "gmsh meshed plate_hole.geo ($(stat -c %s plate_hole.msh) bytes)"
else
  echo "  SKIP the Gmsh-mesh cases: '$GMSH' not found or failed ($(tail -n 1 gmsh.log 2>/dev/null))"
fi
echo "this is not a mesh" >text.msh
: >empty.msh
head -c $(($(stat -c %s good.h5) / 2)) good.h5 >trunc.h5
"$PY" - <<'EOF'
import shutil
import h5py, numpy as np
shutil.copy("good.h5", "nan_p.h5")
with h5py.File("nan_p.h5", "r+") as f:
    f["fields/p"][2, 17] = np.nan
shutil.copy("good.h5", "inf_logk.h5")
with h5py.File("inf_logk.h5", "r+") as f:
    f["fields/logK"][1, 3] = np.inf
EOF
[ -s nan_p.h5 ] && [ -s inf_logk.h5 ] || fail "cannot make the NaN/Inf datasets with $PY h5py"
run datagen -toy moons -n 50 -seed 1 -o toy.h5
[ "$RC" -eq 0 ] || fail "cannot make toy.h5: $(cat err.txt)"

# ---------------------------------------------------------------------------
section "datagen: mesh files"
datagen_error "-mesh missing.msh" "missing.msh" $D -mesh missing.msh
datagen_error "-mesh <text file>" "text.msh" $D -mesh text.msh
datagen_error "-mesh <empty file>" "empty.msh" $D -mesh empty.msh
datagen_error "-mesh <an HDF5 dataset>" "good.h5" $D -mesh good.h5
if [ "$GM" = 1 ]; then
  datagen_error "-darcy_dirichlet inlet on plate_hole.msh (has outer, hole)" "inlet" $D -mesh plate_hole.msh -darcy_dirichlet inlet
  datagen_error "-darcy_dirichlet hole,inlet (second group missing)" "inlet" $D -mesh plate_hole.msh -darcy_dirichlet hole,inlet
  datagen_error "-fidelity low on a Gmsh mesh (without -low_mesh)" "-fidelity low" $D -mesh plate_hole.msh -fidelity low
fi
datagen_error "-darcy_dirichlet inlet on the box" "inlet" $D -mesh_faces 15 -darcy_dirichlet inlet

# ---------------------------------------------------------------------------
section "datagen: option values"
datagen_error "-n 0" "-n must be positive" -physics darcy -n 0 -seed 1 -mesh_faces 15
datagen_error "-n -3" "-n must be positive" -physics darcy -n -3 -seed 1 -mesh_faces 15
datagen_error "-fidelity bogus" "bogus" $D -mesh_faces 15 -fidelity bogus
datagen_error "-low_coarsen 4 with -mesh_faces 15" "-low_coarsen" $D -mesh_faces 15 -fidelity low -low_coarsen 4
datagen_error "-obs_noise -1" "-obs_noise" $D -mesh_faces 15 -obs_noise -1
datagen_error "-datagen_write_every 0" "-datagen_write_every" $D -mesh_faces 15 -datagen_write_every 0
NP=2
datagen_error "-pf_group_size 3 on 2 ranks" "-pf_group_size" $D -mesh_faces 15 -pf_group_size 3
datagen_error "-mesh missing.msh on 2 ranks" "missing.msh" $D -mesh missing.msh
NP=1
expect_error "-o /nonexistent/dir/x.h5" "cannot write output" datagen $D -mesh_faces 15 -o /nonexistent/dir/x.h5
[ -e /nonexistent/dir ] && fail "/nonexistent/dir was created"

# ---------------------------------------------------------------------------
section "datagen -resume of a corrupt .partial"
head -c 20000 good.h5 >bad.h5.partial
h=$(hash_of bad.h5.partial)
expect_error "-resume with a truncated bad.h5.partial" "bad.h5.partial" datagen $D -mesh_faces 15 -resume -o bad.h5
if [ -e bad.h5 ]; then fail "-resume of a corrupt .partial created bad.h5"; fi
if [ "$(hash_of bad.h5.partial)" = "$h" ]; then pass "the corrupt bad.h5.partial is left as it was"; else fail "the corrupt bad.h5.partial was modified"; fi
cp good.h5 other.h5.partial
expect_error "-resume of a .partial with another -n" "other.h5.partial" datagen -physics darcy -n 5 -seed 1 -mesh_faces 15 -resume -o other.h5

# ---------------------------------------------------------------------------
section "eval -physics darcy"
cp good.h5 report.json
hr=$(hash_of report.json)
hg=$(hash_of good.h5)
check_report() { if [ "$(hash_of report.json)" != "$hr" ]; then fail "$1: existing report.json was modified"; cp good.h5 report.json; fi; }
expect_error "eval of a toy /samples file" "toy.h5" eval -physics darcy -samples toy.h5 -o report.json
check_report "toy"
expect_error "eval with -mesh_faces 20 on box-15 data" "vertices" eval -physics darcy -samples good.h5 -mesh_faces 20 -o report.json
check_report "mesh mismatch"
if [ "$GM" = 1 ]; then
  expect_error "eval with -mesh plate_hole.msh on box-15 data" "vertices" eval -physics darcy -samples good.h5 -mesh plate_hole.msh -o report.json
  check_report "Gmsh mesh mismatch"
fi
expect_error "eval of a truncated dataset (half)" "trunc.h5" eval -physics darcy -samples trunc.h5 -o report.json
check_report "truncated"
expect_error "eval of a dataset with NaN in p" "NaN" eval -physics darcy -samples nan_p.h5 -o report.json
check_report "NaN"
expect_error "eval of a dataset with Inf in logK" "Inf" eval -physics darcy -samples inf_logk.h5 -o report.json
check_report "Inf"
expect_error "eval with NaN in the -reference" "NaN" eval -physics darcy -samples good.h5 -reference nan_p.h5 -o report.json
check_report "NaN reference"
expect_error "eval of a missing file" "missing.h5" eval -physics darcy -samples missing.h5 -o report.json
check_report "missing"
NP=2
expect_error "eval with a mismatched mesh on 2 ranks" "vertices" eval -physics darcy -samples good.h5 -mesh_faces 20 -o report.json
check_report "mesh mismatch on 2 ranks"
NP=1
if [ "$(hash_of good.h5)" = "$hg" ]; then pass "eval left its input good.h5 unchanged"; else fail "eval modified good.h5"; fi
# and the good case still works, so the errors above are about the inputs
run eval -physics darcy -samples good.h5 -o report.json
if [ "$RC" -eq 0 ] && grep -q residual_relative report.json; then pass "eval of the good dataset: rc 0, report written"; else fail "eval of the good dataset: rc $RC $(head -n 2 err.txt)"; fi

# ---------------------------------------------------------------------------
section "solver options PETSc reads only once a solver runs"
# an external factorisation package's options are read when the factor is
# created (the first solve), after the unknown-option check: accepted, and
# effective (MUMPS's own verbosity, ICNTL(4), prints its banner)
run datagen $D -mesh_faces 15 -darcy_ksp_type preonly -darcy_pc_type lu -darcy_pc_factor_mat_solver_type mumps -darcy_mat_mumps_icntl_4 2 -o late.h5
if [ "$RC" -eq 0 ] && grep -q "Entering DMUMPS" out.txt && ! grep -q warning err.txt; then pass "-darcy_mat_mumps_icntl_4 with a MUMPS factorisation: accepted and read"; else fail "-darcy_mat_mumps_icntl_4: rc $RC $(head -n 2 err.txt)"; fi
run datagen $D -mesh_faces 15 -darcy_ksp_converged_reason -o late.h5
if [ "$RC" -eq 0 ] && grep -q "Linear darcy_ solve converged" out.txt; then pass "-darcy_ksp_converged_reason (read at the end of each solve): accepted and read"; else fail "-darcy_ksp_converged_reason: rc $RC $(head -n 2 err.txt)"; fi
# the same option with no factorisation to read it: the run works, and says so
run datagen $D -mesh_faces 15 -darcy_mat_mumps_icntl_4 2 -o late.h5
if [ "$RC" -eq 0 ] && grep -q "warning: option -darcy_mat_mumps_icntl_4 was not used" err.txt; then pass "-darcy_mat_mumps_icntl_4 without MUMPS: rc 0 and a warning that it was not used"; else fail "unused late option: rc $RC, stderr '$(head -n 2 err.txt)'"; fi
# and a misspelt solver option is still refused before any work
datagen_error "-darcy_ksp_typo cg" "-darcy_ksp_typo" $D -mesh_faces 15 -darcy_ksp_typo cg

# ---------------------------------------------------------------------------
T1=$(date +%s.%N)
echo
printf "test_darcy_badinput: %d checks passed, %d failed (%.1f s)\n" "$npass" "$nfail" "$(echo "$T1 - $T0" | bc 2>/dev/null || echo 0)"
[ "$nfail" -eq 0 ]
