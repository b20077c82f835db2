#!/bin/bash
# test_distill: physflow distill (reflow, PIDDM) on a tiny Darcy teacher.
#  (a) the coupling: with pairs made by ONE Euler step of the teacher, the
#      one-step student (= the teacher at the start) reproduces every pair,
#      so the first distillation loss is ~0 (any mismatch between the noise
#      a pair was made from and the noise the trainer recomputes would give
#      a loss of order 1); on 1 rank and on 2 ranks (one group);
#      the student records its sampler: sample uses 1 step (NFE 1) unless
#      -sampler_steps is given.
#      The teacher (a 2-level U-Net on a mesh whose coarse grid size is a
#      rounding tie) samples the same on 1 and 2 ranks.
#  (b) the pairs file is a cache: a rerun reuses it (unchanged), other pair
#      options or a retrained teacher file refuse to overwrite it (one-line
#      error, file unchanged); bad options.
#  (c) the physics term works: PIDDM students with -piddm_lambda 30 against
#      0 (same pairs, same steps): lower median re-solve distance (eval).
#  (d) 1 rank and 2 ranks (one group sharing the mesh) give the same
#      student (loss history and parameters to 1e-4).
#  (e) SIGUSR1 in the middle of a distillation, then the same command with
#      -resume: bitwise the uninterrupted student.
#  (f) reflow with 2 rounds: round 1's student and pairs files, round 2
#      trained on round 1's student's pairs; its record says 2 Euler steps;
#      a rerun reuses the finished round 1.
#  (g) sample -piddm_refine: refining a one-step student's noise lowers its
#      samples' re-solve distance; with observations of p (inverse task)
#      the samples keep the observed entries, 1 and 2 ranks agree.
. "$(dirname "$0")/common.sh"
enter_scratch pf_test_distill
echo "test_distill: scratch $WORK"

cat >h5tool.py <<'EOF'
import sys, h5py, numpy as np
cmd, args = sys.argv[1], sys.argv[2:]
f = h5py.File(args[0], "r")
if cmd == "loss0":           # FILE -> first loss of the history
    print("%.3e" % f["history/loss"][0])
elif cmd == "attr":          # FILE NAME -> root attribute
    v = f.attrs[args[1]]
    print(v.decode() if isinstance(v, bytes) else v)
elif cmd == "sampler":       # MODEL -> "type steps" of /sampler
    g = f["sampler"]; t = g.attrs["type"]
    print(t.decode() if isinstance(t, bytes) else t, int(g.attrs["steps"]))
EOF
json_get() { "$PY" -c "import json,sys; d=json.load(open('$1')); print(d$2)"; }

"$BIN" datagen -physics darcy -mesh_faces 7 -darcy_kl_terms 16 -n 48 -seed 1 -o data.h5 >data.log 2>&1 &&
  "$BIN" train -data data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 \
    -train_steps 60 -batch_size 8 -seed 1 -o teacher.h5 >teacher.log 2>&1 || { fail "teacher: datagen or training failed"; exit 1; }

section "(a) the (noise, sample) coupling"
C="-model teacher.h5 -distill_type piddm -piddm_lambda 0 -n_pairs 16 -pair_sampler euler -pair_steps 1 -train_steps 2 -batch_size 8"
for np_ in 1 2; do
  NP=$np_ run distill $C -o c$np_.h5
  if [ "$RC" -ne 0 ]; then fail "(a) distill on $np_ rank(s): rc $RC: $(tail -n 2 err.txt)"; continue; fi
  l0=$("$PY" h5tool.py loss0 c$np_.h5)
  holds "(a) $np_ rank(s): first loss of the one-step student on one-Euler-step pairs $l0 (want < 1e-9: the noise each pair came from)" "float('$l0') < 1e-9"
done
read -r st ss < <("$PY" h5tool.py sampler c1.h5)
if [ "$st $ss" = "euler 1" ]; then pass "(a) the student records its sampler: euler, 1 step"; else fail "(a) /sampler of the student: '$st $ss'"; fi
run sample -model c1.h5 -n 4 -o s1.h5
nfe=$("$PY" h5tool.py attr s1.h5 nfe 2>/dev/null)
run sample -model c1.h5 -n 4 -sampler_steps 3 -o s3.h5
nfe3=$("$PY" h5tool.py attr s3.h5 nfe 2>/dev/null)
if [ "${nfe%.*}" = 1 ] && [ "${nfe3%.*}" = 3 ]; then pass "(a) sample: NFE 1 by the student's record, 3 with -sampler_steps 3"; else fail "(a) sample NFE '$nfe' (want 1), with -sampler_steps 3 '$nfe3'"; fi

NP=1 run sample -model teacher.h5 -n 6 -sampler rk4 -sampler_steps 3 -seed 9 -o ts1.h5 && NP=2 run sample -model teacher.h5 -n 6 -sampler rk4 -sampler_steps 3 -seed 9 -o ts2.h5
compare "(a) teacher samples on 1 vs 2 ranks (U-Net levels)" 1e-5 ts1.h5 ts2.h5 /fields/logK /fields/p

section "(b) the pairs file is a cache"
h=$(hash_of c1_pairs.h5)
run distill $C -pairs c1_pairs.h5 -o c1b.h5
if [ "$RC" -eq 0 ] && grep -q "reusing" out.txt && [ "$(hash_of c1_pairs.h5)" = "$h" ]; then pass "(b) rerun reuses the pairs (file unchanged)"; else fail "(b) rerun: rc $RC, $(grep -c reusing out.txt) 'reusing' lines"; fi
expect_error "(b) other -n_pairs on an existing pairs file" "not these pairs" distill $C -n_pairs 8 -pairs c1_pairs.h5 -o c1c.h5
if [ "$(hash_of c1_pairs.h5)" = "$h" ] && [ ! -e c1c.h5 ]; then pass "(b) the pairs file is unchanged, no student written"; else fail "(b) the refused run changed files"; fi
"$BIN" train -data data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 -flow_type vp -train_steps 2 -batch_size 8 -o vp.h5 >vp.log 2>&1
expect_error "(b) a vp (DDPM) teacher" "cfm" distill -model vp.h5 -o x.h5
expect_error "(b) a dataset as teacher" "cannot read model" distill -model data.h5 -o x.h5
expect_error "(b) missing teacher" "cannot read model" distill -model nothing.h5 -o x.h5
cp teacher.h5 t2.h5
run distill $C -model t2.h5 -o c2b.h5
"$BIN" train -data data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 \
  -train_steps 3 -batch_size 8 -seed 2 -o t2.h5 >t2.log 2>&1
expect_error "(b) pairs of a teacher file since retrained" "other weights" distill $C -model t2.h5 -pairs c2b_pairs.h5 -o c2c.h5
expect_error "(b) -reflow_rounds 2 with piddm" "-reflow_rounds" distill -model teacher.h5 -reflow_rounds 2 -o x.h5
expect_error "(b) negative -piddm_lambda" "-piddm_lambda" distill -model teacher.h5 -piddm_lambda -1 -o x.h5

section "(c) PIDDM's residual term lowers the students' re-solve distance"
P="-model teacher.h5 -distill_type piddm -n_pairs 48 -pair_steps 4 -pairs p.h5 -train_steps 150 -batch_size 8 -lr 1e-3"
for lam in 0 30; do
  run distill $P -piddm_lambda $lam -o l$lam.h5 &&
    [ "$RC" -eq 0 ] && run sample -model l$lam.h5 -n 32 -seed 5 -o sl$lam.h5 &&
    [ "$RC" -eq 0 ] && run eval -physics darcy -samples sl$lam.h5 -reference data.h5 -o el$lam.json
  [ "$RC" -eq 0 ] || fail "(c) lambda $lam: rc $RC: $(tail -n 2 err.txt)"
done
r0=$(json_get el0.json "['resolve']['median']" 2>/dev/null)
r30=$(json_get el30.json "['resolve']['median']" 2>/dev/null)
holds "(c) median re-solve distance of 1-step students: lambda 30 '$r30' < 0.8 x lambda 0 '$r0'" "float('$r30') < 0.8 * float('$r0')"

section "(d) 1 rank and 2 ranks give the same student"
D="-model teacher.h5 -distill_type piddm -piddm_lambda 3 -n_pairs 16 -pair_steps 4 -pairs p16.h5 -train_steps 10 -batch_size 4 -seed 3"
NP=1 run distill $D -o r1.h5 && NP=2 run distill $D -o r2.h5
compare "(d) distill on 1 vs 2 ranks" 1e-4 r1.h5 r2.h5 /history/loss /history/residual /params

section "(e) SIGUSR1 and -resume"
E="-model teacher.h5 -distill_type reflow -n_pairs 16 -pair_steps 4 -pairs p16.h5 -train_steps 3000 -batch_size 4 -seed 4 -checkpoint_every 0"
"$BIN" distill $E -o e_ref.h5 >e_ref.log 2>&1 || fail "(e) uninterrupted run failed: $(tail -n 2 e_ref.log)"
"$BIN" distill $E -o e_sig.h5 >e_sig.log 2>&1 &
pid=$!
BGPIDS="$BGPIDS $pid"
for ((i = 0; i < 600; i++)); do grep -q "step .*/3000" e_sig.log 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid
wait $pid
rc=$?
if [ "$rc" -eq 0 ] && grep -q "continue with the same command and -resume" e_sig.log; then
  pass "(e) signalled distill: exit 0, says how to continue"
  if "$BIN" distill $E -resume e_sig.h5 -o e_sig.h5 >e_res.log 2>&1; then
    compare "(e) distill: interrupted+resumed vs uninterrupted" 0 e_ref.h5 e_sig.h5 /history/loss /params /adam/m /adam/v /step
  else
    fail "(e) resume failed: $(tail -n 2 e_res.log)"
  fi
else
  fail "(e) signalled distill: rc $rc, $(tail -n 2 e_sig.log)"
fi

section "(f) reflow, 2 rounds"
run distill -model teacher.h5 -distill_type reflow -reflow_rounds 2 -n_pairs 16 -pair_steps 4 -train_steps 10 -batch_size 4 -o rf.h5
if [ "$RC" -eq 0 ] && [ -s rf_round1.h5 ] && [ -s rf_pairs_round1.h5 ] && [ -s rf_pairs_round2.h5 ] && [ -s rf.h5 ]; then
  m2=$("$PY" h5tool.py attr rf_pairs_round2.h5 model)
  read -r st ss < <("$PY" h5tool.py sampler rf.h5)
  if [ "$m2" = "rf_round1.h5" ] && [ "$st $ss" = "euler 2" ]; then pass "(f) round 2's pairs come from round 1's student; the student records euler, 2 steps"; else fail "(f) round 2 pairs from '$m2', sampler '$st $ss'"; fi
  run distill -model teacher.h5 -distill_type reflow -reflow_rounds 2 -n_pairs 16 -pair_steps 4 -train_steps 10 -batch_size 4 -o rf.h5
  if [ "$RC" -eq 0 ] && grep -q "reusing the finished student rf_round1.h5" out.txt; then pass "(f) a rerun reuses the finished round 1"; else fail "(f) rerun: rc $RC, no reuse of round 1"; fi
else
  fail "(f) reflow 2 rounds: rc $RC, files: $(ls)"
fi

section "(g) PIDDM noise refinement (sample -piddm_refine)"
# the lambda 0 student of (c): refining its noise lowers the re-solve distance
run sample -model l0.h5 -n 32 -seed 5 -piddm_refine 30 -refine_lr 0.05 -o rf0.h5 &&
  [ "$RC" -eq 0 ] && run eval -physics darcy -samples rf0.h5 -reference data.h5 -o erf0.json
rr=$(json_get erf0.json "['resolve']['median']" 2>/dev/null)
holds "(g) refined samples: median re-solve distance '$rr' < 0.7 x unrefined '$r0'" "float('$rr') < 0.7 * float('$r0')"
# inverse task: 30% of p observed (no noise); 1 and 2 ranks agree, the
# observed entries are the truth's in every sample
O="-model l0.h5 -n 6 -seed 6 -piddm_refine 10 -refine_obs data.h5 -refine_obs_index 2 -refine_obs_fields p -refine_obs_fraction 0.3"
NP=1 run sample $O -o ro1.h5 && NP=2 run sample $O -o ro2.h5
compare "(g) refinement with observations, 1 vs 2 ranks" 1e-4 ro1.h5 ro2.h5 /fields/logK /fields/p
frac=$("$PY" -c "
import h5py, numpy as np
s = h5py.File('ro1.h5')['fields/p'][...]; t = h5py.File('data.h5')['fields/p'][2]
hit = np.all(np.abs(s - t) <= 1e-6 * (1 + np.abs(t)), axis=0)
print('%.3f' % hit.mean())" 2>/dev/null)
holds "(g) every sample equals the observed p at '$frac' of the vertices (asked 0.3)" "0.1 <= float('$frac') <= 0.5"
expect_error "(g) -piddm_refine on a multi-step sampler" "one-step student" sample -model teacher.h5 -n 2 -piddm_refine 3 -o x.h5
expect_error "(g) -refine_obs without -piddm_refine" "-piddm_refine" sample -model l0.h5 -n 2 -refine_obs data.h5 -o x.h5
"$BIN" datagen -physics darcy -mesh_faces 5 -darcy_kl_terms 16 -n 2 -seed 1 -o d5.h5 >/dev/null 2>&1
expect_error "(g) -refine_obs of another mesh" "vertices" sample -model l0.h5 -n 2 -piddm_refine 2 -refine_obs d5.h5 -o x.h5
expect_error "(g) -refine_obs a model file" "no mesh fields" sample -model l0.h5 -n 2 -piddm_refine 2 -refine_obs vp.h5 -o x.h5

echo
echo "== summary"
printf "%b" "$SUMMARY"
echo "test_distill: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
