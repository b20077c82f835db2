#!/bin/bash
# test_ns_dfg: the Navier-Stokes solver against the DFG benchmark 2D-1
# (steady flow past a cylinder, Re = 20) on a coarse Gmsh mesh of
# examples/meshes/dfg_cylinder.geo (-clscale 2: 570 vertices).  Measured on
# it: c_D 0.9% off, c_L 12% off, dp 0.8% off (they converge to 0.06%, 0.3%,
# 0.03% on finer meshes, BENCHMARKS.md); the tolerances 2%, 25%, 2% fail
# for any wrong sign, viscosity scaling, inflow profile or force formula.
# 1 and 2 ranks give the same values.
# Then datagen -physics ns: samples across Reynolds numbers with /params/Re,
# the same on 1 rank, one group of 2 and 2 groups of 1; models train and
# sample on them, also conditioned on Re (-condition field); bad input gets
# one-line errors.
# The residual of vertex states and its VJP: Taylor test (test_ns_vjp) on 1
# and 2 ranks.  Fine-tuning for a new Re range (adjoint matching, endpoint,
# Newton targets) and sample -newton_polish: 1 and 2 ranks agree.
# Usage: test_ns_dfg.sh TEST_NS_DFG GEOFILE PHYSFLOW TEST_NS_VJP TEST_NS_ENDPOINT
. "$(dirname "$0")/common.sh"
DFG=$1; GEO=$2; BIN=$3; VJP=$4; EPT=$5
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
section "residual of vertex states"
"$VJP" -mesh dfg.msh -Re_min 20 -Re_max 40 >v1.txt 2>&1; rc=$?
sed 's/^/       /' v1.txt
holds "Taylor test of the NS residual VJP (Re, u, v, p), 1 rank (rc $rc)" "$rc == 0"
"$MPIEXEC" -q -n 2 --oversubscribe "$VJP" -mesh dfg.msh -Re_min 20 -Re_max 40 >v2.txt 2>&1; rc=$?
holds "Taylor test of the NS residual VJP, 2 ranks (rc $rc)" "$rc == 0"
"$VJP" -mesh dfg.msh -Re_min 20 -Re_max 40 -ns_residual_bc_weight 0.1 >v3.txt 2>&1; rc=$?
holds "Taylor test with the boundary rows weighted 0.1 (-ns_residual_bc_weight), 1 rank (rc $rc)" "$rc == 0"
"$VJP" -mesh dfg.msh -Re_min 20 -Re_max 40 -ns_unsteady -ns_snapshots 1 -ns_unsteady_spinup 0.1 >v4.txt 2>&1; rc=$?
holds "Taylor test of a snapshot's residual (no momentum rows, -ns_unsteady), 1 rank (rc $rc)" "$rc == 0"
# endpoint fine-tuning's parameter gradient through the sampler, Re held, in
# the Newton-step error norm and the squared residual (also with the states'
# anchor to a base sample), against FD
"$EPT" -mesh dfg.msh >ep1.txt 2>&1; rc=$?
sed "s/^/       /" ep1.txt
holds "endpoint gradient vs FD (error norm, l2, l2 + state anchor), 1 rank (rc $rc)" "$rc == 0"
"$MPIEXEC" -q -n 2 --oversubscribe "$EPT" -mesh dfg.msh >ep2.txt 2>&1; rc=$?
holds "endpoint gradient vs FD, 2 ranks (rc $rc)" "$rc == 0"

section "datagen -physics ns"
G="-physics ns -mesh dfg.msh -Re_min 15 -Re_max 40 -n 4 -seed 3"
run datagen $G -o d1.h5
[ "$RC" -eq 0 ] || fail "datagen -physics ns: $(tail -n 2 err.txt)"
NP=2 run datagen $G -o d2.h5
NP=2 run datagen $G -pf_group_size 1 -o d3.h5
compare "ns samples, 1 rank vs one group of 2" 1e-7 d1.h5 d2.h5 /fields/Re /fields/u /fields/v /fields/p /params/Re
compare "ns samples, 1 rank vs 2 groups of 1" 1e-7 d1.h5 d3.h5 /fields/Re /fields/u /fields/v /fields/p /params/Re
ok=$("$PY" -c "
import h5py, numpy as np
f = h5py.File('d1.h5'); Re = f['params/Re'][:]; u = f['fields/u'][:]; x = f['coords'][:, 0]; ReF = f['fields/Re'][:]
print(bool(np.all((Re >= 15) & (Re <= 40)) and np.ptp(Re) > 1 and abs(u[:, x < 1e-9].max() / 0.3 - 1) < 1e-3 and np.all(ReF == Re[:, None])))" 2>/dev/null)
holds "Re in [15, 40] and varied (the Re field equal to /params/Re), u on the inlet peaks at the parabola's 0.3: $ok" "'$ok' == 'True'"
run eval -samples d1.h5 -physics ns -o e.json
read -r res rs cd bc < <("$PY" -c "
import json; j = json.load(open('e.json')); print(j['residual_relative']['median'], j['resolve']['max'], j['c_D']['median'], j['bc_error']['max'])" 2>/dev/null)
holds "eval -physics ns on solver data: median relative residual $res (want < 0.05), re-solve distance $rs (want < 1e-8), median c_D $cd (want 3..7 for Re 15..40)" "$res < 0.05 and $rs < 1e-8 and 3 < $cd < 7"
# the Dirichlet rows compare the lifted state with the lifted vertex data
holds "eval -physics ns on solver data: Dirichlet rows exactly zero (max bc_error $bc, want < 1e-12)" "$bc < 1e-12"
run eval -samples d1.h5 -reference d1.h5 -physics ns -o er.json
ok=$("$PY" -c "
import json, os; j = json.load(open('er.json'))['check_distributions']
print(j['c_D']['w2'] == 0 and j['c_L']['w2'] == 0 and j['c_D']['ref_std'] > 0.1 and os.path.getsize('er_refchecks.txt') > 0)" 2>/dev/null)
holds "eval against a reference: drag and lift distributions (W2 0 for the data against themselves), the reference's checks written: $ok" "'$ok' == 'True'"
if "$PY" -c "import matplotlib" 2>/dev/null; then
  [ -s er_flow.png ] && [ -s er_forces.png ] && pass "eval -physics ns plots |u| and vorticity (er_flow.png) and drag/lift histograms (er_forces.png)" || fail "no ns plots: $(ls er_* | tr '\n' ' ')"
fi
gmsh -2 -format msh41 "$GEO" -clscale 4 -o dfgc.msh >/dev/null 2>&1
run datagen $G -fidelity low -low_mesh dfgc.msh -o dl.h5
ok=$("$PY" -c "
import h5py, numpy as np
h = h5py.File('d1.h5'); l = h5py.File('dl.h5')
e = [np.linalg.norm(l['fields/' + f][:] - h['fields/' + f][:]) / np.linalg.norm(h['fields/' + f][:]) for f in 'uv']
print('%.4f %.4f' % tuple(e))" 2>/dev/null)
holds "low fidelity (a 4x coarser mesh, interpolated): u, v relative distance to high fidelity $ok (want both in (0.001, 0.3))" "0.001 < float('$ok'.split()[0]) < 0.3 and 0.001 < float('$ok'.split()[1]) < 0.3"
run train -data d1.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -train_steps 5 -batch_size 2 -o m.h5
[ "$RC" -eq 0 ] && pass "a mesh U-Net trains on the flow data" || fail "training on ns data: $(tail -n 2 err.txt)"
run sample -model m.h5 -n 2 -o s.h5
[ "$RC" -eq 0 ] && [ -s s.h5 ] && pass "and samples u, v, p" || fail "sampling the ns model: $(tail -n 2 err.txt)"
run train -data d1.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -train_steps 5 -batch_size 2 -condition Re -o mc.h5
[ "$RC" -eq 0 ] || fail "training conditioned on Re: $(tail -n 2 err.txt)"
run sample -model mc.h5 -n 3 -cond_value 25 -o sc.h5
ok=$("$PY" -c "
import h5py, numpy as np
print(bool(np.abs(h5py.File('sc.h5')['fields/Re'][:] - 25).max() < 1e-4))" 2>/dev/null)
holds "a model conditioned on Re (-condition Re, short for -condition field -cond_fields Re) samples flows at the given Re = 25 (its Re field held): $ok" "'$ok' == 'True'"
run sample -model mc.h5 -n 4 -cond_data d1.h5 -o sd.h5
run eval -samples sd.h5 -reference d1.h5 -physics ns -o esd.json -plot none
ok=$("$PY" -c "
import json; j = json.load(open('esd.json'))['check_distributions']; print(j['c_D']['w2'] > 0 and j['c_D']['w2_rel'] > 0)" 2>/dev/null)
holds "a (5-step) model's drag distribution differs from the solver's (W2 > 0): $ok" "'$ok' == 'True'"
ok=$("$PY" -c "
import h5py, numpy as np
print(bool(np.abs(h5py.File('sd.h5')['fields/Re'][:] - h5py.File('d1.h5')['params/Re'][()][:, None]).max() < 1e-4))" 2>/dev/null)
holds "and at the Reynolds numbers of a dataset's samples (-cond_data): $ok" "'$ok' == 'True'"
# physics fine-tuning of the Re-conditioned model for a Re range it was not
# trained on: Re stays given (held) along the adjoint-matching trajectories
# run_1_and_2 TAG GROUP_SIZE CMD...: CMD on 1 rank (-o TAG1.h5, output in
# TAG1.txt, errors in TAG1.err, exit code in RC1) and on 2 ranks with -pf_group_size
# GROUP_SIZE (TAG2.h5, TAG2.txt): the runs whose printed losses are compared
run_1_and_2() {
  local tag=$1 gs=$2; shift 2
  run "$@" -o "${tag}1.h5"; RC1=$RC; cp out.txt "${tag}1.txt"; cp err.txt "${tag}1.err"
  NP=2 run "$@" -pf_group_size "$gs" -o "${tag}2.h5"; cp out.txt "${tag}2.txt"
}
FT="finetune -model mc.h5 -constraint adjoint -cond_range 45,60 -am_iters 2 -am_steps 10 -batch_size 2"
run_1_and_2 ft 1 $FT
[ "$RC1" -eq 0 ] || fail "adjoint fine-tuning of the Re-conditioned model: $(tail -n 2 ft1.err)"
ok=$("$PY" - <<'PYEOF'
import re
def first(f):
    m = re.search(r"iteration +1/2 +adjoint-matching loss (\S+) +residual of the samples \S+ (\S+)", open(f).read())
    return [float(v) for v in m.groups()]
a, b = first("ft1.txt"), first("ft2.txt")
print(all(abs(x - y) <= 1e-4 * abs(x) for x, y in zip(a, b)))
PYEOF
)
holds "adjoint fine-tuning of the Re-conditioned model (-cond_range 45,60): first iteration's loss and residual, 1 rank vs 2 groups, agree to 1e-4: $ok" "'$ok' == 'True'"
run sample -model ft1.h5 -n 2 -cond_value 50 -o sft.h5
ok=$("$PY" -c "
import h5py, numpy as np
f = h5py.File('sft.h5'); print(bool(np.abs(f['fields/Re'][:] - 50).max() < 1e-4 and np.isfinite(f['fields/u'][:]).all()))" 2>/dev/null)
holds "the fine-tuned model is still conditioned on Re: samples at Re = 50 keep it: $ok" "'$ok' == 'True'"
FE="finetune -model mc.h5 -constraint endpoint -cond_range 45,60 -train_steps 2 -endpoint_steps 3 -batch_size 2"
run_1_and_2 fe 2 $FE
[ "$RC1" -eq 0 ] || fail "endpoint fine-tuning of the Re-conditioned model: $(tail -n 2 fe1.err)"
ok=$("$PY" - <<'PYEOF'
import re
def first(f):
    return float(re.search(r"iteration +1/2 +residual of the samples (\S+)", open(f).read()).group(1))
a, b = first("fe1.txt"), first("fe2.txt")
print(a > 0 and abs(a - b) <= 1e-4 * a)
PYEOF
)
holds "endpoint fine-tuning in the Newton-step error norm (the default for ns): first iteration's loss, 1 rank vs the mesh split over 2 ranks, agree to 1e-4 (the printed digits): $ok" "'$ok' == 'True'"
# a model with the vertices' boundary flag and position as inputs, endpoint
# fine-tuned in the squared residual with the states anchored to the base's
run train -data d1.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -train_steps 5 -batch_size 2 -condition Re -mesh_geometry_features -o mg.h5
[ "$RC" -eq 0 ] || fail "training with -mesh_geometry_features: $(tail -n 2 err.txt)"
FG="finetune -model mg.h5 -constraint endpoint -cond_range 45,60 -train_steps 2 -endpoint_steps 3 -batch_size 2 -constraint_norm l2 -endpoint_state_anchor 1"
run_1_and_2 fg 2 $FG
ok=$("$PY" - <<'PYEOF'
import re
def first(f):
    m = re.search(r"iteration +2/2 +residual of the samples (\S+) +anchor (\S+)", open(f).read())
    return [float(v) for v in m.groups()]
a, b = first("fg1.txt"), first("fg2.txt")
# the anchor after one step is Adam's first (sign-like) update squared: its
# weights with rounding-size gradients flip with the partition, hence 1e-3
print(a[0] > 0 and a[1] > 0 and abs(a[0] - b[0]) <= 1e-4 * a[0] and abs(a[1] - b[1]) <= 1e-3 * a[1])
PYEOF
)
holds "a -mesh_geometry_features model, endpoint fine-tuned (l2, -endpoint_state_anchor 1): second iteration's residual and anchor, 1 rank vs the mesh split over 2 ranks, agree to 1e-4 and 1e-3: $ok" "'$ok' == 'True'"
run sample -model fg1.h5 -n 2 -cond_value 50 -o sfg.h5
[ "$RC" -eq 0 ] && [ -s sfg.h5 ] && pass "and the fine-tuned model samples" || fail "sampling the fine-tuned geometry-features model: $(tail -n 2 err.txt)"
# -pin_constant: the vertex values equal in every training sample (the
# Dirichlet data) are held by the model, so samples carry them exactly
run train -data d1.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -train_steps 5 -batch_size 2 -condition Re -pin_constant -o mp.h5
[ "$RC" -eq 0 ] || fail "training with -pin_constant: $(tail -n 2 err.txt)"
ok=$("$PY" -c "
import h5py, numpy as np
f = h5py.File('mp.h5'); P = f['data/pinned'][:]; xy = h5py.File('d1.h5')['coords'][:]
x, y = xy[:, 0], xy[:, 1]
bc = (x < 1e-9) | (y < 1e-9) | (y > 0.41 - 1e-9) | (np.abs(np.hypot(x - 0.2, y - 0.2) - 0.05) < 1e-6)
fin = np.isfinite(P)
print(bool(fin.shape == (4, len(x)) and not fin[0].any() and not fin[3].any() and (fin[1] == bc).all() and (fin[2] == bc).all() and bc.sum() > 20))" 2>/dev/null)
holds "the pinned values (/data/pinned) are u and v on the inlet, walls and cylinder, nothing else: $ok" "'$ok' == 'True'"
run sample -model mp.h5 -n 2 -cond_value 30 -sampler heun -sampler_steps 3 -o sp.h5
run eval -samples sp.h5 -physics ns -o ep.json -plot none
ok=$("$PY" -c "
import h5py, json, numpy as np
P = h5py.File('mp.h5')['data/pinned'][:]; s = h5py.File('sp.h5')
e = max(np.abs(s['fields/' + f][:][:, np.isfinite(P[k])] - P[k][np.isfinite(P[k])]).max() for k, f in ((1, 'u'), (2, 'v')))
free = np.ptp(s['fields/u'][:][:, ~np.isfinite(P[1])])
print(bool(e < 1e-6 and free > 0.01 and json.load(open('ep.json'))['bc_error']['max'] < 1e-6))" 2>/dev/null)
holds "a 5-step pinned model's samples meet the boundary data exactly (bc_error < 1e-6), the other values are generated: $ok" "'$ok' == 'True'"
FP="finetune -model mp.h5 -constraint endpoint -cond_range 45,60 -train_steps 2 -endpoint_steps 3 -batch_size 2 -constraint_norm l2 -endpoint_update gd -lr 1e-4 -endpoint_probe 1e-6,1e-5"
run_1_and_2 fp 2 $FP
ok=$("$PY" - <<'PYEOF'
import re, h5py, numpy as np
def second(f):
    return float(re.search(r"iteration +2/2 +residual of the samples (\S+)", open(f).read()).group(1))
a, b = second("fp1.txt"), second("fp2.txt")
same = np.array_equal(h5py.File("fp1.h5")["data/pinned"][:], h5py.File("mp.h5")["data/pinned"][:], equal_nan=True)
print(a > 0 and abs(a - b) <= 1e-4 * a and same)
PYEOF
)
holds "endpoint fine-tuning of the pinned model (-endpoint_update gd): second iteration's residual 1 rank vs 2 agree to 1e-4, the tuned model keeps the pins: $ok" "'$ok' == 'True'"
# finetune -pin_constant: a model trained without pins holds the boundary
# data from the fine-tuning on (the data's constant values, as in training)
run finetune -model mc.h5 -constraint endpoint -cond_range 45,60 -train_steps 1 -endpoint_steps 3 -batch_size 2 -pin_constant -o fpc.h5
[ "$RC" -eq 0 ] || fail "finetune -pin_constant of an unpinned model: $(tail -n 2 err.txt)"
run sample -model fpc.h5 -n 2 -cond_value 50 -sampler heun -sampler_steps 3 -o spc.h5
ok=$("$PY" -c "
import h5py, numpy as np
P = h5py.File('fpc.h5')['data/pinned'][:]; s = h5py.File('spc.h5')
same = np.array_equal(P, h5py.File('mp.h5')['data/pinned'][:], equal_nan=True)
e = max(np.abs(s['fields/' + f][:][:, np.isfinite(P[k])] - P[k][np.isfinite(P[k])]).max() for k, f in ((1, 'u'), (2, 'v')))
print(bool(same and e < 1e-6))" 2>/dev/null)
holds "finetune -pin_constant pins an unpinned model at the training data's boundary values (as train -pin_constant), its samples meet them to 1e-6: $ok" "'$ok' == 'True'"
# -endpoint_newton: Newton targets of the model's own samples fitted by
# flow matching (no back-propagation through the sampler)
FN="finetune -model mp.h5 -constraint endpoint -cond_range 45,60 -train_steps 2 -endpoint_steps 3 -batch_size 2 -endpoint_newton 2 -endpoint_newton_t 2 -lr 1e-4"
# newton_losses FILE ITER: the error norm of the samples and the fit's loss
# printed for iteration ITER of 2
newton_losses() {
  sed -n "s/.*iteration *$2\/2 *error norm of the samples \([^ ]*\) *flow-matching loss of the targets \([^ ]*\).*/\1 \2/p" "$1"
}
# agree A B: two pairs of positive losses equal to 1e-4 (relative)
agree() {
  "$PY" -c "
a, b = [float(v) for v in '$1'.split()], [float(v) for v in '$2'.split()]
print(len(a) == 2 and len(b) == 2 and min(a) > 0 and all(abs(x - y) <= 1e-4 * x for x, y in zip(a, b)))" 2>/dev/null
}
run_1_and_2 fn 2 $FN
[ "$RC1" -eq 0 ] || fail "finetune -endpoint_newton: $(tail -n 2 fn1.err)"
ok=$(agree "$(newton_losses fn1.txt 1)" "$(newton_losses fn2.txt 1)")
holds "finetune -endpoint_newton 2: first iteration's error norm and flow-matching loss of the Newton targets, 1 rank vs 2, agree to 1e-4: $ok" "'$ok' == 'True'"
run_1_and_2 fs 2 $FN -endpoint_newton_fit sampler
ok=$(agree "$(newton_losses fs1.txt 2)" "$(newton_losses fs2.txt 2)")
holds "-endpoint_newton_fit sampler (the sampler's own velocities shifted): second iteration's error norm and loss, 1 rank vs 2, agree to 1e-4: $ok" "'$ok' == 'True'"
run $FN -endpoint_newton_fit sampler -endpoint_newton_metric physical -o fsp.h5
read -r ea la < <(newton_losses out.txt 1)
read -r eb lb < <(newton_losses fs1.txt 1)
holds "-endpoint_newton_metric physical: the same samples and targets (error norm ${ea:-?} = ${eb:-?}), a differently weighted loss (${la:-?} vs ${lb:-?})" "'${ea:-x}' == '${eb:-y}' and ${la:-0} > 0 and abs(${la:-0} - ${lb:-0}) > 1e-3 * ${lb:-0}"
# sample -newton_polish: Newton steps of the PDE on each generated flow
run sample -model fn1.h5 -n 2 -cond_value 50 -sampler heun -sampler_steps 3 -newton_polish 3 -o snp.h5
read -r before after < <(sed -n 's/.*-newton_polish 3: .* \(\S*\) before, \(\S*\) after/\1 \2/p' out.txt)
# a 5-step model's flows are far from any solution: the damped steps must
# not make them worse (convergence from near a solution: test_ns_endpoint)
holds "sample -newton_polish 3 (damped Newton steps on each sample) never raises the error norm: ${before:-?} before, ${after:-?} after" "0 < ${after:-1} <= ${before:-0}"
ok=$("$PY" -c "
import h5py; print(h5py.File('snp.h5').attrs['newton_polish'] == 3)" 2>/dev/null)
holds "the samples file records -newton_polish: $ok" "'$ok' == 'True'"
expect_error "a negative -newton_polish" "must be >= 0" sample -model mc.h5 -n 1 -cond_value 30 -newton_polish -1 -o x.h5
ok=$("$PY" - <<'PYEOF'
import re
def probes(f):
    return [float(x) for pair in re.findall(r"probe: step \S+ +along -sign\(g\) loss (\S+) \(\S+\) +along -g loss (\S+)", open(f).read()) for x in pair]
a, b = probes("fp1.txt"), probes("fp2.txt")
print(len(a) == 4 and len(b) == 4 and all(abs(x - y) <= 1e-4 * x for x, y in zip(a, b)))
PYEOF
)
holds "-endpoint_probe 1e-6,1e-5 prints the first batch's loss after each step size along -sign(g) and -g, the same on 1 and 2 ranks: $ok" "'$ok' == 'True'"
ok=$("$PY" - <<'PYEOF'
import re
def val(f):
    t = open(f).read()
    return [float(re.search(r"validation batch \(2 fixed samples\): loss of the base model (\S+)", t).group(1))] + \
           [float(v) for v in re.findall(r"iteration +\d+/2 .*validation batch loss (\S+)", t)]
a, b = val("fp1.txt"), val("fp2.txt")
print(len(a) == 3 and len(b) == 3 and a[0] > 0 and all(abs(x - y) <= 1e-4 * x for x, y in zip(a, b)))
PYEOF
)
holds "the fixed validation batch's loss (base model, then after iterations 1 and 2) is printed, the same on 1 and 2 ranks: $ok" "'$ok' == 'True'"
run $FE -endpoint_train_only up1,down1 -o fo.h5
ok=$(grep -oE "training [0-9]+ of [0-9]+ parameters" out.txt | awk '{print ($2 > 0 && $2 < $4) ? "True" : "False"}')
holds "-endpoint_train_only up1,down1 trains a part of the parameters ($(grep -oE 'training [0-9]+ of [0-9]+' out.txt)): $ok" "'$ok' == 'True'"
expect_error "-endpoint_train_only with a prefix no parameter has" "no parameter view" $FE -endpoint_train_only bogus -o x.h5
expect_error "the Newton-step error norm of an unconditional model (Re not held)" "input fields must be given" finetune -model m.h5 -data d1.h5 -constraint endpoint -constraint_norm error -train_steps 1 -batch_size 2 -o x.h5
run sample -model fe1.h5 -n 2 -cond_value 55 -sampler heun -sampler_steps 3 -o sfe.h5
ok=$("$PY" -c "
import h5py, numpy as np
f = h5py.File('sfe.h5'); print(bool(np.abs(f['fields/Re'][:] - 55).max() < 1e-4 and np.isfinite(f['fields/u'][:]).all()))" 2>/dev/null)
holds "endpoint fine-tuning keeps Re given: samples at Re = 55 keep it: $ok" "'$ok' == 'True'"
run eval -samples sfe.h5 -physics ns -o efe.json -plot none
holds "eval of the Newton-fine-tuned model's samples (its solver options are not problem options) (rc $RC)" "$RC == 0"
expect_error "fine-tuning a Re-conditioned model without -cond_range" "-cond_range" finetune -model mc.h5 -constraint adjoint -o x.h5
expect_error "pbfm training of a pinned model" "does not hold given fields or pinned" train -data d1.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -train_steps 2 -batch_size 2 -pin_constant -constraint pbfm -o x.h5
expect_error "pbfm fine-tuning of a Re-conditioned model" "-constraint adjoint or endpoint" finetune -model mc.h5 -constraint pbfm -cond_range 1,2 -o x.h5
# inverse: Re and the flow from noisy probes of u, with the Re-conditioned model
run observe -data d1.h5 -index 1 -field u -nobs 8 -noise 0.01 -seed 1 -o obs.h5
I="infer -model mc.h5 -infer_type conditional -cond_range 15,40 -obs obs.h5 -n 8"
run $I -o post1.h5
[ "$RC" -eq 0 ] || fail "infer Re with the Re-conditioned model: $(tail -n 2 err.txt)"
grep -q "Re posterior (grid of 64)" out.txt && pass "infer reports Re's gridded posterior: $(grep -o 'Re posterior[^;]*' out.txt)" || fail "no Re posterior in: $(cat out.txt)"
NP=2 run $I -pf_group_size 1 -o post2.h5
compare "Re inference, 1 rank vs 2 groups of 1 (the grid split over the groups)" 1e-4 post1.h5 post2.h5 /fields/Re /fields/u
ok=$("$PY" -c "
import h5py, numpy as np
r = h5py.File('post1.h5')['fields/Re'][:]; print(bool(r.min() >= 15 and r.max() <= 40 and np.ptp(r, axis=1).max() < 1e-3))" 2>/dev/null)
holds "posterior samples: Re uniform over the mesh, inside the prior range: $ok" "'$ok' == 'True'"
expect_error "Re inference without a prior range" "-cond_range" infer -model mc.h5 -infer_type conditional -obs obs.h5 -o x.h5
expect_error "a field-conditioned model without its values" "-cond_value" sample -model mc.h5 -n 2 -o x.h5
expect_error "-cond_value: one value per given field" "one per given field" sample -model mc.h5 -n 2 -cond_value 20,30 -o x.h5
expect_error "guidance of a field-conditioned model" "conditioned on" infer -model mc.h5 -obs nothing.h5 -o x.h5
expect_error "-condition field without fields" "-cond_fields" train -data d1.h5 -condition field -train_steps 2 -o x.h5
expect_error "-condition of a field the data lack" "unknown -condition" train -data d1.h5 -condition Ma -train_steps 2 -o x.h5
section "datagen -physics ns -ns_unsteady"
# two trajectories of two snapshots, a few BDF2 steps from rest each
U="-physics ns -mesh dfg.msh -Re_min 80 -Re_max 100 -ns_unsteady -ns_snapshots 2 -ns_unsteady_spinup 0.2 -ns_unsteady_every 0.1 -n 4 -seed 5"
run datagen $U -o u1.h5
[ "$RC" -eq 0 ] || fail "datagen -ns_unsteady: $(tail -n 2 err.txt)"
NP=2 run datagen $U -pf_group_size 1 -o u2.h5
compare "unsteady snapshots, 1 rank vs 2 groups of 1" 1e-7 u1.h5 u2.h5 /fields/u /fields/v /fields/p /params/Re /params/t
ok=$("$PY" -c "
import h5py, numpy as np
f = h5py.File('u1.h5'); Re, t, u = f['params/Re'][:], f['params/t'][:], f['fields/u'][:]
# D/U_mean = 0.5: snapshots at steps 4 and 6 of dt 0.025
print(bool(Re[0] == Re[1] and Re[2] == Re[3] and Re[0] != Re[2] and np.allclose(t, [0.1, 0.15, 0.1, 0.15]) and np.abs(u[0] - u[1]).max() > 1e-3))" 2>/dev/null)
holds "snapshots of one trajectory share its Re, lie at the spin-up + k every times (/params/t) and differ: $ok" "'$ok' == 'True'"
run eval -physics ns -samples u1.h5 -o ue.json -plot none
ok=$("$PY" -c "
import json; d = json.load(open('ue.json')); print('resolve' not in d and d['continuity']['max'] < 0.05 and d['bc_error']['max'] < 0.05)" 2>/dev/null)
holds "eval of snapshots: continuity and boundary values hold, no steady re-solve: $ok" "'$ok' == 'True'"
expect_error "-ns_unsteady low fidelity" "not built" datagen $U -fidelity low -low_mesh dfg.msh -o x.h5
expect_error "ns without a mesh" "needs a Gmsh mesh" datagen -physics ns -n 1 -o x.h5
gmsh -2 -format msh41 "$(dirname "$GEO")/plate_hole.geo" -clscale 3 -o plate.msh >/dev/null 2>&1
expect_error "ns on a mesh without an inlet" "inlet" datagen -physics ns -mesh plate.msh -n 1 -o x.h5
expect_error "-Re_min 0" "Re_min" datagen -physics ns -mesh dfg.msh -Re_min 0 -n 1 -o x.h5
expect_error "ns low fidelity without a coarse mesh" "-low_mesh" datagen -physics ns -mesh dfg.msh -fidelity low -n 1 -o x.h5
[ ! -e x.h5 ] && pass "no output written by the failed runs" || fail "x.h5 written"
echo "test_ns_dfg: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
