#!/bin/bash
# test_guide_mesh: physflow guide on a mesh (Darcy) model, a tiny U-Net on a
# 7x7-cell box with p = 1 on the left side and p = 0 on the right.
#  (a) observable guidance of mean_logK over a region, target one base std
#      above the base mean: the guided model's fresh samples have a region
#      mean (mass-weighted, computed here from the file) above the base
#      samples' by at least 0.3 base std; 1 rank, 2 ranks sharing the mesh
#      and 2 groups of 1 rank sample the guided model alike.
#  (b) path guidance on the outflow through the right side above the base
#      samples' 80% quantile: the paths are stored in natural vertex order
#      (K+1 x M x 2 nvert); the tuned guidance brings more of the tuning
#      samples into the subset than the base model has there; 1 and 2 ranks
#      sample it alike.
#      The tilted variant (-path_method tilt) moves the mean outflow at
#      least 30% of the way to its tilt's mean (10 tuning runs).
#  (c) the naive baseline (-guide_baseline) writes its training file and a
#      fine-tuned model that samples.
#  (d) bad input: toy observable on a mesh model, flux without a group, an
#      unknown group, a region without vertices, path guidance without a
#      threshold, a quantile outside (0, 1).
. "$(dirname "$0")/common.sh"
enter_scratch pf_test_guide_mesh
echo "test_guide_mesh: scratch $WORK"
attr() { "$PY" -c "import h5py; print(h5py.File('$1')['guide'].attrs['$2'])"; }
# region_mean FILE: mean over samples of the mass-weighted mean of logK over
# [0.25,0.75]^2 (lumped Q1 masses: a quarter of each cell's area per vertex)
cat >region_mean.py <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
xy, cells, K = f["coords"][:], f["cells"][:], f["fields/logK"][:]
m = np.zeros(len(xy))
for c in cells:
    p = xy[c]; a = 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
    m[c] += a / len(c)
inside = (xy[:, 0] >= 0.25) & (xy[:, 0] <= 0.75) & (xy[:, 1] >= 0.25) & (xy[:, 1] <= 0.75)
w = m * inside / (m * inside).sum()
v = K @ w
print("%.6f %.6f" % (v.mean(), v.std()))
PYEOF

PROB="-mesh_faces 7 -darcy_kl_terms 16 -darcy_dirichlet 4,2 -darcy_dirichlet_value 1,0"
"$BIN" datagen -physics darcy $PROB -n 64 -seed 1 -o data.h5 >data.log 2>&1 &&
  "$BIN" train -data data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 \
    -train_steps 150 -batch_size 8 -lr 2e-3 -seed 1 -o base.h5 >base.log 2>&1 || { fail "base model: datagen or training failed"; exit 1; }

section "(a) observable guidance: mean_logK over a region"
G="-guide_samples 96 -guide_tune_samples 48 -guide_tune_evals 10 -sampler_steps 5"
run guide -model base.h5 -observable mean_logK -observable_region 0.25,0.75,0.25,0.75 -observable_shift 1 $G -o g.h5
[ "$RC" -eq 0 ] || fail "(a) guide: rc $RC: $(tail -n 2 err.txt)"
grep "physflow guide" out.txt | sed 's/^/       /'
run sample -model base.h5 -n 48 -seed 5 -o base_s.h5
run sample -model g.h5 -n 48 -seed 5 -o g1.h5
read -r bm bs < <("$PY" region_mean.py base_s.h5)
read -r gm gs < <("$PY" region_mean.py g1.h5)
holds "(a) region mean of logK: base $bm (std $bs), guided $gm: moved up by >= 0.3 base std" "$gm - $bm >= 0.3 * $bs"
NP=2 run sample -model g.h5 -n 48 -seed 5 -o g2.h5
compare "(a) guided samples, 1 rank vs 2 ranks (one group)" 1e-4 g1.h5 g2.h5 /fields/logK /fields/p
NP=2 run sample -model g.h5 -n 48 -seed 5 -pf_group_size 1 -o g2g.h5
compare "(a) guided samples, 1 rank vs 2 groups of 1" 1e-4 g1.h5 g2g.h5 /fields/logK /fields/p

section "(b) path guidance: high outflow through the right side"
NP=2 run guide -model base.h5 -guide_type path -observable boundary_flux -observable_group 2 -path_quantile 0.8 -path_guides 8 -path_fraction 0.6 $G -o p.h5
[ "$RC" -eq 0 ] || fail "(b) guide: rc $RC: $(tail -n 2 err.txt)"
grep "physflow guide" out.txt | sed 's/^/       /'
dims=$("$PY" -c "import h5py; print(' '.join(map(str, h5py.File('p.h5')['guide/paths'].shape)))" 2>/dev/null)
holds "(b) paths stored as K+1 x M x 2 nvert: '$dims' (want 11 8 128)" "'$dims' == '11 8 128'"
bf=$(attr p.h5 base_fraction 2>/dev/null); gf=$(attr p.h5 guided_fraction 2>/dev/null)
holds "(b) fraction in the subset: base $bf, guided $gf (tuning samples)" "$gf > $bf + 0.1"
run sample -model p.h5 -n 16 -seed 3 -o p1.h5 && NP=2 run sample -model p.h5 -n 16 -seed 3 -o p2.h5
compare "(b) path-guided samples, 1 rank vs 2 ranks" 1e-4 p1.h5 p2.h5 /fields/logK /fields/p

run guide -model base.h5 -guide_type path -path_method tilt -observable boundary_flux -observable_group 2 -path_quantile 0.8 -path_fraction 0.6 $G -o pt.h5
[ "$RC" -eq 0 ] || fail "(b) tilted path guidance: rc $RC: $(tail -n 2 err.txt)"
grep "physflow guide" out.txt | sed 's/^/       /'
bm=$(attr pt.h5 base_mean 2>/dev/null); gm=$(attr pt.h5 guided_mean 2>/dev/null); tm=$(attr pt.h5 target 2>/dev/null)
holds "(b) tilted path guidance: mean outflow base $bm, tilt target $tm, guided $gm (tuning samples; want at least 30% of the way)" "$gm > $bm + 0.3 * ($tm - $bm)"

section "(c) the naive baseline"
run guide -model base.h5 -observable mean_logK -observable_region 0.25,0.75,0.25,0.75 -observable_shift 1 $G -guide_baseline -guide_finetune_steps 20 -o nb.h5
if [ "$RC" -eq 0 ] && [ -s nb.h5.reweighted.h5 ] && [ -s nb.h5 ]; then pass "(c) baseline: resampled data and fine-tuned model written"; else fail "(c) baseline: rc $RC: $(tail -n 2 err.txt)"; fi
run sample -model nb.h5 -n 8 -o nb_s.h5
[ "$RC" -eq 0 ] && pass "(c) the baseline model samples" || fail "(c) sample of the baseline: $(tail -n 1 err.txt)"

section "(d) bad input"
expect_error "(d) toy observable on a mesh model" "mesh" guide -model base.h5 -observable x0 -observable_shift 1 -o x.h5
expect_error "(d) boundary_flux without a group" "-observable_group" guide -model base.h5 -observable boundary_flux -observable_shift 1 -o x.h5
expect_error "(d) unknown boundary group" "no boundary group" guide -model base.h5 -observable boundary_flux -observable_group outlet -observable_shift 1 -o x.h5
expect_error "sample -newton_polish of a Darcy model (no Newton step)" "needs a physics with a Newton step" sample -model base.h5 -n 2 -newton_polish 1 -o x.h5
expect_error "(d) region without vertices" "no mesh vertex" guide -model base.h5 -observable mean_logK -observable_region 0.01,0.02,0.01,0.02 -observable_shift 1 -o x.h5
expect_error "(d) path guidance without a threshold" "-path_threshold" guide -model base.h5 -guide_type path -observable boundary_flux -observable_group 2 -o x.h5
expect_error "(d) quantile outside (0, 1)" "-path_quantile" guide -model base.h5 -guide_type path -observable boundary_flux -observable_group 2 -path_quantile 1.5 -o x.h5
[ ! -e x.h5 ] && pass "(d) no output written by the failed runs" || fail "(d) x.h5 written"

echo
echo "== summary"
printf "%b" "$SUMMARY"
echo "test_guide_mesh: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
