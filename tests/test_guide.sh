#!/bin/bash
# test_guide: physflow guide (minimum-excess-work observable guidance) on
# the 8-Gaussians toy.
#  (a) observable x0, target half a base std above the base mean: fresh
#      guided samples have their mean within 0.05 std of the max-ent target;
#      1 and 2 ranks sample the guided model alike.
#  (b) the guided samples are closer (sliced Wasserstein) to the max-ent
#      answer (20000 base samples resampled by exp(-lambda x0)) than the
#      naive baseline (the base model fine-tuned on resampled base samples)
#      and than the base model.
#  (c) bad input: unknown observable, unreachable target, guided model as
#      base, path guidance without a region or into an empty one.
#  (d) path guidance into a box holding ~1% of the base mass (KDE, and the
#      tilt in minus the distance to the box, which inside the box is the
#      base distribution: closer to it there than the KDE): at least half
#      of the guided samples inside, and inside, closer (SWD) to the base
#      samples that fall there than a uniform fill of the box is.
. "$(dirname "$0")/common.sh"
enter_scratch pf_test_guide
echo "test_guide: scratch $WORK"
fast_mpi_singletons
json_get() { "$PY" -c "import json,sys; d=json.load(open('$1')); print(d$2)"; }
attr() { "$PY" -c "import h5py; print(h5py.File('$1')['guide'].attrs['$2'])"; }

"$BIN" train -toy 8gaussians -mlp_width 64 -mlp_depth 2 -train_steps 1500 -batch_size 256 -lr 2e-3 -lr_warmup 100 -seed 1 -o base.h5 >base.log 2>&1 ||
  { fail "base model training failed"; exit 1; }

section "(a) observable guidance matches the target"
run guide -model base.h5 -observable x0 -observable_shift 0.5 -guide_samples 2000 -guide_tune_evals 25 -o guided.h5
[ "$RC" -eq 0 ] || fail "(a) guide: rc $RC: $(tail -n 2 err.txt)"
sed -n 's/^/       /p' out.txt | grep -v tuning
target=$(attr guided.h5 target 2>/dev/null)
bstd=$(attr guided.h5 base_std 2>/dev/null)
run sample -model guided.h5 -n 10000 -seed 5 -o sg.h5 && run eval -samples sg.h5 -reference sg.h5 -o eg.json
gm=$(json_get eg.json "['mean_samples'][0]" 2>/dev/null)
holds "(a) guided mean of x0 '$gm', target '$target': within 0.05 base std ('$bstd')" "abs($gm - $target) <= 0.05 * $bstd"
NP=2 run sample -model guided.h5 -n 501 -seed 6 -o g2.h5 && NP=1 run sample -model guided.h5 -n 501 -seed 6 -o g1.h5
compare "(a) guided sampling, 1 vs 2 ranks" 1e-5 g1.h5 g2.h5 /samples

section "(b) closer to the max-ent answer than the naive baseline"
# the max-ent answer: 20000 base samples (another seed) resampled by the tilt
run guide -model base.h5 -observable x0 -observable_shift 0.5 -guide_samples 20000 -seed 99 -guide_baseline -guide_finetune_steps 1 -o ref.h5
[ -s ref.h5.reweighted.h5 ] || fail "(b) max-ent reference not written: $(tail -n 2 err.txt)"
run guide -model base.h5 -observable x0 -observable_shift 0.5 -guide_samples 2000 -guide_baseline -guide_finetune_steps 1000 -o naive.h5
[ "$RC" -eq 0 ] || fail "(b) naive baseline: rc $RC: $(tail -n 2 err.txt)"
for m in base guided naive; do
  run sample -model $m.h5 -n 10000 -seed 5 -sampler heun -sampler_steps 10 -o s_$m.h5 &&
    run eval -samples s_$m.h5 -reference ref.h5.reweighted.h5 -o e_$m.json
done
sb=$(json_get e_base.json "['sliced_wasserstein']" 2>/dev/null)
sg=$(json_get e_guided.json "['sliced_wasserstein']" 2>/dev/null)
sn=$(json_get e_naive.json "['sliced_wasserstein']" 2>/dev/null)
holds "(b) SWD to the max-ent answer: guided '$sg' < naive '$sn', base '$sb'" "$sg < $sn and $sg < $sb"
note "SWD to the max-ent tilt: guided $sg, naive fine-tuning $sn, base $sb"

section "(d) path guidance into a region holding ~1% of the base mass"
R="5.3,7,-1,1"
run guide -model base.h5 -guide_type path -path_region $R -guide_samples 10000 -guide_tune_samples 2000 -guide_tune_evals 24 -o path.h5
[ "$RC" -eq 0 ] || fail "(d) guide -guide_type path: rc $RC: $(tail -n 2 err.txt)"
grep -v tuning out.txt | sed 's/^/       /'
run sample -model path.h5 -n 10000 -seed 5 -o sp.h5 && run sample -model base.h5 -n 40000 -seed 8 -sampler heun -sampler_steps 10 -o sb.h5
read -r fin fbase swd swd0 < <("$PY" - <<'PY'
import h5py, numpy as np
box = (5.3, 7, -1, 1)
def inside(x): return (x[:, 0] >= box[0]) & (x[:, 0] <= box[1]) & (x[:, 1] >= box[2]) & (x[:, 1] <= box[3])
g = h5py.File("sp.h5")["samples"][...]; b = h5py.File("sb.h5")["samples"][...]
gi, bi = g[inside(g)], b[inside(b)]
def swd(a, c, k=128):
    th = np.random.default_rng(0).normal(size=(k, 2)); th /= np.linalg.norm(th, axis=1, keepdims=True)
    q = np.linspace(0, 1, 101)
    return np.mean([np.mean(np.abs(np.quantile(a @ t, q) - np.quantile(c @ t, q))) for t in th])
# how far the in-region guided samples are from the base restricted to the
# region, against the spread of the region's own width (a uniform box sample)
u = np.random.default_rng(1).uniform([box[0], box[2]], [box[1], box[3]], size=(len(bi), 2))
print("%.4f %.4f %.4f %.4f" % (inside(g).mean(), inside(b).mean(), swd(gi, bi), swd(u, bi)))
PY
)
holds "(d) '$fin' of the guided samples in the region (want >= 0.5; base '$fbase')" "$fin >= 0.5 and $fbase < 0.02"
holds "(d) in the region, SWD to the base samples there '$swd' < a uniform fill of the box's '$swd0'" "$swd < $swd0"
note "path guidance: $fin inside (base $fbase), in-region SWD to the base $swd (uniform box $swd0)"
# the tilted variant: inside the box the tilt is the base distribution
run guide -model base.h5 -guide_type path -path_method tilt -path_region $R -guide_samples 10000 -guide_tune_samples 2000 -guide_tune_evals 16 -o ptilt.h5
[ "$RC" -eq 0 ] || fail "(d) guide -path_method tilt: rc $RC: $(tail -n 2 err.txt)"
run sample -model ptilt.h5 -n 10000 -seed 5 -o st.h5
read -r tin tswd < <("$PY" - <<'PY'
import h5py, numpy as np
box = (5.3, 7, -1, 1)
def inside(x): return (x[:, 0] >= box[0]) & (x[:, 0] <= box[1]) & (x[:, 1] >= box[2]) & (x[:, 1] <= box[3])
g = h5py.File("st.h5")["samples"][...]; b = h5py.File("sb.h5")["samples"][...]
gi, bi = g[inside(g)], b[inside(b)]
th = np.random.default_rng(0).normal(size=(128, 2)); th /= np.linalg.norm(th, axis=1, keepdims=True)
q = np.linspace(0, 1, 101)
print("%.4f %.4f" % (inside(g).mean(), np.mean([np.mean(np.abs(np.quantile(gi @ t, q) - np.quantile(bi @ t, q))) for t in th])))
PY
)
holds "(d) tilted path guidance: '$tin' in the region (want >= 0.5), in-region SWD to the base '$tswd' (want < the KDE's '$swd')" "$tin >= 0.5 and $tswd < $swd"
note "tilted path guidance: $tin inside, in-region SWD to the base $tswd"

section "(c) bad input"
expect_error "(c) unknown observable" "unknown observable" guide -model base.h5 -observable bogus -observable_shift 0.5 -o x.h5
expect_error "(c) unreachable target" "outside the base samples" guide -model base.h5 -observable x0 -observable_target 1000 -guide_samples 200 -o x.h5
expect_error "(c) a guided model as the base" "already a guided model" guide -model guided.h5 -observable x0 -observable_shift 0.5 -o x.h5
expect_error "(c) no target" "target" guide -model base.h5 -observable x0 -o x.h5
expect_error "(c) path guidance without a region" "-path_region" guide -model base.h5 -guide_type path -o x.h5
expect_error "(c) a region no base sample reaches" "too rare" guide -model base.h5 -guide_type path -path_region 20,21,20,21 -guide_samples 500 -o x.h5
expect_error "(c) missing base model" "cannot read model" guide -model nothing.h5 -observable_shift 1 -o x.h5

echo
echo "== summary"
printf "%b" "$SUMMARY"
echo "test_guide: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
