#!/bin/bash
# Sample quality on two moons (issue 3 acceptance):
#  - a flow-matching model sampled with 20 Euler steps is closer to the data
#    (sliced Wasserstein) than the same model with 2 steps;
#  - OT-CFM with 2 steps beats I-CFM with 2 steps (straighter paths).
# Same seeds and budgets for both flows; ~15 s on one core.
set -u
BIN=${PF_BIN:?}; PY=${PF_PYTHON:-/usr/bin/python3}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"

fail=0
swd() { "$BIN" eval -samples "$1" -reference ref.h5 -plot none | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["sliced_wasserstein"])'; }

"$BIN" datagen -toy moons -n 4000 -seed 7 -o ref.h5 >/dev/null || exit 1
for flow in cfm otcfm; do
  "$BIN" train -toy moons -flow_type $flow -train_steps 3000 -batch_size 128 -lr 2e-3 -seed 1 \
        -o m_$flow.h5 -monitor_every 100000 >/dev/null || { echo "FAIL: training $flow"; exit 1; }
  for steps in 2 20; do
    "$BIN" sample -model m_$flow.h5 -n 4000 -sampler euler -sampler_steps $steps -seed 3 -o s_${flow}_$steps.h5 >/dev/null || exit 1
  done
done
cfm2=$(swd s_cfm_2.h5); cfm20=$(swd s_cfm_20.h5); ot2=$(swd s_otcfm_2.h5); ot20=$(swd s_otcfm_20.h5)
echo "sliced Wasserstein to 4000 held-out moons samples:"
echo "  I-CFM  euler  2 steps: $cfm2"
echo "  I-CFM  euler 20 steps: $cfm20"
echo "  OT-CFM euler  2 steps: $ot2"
echo "  OT-CFM euler 20 steps: $ot20"
lt() { "$PY" -c "import sys; sys.exit(0 if float('$1') < float('$2') else 1)"; }
lt "$cfm20" "$cfm2" && echo "ok: I-CFM 20 steps < 2 steps" || { echo "FAIL: I-CFM 20 steps not better than 2"; fail=1; }
lt "$ot2" "$cfm2" && echo "ok: OT-CFM 2 steps < I-CFM 2 steps" || { echo "FAIL: OT-CFM 2 steps not better than I-CFM 2 steps"; fail=1; }
# an absolute sanity bound: 20-step samples must actually look like moons
lt "$cfm20" 0.3 && echo "ok: I-CFM 20-step SWD below 0.3" || { echo "FAIL: I-CFM 20-step SWD $cfm20 >= 0.3"; fail=1; }
exit $fail
