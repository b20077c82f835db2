#!/usr/bin/python3
"""PyTorch reference of physflow's MLP velocity network v(x, t).

The network (models/mlp on the C side) is reproduced operation by operation:

    temb  = [sin(1000 t f_k), cos(1000 t f_k)],  f_k = exp(-ln(1e4) k / (E/2))
    h     = [x, temb] @ W_in + b_in
    h     = h + act(LN_i(h)) @ W_i + b_i            (i = 1..D)
    v     = act(LN_out(h)) @ W_out + b_out

All weight matrices are kept as Parameters of shape [in, out] (the C layout),
so the flat buffer is simply the concatenation of the flattened parameters in
the order W_in, b_in, {gamma_i, beta_i, W_i, b_i}_i, gamma_out, beta_out,
W_out, b_out.

Sub-commands:
  throughput  time conditional-flow-matching training steps (AdamW) on 2-D
              two-moons data, print one JSON line
  reference   read a physflow model file + an input file, write v, and the
              gradients of sum(v * dv) w.r.t. the flat parameters and x
              (float64) for C-vs-PyTorch tests
  selftest    check this module (flat round trip, flat gradients, an
              independent functional implementation, finite differences)
"""
import argparse
import ctypes
import json
import math
import os
import sys


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from benchutil import preset_thread_env  # noqa: E402

    preset_thread_env(sys.argv[1:])

import numpy as np  # noqa: E402  (after the thread environment is set)
import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-5
ACTS = ("silu", "gelu")


def _act_fn(name):
    name = name.lower()
    if name == "silu":
        return F.silu
    if name == "gelu":
        return F.gelu  # exact erf form (torch default, approximate='none')
    raise ValueError("unknown activation '%s' (expected silu or gelu)" % name)


def time_embedding(t, dim):
    """[B] -> [B, dim]: all sines first, then all cosines."""
    if dim % 2:
        raise ValueError("time-embedding dimension must be even, got %d" % dim)
    half = dim // 2
    k = torch.arange(half, dtype=torch.float64, device=t.device)
    freqs = torch.exp(-math.log(10000.0) * k / half).to(t.dtype)
    arg = 1000.0 * t.reshape(-1, 1) * freqs.reshape(1, -1)
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


def param_shapes(d, W, D, E):
    """(name, shape) of every parameter in flat-buffer order."""
    shapes = [("W_in", (d + E, W)), ("b_in", (W,))]
    for i in range(D):
        shapes += [("gamma_%d" % i, (W,)), ("beta_%d" % i, (W,)),
                   ("W_%d" % i, (W, W)), ("b_%d" % i, (W,))]
    shapes += [("gamma_out", (W,)), ("beta_out", (W,)),
               ("W_out", (W, d)), ("b_out", (d,))]
    return shapes


def dense_macs(d, W, D, E):
    """sum over dense layers of in*out (multiply-adds per sample)."""
    return (d + E) * W + D * W * W + W * d


class MLPVelocity(nn.Module):
    def __init__(self, d, W=128, D=3, E=64, act="silu"):
        super().__init__()
        if E % 2:
            raise ValueError("time-embedding dimension E must be even")
        self.d, self.W, self.D, self.E = d, W, D, E
        self.act_name = act.lower()
        self.act = _act_fn(act)
        self._names = []
        for name, shape in param_shapes(d, W, D, E):
            self.register_parameter(name, nn.Parameter(torch.empty(shape)))
            self._names.append(name)
        self.reset_parameters()

    # --- parameters --------------------------------------------------------
    def ordered_params(self):
        return [getattr(self, n) for n in self._names]

    def nparams(self):
        return sum(p.numel() for p in self.ordered_params())

    @torch.no_grad()
    def reset_parameters(self, generator=None):
        """Same distribution as the C init: U(-1/sqrt(in), 1/sqrt(in))."""
        for name, p in zip(self._names, self.ordered_params()):
            if name.startswith("gamma"):
                p.fill_(1.0)
            elif name.startswith("beta"):
                p.zero_()
            else:
                fan_in = {"W_in": self.d + self.E, "b_in": self.d + self.E}.get(name, self.W)
                bound = 1.0 / math.sqrt(fan_in)
                p.uniform_(-bound, bound, generator=generator)

    @torch.no_grad()
    def load_flat(self, params):
        """Copy a C-layout flat buffer (numpy or tensor) into the parameters."""
        flat = torch.as_tensor(np.asarray(params)).reshape(-1)
        n = self.nparams()
        if flat.numel() != n:
            raise ValueError("flat buffer has %d values, the network needs %d "
                             "(d=%d W=%d D=%d E=%d)" % (flat.numel(), n, self.d,
                                                        self.W, self.D, self.E))
        off = 0
        for p in self.ordered_params():
            m = p.numel()
            p.copy_(flat[off:off + m].reshape(p.shape).to(p.dtype))
            off += m
        return self

    @torch.no_grad()
    def flat_params(self):
        return torch.cat([p.detach().reshape(-1) for p in self.ordered_params()]).cpu().numpy()

    @torch.no_grad()
    def flat_grads(self):
        out = []
        for p in self.ordered_params():
            g = p.grad
            out.append(torch.zeros(p.numel(), dtype=p.dtype) if g is None else g.reshape(-1))
        return torch.cat(out).cpu().numpy()

    # --- forward -----------------------------------------------------------
    def forward(self, x, t):
        W = self.W
        z = torch.cat([x, time_embedding(t, self.E)], dim=1)
        h = torch.addmm(self.b_in, z, self.W_in)
        for i in range(self.D):
            g = getattr(self, "gamma_%d" % i)
            b = getattr(self, "beta_%d" % i)
            a = self.act(F.layer_norm(h, (W,), g, b, LN_EPS))
            h = h + torch.addmm(getattr(self, "b_%d" % i), a, getattr(self, "W_%d" % i))
        a = self.act(F.layer_norm(h, (W,), self.gamma_out, self.beta_out, LN_EPS))
        return torch.addmm(self.b_out, a, self.W_out)


def _openblas():
    """The OpenBLAS library torch/numpy loaded, or None (other BLAS)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {l.split()[-1] for l in f if "openblas" in l and ".so" in l}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_num_threads  # noqa: B018 (symbol check)
            return lib
        except (OSError, AttributeError):
            continue
    return None


def set_blas_threads(n):
    """Set OpenBLAS's pool size at run time; returns the size in effect
    (None when torch does not use OpenBLAS)."""
    lib = _openblas()
    if lib is None:
        return None
    lib.openblas_set_num_threads(int(n))
    return int(lib.openblas_get_num_threads())


def build_model(d, W=128, D=3, E=64, act="silu"):
    return MLPVelocity(d, W, D, E, act)


def forward_flat(flat, x, t, d, W, D, E, act):
    """Independent functional implementation on a flat tensor (autograd
    flows to `flat`); LayerNorm written out by hand. Used by selftest."""
    actf = _act_fn(act)
    views, off = {}, 0
    for name, shape in param_shapes(d, W, D, E):
        m = int(np.prod(shape))
        views[name] = flat[off:off + m].reshape(shape)
        off += m
    assert off == flat.numel()

    def ln(h, g, b):
        mu = h.mean(dim=1, keepdim=True)
        var = ((h - mu) ** 2).mean(dim=1, keepdim=True)
        return (h - mu) / torch.sqrt(var + LN_EPS) * g + b

    half = E // 2
    freqs = torch.tensor([math.exp(-math.log(10000.0) * k / half) for k in range(half)],
                         dtype=x.dtype)
    arg = 1000.0 * t[:, None] * freqs[None, :]
    z = torch.cat([x, torch.sin(arg), torch.cos(arg)], dim=1)
    h = z @ views["W_in"] + views["b_in"]
    for i in range(D):
        a = actf(ln(h, views["gamma_%d" % i], views["beta_%d" % i]))
        h = h + a @ views["W_%d" % i] + views["b_%d" % i]
    a = actf(ln(h, views["gamma_out"], views["beta_out"]))
    return a @ views["W_out"] + views["b_out"]


# --------------------------------------------------------------------------
# data and training
# --------------------------------------------------------------------------
def two_moons(n, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    n1 = n // 2
    n2 = n - n1
    a = rng.uniform(0.0, np.pi, n1)
    b = rng.uniform(0.0, np.pi, n2)
    upper = np.stack([np.cos(a), np.sin(a)], axis=1)
    lower = np.stack([1.0 - np.cos(b), 0.5 - np.sin(b)], axis=1)
    pts = np.concatenate([upper, lower], axis=0)
    pts += noise * rng.standard_normal(pts.shape)
    pts -= np.array([0.5, 0.25])  # roughly centred
    rng.shuffle(pts)
    return pts.astype(np.float32)


def cfm_loss(model, x1, sigma_min=0.0, gen=None):
    B, d = x1.shape
    x0 = torch.randn(B, d, generator=gen, dtype=x1.dtype)
    t = torch.rand(B, generator=gen, dtype=x1.dtype)
    tc = t[:, None]
    xt = (1.0 - (1.0 - sigma_min) * tc) * x0 + tc * x1
    u = x1 - (1.0 - sigma_min) * x0
    v = model(xt, t)
    # mean over batch of (1/d) sum_c (.)^2 == mean over all entries
    return ((v - u) ** 2).mean()


def cmd_throughput(a):
    # interop threads must be set before any parallel work starts
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.set_num_threads(a.threads)
    blas_threads = set_blas_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)

    d = 2
    data = torch.from_numpy(two_moons(max(100000, a.batch), seed=a.seed))
    model = build_model(d, a.width, a.depth, a.temb, a.act)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999),
                            eps=1e-8, weight_decay=0.0)
    n = data.shape[0]

    def step():
        idx = torch.randint(0, n, (a.batch,), generator=gen)
        loss = cfm_loss(model, data[idx], a.sigma_min, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    from benchutil import time_steps

    secs, loss = time_steps(step, a.warmup, a.steps)
    loss_val = float(loss.detach())

    flops = 3.0 * 2.0 * a.batch * dense_macs(d, a.width, a.depth, a.temb) * a.steps
    rec = {"impl": "torch", "threads": a.threads, "width": a.width,
           "depth": a.depth, "batch": a.batch, "steps": a.steps,
           "seconds": round(secs, 6),
           "samples_per_s": round(a.batch * a.steps / secs, 3),
           "gflops_per_s": round(flops / secs / 1e9, 4)}
    if a.verbose:
        rec.update({"temb": a.temb, "act": a.act, "final_loss": loss_val,
                    "torch": str(torch.__version__),
                    "torch_threads": torch.get_num_threads(),
                    "blas_threads": blas_threads,
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")})
    print(json.dumps(rec))
    return 0


# --------------------------------------------------------------------------
# reference
# --------------------------------------------------------------------------
def _attr_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return _attr_str(v.reshape(-1)[0])
    return str(v)


def _attr_int(v):
    return int(np.asarray(v).reshape(-1)[0])


def die(msg):
    print("torch_mlp.py: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


def cmd_reference(a):
    import h5py
    torch.set_num_threads(max(1, a.threads))
    set_blas_threads(max(1, a.threads))
    try:
        with h5py.File(a.model, "r") as f:
            if "params" not in f:
                die("%s has no dataset /params" % a.model)
            # architecture attributes live on /arch; accept them on the root too
            attrs = f["arch"].attrs if "arch" in f else f.attrs
            for key in ("nin", "mlp_width", "mlp_depth", "mlp_temb_dim", "mlp_act"):
                if key not in attrs:
                    die("%s: /arch (or the root) lacks architecture attribute '%s'"
                        % (a.model, key))
            net_type = _attr_str(attrs["net_type"]) if "net_type" in attrs else "mlp"
            if net_type != "mlp":
                die("%s: net_type is '%s', this reference only implements 'mlp'"
                    % (a.model, net_type))
            d = _attr_int(attrs["nin"])
            W = _attr_int(attrs["mlp_width"])
            D = _attr_int(attrs["mlp_depth"])
            E = _attr_int(attrs["mlp_temb_dim"])
            act = _attr_str(attrs["mlp_act"]).lower()
            flat = np.asarray(f["params"][...], dtype=np.float64).reshape(-1)
    except OSError as e:
        die("cannot read model file %s: %s" % (a.model, e))
    if act not in ACTS:
        die("mlp_act '%s' not supported (silu|gelu)" % act)
    try:
        with h5py.File(a.input, "r") as f:
            for key in ("x", "t", "dv"):
                if key not in f:
                    die("%s has no dataset /%s" % (a.input, key))
            x = np.asarray(f["x"][...], dtype=np.float64)
            t = np.asarray(f["t"][...], dtype=np.float64).reshape(-1)
            dv = np.asarray(f["dv"][...], dtype=np.float64)
    except OSError as e:
        die("cannot read input file %s: %s" % (a.input, e))
    if x.ndim != 2 or x.shape[1] != d:
        die("/x has shape %s, expected [B, %d]" % (x.shape, d))
    if t.shape[0] != x.shape[0]:
        die("/t has %d entries, /x has %d rows" % (t.shape[0], x.shape[0]))
    if dv.shape != x.shape:
        die("/dv has shape %s, expected %s" % (dv.shape, x.shape))

    model = build_model(d, W, D, E, act).double()
    try:
        model.load_flat(flat)
    except ValueError as e:
        die(str(e))
    xt = torch.from_numpy(x).requires_grad_(True)
    tt = torch.from_numpy(t)
    v = model(xt, tt)
    (v * torch.from_numpy(dv)).sum().backward()

    with h5py.File(a.output, "w") as f:
        f.create_dataset("v", data=v.detach().numpy().astype(np.float64))
        f.create_dataset("grad_params", data=model.flat_grads().astype(np.float64))
        f.create_dataset("grad_x", data=xt.grad.numpy().astype(np.float64))
        f.attrs["kind"] = "torch_reference"
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["arch"] = "mlp d=%d W=%d D=%d E=%d act=%s" % (d, W, D, E, act)
    return 0


# --------------------------------------------------------------------------
# selftest
# --------------------------------------------------------------------------
def cmd_selftest(a):
    torch.set_num_threads(1)
    from benchutil import Checker

    check = Checker(48)

    rng = np.random.default_rng(1234)
    for (d, W, D, E, act) in [(2, 16, 3, 8, "silu"), (5, 32, 2, 64, "gelu"),
                              (3, 24, 0, 4, "silu")]:
        tag = "d=%d W=%d D=%d E=%d %s" % (d, W, D, E, act)
        m = build_model(d, W, D, E, act)
        n = m.nparams()
        expect = (d + E) * W + W + D * (W * W + 3 * W) + 2 * W + W * d + d
        check("[%s] nparams formula" % tag, abs(n - expect), 0)
        p = rng.standard_normal(n).astype(np.float32)
        m.load_flat(p)
        back = m.flat_params()
        check("[%s] load_flat/flat_params round trip" % tag,
              float(np.max(np.abs(back - p))) if back.dtype == np.float32 else 1.0, 0.0)
        # layout: W_in[i, j] = p[i*W + j] (row-major [in, out])
        check("[%s] W_in row-major [in,out]" % tag,
              float(abs(m.W_in[1, 2].item() - p[1 * W + 2])), 0.0)

        # double precision: module vs independent functional version
        md = build_model(d, W, D, E, act).double()
        pd = 0.5 * rng.standard_normal(n)
        md.load_flat(pd)
        B = 7
        x = torch.from_numpy(rng.standard_normal((B, d)))
        t = torch.from_numpy(rng.uniform(0, 1, B))
        dv = torch.from_numpy(rng.standard_normal((B, d)))
        v = md(x, t)
        (v * dv).sum().backward()
        g_mod = md.flat_grads()

        flat = torch.from_numpy(pd.copy()).requires_grad_(True)
        v2 = forward_flat(flat, x, t, d, W, D, E, act)
        (v2 * dv).sum().backward()
        check("[%s] forward vs functional (f64)" % tag,
              float((v - v2).abs().max() / v2.abs().max()), 1e-13)
        check("[%s] flat_grads vs autograd on flat (f64)" % tag,
              float(np.max(np.abs(g_mod - flat.grad.numpy())) / np.max(np.abs(flat.grad.numpy()))),
              1e-12)

        # central finite difference along a random direction
        dirn = rng.standard_normal(n)
        eps = 1e-6
        with torch.no_grad():
            fp = (forward_flat(torch.from_numpy(pd + eps * dirn), x, t, d, W, D, E, act) * dv).sum()
            fm = (forward_flat(torch.from_numpy(pd - eps * dirn), x, t, d, W, D, E, act) * dv).sum()
        fd = float((fp - fm) / (2 * eps))
        an = float(np.dot(g_mod, dirn))
        check("[%s] directional FD vs flat_grads (f64)" % tag,
              abs(fd - an) / max(1.0, abs(an)), 1e-7)

        # float32 module agrees with float64
        m.load_flat(pd.astype(np.float32))
        v32 = m(x.float(), t.float()).double()
        check("[%s] f32 vs f64 forward" % tag,
              float((v32 - v).abs().max() / v.abs().max()), 1e-4)

    # loss definition: mean over batch of (1/d) sum_c
    m = build_model(3, 16, 1, 8, "silu")
    x1 = torch.randn(10, 3)
    g1 = torch.Generator().manual_seed(5)
    l1 = cfm_loss(m, x1, 0.1, g1)
    g2 = torch.Generator().manual_seed(5)
    x0 = torch.randn(10, 3, generator=g2)
    tt = torch.rand(10, generator=g2)
    xt = (1 - 0.9 * tt[:, None]) * x0 + tt[:, None] * x1
    u = x1 - 0.9 * x0
    l2 = (((m(xt, tt) - u) ** 2).sum(1) / 3).mean()
    check("cfm loss definition", abs(float(l1 - l2)), 1e-6)

    print("selftest:", "PASS" if check.ok else "FAIL")
    return 0 if check.ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("throughput", help="time CFM training steps, print one JSON line")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--temb", type=int, default=64)
    p.add_argument("--act", choices=ACTS, default="silu")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--sigma-min", dest="sigma_min", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true",
                   help="add temb/act/final_loss/torch version to the JSON")

    p = sub.add_parser("reference", help="float64 forward + gradients for C tests")
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)

    sub.add_parser("selftest", help="check this module")

    a = ap.parse_args(argv)
    if a.cmd == "throughput":
        for k in ("width", "batch", "steps", "threads", "temb"):
            if getattr(a, k) < 1:
                die("--%s must be >= 1" % k)
        if a.depth < 0 or a.warmup < 0:
            die("--depth and --warmup must be >= 0")
        if a.temb % 2:
            die("--temb must be even")
        return cmd_throughput(a)
    if a.cmd == "reference":
        return cmd_reference(a)
    return cmd_selftest(a)


if __name__ == "__main__":
    sys.exit(main())
