#!/bin/bash
# test_darcy_datagen: physflow datagen -physics darcy as a user runs it.
#   (a) rank/group invariance: the same seed on 1 rank, 2 ranks as 2 groups,
#       2 ranks as 1 group and 4 ranks as 2x2 gives the same /coords, /cells
#       (exactly) and /fields/logK, /fields/p (rtol 1e-10)
#   (b) the .xmf opens in real ParaView (pvpython + tests/pv_check_xdmf.py)
#       with the expected points, fields and steps (SKIP if no pvpython)
#   (c) resume: SIGTERM in the middle exits 0 leaving only data.h5.partial,
#       -resume completes it equal to an uninterrupted run; the same after
#       kill -9 at random moments and after SIGUSR1 to a 2-rank mpiexec
#   (d) Gmsh meshes (plate with a hole, L-shape): 1 and 2 ranks agree, eval
#       residual tiny, log K has the requested spread, Dirichlet groups
#   (e) low fidelity and observation noise on the box
#   (f) eval's physics checks: re-solve consistency, no-flux leak, conservation
# Environment (set by ctest): PF_BIN, PF_MPIEXEC, PF_PYTHON, PF_SOURCE_DIR;
# optional PF_PVPYTHON, PF_GMSH, PF_TEST_SEED (kill times).
# set -u, $BIN, $PY, $MPIEXEC, scratch dir (BGPIDS killed on exit),
# pass/fail/note, compare (summary label width 52)
. "$(dirname "$0")/common.sh"
PVPY=${PF_PVPYTHON:-pvpython}
GMSH=${PF_GMSH:-gmsh}
fast_mpi_singletons
enter_scratch pf_test_darcy_datagen
seed_random test_darcy_datagen

skip() { echo "  SKIP $*"; SUMMARY="$SUMMARY  SKIP $*\n"; }
# sections here also show the time so far
section() { echo; echo "== $*   ($SECONDS s so far)"; }

# pf NP ARGS...: physflow on NP ranks (1 = singleton, no mpiexec)
pf() {
  local np=$1
  shift
  if [ "$np" -eq 1 ]; then "$BIN" "$@"; else "$MPIEXEC" -n "$np" --oversubscribe "$BIN" "$@"; fi
}

cat >h5tool.py <<'EOF'
import json, sys
import h5py, numpy as np
cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "info":            # FILE -> "nsamples nvert ncompleted"
    with h5py.File(a[0], "r") as f:
        c = f["completed"][...]
        print(f["fields/p"].shape[0], f["coords"].shape[0], int(np.count_nonzero(c)))
elif cmd == "completed_ok":  # FILE REF: rows marked complete are finite and equal REF's
    with h5py.File(a[0], "r") as f, h5py.File(a[1], "r") as r:
        c = f["completed"][...].astype(bool)
        k = int(c.sum())
        worst = 0.0
        for name in ("logK", "p"):
            x, y = f["fields/" + name][...][c], r["fields/" + name][...][c]
            if not np.all(np.isfinite(x)):
                print("%d complete rows, but %s has non-finite values in them" % (k, name)); sys.exit(1)
            if k:
                worst = max(worst, float(np.max(np.abs(x - y)) / np.max(np.abs(y))))
        print("%d of %d rows complete, they match the uninterrupted run to max_rel %.2e" % (k, c.size, worst))
        sys.exit(0 if worst <= 1e-10 else 1)
elif cmd == "all_completed": # FILE -> exit 0 if /completed is all 1
    with h5py.File(a[0], "r") as f:
        c = f["completed"][...]
        print("/completed: %d of %d set" % (int(np.count_nonzero(c == 1)), c.size))
        sys.exit(0 if c.size and np.all(c == 1) else 1)
elif cmd == "attr":          # FILE NAME
    with h5py.File(a[0], "r") as f:
        v = f.attrs[a[1]]
        print(v.decode() if isinstance(v, bytes) else v)
elif cmd == "logk_std":      # FILE -> std of log K over samples and vertices
    with h5py.File(a[0], "r") as f:
        g = f["fields/logK"][...]
    print("%.4g" % float(g.std()))
elif cmd == "dirichlet":     # FILE XC YC R VALUE: p on the circle |x - c| = R
    with h5py.File(a[0], "r") as f:
        X, p = f["coords"][...], f["fields/p"][...]
    xc, yc, R, val = map(float, a[1:5])
    on = np.abs(np.hypot(X[:, 0] - xc, X[:, 1] - yc) - R) < 1e-6
    d = float(np.max(np.abs(p[:, on] - val))) if on.any() else float("inf")
    print("%d boundary vertices, max |p - %g| = %.2e" % (int(on.sum()), val, d))
    sys.exit(0 if on.sum() >= 8 and d < 1e-8 else 1)
elif cmd == "lowfi":         # HI LO NOISY: rel L2 of p(lo) vs p(hi); noise std
    with h5py.File(a[0], "r") as f:
        gh, ph = f["fields/logK"][...], f["fields/p"][...]
    with h5py.File(a[1], "r") as f:
        gl, pl = f["fields/logK"][...], f["fields/p"][...]
    with h5py.File(a[2], "r") as f:
        gn, pn = f["fields/logK"][...], f["fields/p"][...]
    err = float(np.linalg.norm(pl - ph) / np.linalg.norm(ph))
    d = pn - ph
    print(json.dumps({"lowfi_rel_l2": err, "lowfi_logk_maxdiff": float(np.max(np.abs(gl - gh))),
                      "noise_std": float(d.std()), "noise_mean": float(d.mean()),
                      "noise_logk_maxdiff": float(np.max(np.abs(gn - gh)))}))
EOF

# gen LABEL NP OUT ARGS...: datagen must succeed and write OUT (+ .xmf), no .partial
gen() {
  local label=$1 np=$2 out=$3
  shift 3
  pf "$np" datagen "$@" -o "$out" >"$out.log" 2>&1
  local rc=$?
  if [ "$rc" -eq 0 ] && [ -s "$out" ] && [ -s "${out%.h5}.xmf" ] && [ ! -e "$out.partial" ]; then
    return 0
  fi
  fail "$label: datagen on $np rank(s): rc $rc, $out $([ -e "$out" ] && echo exists || echo missing), .partial $([ -e "$out.partial" ] && echo left || echo absent)"
  sed 's/^/       log: /' "$out.log" | head -n 8
  return 1
}

# residual_max LABEL LIMIT NP EVALARGS...: eval, parse residual_relative.max, check < LIMIT
RESID=""
residual_max() {
  local label=$1 limit=$2 np=$3
  shift 3
  RESID=""
  pf "$np" eval -physics darcy "$@" >eval.txt 2>eval.err
  local rc=$?
  if [ "$rc" -ne 0 ]; then fail "$label: eval rc $rc: $(head -n 2 eval.err)"; return 1; fi
  RESID=$("$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")][-1]
print("%.3e" % r["residual_relative"]["max"])' eval.txt 2>&1) || { fail "$label: eval output is not the expected JSON: $RESID"; return 1; }
  if [ -n "$limit" ]; then
    if "$PY" -c "import sys; sys.exit(0 if float('$RESID') < float('$limit') else 1)"; then
      pass "$label: eval residual_relative max $RESID < $limit"
    else
      fail "$label: eval residual_relative max $RESID (want < $limit)"
    fi
  fi
  note "$(printf '%-52s residual_relative max %s' "$label" "$RESID")"
  return 0
}

# check_json LABEL FILE "KEY STAT < LIMIT" | "KEY STAT > LIMIT" ...: the last
# JSON line of FILE (an eval output) against bounds, one pass/fail per bound
check_json() {
  local label=$1 file=$2 msg
  shift 2
  for cond in "$@"; do
    if msg=$("$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")][-1]
key, stat, op, lim = sys.argv[2].split()
v = r[key][stat]
ok = v < float(lim) if op == "<" else v > float(lim)
print("%s %s %.3e (want %s %s)" % (key, stat, v, op, lim))
sys.exit(0 if ok else 1)' "$file" "$cond" 2>&1); then pass "$label: $msg"; else fail "$label: $msg"; fi
  done
}

# wait_file FILE SECONDS: until FILE exists
wait_file() {
  local i n=$(($2 * 50))
  for ((i = 0; i < n; i++)); do
    [ -e "$1" ] && return 0
    sleep 0.02
  done
  return 1
}

# ===========================================================================
section "(a) the same seed on 1, 2 (2x1), 2 (1x2) and 4 (2x2) ranks"
NF=24
NV=$(((NF + 1) * (NF + 1)))
NA=10
A="-physics darcy -n $NA -seed 11 -mesh_faces $NF"
ok=1
gen "(a) 1 rank" 1 g1.h5 $A || ok=0
gen "(a) 2 ranks, 2 groups" 2 g2x1.h5 $A -pf_group_size 1 || ok=0
gen "(a) 2 ranks, 1 group" 2 g1x2.h5 $A -pf_group_size 2 || ok=0
gen "(a) 4 ranks, 2 groups of 2" 4 g2x2.h5 $A -pf_group_size 2 || ok=0
for spec in "g1.h5:1 group(s) of 1 rank" "g2x1.h5:2 group(s) of 1 rank" "g1x2.h5:1 group(s) of 2 rank" "g2x2.h5:2 group(s) of 2 rank"; do
  f=${spec%%:*} want=${spec#*:}
  [ -e "$f.log" ] || continue
  if grep -qF "$want" "$f.log"; then pass "(a) $f: ran as '$want(s)'"; else fail "(a) $f: log lacks '$want(s)': $(head -n 1 "$f.log")"; fi
done
for f in g2x1 g1x2 g2x2; do
  [ -s "$f.h5" ] && [ -s g1.h5 ] || continue
  compare "(a) 1 rank vs $f: mesh" 0 g1.h5 "$f.h5" /coords /cells
  compare "(a) 1 rank vs $f: fields" 1e-10 g1.h5 "$f.h5" /fields/logK /fields/p
done
for f in g1 g2x1 g1x2 g2x2; do
  [ -s "$f.h5" ] || continue
  if msg=$("$PY" h5tool.py all_completed "$f.h5"); then pass "(a) $f.h5: $msg"; else fail "(a) $f.h5: $msg"; fi
done
[ -s g1.h5 ] && residual_max "(a) eval of the 1-rank box data" 1e-8 1 -samples g1.h5
[ -s g2x2.h5 ] && residual_max "(a) eval (2 ranks) of the 2x2 box data" 1e-8 2 -samples g2x2.h5

# ===========================================================================
section "(b) the XDMF opens in ParaView"
# pvcheck LABEL XMF NPOINTS NSTEPS
pvcheck() {
  local label=$1 xmf=$2 npts=$3 nsteps=$4
  "$PVPY" --no-mpi "$SRC/tests/pv_check_xdmf.py" "$xmf" "$npts" logK,p "$nsteps" >pv.txt 2>&1
  local rc=$?
  case $rc in
    0) pass "$label: $(grep 'pv_check_xdmf:' pv.txt | tail -n 1)" ;;
    77) skip "$label: ParaView's Python modules are not available ($(head -n 1 pv.txt))" ;;
    *) fail "$label: pv_check_xdmf rc $rc"; sed 's/^/       pv: /' pv.txt | head -n 12 ;;
  esac
}
if ! command -v "$PVPY" >/dev/null 2>&1; then
  skip "(b) ParaView check: '$PVPY' not found (set PF_PVPYTHON); the rest of the test still runs"
elif [ -s g2x2.xmf ]; then
  pvcheck "(b) ParaView reads g2x2.xmf (quads)" g2x2.xmf "$NV" "$NA"
else
  fail "(b) no g2x2.xmf to check"
fi

# ===========================================================================
section "(c) resume after SIGTERM, kill -9 and SIGUSR1"
NR=1000
R="-physics darcy -n $NR -seed 21 -mesh_faces 31 -datagen_write_every 4"
t1=$(date +%s.%N)
gen "(c) uninterrupted reference" 1 rref.h5 $R
t2=$(date +%s.%N)
TREF=$(echo "$t2 - $t1" | bc)
echo "       uninterrupted run of $NR samples: ${TREF} s"

# start_bg NP OUT LOG ARGS...: datagen in the background, PID in $BGPID
start_bg() {
  local np=$1 out=$2 log=$3
  shift 3
  # not through pf(): a function run with & is a subshell, and the signal
  # would go to that shell instead of physflow / mpiexec
  if [ "$np" -eq 1 ]; then
    "$BIN" datagen $R "$@" -o "$out" >"$log" 2>&1 &
  else
    "$MPIEXEC" -n "$np" --oversubscribe "$BIN" datagen $R "$@" -o "$out" >"$log" 2>&1 &
  fi
  BGPID=$!
  BGPIDS="$BGPIDS $BGPID"
}

# check_stopped LABEL OUT RC LOG: exit 0, only OUT.partial, some but not all rows done
check_stopped() {
  local label=$1 out=$2 rc=$3 log=$4 n nv k
  if [ -e "$out" ] && [ ! -e "$out.partial" ]; then
    fail "$label: the run finished (rc $rc) before the signal (machine too fast? raise NR)"
    return 1
  fi
  read -r n nv k < <("$PY" h5tool.py info "$out.partial" 2>/dev/null)
  if [ "$rc" -eq 0 ] && [ -e "$out.partial" ] && [ ! -e "$out" ] && grep -q "stopped by a signal" "$log" &&
    [ -n "${k:-}" ] && [ "$k" -lt "$NR" ]; then
    pass "$label: exit 0, '$out.partial' left with $k of $NR samples, no '$out'"
  else
    fail "$label: rc $rc (want 0), $out $([ -e "$out" ] && echo exists || echo absent), $out.partial $([ -e "$out.partial" ] && echo exists || echo absent), completed ${k:-?}/$NR"
    sed 's/^/       log: /' "$log" | head -n 8
    return 1
  fi
  if msg=$("$PY" h5tool.py completed_ok "$out.partial" rref.h5); then pass "$label: $msg"; else fail "$label: $msg"; fi
  STOPPED_AT=$k
  return 0
}

# resume_check LABEL NP OUT: -resume completes OUT equal to the reference
resume_check() {
  local label=$1 np=$2 out=$3
  pf "$np" datagen $R -resume -o "$out" >"$out.resume.log" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ] || [ ! -s "$out" ] || [ -e "$out.partial" ]; then
    fail "$label: -resume on $np rank(s): rc $rc, $out $([ -e "$out" ] && echo exists || echo missing), .partial $([ -e "$out.partial" ] && echo left || echo gone)"
    sed 's/^/       log: /' "$out.resume.log" | head -n 8
    return 1
  fi
  local msg
  msg=$(grep -oE "resuming: [0-9]+ of [0-9]+ samples already done" "$out.resume.log")
  if [ -n "${STOPPED_AT:-}" ]; then
    if [ "$msg" = "resuming: $STOPPED_AT of $NR samples already done" ] || { [ "$STOPPED_AT" = 0 ] && [ -z "$msg" ]; }; then
      pass "$label: -resume on $np rank(s): '${msg:-started afresh (0 done)}', then '$out' complete, .partial gone"
    else
      fail "$label: -resume said '${msg:-nothing}', expected $STOPPED_AT samples done"
    fi
  fi
  compare "$label: interrupted+resumed vs uninterrupted" 1e-10 rref.h5 "$out" /fields/logK /fields/p /coords /cells
  if m=$("$PY" h5tool.py all_completed "$out"); then pass "$label: $m"; else fail "$label: $m"; fi
  [ -s "${out%.h5}.xmf" ] && pass "$label: '${out%.h5}.xmf' written" || fail "$label: no '${out%.h5}.xmf' after the resume"
}

if [ -s rref.h5 ]; then
  echo "   -- SIGTERM, 1 rank"
  STOPPED_AT=""
  start_bg 1 term.h5 term.log
  if wait_file term.h5.partial 30; then
    sleep 0.35
    kill -TERM "$BGPID"
    wait "$BGPID"
    rc=$?
    check_stopped "(c) SIGTERM" term.h5 "$rc" term.log && resume_check "(c) SIGTERM" 1 term.h5
    note "(c) SIGTERM after 0.35 s stopped at ${STOPPED_AT:-?} of $NR samples"
  else
    fail "(c) SIGTERM: term.h5.partial never appeared"; kill -KILL "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null
  fi

  echo "   -- kill -9 at random moments, then -resume"
  nk=0
  resume=""
  STOPPED_AT=""
  for round in 1 2; do
    ms=$((100 + RANDOM % 500))
    start_bg 1 k9.h5 "k9_$round.log" $resume
    if ! wait_file k9.h5.partial 30; then fail "(c) kill -9 round $round: no .partial"; kill -KILL "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null; break; fi
    sleep "$(printf '0.%03d' "$ms")"
    if kill -KILL "$BGPID" 2>/dev/null; then
      wait "$BGPID" 2>/dev/null
      if [ -e k9.h5 ] && [ ! -e k9.h5.partial ]; then
        # the kill landed after the final rename, while the process was
        # exiting: the run had finished (k9.h5 is compared with the reference below)
        echo "       round $round: the run finished (renamed to k9.h5) before the kill at ${ms} ms took effect"
      else
        nk=$((nk + 1))
        if [ -e k9.h5 ]; then fail "(c) kill -9 round $round: k9.h5 exists after the kill"; fi
        if msg=$("$PY" h5tool.py completed_ok k9.h5.partial rref.h5 2>&1); then
          pass "(c) kill -9 after ${ms} ms (round $round): .partial readable, $msg"
          STOPPED_AT=$(echo "$msg" | awk '{print $1}')
        else
          fail "(c) kill -9 after ${ms} ms (round $round): .partial: $(echo "$msg" | tail -n 1)"
        fi
        note "(c) kill -9 round $round after ${ms} ms: ${STOPPED_AT:-?} of $NR samples complete"
      fi
    else
      wait "$BGPID"
      echo "       round $round: the run finished (rc $?) before the kill at ${ms} ms"
    fi
    resume="-resume"
  done
  [ "$nk" -ge 1 ] || fail "(c) no run was killed in the middle"
  if [ -e k9.h5.partial ]; then resume_check "(c) kill -9" 1 k9.h5; elif [ -s k9.h5 ]; then compare "(c) kill -9 (ran to the end)" 1e-10 rref.h5 k9.h5 /fields/logK /fields/p; fi

  echo "   -- SIGUSR1 to mpiexec (2 ranks, 2 groups), resumed on 4 ranks (2x2)"
  STOPPED_AT=""
  start_bg 2 usr1.h5 usr1.log -pf_group_size 1
  if wait_file usr1.h5.partial 30; then
    sleep 0.25
    kill -USR1 "$BGPID"
    wait "$BGPID"
    rc=$?
    if check_stopped "(c) SIGUSR1 to mpiexec -n 2" usr1.h5 "$rc" usr1.log; then
      STOPPED_AT_MPI=$STOPPED_AT
      pf 4 datagen $R -pf_group_size 2 -resume -o usr1.h5 >usr1.resume.log 2>&1
      rc=$?
      if [ "$rc" -eq 0 ] && [ -s usr1.h5 ] && [ ! -e usr1.h5.partial ] && grep -q "resuming: $STOPPED_AT_MPI of $NR" usr1.resume.log; then
        pass "(c) SIGUSR1: resumed on 4 ranks (2x2) from $STOPPED_AT_MPI of $NR"
        compare "(c) SIGUSR1 (2 ranks) + resume (4 ranks) vs 1 rank" 1e-10 rref.h5 usr1.h5 /fields/logK /fields/p /coords /cells
        if m=$("$PY" h5tool.py all_completed usr1.h5); then pass "(c) SIGUSR1 + resume: $m"; else fail "(c) SIGUSR1 + resume: $m"; fi
      else
        fail "(c) SIGUSR1: resume on 4 ranks: rc $rc"; sed 's/^/       log: /' usr1.resume.log | head -n 8
      fi
    fi
    note "(c) SIGUSR1 to mpiexec after 0.25 s stopped at ${STOPPED_AT:-?} of $NR samples"
  else
    fail "(c) SIGUSR1: usr1.h5.partial never appeared"; kill -KILL "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null
  fi

  # -resume on a finished file: nothing to do, the file is not modified
  h0=$(sha256sum rref.h5 | cut -d' ' -f1)
  pf 1 datagen $R -resume -o rref.h5 >again.log 2>&1
  rc=$?
  if [ "$rc" -eq 0 ] && [ "$(sha256sum rref.h5 | cut -d' ' -f1)" = "$h0" ]; then pass "(c) -resume on a complete file: rc 0, file unchanged"; else fail "(c) -resume on a complete file: rc $rc, $(sha256sum rref.h5 | cut -c1-16) vs ${h0:0:16}"; fi
fi

# ===========================================================================
section "(d) Gmsh meshes: plate with a hole, L-shape"
if ! command -v "$GMSH" >/dev/null 2>&1; then
  skip "(d) Gmsh meshes: '$GMSH' not found (set PF_GMSH)"
else
  for m in plate_hole lshape; do
    if ! "$GMSH" -2 -format msh41 "$SRC/examples/meshes/$m.geo" -o "$m.msh" -clscale 2 >"gmsh_$m.log" 2>&1 || [ ! -s "$m.msh" ]; then
      fail "(d) gmsh could not mesh $m.geo: $(tail -n 2 "gmsh_$m.log")"
      continue
    fi
    M="-physics darcy -n 8 -seed 5 -mesh $m.msh"
    gen "(d) $m, 1 rank" 1 "${m}_1.h5" $M || continue
    gen "(d) $m, 2 ranks (1 group of 2)" 2 "${m}_2.h5" $M -pf_group_size 2 || continue
    read -r n nv k < <("$PY" h5tool.py info "${m}_1.h5")
    echo "       $m.msh: $nv vertices"
    compare "(d) $m: 1 vs 2 ranks, mesh" 0 "${m}_1.h5" "${m}_2.h5" /coords /cells
    compare "(d) $m: 1 vs 2 ranks, fields" 1e-10 "${m}_1.h5" "${m}_2.h5" /fields/logK /fields/p
    residual_max "(d) $m: eval (1 rank)" 1e-8 1 -samples "${m}_1.h5"
    residual_max "(d) $m: eval (2 ranks) of the 2-rank data" 1e-8 2 -samples "${m}_2.h5"
    # log K must have the spread asked for (-darcy_logk_std, default 1)
    sd=$("$PY" h5tool.py logk_std "${m}_1.h5")
    note "$(printf '%-52s std %s (want ~1)' "(d) $m: log K (SPDE field)" "$sd")"
    if "$PY" -c "import sys; sys.exit(0 if 0.3 < float('$sd') < 3 else 1)"; then
      pass "(d) $m: std of log K $sd (default -darcy_logk_std 1)"
    else
      fail "(d) $m: std of log K is $sd, want about 1 (-darcy_logk_std default): the SPDE field is almost constant"
    fi
    if [ "$m" = plate_hole ] && command -v "$PVPY" >/dev/null 2>&1; then
      pvcheck "(b) ParaView reads ${m}_2.xmf (triangles)" "${m}_2.xmf" "$nv" 8
    fi
  done

  # Dirichlet groups: p = value on the hole, residual with and without repeating the option
  if [ -s plate_hole.msh ]; then
    D="-physics darcy -n 4 -seed 6 -mesh plate_hole.msh -darcy_dirichlet hole -darcy_dirichlet_value 1.5"
    if gen "(d) -darcy_dirichlet hole, 2 ranks" 2 dir2.h5 $D -pf_group_size 2 && gen "(d) -darcy_dirichlet hole, 1 rank" 1 dir1.h5 $D; then
      if msg=$("$PY" h5tool.py dirichlet dir2.h5 0.5 0.5 0.15 1.5); then pass "(d) -darcy_dirichlet hole -darcy_dirichlet_value 1.5: $msg"; else fail "(d) -darcy_dirichlet hole: $msg"; fi
      compare "(d) Dirichlet: 1 vs 2 ranks" 1e-10 dir1.h5 dir2.h5 /fields/logK /fields/p
      residual_max "(d) Dirichlet data, eval with the same options" 1e-8 1 -samples dir2.h5 -darcy_dirichlet hole -darcy_dirichlet_value 1.5
      # eval takes the mesh from the file; the boundary conditions belong to
      # the problem just as much
      residual_max "(d) Dirichlet data, plain eval (problem from the file)" 1e-8 1 -samples dir2.h5
      check_json "(d) Dirichlet data: checks" eval.txt "resolve max < 1e-8" "dirichlet_error max < 1e-8" "noflux_leak max < 1e-8"
    fi
    gen "(d) -darcy_dirichlet outer,left on the L-shape" 1 dirl.h5 -physics darcy -n 2 -seed 6 -mesh lshape.msh -darcy_dirichlet outer,left &&
      residual_max "(d) L-shape with two Dirichlet groups: eval" 1e-8 1 -samples dirl.h5 -darcy_dirichlet outer,left
  fi
fi

# ===========================================================================
section "(e) low fidelity and observation noise on the box"
L="-physics darcy -n 8 -seed 31 -mesh_faces 30"
if gen "(e) high fidelity" 1 hi.h5 $L && gen "(e) -fidelity low -low_coarsen 3" 1 lo.h5 $L -fidelity low -low_coarsen 3 &&
  gen "(e) -obs_noise 0.01" 1 noisy.h5 $L -obs_noise 0.01; then
  fid=$("$PY" h5tool.py attr lo.h5 fidelity)
  [ "$fid" = low ] && pass "(e) lo.h5 has attribute fidelity = low" || fail "(e) lo.h5 fidelity attribute '$fid'"
  if gen "(e) low fidelity on 2 ranks" 2 lo2.h5 $L -fidelity low -low_coarsen 3 -pf_group_size 2; then
    compare "(e) low fidelity: 1 vs 2 ranks" 1e-10 lo.h5 lo2.h5 /fields/logK /fields/p
  fi
  if js=$("$PY" h5tool.py lowfi hi.h5 lo.h5 noisy.h5); then
    echo "       $js"
    read -r err gdiff nstd nmean ngdiff < <("$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
print(r["lowfi_rel_l2"], r["lowfi_logk_maxdiff"], r["noise_std"], r["noise_mean"], r["noise_logk_maxdiff"])' "$js")
    note "$(printf '%-52s %.4g' "(e) low fidelity (k=3): rel L2 error of p" "$err")"
    note "$(printf '%-52s std %.5g mean %.2g' "(e) -obs_noise 0.01: p(noisy) - p" "$nstd" "$nmean")"
    if "$PY" -c "import sys; sys.exit(0 if 1e-3 < $err < 1 else 1)"; then pass "(e) low fidelity p differs from high fidelity: rel L2 $err (in (1e-3, 1))"; else fail "(e) low fidelity rel L2 error $err, want in (1e-3, 1)"; fi
    if [ "$gdiff" = 0.0 ]; then pass "(e) low fidelity has the same log K as high fidelity"; else fail "(e) low fidelity log K differs from high fidelity by $gdiff"; fi
    if "$PY" -c "import sys; sys.exit(0 if 0.008 <= $nstd <= 0.012 and abs($nmean) < 0.002 else 1)"; then pass "(e) -obs_noise 0.01: std of p(noisy) - p = $nstd, mean $nmean"; else fail "(e) -obs_noise 0.01: std of the change $nstd (want 0.01 +-20%), mean $nmean"; fi
    if [ "$ngdiff" = 0.0 ]; then pass "(e) -obs_noise leaves log K unchanged"; else fail "(e) -obs_noise changed log K by $ngdiff"; fi
  else
    fail "(e) cannot compare fidelities: $js"
  fi
  residual_max "(e) high fidelity eval" 1e-8 1 -samples hi.h5
  rhi=$RESID
  # the validation checks (PFPhysicsValidate): exact for solver data, clearly
  # violated by the low-fidelity (coarse-solve) fields; 1 and 2 ranks agree
  check_json "(f) solver data" eval.txt "resolve max < 1e-8" "noflux_leak max < 1e-8" "conservation max < 0.05"
  residual_max "(e) low fidelity eval" "" 1 -samples lo.h5 -o lo1.json
  rlo=$RESID
  check_json "(f) low fidelity" eval.txt "resolve median > 1e-3" "resolve max < 1" "noflux_leak median > 1e-3"
  pf 2 eval -physics darcy -samples lo.h5 -o lo2.json >/dev/null 2>&1 || fail "(f) 2-rank eval of the low-fidelity data"
  if msg=$("$PY" -c '
import numpy as np, sys
a, b = np.loadtxt("lo1_checks.txt"), np.loadtxt("lo2_checks.txt")
d = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
print("per-sample checks, 1 vs 2 ranks: max rel diff %.2e (want < 1e-6)" % d)
sys.exit(0 if d < 1e-6 else 1)' 2>&1); then pass "(f) $msg"; else fail "(f) $msg"; fi
  if [ -n "$rhi" ] && [ -n "$rlo" ]; then
    if "$PY" -c "import sys; sys.exit(0 if float('$rlo') > 1e3 * float('$rhi') and float('$rlo') > 1e-3 else 1)"; then
      pass "(e) low fidelity residual $rlo >> high fidelity $rhi"
    else
      fail "(e) low fidelity residual $rlo is not much larger than high fidelity $rhi"
    fi
  fi
fi

# ===========================================================================
T1=$(date +%s.%N)
echo
echo "== summary"
printf "%b" "$SUMMARY"
printf "test_darcy_datagen: %d checks passed, %d failed (%.1f s)\n" "$npass" "$nfail" "$(echo "$T1 - $T0" | bc 2>/dev/null || echo 0)"
[ "$nfail" -eq 0 ]
