#!/bin/bash
# test_ns_dfg: the Navier-Stokes solver against the DFG benchmark 2D-1
# (steady flow past a cylinder, Re = 20) on a coarse Gmsh mesh of
# examples/meshes/dfg_cylinder.geo (-clscale 2: 570 vertices).  Measured on
# it: c_D 0.9% off, c_L 12% off, dp 0.8% off (they converge to 0.06%, 0.3%,
# 0.03% on finer meshes, BENCHMARKS.md); the tolerances 2%, 25%, 2% fail
# for any wrong sign, viscosity scaling, inflow profile or force formula.
# 1 and 2 ranks give the same values.
# Usage: test_ns_dfg.sh TEST_NS_DFG GEOFILE
. "$(dirname "$0")/common.sh"
DFG=$1; GEO=$2
command -v gmsh >/dev/null || { echo "gmsh not installed: skipped"; exit 77; }
enter_scratch pf_test_ns
gmsh -2 -format msh41 "$GEO" -clscale 2 -o dfg.msh >gmsh.log 2>&1 || { fail "gmsh failed: $(tail -n 2 gmsh.log)"; exit 1; }
TOL="-cd_tol 0.02 -cl_tol 0.25 -dp_tol 0.02"
"$DFG" -mesh dfg.msh $TOL >r1.txt 2>&1; rc1=$?
cat r1.txt
holds "DFG 2D-1, 1 rank: within tolerance (rc $rc1)" "$rc1 == 0"
"$MPIEXEC" -q -n 2 --oversubscribe "$DFG" -mesh dfg.msh $TOL >r2.txt 2>&1; rc2=$?
holds "DFG 2D-1, 2 ranks: within tolerance (rc $rc2)" "$rc2 == 0"
same=$("$PY" - <<'PYEOF'
import re
def vals(f):
    return [float(m) for m in re.findall(r"^  \S+ +(-?[0-9.]+)  reference", open(f).read(), re.M)]
a, b = vals("r1.txt"), vals("r2.txt")
print(len(a) == 3 and len(b) == 3 and all(abs(x - y) <= 1e-7 * max(abs(x), 1e-3) for x, y in zip(a, b)))
PYEOF
)
holds "c_D, c_L, dp: 1 rank and 2 ranks agree to 1e-7 ($same)" "'$same' == 'True'"
echo "test_ns_dfg: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
