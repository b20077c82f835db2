#!/bin/bash
# test_slurm: the jobscripts/ on a real Slurm (Debian's slurm-wlm and munge,
# installed if missing; exit 77 = skipped when that is impossible).
# A private cluster on localhost: munged on its own socket and key,
# slurmctld and slurmd on free ports, 2 CPUs, all state in the scratch dir;
# every daemon and job process it started is stopped on exit.
# The REAL scripts are submitted on tiny inputs:
#  (a) slurm_pipeline.sh: datagen x3 -> train (1 group x 2 ranks) ->
#      finetune (pbfm) -> sample -> eval, chained by afterok dependencies:
#      all complete, in dependency order, with their outputs;
#  (b) slurm_campaign.sh submit: a 2-task job array over 4 sample files
#      (eval per file) and the dependent merge: summary.json holds the 4
#      results, each the eval of its own input;
#  (c) slurm_train.sh with --time=1 --signal=B:USR1@55: the time-limit
#      warning reaches physflow, which checkpoints; the job requeues itself,
#      resumes and ends with a model bitwise equal to an uninterrupted run
#      of the same script; a job depending on it (afterok) starts only after
#      the requeued run has finished.
# Environment (set by ctest): PF_BIN, PF_MPIEXEC, PF_PYTHON, PF_SOURCE_DIR.
. "$(dirname "$0")/common.sh"
enter_scratch pf_test_slurm
echo "test_slurm: scratch $WORK"
JS="$SRC/jobscripts"

# ---------------------------------------------------------------- packages
need_install=0
for c in slurmctld slurmd munged mungekey sbatch scontrol squeue; do
  command -v "$c" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" = 1 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "SKIP: slurm-wlm/munge are not installed and cannot be (needs root and apt-get)"
    exit 77
  fi
  echo "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >apt.log 2>&1; then
    tail -n 5 apt.log
    echo "SKIP: apt-get could not install slurm-wlm and munge"
    exit 77
  fi
fi
for c in slurmctld slurmd munged mungekey sbatch scontrol squeue; do
  command -v "$c" >/dev/null 2>&1 || { echo "SKIP: '$c' missing after installing slurm-wlm and munge"; exit 77; }
done
# slurmd launches jobs as their users: a private cluster needs root
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: slurmd needs root to run jobs"
  exit 77
fi

# ---------------------------------------------------------------- the cluster
# Every process this test starts for Slurm carries PF_SLURM_TEST_TAG in its
# environment (daemons, and through sbatch the job steps), and only those:
# the clean-up stops exactly them.
C="$WORK/cluster"
mkdir -p "$C/state" "$C/spool" "$C/log"
TAG="$C"
stop_cluster() {
  local p pids="" i
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user "$(id -un)" >/dev/null 2>&1
  for f in slurmd slurmctld munged; do
    [ -s "$C/$f.pid" ] && kill -TERM "$(cat "$C/$f.pid")" 2>/dev/null
  done
  for i in $(seq 1 50); do
    pids=""
    for p in /proc/[0-9]*; do
      tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "PF_SLURM_TEST_TAG=$TAG" && pids="$pids ${p#/proc/}"
    done
    [ -z "$pids" ] && break
    [ "$i" -ge 20 ] && kill -KILL $pids 2>/dev/null
    sleep 0.2
  done
  [ -n "$pids" ] && echo "test_slurm: could not stop:$pids"
}
trap 'stop_cluster; cleanup' EXIT

read -r PCTLD PSLURMD < <("$PY" -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
HOST=$(hostname -s)
mungekey --create --keyfile="$C/munge.key" >/dev/null 2>&1 || dd if=/dev/urandom of="$C/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$C/munge.key"
# cred_expire: a requeued job may restart this long after it ended (default 120 s);
# bf_interval / sched_interval: how often pending jobs are looked at (30 / 60 s)
cat >"$C/slurm.conf" <<EOF
ClusterName=pftest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PCTLD
SlurmdPort=$PSLURMD
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$C/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
OverTimeLimit=0
MinJobAge=3600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$C/slurm.conf"
env PF_SLURM_TEST_TAG="$TAG" munged --force --key-file="$C/munge.key" --socket="$C/munge.socket" \
  --pid-file="$C/munged.pid" --log-file="$C/munged.log" --seed-file="$C/munged.seed" ||
  { fail "munged did not start"; cat "$C/munged.log"; exit 1; }
env PF_SLURM_TEST_TAG="$TAG" slurmctld -i || { fail "slurmctld did not start"; exit 1; }
env PF_SLURM_TEST_TAG="$TAG" slurmd || { fail "slurmd did not start"; exit 1; }
for i in $(seq 1 100); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 0.2
done
if ! sinfo -h -o %t 2>/dev/null | grep -q idle; then
  fail "the Slurm node did not come up"
  tail -n 20 "$C/log/slurmctld.log" "$C/log/slurmd.log"
  exit 1
fi
pass "private Slurm up in $SECONDS s (slurmctld :$PCTLD, slurmd :$PSLURMD, 2 CPUs, munge socket $C/munge.socket)"

# MPI: srun --mpi=pmix is the scripts' default launcher
srun --mpi=list 2>&1 | grep -q pmix || { fail "this Slurm has no pmix plugin (srun --mpi=list)"; exit 1; }

# every job of the test: the tag (for clean-up), physflow, and quiet Open MPI
export PHYSFLOW="$BIN"
sub() { env PF_SLURM_TEST_TAG="$TAG" "$@"; }

# ---------------------------------------------------------------- inputs
# training data of (c); 4 files for the campaign (b)
"$BIN" datagen -physics darcy -mesh_faces 16 -n 64 -seed 1 -o lim_data.h5 >/dev/null 2>&1 || fail "datagen of the test data failed"
for s in 1 2 3 4; do
  "$BIN" datagen -physics darcy -mesh_faces 8 -n 6 -seed "$s" -o "cset$s.h5" >/dev/null 2>&1 || fail "datagen of campaign input $s failed"
  echo "$WORK/cset$s.h5" >>campaign_inputs.txt
done

# ---------------------------------------------------------------- (c) submit first: the longest
# ~40 s of training on one rank: long enough that the warning (sent at the
# first of slurmctld's 30-s time-limit checks after 5 s) always comes in the
# middle, with room to spare on a busy machine
NET="-net_type meshunet -mesh_levels 2 -mesh_width 16 -mesh_depth 1"
LIM_STEPS=${PF_SLURM_LIM_STEPS:-8000}
limenv=(DATA=lim_data.h5 STEPS="$LIM_STEPS" SEED=7 CHECKPOINT_EVERY=2000 NET_OPTS="$NET" TRAIN_OPTS="-batch_size 8 -lr 1e-3")
JREF=$(sub env "${limenv[@]}" MODEL=ref.h5 sbatch --parsable --ntasks=1 --time=10 --output=ref-%j.out "$JS/slurm_train.sh")
JLIM=$(sub env "${limenv[@]}" MODEL=lim.h5 sbatch --parsable --ntasks=1 --time=1 --signal=B:USR1@55 --output=lim-%j.out "$JS/slurm_train.sh")
JDEP=$(sub env MODEL=lim.h5 OUT=lim_samples.h5 N=4 SAMPLE_OPTS="-sampler euler -sampler_steps 4" sbatch --parsable --ntasks=1 --time=5 \
  --dependency=afterok:"$JLIM" --output=dep-%j.out "$JS/slurm_sample.sh")
echo "   (c) reference $JREF, time-limited $JLIM, dependent sample $JDEP"

# ---------------------------------------------------------------- (a) pipeline
sub env RUN="$WORK/pipe" MESH_OPTS="-mesh_faces 9" N_TRAIN=24 N_LOWFI=12 N_TEST=12 N_SAMPLES=8 \
  LOWFI_OPTS="-fidelity low -low_coarsen 3" TRAIN_STEPS=60 FINETUNE_STEPS=20 P=2 \
  NET_OPTS="$NET" TRAIN_OPTS="-batch_size 4" FINETUNE_OPTS="-constraint pbfm -batch_size 4" \
  SAMPLE_OPTS="-sampler heun -sampler_steps 4" SBATCH_OPTS="--ntasks=2 --time=5" \
  bash "$JS/slurm_pipeline.sh" >pipeline.txt 2>&1 || { fail "slurm_pipeline.sh failed"; cat pipeline.txt; }
cat pipeline.txt
read -r PD1 PD2 PD3 PT PF PS PE <"$WORK/pipe/jobs.txt" 2>/dev/null

# ---------------------------------------------------------------- (b) campaign
mkdir -p camp
(cd camp && sub env LIST="$WORK/campaign_inputs.txt" OUTDIR="$WORK/camp/out" TASKS=2 SBATCH_OPTS= \
  bash "$JS/slurm_campaign.sh" submit) >campaign.txt 2>&1 || { fail "slurm_campaign.sh submit failed"; cat campaign.txt; }
cat campaign.txt
CA=$(grep -oE 'job [0-9]+;' campaign.txt | grep -oE '[0-9]+')
CM=$(grep -oE 'merge: job [0-9]+' campaign.txt | grep -oE '[0-9]+$')

# ---------------------------------------------------------------- wait
# state JOB: the states of a job (one line per array task)
state() { scontrol show job -o "$1" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2; }
field() { scontrol show job -o "$1" 2>/dev/null | head -n 1 | grep -oE "(^| )$2=[^ ]*" | cut -d= -f2-; }
ALL="$JREF $JLIM $JDEP ${PD1:-} ${PD2:-} ${PD3:-} ${PT:-} ${PF:-} ${PS:-} ${PE:-} ${CA:-} ${CM:-}"
DEADLINE=${PF_SLURM_DEADLINE:-420}
while :; do
  busy=0
  for j in $ALL; do
    for s in $(state "$j"); do
      case "$s" in PENDING | RUNNING | CONFIGURING | COMPLETING | REQUEUED | REQUEUE_FED | REQUEUE_HOLD | RESIZING | SUSPENDED) busy=1 ;; esac
    done
    # a dependency that can never be met leaves its job pending forever
    [ "$(field "$j" Reason)" = DependencyNeverSatisfied ] && busy=0 && break
  done
  [ "$busy" = 0 ] && break
  if [ "$SECONDS" -gt "$DEADLINE" ]; then
    fail "jobs still running after $DEADLINE s"
    squeue -o '%i %j %T %r %M' | sed 's/^/       /'
    break
  fi
  sleep 2
done
echo "   all jobs ended at $SECONDS s"
squeue -h -t all -o '%i %j %T %r' 2>/dev/null | sort -n | sed 's/^/       /'

# epoch seconds of a time field of scontrol (Slurm prints local time)
epoch() { date -d "$(field "$1" "$2")" +%s 2>/dev/null || echo 0; }
completed() {
  local s bad=0
  for s in $(state "$1"); do [ "$s" = COMPLETED ] || bad=1; done
  [ -n "$(state "$1")" ] && [ "$bad" = 0 ]
}
show_log() { for f in "$@"; do [ -e "$f" ] && { echo "       --- $f"; tail -n 15 "$f" | sed 's/^/       /'; }; done; }

# ---------------------------------------------------------------- (a) checks
section "(a) pipeline with dependencies"
names=(datagen-train datagen-lowfi datagen-test train finetune sample eval)
jobs=("${PD1:-}" "${PD2:-}" "${PD3:-}" "${PT:-}" "${PF:-}" "${PS:-}" "${PE:-}")
ok=1
for i in "${!jobs[@]}"; do
  j=${jobs[$i]}
  if [ -n "$j" ] && completed "$j"; then :; else
    ok=0
    fail "(a) ${names[$i]} job '${j}' ended $(state "$j" | tr '\n' ' ')(reason $(field "$j" Reason))"
    show_log "$WORK"/pipe/pf-*-"$j".out
  fi
done
[ "$ok" = 1 ] && pass "(a) all 7 pipeline jobs COMPLETED"
# order: each job started after the jobs it depends on had ended
after() { # LABEL JOB DEP...
  local l=$1 j=$2 d s e
  shift 2
  s=$(epoch "$j" StartTime)
  for d in "$@"; do
    e=$(epoch "$d" EndTime)
    if [ "$s" -lt "$e" ] || [ "$s" = 0 ]; then fail "(a) $l: job $j started at $s, before its dependency $d ended ($e)"; return; fi
  done
  pass "(a) $l started after $* ended"
}
if [ "$ok" = 1 ]; then
  after train "$PT" "$PD1"
  after finetune "$PF" "$PT" "$PD2"
  after sample "$PS" "$PF"
  after eval "$PE" "$PS" "$PD3"
  for f in train.h5 lowfi.h5 test.h5 model.h5 tuned.h5 samples.h5 eval.json; do
    [ -s "pipe/$f" ] || fail "(a) pipe/$f missing"
  done
  "$PY" - "pipe/eval.json" "pipe/tuned.h5" <<'EOF' && pass "(a) eval.json: 8 samples with physics checks and reference metrics; tuned.h5 fine-tuned 20 steps with pbfm" || fail "(a) outputs not as expected"
import json, sys, h5py
r = json.load(open(sys.argv[1]))
assert r["n_samples"] == 8, r["n_samples"]
assert "resolve" in r and "residual_relative" in r, list(r)
assert any("reference" in k or "swd" in k.lower() or "mean" in k for k in r), list(r)
f = h5py.File(sys.argv[2], "r")
assert f["history/loss"].shape[0] == 20 and "history/residual" in f
assert f["train"].attrs["constraint"] in (b"pbfm", "pbfm")
EOF
  grep -q "1 group(s) x 2 rank(s)" pipe/pf-train-"$PT".out && pass "(a) train ran as 1 group x 2 ranks" || fail "(a) train layout line missing: $(grep pf-job pipe/pf-train-"$PT".out | head -n 1)"
fi

# ---------------------------------------------------------------- (b) checks
section "(b) job-array campaign and merge"
if [ -n "${CA:-}" ] && completed "$CA"; then
  pass "(b) array $CA: $(state "$CA" | wc -l) tasks COMPLETED"
else
  fail "(b) array '${CA:-}' ended: $(state "${CA:-0}" | tr '\n' ' ')"
  show_log camp/pf-campaign-"${CA:-x}"_*.out
fi
if [ -n "${CM:-}" ] && completed "$CM"; then
  pass "(b) merge job $CM COMPLETED after the array"
  [ "$(epoch "$CM" StartTime)" -ge "$(epoch "$CA" EndTime)" ] || fail "(b) merge started before the array ended"
else
  fail "(b) merge job '${CM:-}' ended: $(state "${CM:-0}") (reason $(field "${CM:-0}" Reason))"
  show_log camp/pf-campaign-merge-"${CM:-x}".out
fi
"$PY" - camp/out/summary.json "$WORK/campaign_inputs.txt" <<'EOF' && pass "(b) summary.json: 4 of 4 files, each result the eval of its own input, none missing" || fail "(b) summary.json wrong"
import json, sys
s = json.load(open(sys.argv[1]))
inputs = [l.strip() for l in open(sys.argv[2]) if l.strip()]
assert s["inputs"] == 4 and s["done"] == 4 and s["missing"] == [], (s["inputs"], s["done"], s["missing"])
assert sorted(r["input"] for r in s["results"]) == sorted(inputs)
for r in s["results"]:
    assert r["result"]["samples"] == r["input"] and r["result"]["n_samples"] == 6, r
EOF
n=$(ls camp/out/done | wc -l)
[ "$n" = 4 ] && pass "(b) 4 done-markers" || fail "(b) $n done-markers (want 4)"

# ---------------------------------------------------------------- (c) checks
section "(c) time limit: warning, checkpoint, requeue, resume"
limlog=$(ls lim-"$JLIM".out 2>/dev/null)
restarts=$(field "$JLIM" Restarts)
if completed "$JLIM" && completed "$JREF"; then
  pass "(c) reference $JREF and time-limited $JLIM COMPLETED (restarts: ${restarts:-?})"
else
  fail "(c) reference $(state "$JREF"), time-limited $(state "$JLIM") (restarts ${restarts:-?})"
fi
sigsteps=$(grep -oE 'signal received at step [0-9]+' "$limlog" 2>/dev/null | grep -oE '[0-9]+$' | tr '\n' ' ')
ressteps=$(grep -oE "resumed from 'lim.h5' at step [0-9]+" "$limlog" 2>/dev/null | grep -oE '[0-9]+$' | tr '\n' ' ')
nreq=$(grep -c 'stopped at the time-limit warning' "$limlog" 2>/dev/null)
echo "       warnings: $nreq; stopped at steps: ${sigsteps:-none}; resumed at steps: ${ressteps:-none}; Slurm restarts: ${restarts:-?}"
note "(c) stopped at steps ${sigsteps:-none}of $LIM_STEPS, resumed at ${ressteps:-none}, $restarts restart(s)"
first=${sigsteps%% *}
if [ -n "$first" ] && [ "$first" -gt 0 ] && [ "$first" -lt "$LIM_STEPS" ] && [ "$sigsteps" = "$ressteps" ] && [ "${restarts:-0}" -ge 1 ] && [ "$nreq" = "$restarts" ]; then
  pass "(c) every warning stopped training with a checkpoint (steps $sigsteps) and the requeued run resumed there"
else
  fail "(c) warning/requeue/resume sequence wrong"
  show_log "$limlog"
fi
compare "(c) time-limited+requeued vs uninterrupted" 0 ref.h5 lim.h5 /params /ema /adam/m /adam/v /history/loss /step
if completed "$JDEP" && [ "$(epoch "$JDEP" StartTime)" -ge "$(epoch "$JLIM" EndTime)" ] && [ -s lim_samples.h5 ]; then
  pass "(c) the afterok-dependent sample job waited for the requeued job's end"
else
  fail "(c) dependent job $JDEP: $(state "$JDEP"), start $(epoch "$JDEP" StartTime), train end $(epoch "$JLIM" EndTime)"
fi

section "summary"
printf "%b" "$SUMMARY"
echo "test_slurm: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
