#!/bin/bash
# test_infer: physflow observe and infer (-infer_type guidance) and
# observation campaigns, on a tiny Darcy U-Net (7x7-cell box, p = 1 on the
# left side, 0 on the right).
#  (a) observe: the same file on 1 and 2 ranks; the values are the bilinear
#      interpolant of the truth (computed here independently) plus noise of
#      the given std.
#  (b) infer: guiding by 16 pressure sensors brings the posterior mean of p
#      closer to the truth than the unguided model (-infer_scale 0); the
#      file has the posterior summaries; 1 rank, 2 ranks in one group and
#      2 groups of 1 give the same posterior samples.
#      The TAO MAP baseline (-infer_type map) fits p to 10% and gives the
#      same estimate on 1 and 2 ranks.
#  (c) a campaign over 6 observations plus a corrupt and an empty file: 6
#      results and 2 failures in summary.csv; a rerun does nothing twice
#      (every result skipped, files unchanged).
#  (d) killing a campaign (SIGTERM after the first result) and rerunning it
#      finishes with every observation done exactly once, the results of
#      the first run unchanged.
#  (e) bad input: missing observation file, a field the model lacks, -n 1,
#      unknown -infer_type, -obs with -obs_dir, a toy model.
#  (f) -infer_type conditional: a model trained with -condition obs (random
#      sensor sets of p as input channels, Voronoi encoding; the point
#      encoding runs too): its training is the same on 1
#      rank and 2 groups of 1; conditioned on 16 sensors its posterior mean
#      of p is closer to the truth than the unconditional model's prior
#      mean (mean over 4 observations), its samples are the same on 1 and
#      2 ranks; conditional models are refused where they do not apply.
#      The ensemble Kalman estimate (-infer_type kalman, a linear baseline
#      from prior samples) is closer to the truth than the prior, the same
#      on 1 and 2 ranks; a model with Kalman input channels (-cond_kalman)
#      trains the same on 1 rank and 2 groups, samples a campaign, and
#      without its ensemble file says so; with the adjoint summary
#      (-cond_kalman_adjoint: the forward solve and the misfit gradient at
#      the Kalman estimate as further channels) the same on 1 rank and 2
#      groups, recorded, sampled; the MAP and Kalman campaigns' summary.json
#      is strict JSON (null, not nan, for a single estimate's coverage).
#  (g) -infer_type latent: a model of p alone and its label-free predictor
#      phi (physflow latent): the training is the same on 1 rank, 2 groups
#      of 1 and one group of 2; the residual of (phi(x), x) falls; phi(p)
#      is closer to the true logK of held-out solver samples than the prior
#      mean; guided latent posteriors have both fields, p closer to the
#      truth than the unguided state model's; finetune -latent (adjoint
#      matching of the p model against the residual of [phi(x), x]) lowers
#      the samples' re-solve distance; misuse is refused.
#  (h) -infer_type mcmc: pCN and Laplace-proposal chains against the MAP on
#      a linear-Gaussian case, rank-layout invariance, misuse refused.
#  (i) -infer_gn_steps (Gauss-Newton steps of the MAP objective from the
#      posterior mean, the samples moved with it): the objective falls, the
#      spread is kept, the mean moves to the MAP; the same on 1 rank, 2
#      groups and one group of 2; a refined conditional campaign's logK
#      error moves to the MAP's (three steps: within 1%); misuse is refused;
#      TAO's end-of-solve viewers (-map_tao_converged_reason) are accepted.
#  (j) -infer_gn_spread laplace (samples of the Laplace approximation at the
#      refined estimate): exact for the linear-Gaussian case (centre = MAP,
#      spread = the chains'); the same on 1 rank, 2 groups and one group of
#      2; -infer_laplace_state linear takes effect; misuse refused.
. "$(dirname "$0")/common.sh"
enter_scratch pf_test_infer
echo "test_infer: scratch $WORK"
PROB="-mesh_faces 7 -darcy_kl_terms 16 -darcy_dirichlet 4,2 -darcy_dirichlet_value 1,0"
"$BIN" datagen -physics darcy $PROB -n 64 -seed 1 -o data.h5 >data.log 2>&1 &&
  "$BIN" datagen -physics darcy $PROB -n 8 -seed 100 -o test.h5 >test.log 2>&1 &&
  "$BIN" train -data data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 \
    -train_steps 150 -batch_size 8 -lr 2e-3 -seed 1 -o base.h5 >base.log 2>&1 || { fail "base model: datagen or training failed"; exit 1; }

section "(a) observe"
run observe -data test.h5 -index 2 -nobs 64 -noise 0.02 -seed 4 -o o1.h5
NP=2 run observe -data test.h5 -index 2 -nobs 64 -noise 0.02 -seed 4 -o o2.h5
compare "(a) observations, 1 vs 2 ranks" 0 o1.h5 o2.h5 /obs/coords /obs/values
read -r bias ratio < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("o1.h5"); xy = h5py.File("test.h5")["coords"][:]; p = a["truth/p"][:]
n = 8; P = np.zeros((n, n)); P[np.rint(xy[:, 1] * 7).astype(int), np.rint(xy[:, 0] * 7).astype(int)] = p
c = a["obs/coords"][:]; v = a["obs/values"][:]
u = c[:, 0] * 7; w = c[:, 1] * 7; i = np.minimum(u.astype(int), 6); j = np.minimum(w.astype(int), 6); s = u - i; t = w - j
ref = (1 - s) * (1 - t) * P[j, i] + s * (1 - t) * P[j, i + 1] + s * t * P[j + 1, i + 1] + (1 - s) * t * P[j + 1, i]
print("%.4f %.4f" % (np.mean(v - ref) / 0.02, np.std(v - ref) / 0.02))
PYEOF
)
holds "(a) values - bilinear truth: mean $bias sigma, std $ratio sigma (want |mean| < 0.4, std in [0.7, 1.3])" "abs($bias) < 0.4 and 0.7 < $ratio < 1.3"

section "(b) infer"
run observe -data test.h5 -index 0 -nobs 16 -noise 0.01 -o o0.h5
run infer -model base.h5 -obs o0.h5 -n 32 -o post.h5
[ "$RC" -eq 0 ] || fail "(b) infer: $(tail -n 2 err.txt)"
run infer -model base.h5 -obs o0.h5 -n 32 -infer_scale 0 -o prior.h5
attr() { "$PY" -c "import h5py; print(h5py.File('$1')['posterior'].attrs['$2'])"; }
eg=$(attr post.h5 error_p 2>/dev/null); e0=$(attr prior.h5 error_p 2>/dev/null); cg=$(attr post.h5 coverage_p 2>/dev/null)
holds "(b) error of the posterior mean of p: guided $eg, unguided $e0 (want guided < 0.7 x unguided)" "$eg < 0.7 * $e0"
holds "(b) 90% band coverage of p: $cg (want > 0.5)" "$cg > 0.5"
has=$("$PY" -c "import h5py; f=h5py.File('post.h5'); print(all('posterior/%s/%s' % (a, b) in f for a in ('logK', 'p') for b in ('mean', 'std', 'q05', 'q95')))" 2>/dev/null)
holds "(b) /posterior/<field>/{mean,std,q05,q95} written: $has" "'$has' == 'True'"
# the 90% band: by default the predictive order statistics (wider than the
# 32 samples' own 5% / 95% quantiles, which cover 0.9 x 31/33 on average)
run infer -model base.h5 -obs o0.h5 -n 32 -infer_band sample -o post_sb.h5
read -r bp bs wider < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("post.h5"); b = h5py.File("post_sb.h5")
w = lambda f: f["posterior/p/q95"][:] - f["posterior/p/q05"][:]
print(a["posterior"].attrs["band"].decode(), b["posterior"].attrs["band"].decode(), bool(np.all(w(a) >= w(b) - 1e-12) and np.mean(w(a)) > np.mean(w(b))))
PYEOF
)
holds "(b) band attribute '$bp' (default) / '$bs' (-infer_band sample); the predictive band is the wider at every vertex: $wider" "'$bp' == 'predictive' and '$bs' == 'sample' and '$wider' == 'True'"
run infer -model base.h5 -obs o0.h5 -infer_type map -o map.h5
em=$(attr map.h5 error_p 2>/dev/null); it=$(attr map.h5 map_iterations 2>/dev/null)
holds "(b) TAO MAP estimate: error of p $em after $it iterations (want < 0.1, fewer than 500 iterations)" "$em < 0.1 and $it < 500"
NP=2 run infer -model base.h5 -obs o0.h5 -infer_type map -o map2.h5
compare "(b) MAP estimate, 1 rank vs 2 ranks" 1e-6 map.h5 map2.h5 /fields/logK /fields/p
NP=2 run infer -model base.h5 -obs o0.h5 -n 32 -o post2.h5
compare "(b) posterior samples, 1 rank vs 2 ranks (one group)" 1e-4 post.h5 post2.h5 /fields/logK /fields/p
NP=2 run infer -model base.h5 -obs o0.h5 -n 32 -pf_group_size 1 -o post2g.h5
compare "(b) posterior samples, 1 rank vs 2 groups of 1" 1e-4 post.h5 post2g.h5 /fields/logK /fields/p

section "(c) a campaign with bad files"
mkdir -p obs
for i in 0 1 2 3 4 5; do "$BIN" observe -data test.h5 -index $i -nobs 16 -noise 0.01 -seed 3 -o obs/o$i.h5 >/dev/null 2>&1; done
echo garbage >obs/o_bad.h5
: >obs/o_empty.h5
NP=2 run infer -model base.h5 -obs_dir obs -n 16 -pf_group_size 1 -o camp
ok=$(grep -c ',ok,' camp/summary.csv 2>/dev/null); bad=$(grep -c ',failed,' camp/summary.csv 2>/dev/null)
holds "(c) rc $RC; summary: $ok ok, $bad failed (want 6 and 2)" "$RC == 0 and '$ok' == '6' and '$bad' == '2'"
grep -q "o_bad.h5,failed.*not an HDF5 file" camp/summary.csv && pass "(c) the corrupt file's message is in the summary" || fail "(c) no message for o_bad.h5"
h=$(cat camp/*_post.h5 | sha256sum)
NP=2 run infer -model base.h5 -obs_dir obs -n 16 -pf_group_size 1 -o camp
if grep -q "0 observations done now, 6 finished before" out.txt && [ "$(cat camp/*_post.h5 | sha256sum)" = "$h" ]; then pass "(c) rerun: all 6 skipped, results unchanged"; else fail "(c) rerun: $(grep 'done now' out.txt)"; fi

mkdir -p obs3 && cp obs/o0.h5 obs/o1.h5 obs/o2.h5 obs3/
NP=2 run infer -model base.h5 -obs_dir obs3 -n 8 -sampler dopri5 -pf_group_size 1 -o camp3
ok3=$(grep -c ',ok,' camp3/summary.csv 2>/dev/null)
holds "(c) a campaign with the adaptive dopri5 sampler (step control per group): rc $RC, $ok3 of 3 ok" "$RC == 0 and '$ok3' == '3'"

section "(d) kill and resume"
mkdir -p obs2
for i in 0 1 2 3 4 5 6 7; do "$BIN" observe -data test.h5 -index $i -nobs 16 -noise 0.01 -seed 5 -o obs2/o$i.h5 >/dev/null 2>&1; done
"$MPIEXEC" -q -n 2 --oversubscribe "$BIN" infer -model base.h5 -obs_dir obs2 -n 400 -pf_group_size 1 -o camp2 >k1.txt 2>&1 &
pid=$!
for _ in $(seq 1 600); do compgen -G "camp2/*_post.h5" >/dev/null && break; sleep 0.05; done
kill -TERM $pid 2>/dev/null
wait $pid
rc1=$?
n1=$(ls camp2/*_post.h5 2>/dev/null | wc -l)
h1=$(for f in camp2/*_post.h5; do sha256sum "$f"; done)
holds "(d) killed run: rc $rc1, $n1 of 8 results (want 0 < n < 8)" "0 < $n1 < 8"
NP=2 run infer -model base.h5 -obs_dir obs2 -n 400 -pf_group_size 1 -o camp2
done2=$(sed -n 's/.* \([0-9]*\) observations done now, \([0-9]*\) finished before.*/\1 \2/p' out.txt)
holds "(d) rerun: done now + skipped = '$done2' (want $((8 - n1)) $n1)" "'$done2' == '$((8 - n1)) $n1'"
n2=$(grep -c ',ok,' camp2/summary.csv 2>/dev/null)
holds "(d) summary: $n2 of 8 ok" "'$n2' == '8'"
same=1
while read -r hsum f; do [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$hsum" ] || same=0; done <<<"$h1"
[ "$same" = 1 ] && pass "(d) the first run's results are unchanged" || fail "(d) a result of the killed run changed"
left=$(ls camp2 | grep -c inprogress)
holds "(d) no temporary files left: $left" "$left == 0"

section "(e) bad input"
expect_error "(e) missing observation file" "cannot read observations" infer -model base.h5 -obs nothing.h5 -o x.h5
"$PY" -c "
import h5py, shutil; shutil.copy('o0.h5', 'oq.h5'); f = h5py.File('oq.h5', 'r+'); f['obs'].attrs['field'] = 'q'"
expect_error "(e) a field the model does not generate" "does not generate" infer -model base.h5 -obs oq.h5 -o x.h5
expect_error "(e) -n 0" "-n must be" infer -model base.h5 -obs o0.h5 -n 0 -o x.h5
expect_error "(e) unknown -infer_type" "not implemented" infer -model base.h5 -obs o0.h5 -infer_type magic -o x.h5
expect_error "(e) -obs and -obs_dir" "one observation file" infer -model base.h5 -obs o0.h5 -obs_dir obs -o x.h5
"$BIN" train -toy moons -train_steps 5 -o toy.h5 >/dev/null 2>&1
expect_error "(e) a toy model" "not a mesh" infer -model toy.h5 -obs o0.h5 -o x.h5
"$BIN" train -data data.h5 -fields p -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 -train_steps 2 -batch_size 8 -o ponly.h5 >/dev/null 2>&1
expect_error "(e) a model of p alone" "all the physics' fields" infer -model ponly.h5 -obs o0.h5 -o x.h5
expect_error "(e) observe: -index out of range" "not a sample" observe -data test.h5 -index 99 -o x.h5
expect_error "(e) observe: missing data" "cannot read" observe -data nothing.h5 -o x.h5
[ ! -e x.h5 ] && pass "(e) no output written by the failed runs" || fail "(e) x.h5 written"

section "(f) conditional models"
CA="-data data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 16 -mesh_depth 1 -mesh_groups 2 -batch_size 16 -lr 2e-3 -seed 1"
run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -o cshort1.h5
NP=2 run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -pf_group_size 1 -o cshort2.h5
compare "(f) conditional training, 1 rank vs 2 groups of 1 (random sensor sets keyed per sample)" 1e-6 cshort1.h5 cshort2.h5 /history/loss
run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -flow_t0_fraction 0.5 -o ct01.h5
NP=2 run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -flow_t0_fraction 0.5 -pf_group_size 1 -o ct02.h5
compare "(f) -flow_t0_fraction 0.5, 1 rank vs 2 groups of 1" 1e-6 ct01.h5 ct02.h5 /history/loss
differ=$("$PY" -c "import h5py, numpy as np; print(not np.allclose(h5py.File('ct01.h5')['history/loss'][:], h5py.File('cshort1.h5')['history/loss'][:]))" 2>/dev/null)
holds "(f) -flow_t0_fraction changes the training (loss history differs): $differ" "'$differ' == 'True'"
expect_error "(f) -flow_t0_fraction 1" "flow_t0_fraction must be in" train $CA -train_steps 2 -flow_t0_fraction 1 -o x.h5
run train $CA -train_steps 1500 -condition obs -cond_nobs 8,24 -o cond.h5
[ "$RC" -eq 0 ] || fail "(f) conditional training: $(tail -n 2 err.txt)"
run train $CA -train_steps 1500 -o uncond.h5
mkdir -p obsf
for i in 0 1 2 3; do "$BIN" observe -data test.h5 -index $i -nobs 16 -noise 0.01 -seed 9 -o obsf/o$i.h5 >/dev/null 2>&1; done
# (one rank: a campaign of a single group works without mpiexec too)
run infer -model cond.h5 -obs_dir obsf -infer_type conditional -n 32 -o campc
[ "$RC" -eq 0 ] || fail "(f) conditional campaign on 1 rank: $(tail -n 2 err.txt)"
run infer -model uncond.h5 -obs_dir obsf -infer_scale 0 -n 32 -o campu
# campaign_mean DIR [COLUMN]: the mean of a summary column (default error_p)
# over the campaign's 4 observations (nan unless all 4 are there)
campaign_mean() {
  "$PY" -c "
import csv; rows = list(csv.DictReader(open('$1/summary.csv'))); print('%.4f' % (sum(float(r['${2:-error_p}']) for r in rows) / len(rows) if len(rows) == 4 else float('nan')))" 2>/dev/null
}
ec=$(campaign_mean campc)
eu=$(campaign_mean campu)
holds "(f) error of the posterior mean of p: conditional $ec, unconditional prior $eu (want conditional < 0.8 x prior)" "$ec < 0.8 * $eu"
run infer -model cond.h5 -obs obsf/o1.h5 -infer_type conditional -n 8 -o pc1.h5
NP=2 run infer -model cond.h5 -obs obsf/o1.h5 -infer_type conditional -n 8 -o pc2.h5
compare "(f) conditional posterior samples, 1 rank vs 2 ranks (one group)" 1e-4 pc1.h5 pc2.h5 /fields/logK /fields/p
t=$("$PY" -c "import h5py; a = h5py.File('pc1.h5')['posterior'].attrs['infer_type']; print(a.decode() if isinstance(a, bytes) else a)" 2>/dev/null)
holds "(f) /posterior records infer_type '$t'" "'$t' == 'conditional'"
expect_error "(f) guidance with a conditional model" "conditional model" infer -model cond.h5 -obs o0.h5 -o x.h5
expect_error "(f) sampling a conditional model without observations" "infer -infer_type conditional" sample -model cond.h5 -n 2 -o x.h5
expect_error "(f) fine-tuning a conditional model" "not supported yet" finetune -model cond.h5 -o x.h5
expect_error "(f) -infer_type conditional with an unconditional model" "not a conditional model" infer -model uncond.h5 -obs o0.h5 -infer_type conditional -o x.h5
"$PY" -c "
import h5py, shutil; shutil.copy('o0.h5', 'ok.h5'); f = h5py.File('ok.h5', 'r+'); f['obs'].attrs['field'] = 'logK'"
expect_error "(f) observations of another field than the model's sensors" "trained on sensors of 'p'" infer -model cond.h5 -obs ok.h5 -infer_type conditional -o x.h5
expect_error "(f) -condition with a constraint" "not supported yet" train $CA -train_steps 2 -condition obs -constraint pbfm -o x.h5
expect_error "(f) -cond_nobs 0" "cond_nobs" train $CA -train_steps 2 -condition obs -cond_nobs 0 -o x.h5
expect_error "(f) unknown -cond_encoding" "cond_encoding" train $CA -train_steps 2 -condition obs -cond_encoding magic -o x.h5
run train $CA -train_steps 3 -condition obs -cond_encoding point -o cpoint.h5
run infer -model cpoint.h5 -obs o0.h5 -infer_type conditional -n 4 -o pp.h5
enc=$("$PY" -c "import h5py; a = h5py.File('cpoint.h5')['data'].attrs['cond_encoding']; print(a.decode() if isinstance(a, bytes) else a)" 2>/dev/null)
holds "(f) the point encoding trains, is recorded ('$enc') and samples (rc $RC)" "$RC == 0 and '$enc' == 'point'"
# the ensemble Kalman estimate: the linear baseline, and input channels of a conditional model
run infer -model uncond.h5 -obs_dir obsf -infer_type kalman -cond_kalman_data data.h5 -o campk
ek=$(campaign_mean campk)
holds "(f) Kalman baseline: error of p $ek, unconditional prior $eu (want < 0.5 x prior)" "$ek < 0.5 * $eu"
run infer -model uncond.h5 -obs obsf/o1.h5 -infer_type kalman -cond_kalman_data data.h5 -o pk1.h5
NP=2 run infer -model uncond.h5 -obs obsf/o1.h5 -infer_type kalman -cond_kalman_data data.h5 -o pk2.h5
compare "(f) Kalman estimate, 1 rank vs 2 ranks (one group)" 1e-9 pk1.h5 pk2.h5 /fields/logK /fields/p
expect_error "(f) -cond_kalman with more members than the ensemble has" "the Kalman ensemble wants 48" train $CA -train_steps 2 -condition obs -cond_kalman 48 -cond_kalman_data test.h5 -o x.h5
run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -cond_kalman 48 -o ckal1.h5
NP=2 run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -cond_kalman 48 -pf_group_size 1 -o ckal2.h5
compare "(f) conditional training with Kalman channels, 1 rank vs 2 groups of 1" 1e-6 ckal1.h5 ckal2.h5 /history/loss
run infer -model ckal1.h5 -obs_dir obsf -infer_type conditional -n 4 -o campck
nk=$(grep -c "," campck/summary.csv 2>/dev/null)
holds "(f) a Kalman-conditioned model samples a campaign (rc $RC, summary lines $nk)" "$RC == 0 and $nk == 5"
NP=3 run infer -model ckal1.h5 -obs obsf/o1.h5 -infer_type conditional -n 2 -pf_group_size 1 -o pck3.h5
holds "(f) ... with a group that gets no sample (-n 2 on 3 groups of 1; rc $RC)" "$RC == 0"
expect_error "(f) -cond_kalman_adjoint without -cond_kalman" "needs -cond_kalman N" train $CA -train_steps 2 -condition obs -cond_kalman_adjoint -o x.h5
run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -cond_kalman 48 -cond_kalman_adjoint -o ckadj1.h5
NP=2 run train $CA -train_steps 30 -condition obs -cond_nobs 8,24 -cond_kalman 48 -cond_kalman_adjoint -pf_group_size 1 -o ckadj2.h5
compare "(f) conditional training with Kalman and adjoint-summary channels, 1 rank vs 2 groups of 1" 1e-6 ckadj1.h5 ckadj2.h5 /history/loss
run infer -model ckadj1.h5 -obs_dir obsf -infer_type conditional -n 4 -o campca
nk=$(grep -c "," campca/summary.csv 2>/dev/null)
rec=$("$PY" -c "import h5py; print(int(h5py.File('ckadj1.h5')['data'].attrs['cond_kalman_adjoint']))" 2>/dev/null)
holds "(f) the adjoint-summary model is recorded ($rec) and samples a campaign (rc $RC, summary lines $nk)" "$RC == 0 and '$rec' == '1' and $nk == 5"
"$PY" -c "
import json
def strict(c): raise ValueError(c)
d = json.load(open('campk/summary.json'), parse_constant=strict)
assert len(d['results']) == 4 and all(r['coverage_p'] is None for r in d['results'])" 2>err.txt && pass "(f) campaign summary.json: strict JSON, null coverage for the Kalman estimate" || fail "(f) summary.json: $(tail -n 1 err.txt)"
mv data.h5 data_moved.h5
expect_error "(f) a Kalman-conditioned model without its ensemble" "give its dataset with -cond_kalman_data" infer -model ckal1.h5 -obs o0.h5 -infer_type conditional -n 4 -o x.h5
run infer -model ckal1.h5 -obs o0.h5 -infer_type conditional -n 4 -cond_kalman_data data_moved.h5 -o pck.h5
holds "(f) ... and with -cond_kalman_data pointing to it (rc $RC)" "$RC == 0"
mv data_moved.h5 data.h5
expect_error "(f) -infer_type kalman without an ensemble" "needs the ensemble" infer -model uncond.h5 -obs o0.h5 -infer_type kalman -o x.h5
[ ! -e x.h5 ] && pass "(f) no output written by the failed runs" || fail "(f) x.h5 written"

section "(g) latent predictor"
NA="-net_type meshunet -mesh_levels 2 -mesh_width 16 -mesh_depth 1 -mesh_groups 2"
run train -data data.h5 -fields p $NA -batch_size 16 -lr 2e-3 -seed 1 -train_steps 1500 -o ponly16.h5
[ "$RC" -eq 0 ] || fail "(g) training the model of p: $(tail -n 2 err.txt)"
run latent -model ponly16.h5 -n 256 -train_steps 30 $NA -o lshort1.h5
NP=2 run latent -model ponly16.h5 -samples lshort1_samples.h5 -train_steps 30 $NA -pf_group_size 1 -o lshort2.h5
NP=2 run latent -model ponly16.h5 -samples lshort1_samples.h5 -train_steps 30 $NA -o lshort3.h5
compare "(g) latent training, 1 rank vs 2 groups of 1" 1e-5 lshort1.h5 lshort2.h5 /history/loss
compare "(g) latent training, 1 rank vs one group of 2" 1e-5 lshort1.h5 lshort3.h5 /history/loss
run latent -model ponly16.h5 -samples lshort1_samples.h5 -train_steps 400 $NA -eval_data test.h5 -o phi.h5
[ "$RC" -eq 0 ] || fail "(g) physflow latent: $(tail -n 2 err.txt)"
read -r l0 l1 ephi < <("$PY" -c "
import h5py, numpy as np
f = h5py.File('phi.h5'); h = f['history/loss'][:]
print('%.4e %.4e %.4f' % (h[:20].mean(), h[-20:].mean(), f['latent/eval_error'][:].mean()))" 2>/dev/null)
holds "(g) residual of (phi(x), x): first 20 steps $l0, last 20 $l1 (want a fall by 3x)" "$l1 < $l0 / 3"
holds "(g) phi(p) against the true logK of 8 solver samples: mean relative error $ephi (want < 0.9; the prior mean: 1)" "$ephi < 0.9"
run infer -model ponly16.h5 -latent phi.h5 -infer_type latent -obs_dir obsf -n 32 -o campl
[ "$RC" -eq 0 ] || fail "(g) latent campaign: $(tail -n 2 err.txt)"
run infer -model ponly16.h5 -latent phi.h5 -infer_type latent -obs_dir obsf -n 32 -infer_scale 0 -o campl0
el=$(campaign_mean campl)
el0=$(campaign_mean campl0)
elk=$(campaign_mean campl error_logK)
holds "(g) latent posterior mean of p: guided $el, unguided $el0 (want guided < 0.8 x unguided); logK error $elk (want < 1)" "$el < 0.8 * $el0 and $elk < 1"
expect_error "(g) -infer_type latent without -latent" "-latent phi.h5" infer -model ponly16.h5 -infer_type latent -obs o0.h5 -o x.h5
expect_error "(g) -infer_type latent with a model of all fields" "state fields only" infer -model uncond.h5 -latent phi.h5 -infer_type latent -obs o0.h5 -o x.h5
expect_error "(g) -infer_type latent with -infer_residual" "not available" infer -model ponly16.h5 -latent phi.h5 -infer_type latent -infer_residual 1 -obs o0.h5 -o x.h5
expect_error "(g) latent inference from observations of logK" "observes the state" infer -model ponly16.h5 -latent phi.h5 -infer_type latent -obs ok.h5 -o x.h5
expect_error "(g) physflow latent with a model of all fields" "state fields only" latent -model uncond.h5 -samples lshort1_samples.h5 $NA -o x.h5
# finetune -latent: adjoint matching of the p model against the residual of
# [phi(x), x] (phi frozen; the joint generation of Tauberschmidt et al.):
# the unguided samples' re-solve distance (logK = phi(p)) falls
NP=2 run finetune -model ponly16.h5 -latent phi.h5 -constraint adjoint -constraint_norm error2 -am_iters 30 -am_lambda 1000 -batch_size 8 -lr 1e-3 -pf_group_size 1 -o pft.h5
[ "$RC" -eq 0 ] || fail "(g) finetune -latent: $(tail -n 2 err.txt)"
run infer -model ponly16.h5 -latent phi.h5 -infer_type latent -infer_scale 0 -obs o0.h5 -n 64 -o lbase.h5
run infer -model pft.h5 -latent phi.h5 -infer_type latent -infer_scale 0 -obs o0.h5 -n 64 -o lft.h5
run eval -physics darcy -samples lbase.h5 -plot none -o elbase.json
run eval -physics darcy -samples lft.h5 -plot none -o elft.json
read -r rb rf < <("$PY" -c "import json; print(json.load(open('elbase.json'))['resolve']['median'], json.load(open('elft.json'))['resolve']['median'])" 2>/dev/null)
holds "(g) finetune -latent: re-solve median of [phi(p), p] samples, fine-tuned $rf vs base $rb (want < 0.97 x)" "$rf < 0.97 * $rb"
expect_error "(g) finetune -latent with -constraint pbfm" "-latent goes with -constraint adjoint" finetune -model ponly16.h5 -latent phi.h5 -constraint pbfm -o x.h5
expect_error "(g) finetune -constraint adjoint of a p model without -latent" "-latent phi.h5" finetune -model ponly16.h5 -constraint adjoint -o x.h5
expect_error "(g) -latent not a predictor" "expected a 'latent' file" infer -model ponly16.h5 -latent uncond.h5 -infer_type latent -obs o0.h5 -o x.h5
[ ! -e x.h5 ] && pass "(g) no output written by the failed runs" || fail "(g) x.h5 written"

section "(h) -infer_type mcmc: reference posterior by pCN chains"
# logK observed: a linear-Gaussian problem in the KL coefficients, whose
# posterior mean is the MAP estimate; the chains' mean must converge to it
run observe -data test.h5 -index 2 -field logK -nobs 12 -noise 0.3 -seed 4 -o ok_lin.h5
run infer -model base.h5 -obs ok_lin.h5 -infer_type map -o map_lin.h5
run infer -model base.h5 -obs ok_lin.h5 -infer_type mcmc -n 200 -mcmc_thin 100 -o mc_lin.h5
[ "$RC" -eq 0 ] || fail "(h) mcmc: $(tail -n 2 err.txt)"
read -r dev acc < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("map_lin.h5"); b = h5py.File("mc_lin.h5")
m = a["posterior/logK/mean"][:]; mm = b["posterior/logK/mean"][:]; sd = b["posterior/logK/std"][:]
print("%.4f %.4f" % (np.sqrt(np.mean(((mm - m) / sd) ** 2)), b["posterior"].attrs["mcmc_acceptance"]))
PYEOF
)
holds "(h) linear-Gaussian: RMS of (chain mean - MAP) / posterior std $dev (want < 0.12), acceptance $acc (want 0.1-0.5)" "$dev < 0.12 and 0.1 < $acc < 0.5"
# the Laplace proposal: exact for this linear-Gaussian problem, so the
# step adapts to 1 (independent draws) and nearly every proposal is accepted
run infer -model base.h5 -obs ok_lin.h5 -infer_type mcmc -mcmc_proposal laplace -n 200 -mcmc_burn 200 -mcmc_thin 2 -o mcl_lin.h5
[ "$RC" -eq 0 ] || fail "(h) mcmc laplace: $(tail -n 2 err.txt)"
read -r dev acc beta < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("map_lin.h5"); b = h5py.File("mcl_lin.h5")
m = a["posterior/logK/mean"][:]; mm = b["posterior/logK/mean"][:]; sd = b["posterior/logK/std"][:]
print("%.4f %.4f %.4f" % (np.sqrt(np.mean(((mm - m) / sd) ** 2)), b["posterior"].attrs["mcmc_acceptance"], b["posterior"].attrs["mcmc_beta"]))
PYEOF
)
holds "(h) linear-Gaussian, Laplace proposal: RMS of (chain mean - MAP) / posterior std $dev (want < 0.12), acceptance $acc (want > 0.95), step $beta (want 1)" "$dev < 0.12 and $acc > 0.95 and $beta == 1"
run infer -model base.h5 -obs o0.h5 -infer_type mcmc -mcmc_proposal laplace -n 40 -mcmc_burn 100 -mcmc_thin 2 -o mcl.h5
NP=2 run infer -model base.h5 -obs o0.h5 -infer_type mcmc -mcmc_proposal laplace -n 40 -mcmc_burn 100 -mcmc_thin 2 -pf_group_size 1 -o mcl2g.h5
compare "(h) mcmc laplace samples, 1 rank vs 2 groups of 1 (whole chains)" 1e-12 mcl.h5 mcl2g.h5 /fields/logK /fields/p
expect_error "(h) -mcmc_proposal laplace without the MAP start" "needs -mcmc_from_map" infer -model base.h5 -obs o0.h5 -infer_type mcmc -mcmc_proposal laplace -mcmc_from_map 0 -o x.h5
run infer -model base.h5 -obs o0.h5 -infer_type mcmc -n 40 -mcmc_burn 400 -mcmc_thin 5 -o mc.h5
NP=2 run infer -model base.h5 -obs o0.h5 -infer_type mcmc -n 40 -mcmc_burn 400 -mcmc_thin 5 -pf_group_size 1 -o mc2g.h5
compare "(h) mcmc samples, 1 rank vs 2 groups of 1 (whole chains)" 1e-12 mc.h5 mc2g.h5 /fields/logK /fields/p
NP=2 run infer -model base.h5 -obs o0.h5 -infer_type mcmc -n 40 -mcmc_burn 400 -mcmc_thin 5 -o mc2.h5
compare "(h) mcmc samples, 1 rank vs 2 ranks (one group)" 1e-6 mc.h5 mc2.h5 /fields/logK /fields/p
expect_error "(h) -mcmc_chains above -n" "mcmc_chains <= -n" infer -model base.h5 -obs o0.h5 -infer_type mcmc -n 4 -mcmc_chains 8 -o x.h5
expect_error "(h) -mcmc_beta 0" "0 < -mcmc_beta" infer -model base.h5 -obs o0.h5 -infer_type mcmc -mcmc_beta 0 -o x.h5

section "(i) Gauss-Newton refinement of a generative posterior"
# -infer_gn_steps: the posterior mean's logK projected onto the KL prior,
# Gauss-Newton steps of the MAP objective from there, every sample moved
# with the mean (its spread kept)
run infer -model base.h5 -obs o0.h5 -n 32 -infer_gn_steps 2 -o post_gn.h5
[ "$RC" -eq 0 ] || fail "(i) infer -infer_gn_steps: $(tail -n 2 err.txt)"
read -r J0 J1 sdd dgn dpo < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("post_gn.h5"); b = h5py.File("post.h5"); m = h5py.File("map.h5")
at = a["posterior"].attrs
sdd = max(np.max(np.abs(a["posterior/%s/std" % f][:] - b["posterior/%s/std" % f][:])) for f in ("logK", "p"))
rms = lambda u, v: np.sqrt(np.mean((u - v) ** 2))
print("%.6g %.6g %.3g %.4f %.4f" % (at["gn_objective_start"], at["gn_objective"], sdd,
      rms(a["posterior/logK/mean"][:], m["posterior/logK/mean"][:]), rms(b["posterior/logK/mean"][:], m["posterior/logK/mean"][:])))
PYEOF
)
holds "(i) the MAP objective at the posterior mean $J0 -> $J1 after the steps (want lower)" "$J1 < $J0"
holds "(i) the samples' spread unchanged: max |std - std unrefined| $sdd (want < 1e-9)" "$sdd < 1e-9"
holds "(i) RMS of the posterior mean logK - the TAO MAP: refined $dgn, unrefined $dpo (want refined < 0.5 x unrefined)" "$dgn < 0.5 * $dpo"
NP=2 run infer -model base.h5 -obs o0.h5 -n 32 -infer_gn_steps 2 -pf_group_size 1 -o post_gn2g.h5
compare "(i) refined posterior, 1 rank vs 2 groups of 1" 1e-4 post_gn.h5 post_gn2g.h5 /fields/logK /fields/p
NP=2 run infer -model base.h5 -obs o0.h5 -n 32 -infer_gn_steps 2 -o post_gn2.h5
compare "(i) refined posterior, 1 rank vs 2 ranks in one group (the adjoint factorisation by MUMPS)" 1e-4 post_gn.h5 post_gn2.h5 /fields/logK /fields/p
run infer -model cond.h5 -obs_dir obsf -infer_type conditional -n 4 -infer_gn_steps 1 -o campcg
run infer -model cond.h5 -obs_dir obsf -infer_type conditional -n 4 -infer_gn_steps 3 -o campcg3
run infer -model uncond.h5 -obs_dir obsf -infer_type map -o campm
eg=$(campaign_mean campcg error_logK); eg3=$(campaign_mean campcg3 error_logK); em=$(campaign_mean campm error_logK); ec=$(campaign_mean campc error_logK)
holds "(i) conditional campaign, error of logK: unrefined $ec, one Gauss-Newton step $eg, three $eg3, TAO MAP $em (want one step < 0.25 x the unrefined's distance to the MAP, three within 1% of the MAP)" "abs($eg - $em) < 0.25 * abs($ec - $em) and abs($eg3 - $em) < 0.01 * $em"
# -n 1: one sample written as a point estimate (no spread, no band): the
# conditional model's one-step mean at half the network cost of -n 2; it
# is sample 0 of the -n 2 run (same noise), refined the same way
run infer -model cond.h5 -obs o0.h5 -infer_type conditional -n 1 -sampler euler -sampler_steps 1 -o one1.h5
run infer -model cond.h5 -obs o0.h5 -infer_type conditional -n 2 -sampler euler -sampler_steps 1 -o one2.h5
NP=2 run infer -model cond.h5 -obs o0.h5 -infer_type conditional -n 1 -sampler euler -sampler_steps 1 -infer_gn_steps 1 -pf_group_size 1 -o one1gn.h5
read -r nrow d0 sd cv ngn < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("one1.h5"); b = h5py.File("one2.h5"); g = h5py.File("one1gn.h5")
print(a["fields/logK"].shape[0], max(np.max(np.abs(a["fields/%s" % f][0] - b["fields/%s" % f][0])) for f in ("logK", "p")),
      np.max(a["posterior/logK/std"][:]), a["posterior"].attrs["coverage_logK"], g["posterior"].attrs["gn_steps"])
PYEOF
)
holds "(i) -n 1: $nrow row, sample 0 of -n 2 to $d0 (want 1 row, < 1e-5)" "$nrow == 1 and $d0 < 1e-5"
holds "(i) -n 1: a point estimate: std $sd, coverage $cv (want 0, nan)" "$sd == 0 and '$cv' == 'nan'"
holds "(i) -n 1 refined on 2 groups: $ngn Gauss-Newton step taken (want 1)" "$ngn == 1"
expect_error "(i) -infer_gn_steps with the MAP" "already follows the MAP objective" infer -model base.h5 -obs o0.h5 -infer_type map -infer_gn_steps 1 -o x.h5
run infer -model base.h5 -obs o0.h5 -infer_type map -map_tao_converged_reason -map_tao_max_it 3 -o mapv.h5
nr=$(grep -c 'TAO map_ solve' out.txt 2>/dev/null); nr=${nr:-0}
holds "(i) TAO's end-of-solve viewers are accepted (-map_tao_converged_reason: rc $RC, reports $nr)" "$RC == 0 and $nr >= 1"
expect_error "(i) -infer_gn_steps -1" "infer_gn_steps must be >= 0" infer -model base.h5 -obs o0.h5 -infer_gn_steps -1 -o x.h5

section "(j) Laplace samples around the refined estimate (-infer_gn_spread laplace)"
# logK observed (h's linear-Gaussian case): the Laplace approximation is
# the exact posterior, so its samples' mean (the refined estimate) is the
# MAP and their spread the Laplace-proposal chains'
run infer -model base.h5 -obs ok_lin.h5 -infer_gn_steps 2 -infer_gn_spread laplace -n 400 -o lap_lin.h5
[ "$RC" -eq 0 ] || fail "(j) infer -infer_gn_spread laplace: $(tail -n 2 err.txt)"
read -r dmap dsd nrow sp < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("map_lin.h5"); b = h5py.File("mcl_lin.h5"); l = h5py.File("lap_lin.h5")
m = a["posterior/logK/mean"][:]; sd = b["posterior/logK/std"][:]
sp = l["posterior"].attrs["gn_spread"]
bd = l["posterior"].attrs["band"]
print("%.4f %.4f %d %s,%s" % (np.sqrt(np.mean(((l["posterior/logK/mean"][:] - m) / sd) ** 2)),
      np.sqrt(np.mean((l["posterior/logK/std"][:] / sd - 1) ** 2)), l["fields/logK"].shape[0], sp.decode() if isinstance(sp, bytes) else sp,
      bd.decode() if isinstance(bd, bytes) else bd))
PYEOF
)
holds "(j) linear-Gaussian: RMS of (Laplace centre - MAP) / posterior std $dmap (want < 0.01)" "$dmap < 0.01"
holds "(j) linear-Gaussian: RMS of Laplace std / chains' std - 1: $dsd (want < 0.15; 400 and 200 draws)" "$dsd < 0.15"
holds "(j) $nrow samples written, spread and band '$sp' recorded (want 400, laplace,gaussian: the default band of Laplace samples)" "$nrow == 400 and '$sp' == 'laplace,gaussian'"
# p observed: the states solved for the drawn inputs (the default) or
# linearised; the samples do not depend on the rank layout
run infer -model cond.h5 -obs o0.h5 -infer_type conditional -sampler euler -sampler_steps 1 -infer_gn_steps 1 -infer_gn_spread laplace -n 8 -o lap1.h5
NP=2 run infer -model cond.h5 -obs o0.h5 -infer_type conditional -sampler euler -sampler_steps 1 -infer_gn_steps 1 -infer_gn_spread laplace -n 8 -pf_group_size 1 -o lap2g.h5
compare "(j) Laplace samples, 1 rank vs 2 groups of 1" 1e-4 lap1.h5 lap2g.h5 /fields/logK /fields/p
NP=2 run infer -model cond.h5 -obs o0.h5 -infer_type conditional -sampler euler -sampler_steps 1 -infer_gn_steps 1 -infer_gn_spread laplace -n 8 -o lap2.h5
compare "(j) Laplace samples, 1 rank vs 2 ranks in one group" 1e-4 lap1.h5 lap2.h5 /fields/logK /fields/p
run infer -model cond.h5 -obs o0.h5 -infer_type conditional -sampler euler -sampler_steps 1 -infer_gn_steps 1 -infer_gn_spread laplace -infer_laplace_state linear -n 8 -o lapl.h5
read -r dK dp < <("$PY" - <<'PYEOF'
import h5py, numpy as np
a = h5py.File("lap1.h5"); b = h5py.File("lapl.h5")
rel = lambda f: np.linalg.norm(a["fields/" + f][:] - b["fields/" + f][:]) / np.linalg.norm(a["fields/" + f][:] - a["posterior/%s/mean" % f][:])
print("%.3g %.3g" % (rel("logK"), rel("p")))
PYEOF
)
# (the chord step's accuracy, first order, is test_inverse_unit's)
holds "(j) -infer_laplace_state linear: the same inputs ($dK), p not the solved one ($dp of the spread) (want 0, > 1e-6)" "$dK == 0 and $dp > 1e-6"
expect_error "(j) -infer_gn_spread laplace without steps" "give -infer_gn_steps 1 or more" infer -model cond.h5 -obs o0.h5 -infer_type conditional -infer_gn_spread laplace -o x.h5
expect_error "(j) -infer_gn_spread laplace with -n 1" "at least 2" infer -model cond.h5 -obs o0.h5 -infer_type conditional -infer_gn_steps 1 -infer_gn_spread laplace -n 1 -o x.h5

echo
echo "== summary"
printf "%b" "$SUMMARY"
echo "test_infer: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
