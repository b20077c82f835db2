#!/bin/bash
# test_cli: the physflow command line as a user meets it.
#   - usage / -help of every command, with option defaults
#   - unimplemented commands say so and fail
#   - option typos and bad values: one line "physflow CMD: error: ...", exit 1,
#     no PETSc traceback, no crash, no output file
#   - missing / non-HDF5 / truncated / wrong-kind input files, NaN in data
#   - existing outputs are never touched by a failing run
#   - datagen -> train -> sample -> eval -> info happy path on tiny inputs
#   - -options_file and -log_view
# Environment (set by ctest): PF_BIN, PF_PYTHON, PF_SOURCE_DIR.
# set -u, $BIN, $PY, scratch dir, pass/fail/section, run, expect_error, hash_of
. "$(dirname "$0")/common.sh"
# every run here is a 1-rank MPI singleton (~100 runs)
fast_mpi_singletons
enter_scratch pf_test_cli

TINY="-toy moons -net_type mlp -mlp_width 16 -mlp_depth 1 -batch_size 32 -seed 1"

# ---------------------------------------------------------------------------
section "usage and unknown commands"
run
if [ "$RC" -ne 0 ] && grep -q "usage: physflow" err.txt; then pass "no arguments: rc=$RC, usage on stderr"; else fail "no arguments: rc=$RC (want !=0 and usage on stderr)"; fi
run -help
if [ "$RC" -eq 0 ] && grep -q "usage: physflow" out.txt; then pass "physflow -help: rc=0, usage on stdout"; else fail "physflow -help: rc=$RC"; fi
run frobnicate
if [ "$RC" -ne 0 ] && grep -q "unknown command" err.txt; then pass "unknown command: rc=$RC, \"$(head -n 1 err.txt)\""; else fail "unknown command: rc=$RC, stderr: $(head -n 1 err.txt)"; fi

# ---------------------------------------------------------------------------
section "physflow <cmd> -help exits 0 for every command"
for c in datagen train finetune sample observe infer distill guide eval info; do
  run "$c" -help
  if [ "$RC" -eq 0 ] && grep -q "physflow $c" out.txt && [ ! -s err.txt ]; then
    pass "$c -help: rc=0, $(wc -l <out.txt) lines"
  else
    fail "$c -help: rc=$RC, stderr: $(head -n 2 err.txt)"
  fi
done
run train -help
for o in train_steps mlp_width mlp_depth batch_size seed checkpoint_every lr_schedule_steps; do
  line=$(grep -E -- "^ *-$o <now [^ ]+ : formerly [^ ]+>" out.txt | head -n 1)
  if [ -n "$line" ]; then pass "train -help lists -$o with its default: $(echo "$line" | cut -c1-60)"; else fail "train -help does not list -$o with a default"; fi
done
for o in lr flow_type toy resume; do
  line=$(grep -E -- "^ *-$o <" out.txt | head -n 1)
  if [ -n "$line" ]; then pass "train -help lists -$o: $(echo "$line" | cut -c1-60)"; else fail "train -help does not list -$o"; fi
done
if grep -qE -- "^ *-sampler" out.txt; then echo "  info train -help also lists -sampler options"; else echo "  info train -help does not list -sampler (sampler options belong to 'sample')"; fi
run sample -help
for o in sampler sampler_steps model n; do
  line=$(grep -E -- "^ *-$o <now [^ ]* : formerly [^ ]*>" out.txt | head -n 1)
  if [ -n "$line" ]; then pass "sample -help lists -$o with its default: $(echo "$line" | cut -c1-60)"; else fail "sample -help does not list -$o with a default"; fi
done
run observe -help
if [ "$RC" -eq 0 ] && grep -q -- "-nobs" out.txt; then pass "observe -help lists -nobs"; else fail "observe -help: rc=$RC, no -nobs"; fi
run infer -help
if [ "$RC" -eq 0 ] && grep -q -- "-obs_dir" out.txt; then pass "infer -help lists -obs_dir"; else fail "infer -help: rc=$RC, no -obs_dir"; fi

# ---------------------------------------------------------------------------
section "observe and infer without their inputs"
expect_error "observe without -data" "-data" observe
expect_error "infer without -model" "-model" infer
expect_error "finetune without -model" "-model" finetune
expect_error "finetune of a missing model" "cannot read model" finetune -model nothing.h5 -o t.h5
expect_error "train -constraint pbfm on toy data" "needs PDE data" train -toy moons -constraint pbfm -train_steps 2 -o t.h5
expect_error "train -constraint endpoint on toy data" "needs PDE data" train -toy moons -constraint endpoint -train_steps 2 -o t.h5
expect_error "train -constraint_norm bogus" "bogus" train -toy moons -constraint pbfm -constraint_norm bogus -o t.h5
expect_error "train -endpoint_steps 0" "-endpoint_steps" train -toy moons -endpoint_steps 0 -o t.h5
expect_error "train -endpoint_state_anchor -1" "-endpoint_state_anchor" train -toy moons -endpoint_state_anchor -1 -o t.h5
expect_error "train -endpoint_probe -1" "-endpoint_probe" train -toy moons -endpoint_probe 1e-6,-1 -o t.h5
expect_error "train -endpoint_update bogus" "bogus" train -toy moons -endpoint_update bogus -o t.h5
expect_error "train -fm_field_weights on toy data" "applies to PDE data" train -toy moons -fm_field_weights 1,0 -train_steps 2 -o t.h5
expect_error "train -pin_constant on toy data" "-pin_constant needs PDE data" train -toy moons -pin_constant -train_steps 2 -o t.h5
expect_error "sample of a missing model (with an option only a conditional model has)" "cannot read model" sample -model nothing.h5 -cond_data x.h5

# ---------------------------------------------------------------------------
section "option typos"
expect_error "train -train_step (typo)" "-train_step" train -toy moons -train_step 5 -o x.h5
if [ -e x.h5 ]; then fail "typo run created x.h5"; else pass "typo run created no x.h5"; fi
expect_error "datagen -nn (typo)" "-nn" datagen -toy moons -nn 5 -o y.h5
if ls x.h5* y.h5* >/dev/null 2>&1; then fail "typo runs left files: $(ls x.h5* y.h5* 2>/dev/null)"; else pass "typo runs left no output or temporary files"; fi

# ---------------------------------------------------------------------------
section "happy path: datagen, train, sample, eval, info"
run datagen -toy moons -n 400 -seed 2 -o ref.h5
if [ "$RC" -eq 0 ] && [ -s ref.h5 ]; then pass "datagen -n 400: rc=0, ref.h5 $(stat -c %s ref.h5) bytes"; else fail "datagen: rc=$RC $(cat err.txt)"; fi
run train $TINY -train_steps 30 -o model.h5
if [ "$RC" -eq 0 ] && [ -s model.h5 ]; then pass "train 30 steps: rc=0, model.h5 $(stat -c %s model.h5) bytes"; else fail "train: rc=$RC $(cat err.txt)"; fi
run sample -model model.h5 -n 300 -seed 4 -o samples.h5
if [ "$RC" -eq 0 ] && [ -s samples.h5 ]; then pass "sample -n 300: rc=0, samples.h5 $(stat -c %s samples.h5) bytes"; else fail "sample: rc=$RC $(cat err.txt)"; fi
run info model.h5
if [ "$RC" -eq 0 ] && grep -qE "^ *kind = model" out.txt && grep -q "training: 30 steps" out.txt; then pass "info model.h5: kind = model, '$(grep training: out.txt | sed 's/^ *//')'"; else fail "info model.h5: rc=$RC"; cat out.txt err.txt | head; fi
for d in /params /ema /adam/m /adam/v /step /history/loss; do
  grep -qE "^ *$d \[" out.txt || fail "info model.h5 does not list dataset $d"
done
run info ref.h5
if [ "$RC" -eq 0 ] && grep -qE "^ *kind = dataset" out.txt; then pass "info ref.h5: kind = dataset"; else fail "info ref.h5: rc=$RC"; fi
run info samples.h5
if [ "$RC" -eq 0 ] && grep -qE "^ *kind = samples" out.txt && grep -qE "^ *nfe = " out.txt; then pass "info samples.h5: kind = samples, $(grep -E '^ *nfe' out.txt | sed 's/^ *//')"; else fail "info samples.h5: rc=$RC"; fi
run eval -samples samples.h5 -reference ref.h5 -plot none -o report.json
if [ "$RC" -eq 0 ]; then
  if msg=$("$PY" - out.txt report.json <<'EOF'
import json, math, sys
lines = [l for l in open(sys.argv[1]) if l.strip().startswith("{")]
assert len(lines) == 1, "expected one JSON line on stdout, got %d" % len(lines)
r = json.loads(lines[0])
f = json.load(open(sys.argv[2]))
assert r == f, "-o report differs from stdout"
swd = r["sliced_wasserstein"]
assert isinstance(swd, float) and math.isfinite(swd) and swd >= 0, "bad sliced_wasserstein %r" % swd
assert r["n_samples"] == 300 and r["n_reference"] == 400 and r["dim"] == 2, r
assert math.isfinite(r["mmd2"])
print("sliced_wasserstein %.4g, mmd2 %.3g, nfe %d" % (swd, r["mmd2"], r["nfe"]))
EOF
  ); then pass "eval JSON parses: $msg"; else fail "eval JSON: $msg"; cat out.txt; fi
else
  fail "eval: rc=$RC $(cat err.txt)"
fi
if [ -e samples.png ]; then fail "eval -plot none wrote samples.png"; fi

# ---------------------------------------------------------------------------
section "bad option values"
expect_error "train -batch_size 0" "-batch_size" train $TINY -batch_size 0 -o bad.h5
expect_error "train -lr -1" "-lr" train $TINY -lr -1 -o bad.h5
expect_error "datagen -n 0" "-n must be positive" datagen -toy moons -n 0 -o bad.h5
expect_error "train -mlp_width 0" "-mlp_width" train $TINY -mlp_width 0 -o bad.h5
expect_error "train -flow_type bogus" "bogus" train $TINY -flow_type bogus -o bad.h5
expect_error "sample -sampler bogus" "bogus" sample -model model.h5 -sampler bogus -o bad.h5
expect_error "sample -guidance bogus" "unknown -guidance" sample -model model.h5 -guidance bogus -o bad.h5
expect_error "sample -sampler_step (typo)" "-sampler_step" sample -model model.h5 -sampler_step 5 -o y.h5
if ls y.h5* >/dev/null 2>&1; then fail "sample typo run left files: $(ls y.h5*)"; else pass "sample typo run left no output or temporary files"; fi
expect_error "train -toy bogus" "bogus" train -toy bogus -o bad.h5
expect_error "datagen -toy bogus" "bogus" datagen -toy bogus -o bad.h5
expect_error "train -train_steps -5" "-train_steps" train $TINY -train_steps -5 -o bad.h5
expect_error "train -ema_decay 1.5" "-ema_decay" train $TINY -ema_decay 1.5 -o bad.h5
expect_error "train -batch_size abc" "abc" train $TINY -batch_size abc -o bad.h5
expect_error "sample -n 0" "-n must be positive" sample -model model.h5 -n 0 -o bad.h5
expect_error "train without a data source" "data source" train -train_steps 5 -o bad.h5
expect_error "train -toy and -data" "data source" train -toy moons -data ref.h5 -train_steps 5 -o bad.h5
if ls bad.h5* >/dev/null 2>&1; then fail "bad-value runs left files: $(ls bad.h5*)"; else pass "bad-value runs left no output or temporary files"; fi

# ---------------------------------------------------------------------------
section "missing, foreign, corrupt input files"
expect_error "sample -model missing.h5" "missing.h5" sample -model missing.h5 -o s2.h5
expect_error "train -data missing.h5" "missing.h5" train -data missing.h5 -train_steps 5 -o m2.h5
expect_error "eval with missing reference" "missing_ref.h5" eval -samples samples.h5 -reference missing_ref.h5 -plot none
expect_error "eval with missing samples" "missing_s.h5" eval -samples missing_s.h5 -reference ref.h5 -plot none
expect_error "info missing.h5" "missing.h5" info missing.h5
echo "this is not an HDF5 file" >text.h5
expect_error "sample -model text file" "not an HDF5 file" sample -model text.h5 -o s2.h5
head -c 1000 model.h5 >trunc.h5
expect_error "sample -model truncated (1000 bytes)" "trunc.h5" sample -model trunc.h5 -o s2.h5
head -c $(($(stat -c %s model.h5) / 2)) model.h5 >half.h5
expect_error "sample -model truncated (half)" "half.h5" sample -model half.h5 -o s2.h5
expect_error "info truncated model" "trunc.h5" info trunc.h5
expect_error "sample -model <datagen dataset>" "dataset" sample -model ref.h5 -o s2.h5
expect_error "train -resume <datagen dataset>" "dataset" train $TINY -train_steps 5 -resume ref.h5 -o m2.h5
expect_error "train -data <model file>" "samples" train -data model.h5 -train_steps 5 -o m2.h5
"$PY" -c 'import h5py, numpy as np; f = h5py.File("foreign.h5", "w"); f["x"] = np.arange(4.0); f.close()' &&
  expect_error "sample -model <foreign HDF5 file>" "not a physflow file" sample -model foreign.h5 -o s2.h5
expect_error "train -resume with another architecture" "architecture" train $TINY -mlp_width 24 -train_steps 40 -resume model.h5 -o m2.h5
if ls s2.h5* m2.h5* >/dev/null 2>&1; then fail "failed runs left files: $(ls s2.h5* m2.h5*)"; else pass "failed runs left no output or temporary files"; fi

# ---------------------------------------------------------------------------
section "NaN in data"
"$PY" - <<'EOF'
import h5py, numpy as np
x = np.random.default_rng(0).standard_normal((64, 2))
x[17, 1] = np.nan
with h5py.File("nan.h5", "w") as f:
    f["samples"] = x
y = np.random.default_rng(1).standard_normal((64, 2))
y[3, 0] = np.inf
with h5py.File("inf_samples.h5", "w") as f:
    f["samples"] = y
EOF
expect_error "train -data with NaN" "NaN" train -data nan.h5 -batch_size 16 -train_steps 5 -o nanmodel.h5
[ -e nanmodel.h5 ] && fail "NaN run created nanmodel.h5"
expect_error "eval -samples with Inf" "NaN/Inf" eval -samples inf_samples.h5 -reference ref.h5 -plot none

# ---------------------------------------------------------------------------
section "existing outputs are untouched by failing runs"
h0=$(hash_of model.h5)
echo "  model.h5 sha256 $h0"
check_untouched() {
  local label=$1 h
  h=$(hash_of model.h5)
  if [ "$h" = "$h0" ]; then pass "$label: model.h5 unchanged"; else fail "$label: model.h5 changed ($h)"; fi
}
expect_error "train -resume nonexistent.h5 -o model.h5" "nonexistent.h5" train $TINY -train_steps 40 -resume nonexistent.h5 -o model.h5
check_untouched "failed resume"
expect_error "train (typo) -o model.h5" "-batchsize" train $TINY -batchsize 8 -train_steps 5 -o model.h5
check_untouched "option typo"
expect_error "train diverging (-lr 1e30) -o model.h5" "diverged" train $TINY -lr 1e30 -train_steps 20 -o model.h5
check_untouched "diverged training"
expect_error "train -resume model.h5 with another width -o model.h5" "architecture" train $TINY -mlp_width 24 -train_steps 40 -resume model.h5 -o model.h5
check_untouched "architecture mismatch"
expect_error "train -resume model.h5 beyond -train_steps" "beyond -train_steps" train $TINY -train_steps 10 -resume model.h5 -o model.h5
check_untouched "checkpoint beyond -train_steps"
hs=$(hash_of samples.h5)
expect_error "sample -model missing.h5 -o samples.h5" "missing.h5" sample -model missing.h5 -o samples.h5
if [ "$(hash_of samples.h5)" = "$hs" ]; then pass "samples.h5 unchanged"; else fail "samples.h5 changed"; fi
if ls ./*.tmp.* >/dev/null 2>&1; then fail "temporary files left: $(ls ./*.tmp.*)"; else pass "no *.tmp.* files left"; fi
expect_error "train -o /nonexistent/dir/x.h5" "cannot write output" train $TINY -train_steps 5 -o /nonexistent/dir/x.h5
if grep -q "step " out.txt; then fail "train started before noticing the unwritable output: $(head -n 2 out.txt)"; else pass "unwritable output noticed before the first training step (stdout: $(wc -l <out.txt) lines)"; fi
expect_error "datagen -o /nonexistent/dir/x.h5" "cannot write output" datagen -toy moons -n 10 -o /nonexistent/dir/x.h5
expect_error "sample -o /nonexistent/dir/x.h5" "cannot write output" sample -model model.h5 -n 10 -o /nonexistent/dir/x.h5
expect_error "eval -o /nonexistent/dir/r.json" "cannot write output" eval -samples samples.h5 -reference ref.h5 -plot none -o /nonexistent/dir/r.json

# ---------------------------------------------------------------------------
section "-options_file and -log_view"
cat >opts.txt <<'EOF'
# physflow train options
-toy moons
-mlp_width 12
-mlp_depth 1
-batch_size 24
-train_steps 7
-seed 9
-o fromfile.h5
EOF
run train -options_file opts.txt
if [ "$RC" -eq 0 ] && [ -s fromfile.h5 ]; then
  if msg=$("$PY" - <<'EOF'
import h5py
f = h5py.File("fromfile.h5", "r")
n = f["history/loss"].shape[0]
w = int(f["arch"].attrs["mlp_width"]); b = int(f["train"].attrs["batch_size"])
assert n == 7 and w == 12 and b == 24, "history %d steps, width %d, batch %d" % (n, w, b)
print("history %d steps, mlp_width %d, batch_size %d" % (n, w, b))
EOF
  ); then pass "-options_file used: $msg"; else fail "-options_file not used: $msg"; fi
else
  fail "train -options_file: rc=$RC $(cat err.txt)"
fi
printf -- '-toy moons\n-train_stepz 7\n-o typo.h5\n' >opts_typo.txt
expect_error "typo inside -options_file" "-train_stepz" train -options_file opts_typo.txt
expect_error "-options_file missing.txt" "missing.txt" train -options_file missing.txt -o x.h5
run train $TINY -train_steps 5 -o logged.h5 -log_view
if [ "$RC" -eq 0 ]; then
  for ev in PFNetForward PFNetBackward PFAllreduce PFIO PFOptimizer; do
    line=$(grep -E "^$ev " out.txt | head -n 1)
    if [ -n "$line" ]; then pass "train -log_view has $ev (count $(echo "$line" | awk '{print $2}'))"; else fail "train -log_view lacks event $ev"; fi
  done
else
  fail "train -log_view: rc=$RC $(cat err.txt)"
fi
run sample -model logged.h5 -n 20 -o logged_s.h5 -log_view
if [ "$RC" -eq 0 ] && grep -qE "^PFNetForward " out.txt && grep -qE "^PFIO " out.txt; then pass "sample -log_view has PFNetForward and PFIO"; else fail "sample -log_view: rc=$RC"; fi

# ---------------------------------------------------------------------------
T1=$(date +%s.%N)
echo
printf "test_cli: %d checks passed, %d failed (%.1f s)\n" "$npass" "$nfail" "$(echo "$T1 - $T0" | bc 2>/dev/null || echo 0)"
[ "$nfail" -eq 0 ]
