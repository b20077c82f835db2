#!/bin/bash
# Inputs of the scaling model of docs/scaling.md, and its check against
# measured runs: per-rank costs of a training step of the mesh U-Net from
# -log_view (forward/backward time, halo messages and bytes, reductions), the
# gradient allreduce size, peak memory per vertex-sample, this machine's MPI
# alpha/beta (bench/alphabeta.c), then measured step times on 1, 2 and 4
# ranks (4 oversubscribed on 2 cores) in every G x P split against the model.
# Usage: bench/scaling.sh [build-dir]   (FACES, W, D, LEVELS, B, STEPS env;
#   CORES: cores free for the runs, default nproc; the model time-slices ranks
#   beyond them.  Ranks yield the CPU while waiting (mpi_yield_when_idle 1):
#   with Open MPI's default busy polling, two ranks sharing one core lost
#   ~40% (1 x 2: 1.25 s/step against 0.74 s with yielding).)
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow"); HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
FACES=${FACES:-63}; W=${W:-32}; D=${D:-2}; LEVELS=${LEVELS:-3}; B=${B:-16}; STEPS=${STEPS:-10}
CORES=${CORES:-$(nproc)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
"$BIN" datagen -physics darcy -mesh_faces "$FACES" -n 64 -seed 1 -o d.h5 >/dev/null
mpicc -O2 "$HERE/alphabeta.c" -o alphabeta
mpiexec -q -n 2 ./alphabeta >ab2.json
mpiexec -q -n 4 --oversubscribe ./alphabeta >ab4.json
NET="-net_type meshunet -mesh_levels $LEVELS -mesh_width $W -mesh_depth $D -mesh_groups 8"
run() { # NP P BATCH TAG [time]
  local pre=()
  [ "${5:-}" = time ] && pre=(/usr/bin/time -f "maxrss_kb %M" -o "rss_$4.txt")
  "${pre[@]}" mpiexec -q -n "$1" --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 "$BIN" train -data d.h5 $NET -batch_size "$3" \
    -train_steps "$STEPS" -lr 1e-3 -pf_group_size "$2" -o "m_$4.h5" -monitor_every 100000 -log_view >"lv_$4.txt" 2>&1
}
# memory: peak RSS of the (single) rank at two batch sizes -> bytes per vertex-sample
run 1 1 4 mem4 time
run 1 1 16 mem16 time
for c in "1 1" "2 2" "2 1" "4 4" "4 2" "4 1"; do
  set -- $c
  run "$1" "$2" "$B" "n$1p$2"
done
/usr/bin/python3 - "$FACES" "$B" "$STEPS" "$CORES" "$W" "$LEVELS" "$D" <<'PY'
import json, re, sys, math
F, B, STEPS, CORES = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
W, L, D = sys.argv[5:8]
nv = (F + 1) ** 2
ab2, ab4 = json.load(open("ab2.json")), json.load(open("ab4.json"))

def parse(tag):
    t = open(f"lv_{tag}.txt").read()
    m = re.search(r"(\d+) steps in ([0-9.]+) s", t)
    ev = {}
    for name in ("PFNetForward", "PFNetBackward", "PFAllreduce", "PFOptimizer"):
        r = re.search(rf"^{name}\s+(\d+)\s+\S+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)", t, re.M)
        ev[name] = dict(time=float(r.group(2)), mess=float(r.group(3)), len=float(r.group(4)), red=float(r.group(5))) if r else None
    np_ = int(re.search(r"on (\d+) rank", t).group(1))
    npar = int(re.search(r"(\d+) parameters", t).group(1))
    return dict(step=float(m.group(2)) / int(m.group(1)), ev=ev, np=np_, nparams=npar)

def rss(tag):
    return int(open(f"rss_{tag}.txt").read().split()[-1]) * 1024

r1 = parse("n1p1")
fb1 = (r1["ev"]["PFNetForward"]["time"] + r1["ev"]["PFNetBackward"]["time"]) / STEPS
c = fb1 / (nv * B)                     # s per vertex-sample, forward + backward
other1 = r1["step"] - fb1              # data, loss, optimizer: per rank, ~ parameters
nparams = r1["nparams"]
# halo traffic per step per rank at P = 2 (1 group): messages and bytes, per vertex-sample of the batch
r2 = parse("n2p2")
msg2 = sum(r2["ev"][e]["mess"] for e in ("PFNetForward", "PFNetBackward")) / 2 / STEPS
byt2 = sum(r2["ev"][e]["mess"] * r2["ev"][e]["len"] for e in ("PFNetForward", "PFNetBackward")) / 2 / STEPS
red2 = sum(r2["ev"][e]["red"] for e in ("PFNetForward", "PFNetBackward")) / STEPS
m4, m16 = rss("mem4"), rss("mem16")
per_vs = (m16 - m4) / (nv * 12)        # bytes per vertex-sample
base = m4 - per_vs * nv * 4

def ghost(P):  # ghost vertices per rank of a 2-D partition into P parts: one cut of length sqrt(nv) at P = 2,
    # the perimeter of a square subdomain, 4 sqrt(nv/P), for large P; both ~ k sqrt(nv/P)
    return math.sqrt(nv) if P == 2 else (0 if P == 1 else 2 * math.sqrt(nv) if P == 4 else 4 * math.sqrt(nv / P))

def model(np_, P, ab, cores=CORES):
    G = np_ // P
    over = max(1.0, np_ / cores)       # time slicing when ranks > cores
    a, b, ar8 = ab["alpha_s"], ab["beta_s_per_byte"], ab["allreduce_8B_s"]
    comp = c * (nv / P) * (B / G) * over
    oth = other1 * over
    halo = 0.0
    red = 0.0
    if P > 1:
        scale = ghost(P) / ghost(2) * (B / G) / B
        halo = msg2 * (ghost(P) > 0) * a * (1 if P == 2 else 2) + byt2 * scale * b
        red = red2 * ar8 * math.log2(P)
    grad = 0.0
    if np_ > 1:
        S = 4 * (nparams + 2)
        grad = 2 * math.log2(np_) * a + 2 * (np_ - 1) / np_ * S * b
    return comp + oth + halo + red + grad, dict(comp=comp, other=oth, halo=halo, red=red, grad=grad)

print(f"load average (1 min) after the runs: {open('/proc/loadavg').read().split()[0]}")
print(f"mesh {nv} vertices, 3-level U-Net width {W}, {D} blocks per level and direction, {nparams} parameters, batch {B}, {STEPS} steps per run, {CORES} cores\n")
print("Measured per-rank costs (1 rank; halo traffic from -log_view at 1 group x 2 ranks):\n")
print(f"- forward+backward: {c*1e6:.3f} us per vertex-sample ({fb1:.3f} s per step); rest of the step (data, loss, AdamW, EMA): {other1*1e3:.1f} ms")
print(f"- halo exchange at P = 2: {msg2:.0f} messages and {byt2/1e6:.2f} MB per rank per step ({byt2/(math.sqrt(nv)*B):.0f} bytes per cut vertex and sample); {red2:.0f} small group-norm allreduces per step")
print(f"- gradient allreduce: {nparams} floats + 2 = {4*(nparams+2)/1e6:.2f} MB per step")
print(f"- memory: peak RSS {m4/1e6:.0f} MB at batch 4, {m16/1e6:.0f} MB at batch 16: {per_vs:.0f} bytes per vertex-sample + {base/1e6:.0f} MB base")
print(f"- MPI on this machine (bench/alphabeta.c): 2 ranks alpha {ab2['alpha_s']*1e6:.2f} us, 1/beta {1/ab2['beta_s_per_byte']/1e9:.1f} GB/s, 8-byte allreduce {ab2['allreduce_8B_s']*1e6:.2f} us; "
      f"4 ranks on {CORES} cores: alpha {ab4['alpha_s']*1e6:.2f} us, 8-byte allreduce {ab4['allreduce_8B_s']*1e6:.2f} us\n")
print("| ranks | G x P | measured s/step | model s/step | model/measured | compute | rest | halo | norm reductions | grad allreduce |")
print("|---|---|---|---|---|---|---|---|---|---|")
for tag, np_, P in (("n1p1", 1, 1), ("n2p2", 2, 2), ("n2p1", 2, 1), ("n4p4", 4, 4), ("n4p2", 4, 2), ("n4p1", 4, 1)):
    r = parse(tag)
    pred, parts = model(np_, P, ab2 if np_ <= 2 else ab4)
    G = np_ // P
    print(f"| {np_} | {G} x {P} | {r['step']:.3f} | {pred:.3f} | {pred/r['step']:.2f} | " + " | ".join(f"{parts[k]*1e3:.1f} ms" for k in ("comp", "other", "halo", "red", "grad")) + " |")
print(json.dumps(dict(c_vs=c, other=other1, msg2=msg2, byt2=byt2, red2=red2, nparams=nparams, per_vs=per_vs, base=base, ab2=ab2, ab4=ab4)))
PY
