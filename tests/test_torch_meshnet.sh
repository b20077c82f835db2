#!/bin/bash
# The C mesh networks (-net_type meshnet, and the 3-level meshunet) against
# their PyTorch torch.sparse reference (bench/torch_meshnet.py) on the same
# weights, operators, transfers and inputs (issue 5): forward output v,
# parameter gradients and input gradients of sum(v * dv), on a 6x6-cell box
# (meshnet) and a 12x12-cell box (meshunet: 6x6 and 3x3 coarse grids):
#   double C build, 1 and 2 ranks, vs PyTorch float64:  relative 1e-9
#   float32 C build, 1 rank, vs PyTorch float64:        relative 1e-4
# plus the reference's self-test (its sparse adjoint, finite differences, and
# its own box-mesh operators against the C ones, used by its throughput mode).
# Usage: test_torch_meshnet.sh MESHNET_DUMP MESHNET_DUMP_F64
# Skipped (exit 77) only when Debian's python3-torch is not installed.
DUMP=$1
DUMP64=$2
. "$(dirname "$0")/common.sh"
if ! "$PY" -c "import torch" 2>/dev/null; then echo "SKIP: python3-torch is not installed (apt-get install python3-torch)"; exit 77; fi
enter_scratch pf_test_torch_meshnet
REF="$SRC/bench/torch_meshnet.py"
ARCH_net="-mesh_faces 6 -mesh_width 16 -mesh_depth 2 -mesh_groups 4 -mesh_temb_dim 16 -batch 3 -seed 7"
ARCH_unet="-net_type meshunet -mesh_levels 3 -mesh_faces 12 -mesh_width 16 -mesh_depth 1 -mesh_groups 4 -mesh_temb_dim 16 -batch 3 -seed 7"
DSETS="/v /grad_params /grad_x"
# 1-rank runs are MPI singletons: skip Open MPI's transport probing there only
single() { OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader "$@"; }

for net in net unet; do
  eval "ARCH=\$ARCH_$net"
  section "mesh$net: C dumps"
  # shellcheck disable=SC2086
  single "$DUMP64" ${net}c64.h5 $ARCH >log.txt 2>&1 && pass "dump, double, 1 rank" || { fail "dump, double, 1 rank"; cat log.txt; }
  # shellcheck disable=SC2086
  "$MPIEXEC" -q -n 2 --oversubscribe "$DUMP64" ${net}c64np2.h5 $ARCH >log.txt 2>&1 && pass "dump, double, 2 ranks" || { fail "dump, double, 2 ranks"; cat log.txt; }
  # shellcheck disable=SC2086
  single "$DUMP" ${net}c32.h5 $ARCH >log.txt 2>&1 && pass "dump, float32, 1 rank" || { fail "dump, float32, 1 rank"; cat log.txt; }

  section "mesh$net: PyTorch reference"
  "$PY" "$REF" selftest --dump ${net}c64.h5 >log.txt 2>&1 && pass "torch_meshnet.py selftest" || fail "torch_meshnet.py selftest"
  [ $net = net ] && sed 's/^/       /' log.txt
  for d in ${net}c64 ${net}c64np2 ${net}c32; do
    [ -s $d.h5 ] || continue
    "$PY" "$REF" reference --dump $d.h5 --output ref_$d.h5 >log.txt 2>&1 && pass "reference on $d.h5" || { fail "reference on $d.h5"; cat log.txt; }
  done

  section "mesh$net: C vs PyTorch"
  CMP_DSET_WIDTH=26
  # shellcheck disable=SC2086
  [ -s ref_${net}c64.h5 ] && compare "double C, 1 rank vs torch float64" 1e-9 ${net}c64.h5 ref_${net}c64.h5 $DSETS
  # shellcheck disable=SC2086
  [ -s ref_${net}c64np2.h5 ] && compare "double C, 2 ranks vs torch float64" 1e-9 ${net}c64np2.h5 ref_${net}c64np2.h5 $DSETS
  # shellcheck disable=SC2086
  [ -s ref_${net}c32.h5 ] && compare "float32 C, 1 rank vs torch float64" 1e-4 ${net}c32.h5 ref_${net}c32.h5 $DSETS
done
echo
printf "%b" "$SUMMARY"
echo "test_torch_meshnet: $npass passed, $nfail failed (${SECONDS}s)"
[ $nfail -eq 0 ] && [ $npass -eq 20 ]
