#!/bin/bash
# Domain-decomposed mesh-network training (issue 5): with the same seed and
# global batch, the loss history and final parameters agree (relative 1e-5)
# for (groups G, ranks per group P) = (1,1), (1,2), (2,1), (1,4), (2,2),
# for the single-level meshnet and the 3-level meshunet (whose coarse grids
# are partitioned, and transferred between, differently on every layout),
# also with -mesh_geometry_features (boundary flags found per partition).
. "$(dirname "$0")/common.sh"
enter_scratch pf_test_meshnet
"$BIN" datagen -physics darcy -mesh_faces 11 -n 40 -seed 3 -o d.h5 >/dev/null || { echo "FAIL: datagen"; exit 1; }
common="-data d.h5 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 -train_steps 40 -batch_size 4 -lr 2e-3 -seed 5 -monitor_every 1000"
for net in "meshnet" "meshunet -mesh_levels 3" "meshunet -mesh_levels 3 -mesh_geometry_features"; do
  opts="$common -net_type $net"
  tag=$(echo "${net%% *}" "${net##* }" | sed 's/ 3$//; s/ -mesh_geometry_features/+features/')
  # shellcheck disable=SC2086
  "$BIN" train $opts -o ref.h5 >/dev/null || { echo "FAIL: serial training ($tag)"; exit 1; }
  for gp in "1 2" "2 1" "1 4" "2 2"; do
    set -- $gp
    np=$(($1 * $2))
    # shellcheck disable=SC2086
    "$MPIEXEC" -q -n $np --oversubscribe "$BIN" train $opts -pf_group_size $2 -o g$1p$2.h5 >log.txt 2>&1 || { echo "FAIL: $tag training with G=$1 P=$2"; cat log.txt; nfail=$((nfail + 1)); continue; }
    compare "$tag G=$1 P=$2 vs serial" 1e-5 ref.h5 g$1p$2.h5 /history/loss /params /ema
  done
done
# PBFM training (the unrolled residual loss), also on a sub-batch
# (-pbfm_batch: evenly spaced rows of the global batch, the same rows on
# every layout); -pbfm_batch equal to the batch is the default
opts="$common -net_type meshunet -mesh_levels 3 -train_steps 12 -constraint pbfm -pbfm_unroll 2"
# shellcheck disable=SC2086
"$BIN" train $opts -o pb_ref.h5 >/dev/null || { echo "FAIL: serial PBFM training"; exit 1; }
# shellcheck disable=SC2086
"$BIN" train $opts -pbfm_batch 4 -o pb_all.h5 >/dev/null || { echo "FAIL: PBFM training, -pbfm_batch 4"; exit 1; }
compare "pbfm -pbfm_batch 4 (the batch) vs default" 1e-6 pb_ref.h5 pb_all.h5 /history/loss /params
# shellcheck disable=SC2086
"$BIN" train $opts -pbfm_batch 2 -o pb_sub.h5 >/dev/null || { echo "FAIL: serial PBFM training, -pbfm_batch 2"; exit 1; }
for gp in "2 1" "1 2"; do
  set -- $gp
  # shellcheck disable=SC2086
  "$MPIEXEC" -q -n 2 "$BIN" train $opts -pbfm_batch 2 -pf_group_size $2 -o pb_g$1p$2.h5 >log.txt 2>&1 || { echo "FAIL: PBFM -pbfm_batch 2 with G=$1 P=$2"; cat log.txt; nfail=$((nfail + 1)); continue; }
  compare "pbfm -pbfm_batch 2 G=$1 P=$2 vs serial" 1e-5 pb_sub.h5 pb_g$1p$2.h5 /history/loss /params
done
# the sub-batch changes the update (else the option would do nothing)
if "$PY" "$CMP" pb_ref.h5 pb_sub.h5 --dataset /params --rtol 1e-3 >/dev/null 2>&1; then
  fail "-pbfm_batch 2 trained the same parameters as the whole batch"
else pass "-pbfm_batch 2 gives other parameters than the whole batch"; fi
printf "%b" "$SUMMARY"
echo "test_meshnet_consistency: $npass passed, $nfail failed"
[ $nfail -eq 0 ]
