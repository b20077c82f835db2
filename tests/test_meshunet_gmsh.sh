#!/bin/bash
# The U-Net's immersed hierarchy on a Gmsh mesh with a hole (plate_hole.geo):
# the transfers' checks (test_meshlevels) on 1 and 2 ranks, and the gradient
# check of the whole 3-level network (double build) on 2 ranks; on the same
# mesh, the constraint's state losses with a Dirichlet hole (the error
# norm's Jacobian solves with eliminated rows) on 2 ranks; the network with
# -mesh_geometry_features (gradient check, boundary vertices 1 vs 2 ranks).
# Usage: test_meshunet_gmsh.sh TEST_MESHLEVELS TEST_MESHNET_GRADCHECK TEST_CONSTRAINT
# Skipped (exit 77) only when gmsh is not installed.
LEVELS=$1
GRADCHECK=$2
CONSTRAINT=$3
. "$(dirname "$0")/common.sh"
GMSH=${PF_GMSH:-gmsh}
command -v "$GMSH" >/dev/null 2>&1 || { echo "SKIP: gmsh is not installed (apt-get install gmsh)"; exit 77; }
enter_scratch pf_test_meshunet_gmsh
"$GMSH" -2 -format msh41 "$SRC/examples/meshes/plate_hole.geo" -o plate.msh -clscale 3 >gmsh.log 2>&1 && [ -s plate.msh ] || { echo "FAIL: gmsh: $(tail -n 2 gmsh.log)"; exit 1; }
run_check() { # name, command...
  local name=$1; shift
  if "$@" >log.txt 2>&1 && grep -q '^PASS' log.txt; then pass "$name: $(grep -v '^PASS' log.txt | tail -n 1)"; else fail "$name"; cat log.txt; fi
}
run_check "transfers, 1 rank" "$LEVELS" -test_mesh plate.msh -mesh_levels 3
run_check "transfers, 2 ranks" "$MPIEXEC" -q -n 2 --oversubscribe "$LEVELS" -test_mesh plate.msh -mesh_levels 3
run_check "3-level U-Net gradient check, 2 ranks" "$MPIEXEC" -q -n 2 --oversubscribe "$GRADCHECK" -test_net_type meshunet -mesh_levels 3 -test_mesh plate.msh
# -mesh_geometry_features: the gradient check with the static channels, and
# the boundary flag's vertex count the same on 1 and 2 ranks
run_check "3-level U-Net with geometry features, gradient check, 2 ranks" "$MPIEXEC" -q -n 2 --oversubscribe "$GRADCHECK" -test_net_type meshunet -mesh_levels 3 -test_mesh plate.msh -mesh_geometry_features
nb2=$(grep -o 'boundary vertices: [0-9]*' log.txt | grep -o '[0-9]*$')
"$GRADCHECK" -test_net_type meshunet -mesh_levels 1 -test_mesh plate.msh >log1.txt 2>&1
nb1=$(grep -o 'boundary vertices: [0-9]*' log1.txt | grep -o '[0-9]*$')
if [ -n "$nb1" ] && [ "$nb1" -gt 0 ] && [ "$nb1" = "$nb2" ]; then pass "boundary vertices of plate.msh: $nb1 on 1 rank, $nb2 on 2 ranks"; else fail "boundary vertices of plate.msh: '$nb1' on 1 rank, '$nb2' on 2 ranks"; fi
run_check "state losses, -darcy_dirichlet hole, 2 ranks" "$MPIEXEC" -q -n 2 --oversubscribe "$CONSTRAINT" -test_mesh plate.msh -darcy_dirichlet hole
echo "test_meshunet_gmsh: $npass passed, $nfail failed"
[ $nfail -eq 0 ] && [ $npass -eq 6 ]
