#!/bin/bash
# test_restart: checkpoints make training restartable without changing it.
#  (a) 400 steps in one go == 200 steps (-train_steps 200 -lr_schedule_steps
#      400) + -resume -train_steps 400: the whole /history/loss, /params,
#      /ema, /adam/m, /adam/v, /step are bitwise equal (PF_RESTART_RTOL, default
#      0); also on 2 ranks, and a 1-rank checkpoint resumed on 2 ranks (1e-5).
#      Negative control: a first half with the wrong LR horizon does differ.
#  (b) kill -9 at random moments of a run that checkpoints every step: the
#      output file is always a readable checkpoint whose history is a prefix of
#      the uninterrupted run; nothing but FILE.tmp.<killed pid> is left behind;
#      resuming to the end gives the uninterrupted run bitwise.
#  (c) SIGTERM and SIGUSR1 in the middle: exit 0 with "signal received", the
#      checkpoint has /step < total, resuming finishes bitwise equal to the
#      uninterrupted run.  On 2 ranks: SIGUSR1 to mpiexec (Open MPI forwards
#      it), SIGTERM to one rank only (the stop flag travels in the allreduce);
#      SIGTERM to mpiexec itself is only reported (Open MPI 4.1's mpiexec passes
#      it on to the ranks about 1 s later, and then exits 1 itself even though
#      the ranks checkpointed and exited 0); only a readable checkpoint is
#      asserted.
#  (d) finetune -constraint endpoint (its own loop): SIGUSR1 in the middle,
#      then -resume: bitwise equal to the uninterrupted fine-tuning.
# Environment (set by ctest): PF_BIN, PF_MPIEXEC, PF_PYTHON, PF_SOURCE_DIR;
# optional PF_TEST_SEED (kill times), PF_RESTART_RTOL.
# set -u, $BIN, $PY, $MPIEXEC, scratch dir (BGPIDS killed on exit),
# pass/fail/note, mpi2, compare
. "$(dirname "$0")/common.sh"
RTOL=${PF_RESTART_RTOL:-0}
enter_scratch pf_test_restart
seed_random test_restart
CMP_LABEL_WIDTH=44   # summary lines of compare

cat >h5tool.py <<'EOF'
import sys, h5py, numpy as np
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "step":            # FILE -> "step nhistory"
    f = h5py.File(args[0], "r")
    print(int(f["step"][0]), f["history/loss"].shape[0])
elif cmd == "prefix":        # REF FILE -> compare FILE's history with REF's first entries
    ref = h5py.File(args[0], "r")["history/loss"][...]
    h = h5py.File(args[1], "r")["history/loss"][...]
    k = h.shape[0]
    if k > ref.shape[0]:
        print("longer than the reference (%d > %d)" % (k, ref.shape[0])); sys.exit(1)
    d = float(np.max(np.abs(h - ref[:k]))) if k else 0.0
    print("%d steps, max |diff| vs uninterrupted %.3e" % (k, d))
    sys.exit(0 if d == 0 else 1)
elif cmd == "differ":        # A B DSET -> exit 0 if they differ
    a = h5py.File(args[0], "r")[args[2]][...]; b = h5py.File(args[1], "r")[args[2]][...]
    same = a.shape == b.shape and np.array_equal(a, b)
    print("max |diff| %.3e" % (float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")))
    sys.exit(1 if same else 0)
EOF

ALL="/history/loss /params /ema /adam/m /adam/v /step"

# wait_for FILE PATTERN SECONDS: until FILE contains PATTERN
wait_for() {
  local i n=$(($3 * 20))
  for ((i = 0; i < n; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# ===========================================================================
echo
echo "== (a) 400 steps vs 200 + resume to 400"
A="-toy moons -net_type mlp -mlp_width 64 -mlp_depth 2 -batch_size 128 -seed 5"
"$BIN" train $A -train_steps 400 -o full.h5 >full.log 2>&1 || fail "(a) 400-step run failed"
"$BIN" train $A -train_steps 200 -lr_schedule_steps 400 -o ck.h5 >half.log 2>&1 || fail "(a) 200-step run failed"
read -r st nh < <("$PY" h5tool.py step ck.h5)
if [ "${st:-}" = 200 ] && [ "${nh:-}" = 200 ]; then pass "(a) first half: /step 200, /history/loss has 200 entries"; else fail "(a) first half: /step ${st:-?}, history ${nh:-?}"; fi
cp ck.h5 half.h5
"$BIN" train $A -train_steps 400 -resume ck.h5 -o ck.h5 >resume.log 2>&1 || fail "(a) resume failed: $(tail -n 2 resume.log)"
if grep -q "resumed from 'ck.h5' at step 200" resume.log && grep -q "steps 201\.\.400" resume.log; then pass "(a) resume ran steps 201..400"; else fail "(a) resume log: $(head -n 2 resume.log)"; fi
compare "(a) 1 rank: 400 vs 200+resume" "$RTOL" full.h5 ck.h5 $ALL
# negative control: the comparison sees an LR-horizon mistake
"$BIN" train $A -train_steps 200 -o wrong.h5 >/dev/null 2>&1 &&
  "$BIN" train $A -train_steps 400 -resume wrong.h5 -o wrong.h5 >/dev/null 2>&1
if msg=$("$PY" h5tool.py differ full.h5 wrong.h5 /history/loss); then pass "(a) control: first half without -lr_schedule_steps 400 gives another history ($msg)"; else fail "(a) control: wrong LR horizon not detected ($msg)"; fi

echo "   -- on 2 ranks"
mpi2 "$BIN" train $A -train_steps 400 -o full2.h5 >full2.log 2>&1 || fail "(a) 2-rank 400-step run failed"
mpi2 "$BIN" train $A -train_steps 200 -lr_schedule_steps 400 -o ck2.h5 >half2.log 2>&1 || fail "(a) 2-rank 200-step run failed"
mpi2 "$BIN" train $A -train_steps 400 -resume ck2.h5 -o ck2.h5 >resume2.log 2>&1 || fail "(a) 2-rank resume failed"
grep -q "on 2 rank(s)" resume2.log || fail "(a) 2-rank resume did not run on 2 ranks"
compare "(a) 2 ranks: 400 vs 200+resume" "$RTOL" full2.h5 ck2.h5 $ALL
cp half.h5 x12.h5
mpi2 "$BIN" train $A -train_steps 400 -resume x12.h5 -o x12.h5 >x12.log 2>&1 || fail "(a) 1-rank checkpoint resumed on 2 ranks failed"
compare "(a) 1-rank ckpt resumed on 2 ranks vs 1 rank" 1e-5 full.h5 x12.h5 /history/loss
echo "   ($SECONDS s so far)"

# ===========================================================================
echo
echo "== (b) kill -9 while checkpointing every step"
K="-toy moons -net_type mlp -mlp_width 32 -mlp_depth 1 -batch_size 64 -seed 11"
NK=4000
"$BIN" train $K -train_steps $NK -o kref.h5 >kref.log 2>&1 || fail "(b) uninterrupted run failed"
mkdir -p kdir
killed=""
nkill=0
prev=0
for round in 1 2 3 4 5; do
  resume=""
  [ -e kdir/k.h5 ] && resume="-resume kdir/k.h5"
  "$BIN" train $K -train_steps $NK -checkpoint_every 1 $resume -o kdir/k.h5 >"kill$round.log" 2>&1 &
  pid=$!
  BGPIDS="$BGPIDS $pid"
  wait_for "kill$round.log" "physflow train: steps" 30 || { fail "(b) round $round: training did not start"; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null; break; }
  # first round: let the first checkpoint appear
  i=0
  while [ ! -e kdir/k.h5 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
  ms=$((200 + RANDOM % 1000))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    rc=$?
    nkill=$((nkill + 1))
    killed="$killed $pid"
  else
    wait $pid 2>/dev/null
    rc=$?
    echo "       round $round: the run finished (rc $rc) before the kill at ${ms} ms"
    [ "$rc" -eq 0 ] || fail "(b) round $round: run failed (rc $rc): $(tail -n 2 "kill$round.log")"
    break
  fi
  # the output must be a complete checkpoint
  if "$BIN" info kdir/k.h5 >info.txt 2>&1 && grep -qE '^ */step \[1\]' info.txt; then
    read -r st nh < <("$PY" h5tool.py step kdir/k.h5)
    pm=$("$PY" h5tool.py prefix kref.h5 kdir/k.h5)
    prc=$?
    if [ "$nh" = "$st" ] && [ "$prc" -eq 0 ] && [ "$st" -ge "$prev" ]; then
      pass "(b) kill $nkill after ${ms} ms (rc $rc): checkpoint readable, /step $st (was $prev), history $pm"
    else
      fail "(b) kill $nkill: /step $st, history entries $nh, previous step $prev, prefix check: $pm"
    fi
    prev=$st
  else
    fail "(b) kill $nkill after ${ms} ms: 'physflow info' cannot read the checkpoint: $(head -n 1 info.txt)"
  fi
  # nothing but the checkpoint and temporaries of killed processes
  for f in kdir/* kdir/.[!.]*; do
    [ -e "$f" ] || continue
    b=$(basename "$f")
    case "$b" in
      k.h5) ;;
      k.h5.tmp.*) case " $killed " in *" ${b#k.h5.tmp.} "*) ;; *) fail "(b) temporary $b does not belong to a killed process" ;; esac ;;
      *) fail "(b) unexpected file left: $b" ;;
    esac
  done
done
ntmp=$(find kdir -name 'k.h5.tmp.*' | wc -l)
echo "       $nkill kills; $ntmp of them left a k.h5.tmp.<pid> (killed during a write)"
note "(b) $nkill kill -9, $ntmp left a .tmp.<pid> file, last checkpoint at step $prev of $NK"
[ "$nkill" -ge 1 ] || fail "(b) no run was killed in the middle"
if "$BIN" train $K -train_steps $NK -resume kdir/k.h5 -o kdir/k.h5 >kfinal.log 2>&1; then
  pass "(b) resumed from step $prev to $NK"
else
  fail "(b) final resume failed: $(tail -n 2 kfinal.log)"
fi
compare "(b) killed+resumed vs uninterrupted" "$RTOL" kref.h5 kdir/k.h5 /history/loss /params /ema /adam/m /adam/v
echo "   ($SECONDS s so far)"

# ===========================================================================
echo
echo "== (c) SIGTERM / SIGUSR1 in the middle"
S="-toy moons -net_type mlp -mlp_width 32 -mlp_depth 1 -batch_size 64 -seed 13"
NS=12000
"$BIN" train $S -train_steps $NS -o sref1.h5 >sref1.log 2>&1 || fail "(c) uninterrupted run failed"

# signal_run LABEL REF NP SIG TARGET: TARGET = mpiexec | rank1 | self
signal_run() {
  local label=$1 ref=$2 np=$3 sig=$4 target=$5
  local out="sig_$label.h5" log="sig_$label.log" launcher=()
  [ "$np" -gt 1 ] && launcher=("$MPIEXEC" -n "$np" --oversubscribe)
  "${launcher[@]}" "$BIN" train $S -train_steps $NS -o "$out" >"$log" 2>&1 &
  local pid=$! dest
  BGPIDS="$BGPIDS $pid"
  if ! wait_for "$log" "physflow train: steps" 30; then
    fail "(c) $label: training did not start"; kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null; return 1
  fi
  sleep 0.2
  dest=$pid
  if [ "$target" = rank1 ]; then
    dest=""
    local c
    for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
      if tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then dest=$c; fi
    done
    if [ -z "$dest" ]; then
      echo "       $label: cannot find the rank-1 process among the children of mpiexec; skipped"
      kill -TERM $pid; wait $pid 2>/dev/null; return 1
    fi
  fi
  local t0=$SECONDS
  kill -"$sig" "$dest"
  wait $pid
  local rc=$? k st nh
  k=$(grep -oE "signal received at step [0-9]+" "$log" | grep -oE '[0-9]+$' | head -n 1)
  read -r st nh < <("$PY" h5tool.py step "$out" 2>/dev/null)
  echo "       $label: SIG$sig to $target (pid $dest): rc $rc, ${k:+stopped at step $k/$NS}${k:-no 'signal received' message (ran to the end)}, checkpoint /step ${st:-?}, $((SECONDS - t0)) s"
  if [ "$target" = mpiexec ] && [ "$sig" = TERM ]; then
    note "(c) $label: SIGTERM to mpiexec: rc $rc, 'signal received' at step ${k:-none}, checkpoint /step ${st:-none}"
    if [ -n "${st:-}" ]; then pass "(c) $label: checkpoint readable after SIGTERM to mpiexec (/step $st; mpiexec rc $rc)"; else fail "(c) $label: no readable checkpoint after SIGTERM to mpiexec"; fi
    return 1
  fi
  if [ "$rc" -eq 0 ] && [ -n "$k" ] && [ "${st:-}" = "$k" ] && [ "$k" -lt "$NS" ] && [ "$nh" = "$k" ]; then
    pass "(c) $label: exit 0, 'signal received at step $k', checkpoint /step $k < $NS"
  else
    fail "(c) $label: rc $rc, message step '${k:-none}', checkpoint /step '${st:-none}', history '${nh:-none}' (want rc 0, /step = message step < $NS)"
    grep -v '^  step' "$log" | sed 's/^/       log: /' | head -n 8
    return 1
  fi
  if pm=$("$PY" h5tool.py prefix "$ref" "$out"); then pass "(c) $label: history so far equals the uninterrupted run's ($pm)"; else fail "(c) $label: history prefix differs: $pm"; fi
  note "(c) $label: SIG$sig to $target stopped at step $k of $NS (rc $rc)"
  return 0
}

# resume_and_compare LABEL REF NP
resume_and_compare() {
  local label=$1 ref=$2 np=$3 out="sig_$1.h5" launcher=()
  [ "$np" -gt 1 ] && launcher=("$MPIEXEC" -n "$np" --oversubscribe)
  if "${launcher[@]}" "$BIN" train $S -train_steps $NS -resume "$out" -o "$out" >"resume_$label.log" 2>&1; then
    compare "(c) $label: interrupted+resumed vs uninterrupted" "$RTOL" "$ref" "$out" /history/loss /params /ema /adam/m /adam/v /step
  else
    fail "(c) $label: resume failed: $(tail -n 2 "resume_$label.log")"
  fi
}

signal_run term1 sref1.h5 1 TERM self && resume_and_compare term1 sref1.h5 1
signal_run usr1 sref1.h5 1 USR1 self && resume_and_compare usr1 sref1.h5 1

echo "   -- on 2 ranks"
mpi2 "$BIN" train $S -train_steps $NS -o sref2.h5 >sref2.log 2>&1 || fail "(c) 2-rank uninterrupted run failed"
compare "(c) 2-rank vs 1-rank uninterrupted" 1e-5 sref1.h5 sref2.h5 /history/loss
if signal_run usr1_mpi sref2.h5 2 USR1 mpiexec; then
  grep -q "Forwarding signal" sig_usr1_mpi.log && echo "       mpiexec said: $(grep -m1 'Forwarding signal' sig_usr1_mpi.log)"
  resume_and_compare usr1_mpi sref2.h5 2
fi
signal_run term_rank1 sref2.h5 2 TERM rank1 && resume_and_compare term_rank1 sref2.h5 2
signal_run term_mpi sref2.h5 2 TERM mpiexec

# ===========================================================================
echo
echo "== (d) finetune -constraint endpoint: SIGUSR1 in the middle, -resume"
# its own loop keeps its AdamW state in the trainer's checkpoint
"$BIN" datagen -physics darcy -mesh_faces 7 -darcy_kl_terms 16 -n 32 -seed 1 -o ep_data.h5 >ep_data.log 2>&1 &&
  "$BIN" train -data ep_data.h5 -net_type meshunet -mesh_levels 2 -mesh_width 8 -mesh_depth 1 -mesh_groups 2 \
    -train_steps 20 -batch_size 8 -seed 1 -o ep_pre.h5 >ep_pre.log 2>&1 || fail "(d) pretraining failed"
E="-model ep_pre.h5 -constraint endpoint -endpoint_steps 3 -train_steps 600 -batch_size 4 -seed 2"
"$BIN" finetune $E -o ep_ref.h5 >ep_ref.log 2>&1 || fail "(d) uninterrupted fine-tuning failed: $(tail -n 2 ep_ref.log)"
"$BIN" finetune $E -o ep_sig.h5 >ep_sig.log 2>&1 &
pid=$!
BGPIDS="$BGPIDS $pid"
wait_for ep_sig.log "iteration   20/600" 30 && kill -USR1 $pid
wait $pid
rc=$?
k=$(grep -oE "stopping after [0-9]+ of" ep_sig.log | grep -oE '[0-9]+' | head -n 1)
read -r st nh < <("$PY" h5tool.py step ep_sig.h5 2>/dev/null)
if [ "$rc" -eq 0 ] && [ -n "$k" ] && [ "${st:-}" = "$k" ] && [ "$k" -lt 600 ]; then
  pass "(d) endpoint fine-tuning: exit 0, stopped after $k of 600 iterations, checkpoint /step $k"
  if "$BIN" finetune $E -resume ep_sig.h5 -o ep_sig.h5 >ep_res.log 2>&1; then
    compare "(d) endpoint: interrupted+resumed vs uninterrupted" "$RTOL" ep_ref.h5 ep_sig.h5 /history/loss /params /adam/m /adam/v /step
  else
    fail "(d) endpoint resume failed: $(tail -n 2 ep_res.log)"
  fi
else
  fail "(d) endpoint fine-tuning: rc $rc, stopped after '${k:-none}', checkpoint /step '${st:-none}'"
fi

echo
echo "== summary"
printf "%b" "$SUMMARY"
echo "test_restart: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
