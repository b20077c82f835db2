#!/usr/bin/python3
"""PyTorch (torch.sparse) reference of physflow's mesh network (-net_type meshnet).

The network (models/meshunet/meshnet.c) on a mesh of N vertices, features kept
vertex-major [N, B, C] like the C code; x, v are [B, F, N] (F = 2 fields):

    conv(X)   = [X, Dx X, Dy X, L X] @ W + b      W [4 Cin, Cout], the operator
                blocks stacked along the input channels in that order
    norm(X)   = group norm with statistics per (sample, group of C/G channels)
                over ALL vertices, weighted by the lumped masses m_v:
                mu = sum_v m_v sum_c X / (M Cg), var = same of (X - mu)^2,
                Y = (X - mu) / sqrt(var + 1e-5) * gamma + beta
    temb(t)   = [sin(1000 t f_k), cos(1000 t f_k)], f_k = exp(-ln(1e4) k / (E/2))
    s         = SiLU(temb(t) @ time.W + time.b)                     [B, C]
    h         = conv_in(x)                                          F -> C
    for i < D:
        z     = conv1_i(SiLU(norm1_i(h))) + (s @ block_i.time.W + block_i.time.b)
        h     = h + conv2_i(SiLU(norm2_i(z)))
    v         = conv_out(SiLU(norm_out(h)))                         C -> F

Dx, Dy, L are the fixed scaled FE operators M_L^{-1} E of PFMeshGraph
(h M_L^{-1} int phi_i dphi_j/dx, .. /dy, -h^2 M_L^{-1} int grad phi_i.grad phi_j),
here one sparse [3N, N] CSR matrix (and its transpose for the backward).
The flat parameter buffer is the concatenation, in the order of
param_layout(), of the row-major [rows, cols] views.

Sub-commands:
  reference   read a tests/meshnet_dump file (operators, masses, weights,
              inputs), write v and the float64 gradients of sum(v * dv) with
              respect to the flat parameters and x
  throughput  time training steps (conditional flow matching, mass-weighted
              loss, AdamW) on a box mesh, print one JSON line
  selftest    check this module (sparse op vs dense autograd, finite
              differences; with --dump, the synthetic box operators against
              the C ones)
"""
import argparse
import json
import math
import os
import sys
import warnings


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from benchutil import preset_thread_env  # noqa: E402

    preset_thread_env(sys.argv[1:])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as Fn  # noqa: E402

NORM_EPS = 1e-5
TEMB_SCALE = 1000.0
OPS = ("dx", "dy", "lap")
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def die(msg):
    print("torch_meshnet.py: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------
# parameter layout (the C network's PFNetAddParam order)
# --------------------------------------------------------------------------
def block_names(D, L):
    """Residual block prefixes in execution (= flat-buffer) order."""
    if L == 1:
        return ["block%d" % i for i in range(D)]
    names = ["down%d.block%d" % (l, i) for l in range(L) for i in range(D)]
    return names + ["up%d.block%d" % (l, i) for l in range(L - 2, -1, -1) for i in range(D)]


def param_layout(F, C, D, E, L=1):
    """[(name, rows, cols)] in flat-buffer order."""
    K = 4  # identity + dx, dy, lap

    def conv(name, cin, cout):
        return [(name + ".W", K * cin, cout), (name + ".b", 1, cout)]

    def norm(name):
        return [(name + ".gamma", 1, C), (name + ".beta", 1, C)]

    lay = conv("in", F, C) + [("time.W", E, C), ("time.b", 1, C)]
    for b in block_names(D, L):
        p = b + "."
        lay += norm(p + "norm1") + conv(p + "conv1", C, C)
        lay += [(p + "time.W", C, C), (p + "time.b", 1, C)]
        lay += norm(p + "norm2") + conv(p + "conv2", C, C)
    lay += norm("out.norm") + conv("out", C, F)
    return lay


def _attr(name):
    return name.replace(".", "_")


# --------------------------------------------------------------------------
# the fixed sparse operators
# --------------------------------------------------------------------------
class _StackedOp(torch.autograd.Function):
    """Y [3N, K] = A [3N, N] X [N, K]; backward A^T dY (both CSR, fixed)."""

    @staticmethod
    def forward(ctx, X, A, At):
        ctx.At = At
        return A @ X

    @staticmethod
    def backward(ctx, dY):
        return ctx.At @ dY, None, None


class MeshOps:
    """The stacked operators [Dx; Dy; L] as a CSR matrix (and its transpose)."""

    def __init__(self, coo, n, dtype=torch.float64):
        rows, cols, vals = [], [], []
        for k, name in enumerate(OPS):
            r, c, v = coo[name]
            rows.append(np.asarray(r, dtype=np.int64) + k * n)
            cols.append(np.asarray(c, dtype=np.int64))
            vals.append(np.asarray(v, dtype=np.float64))
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        idx = torch.from_numpy(np.stack([r, c]))
        val = torch.from_numpy(v).to(dtype)
        A = torch.sparse_coo_tensor(idx, val, (3 * n, n)).coalesce()
        At = torch.sparse_coo_tensor(idx.flip(0), val, (n, 3 * n)).coalesce()
        self.coo = A
        self.A = A.to_sparse_csr()
        self.At = At.to_sparse_csr()
        self.n = n

    def apply(self, X):
        """X [N, K] -> [3, N, K]"""
        return _StackedOp.apply(X, self.A, self.At).reshape(3, self.n, -1)

    def dense(self):
        return self.coo.to_dense().reshape(3, self.n, self.n)


def box_operators(faces):
    """Q1 operators of the unit-square box with `faces` cells per side, in
    the natural (row-major, x fastest) vertex order; the same construction as
    PFMeshGraphCreate (2x2 Gauss, exact here).  Returns (coo dict, mass, h)."""
    n1 = faces + 1
    hc = 1.0 / faces
    g = np.array([-1.0, 1.0]) / math.sqrt(3.0)
    ref = [(-1, -1), (1, -1), (1, 1), (-1, 1)]  # cell corners, local order
    E = {k: np.zeros((4, 4)) for k in ("dx", "dy", "lap", "mass")}
    for xi in g:
        for eta in g:
            wq = (hc / 2) ** 2
            phi = np.array([(1 + a * xi) * (1 + b * eta) / 4 for a, b in ref])
            dphi = np.array([[a * (1 + b * eta) / 4 * 2 / hc, b * (1 + a * xi) / 4 * 2 / hc]
                             for a, b in ref])
            E["dx"] += wq * np.outer(phi, dphi[:, 0])
            E["dy"] += wq * np.outer(phi, dphi[:, 1])
            E["lap"] += wq * dphi @ dphi.T
            E["mass"] += wq * np.outer(phi, phi)
    nv = n1 * n1
    mass = np.zeros(nv)
    trip = {k: ([], [], []) for k in OPS}
    for j in range(faces):
        for i in range(faces):
            vid = [j * n1 + i, j * n1 + i + 1, (j + 1) * n1 + i + 1, (j + 1) * n1 + i]
            mass[vid] += E["mass"].sum(axis=1)
            for k in OPS:
                for a in range(4):
                    for b in range(4):
                        trip[k][0].append(vid[a])
                        trip[k][1].append(vid[b])
                        trip[k][2].append(E[k][a, b])
    h = math.sqrt(1.0 / (faces * faces))
    scale = {"dx": h, "dy": h, "lap": -h * h}
    coo = {}
    for k in OPS:
        r, c, v = (np.asarray(a) for a in trip[k])
        M = torch.sparse_coo_tensor(torch.from_numpy(np.stack([r, c])),
                                    torch.from_numpy(v), (nv, nv)).coalesce()
        idx = M.indices().numpy()
        val = M.values().numpy() * scale[k] / mass[idx[0]]
        coo[k] = (idx[0], idx[1], val)
    return coo, mass, h


class Transfer:
    """Prolongation P [n_fine, n_coarse] (bilinear, fixed) and the restriction
    R = D^-1 P^T W (W the fine weights, D = P^T w the coarse weights, with
    1/D := 0 where D = 0: coarse vertices outside the domain)."""

    def __init__(self, coo, nf, nc, wfine, dtype=torch.float64):
        r, c, v = (np.asarray(a) for a in coo)
        idx = torch.from_numpy(np.stack([r.astype(np.int64), c.astype(np.int64)]))
        val = torch.from_numpy(v.astype(np.float64))
        P = torch.sparse_coo_tensor(idx, val, (nf, nc)).coalesce()
        Pt = torch.sparse_coo_tensor(idx.flip(0), val, (nc, nf)).coalesce()
        self.P, self.Pt = P.to_sparse_csr().to(dtype), Pt.to_sparse_csr().to(dtype)
        wf = np.asarray(wfine, dtype=np.float64)
        self.wcoarse = (Pt @ torch.from_numpy(wf)).numpy()
        dinv = np.where(self.wcoarse > 0, 1.0 / np.where(self.wcoarse > 0, self.wcoarse, 1.0), 0.0)
        self.wf = torch.from_numpy(wf).to(dtype).reshape(-1, 1)
        self.dinv = torch.from_numpy(dinv).to(dtype).reshape(-1, 1)
        self.nf, self.nc = nf, nc

    def prolong(self, X):
        """X [nc, K] -> [nf, K]"""
        return _StackedOp.apply(X, self.P, self.Pt)

    def restrict(self, X):
        """X [nf, K] -> [nc, K]"""
        return self.dinv.to(X.dtype) * _StackedOp.apply(self.wf.to(X.dtype) * X, self.Pt, self.P)


class Hierarchy:
    """The U-Net's levels: operators and weights per level, transfers between
    them (level 0 = the data mesh)."""

    def __init__(self, level_coo, mass, prolong_coo=(), dtype=torch.float64):
        sizes = [np.asarray(mass).size]
        for l in range(1, len(level_coo)):
            sizes.append(int(max(np.max(level_coo[l]["lap"][0]), np.max(level_coo[l]["lap"][1]))) + 1)
        self.ops = [MeshOps(c, n, dtype) for c, n in zip(level_coo, sizes)]
        self.w = [np.asarray(mass, dtype=np.float64)]
        self.T = []
        for l, pc in enumerate(prolong_coo):
            T = Transfer(pc, sizes[l], sizes[l + 1], self.w[l], dtype)
            self.T.append(T)
            self.w.append(T.wcoarse)
        self.L = len(self.ops)
        if len(self.T) != self.L - 1:
            raise ValueError("%d levels need %d prolongations, got %d" % (self.L, self.L - 1, len(self.T)))


def box_levels(faces, L):
    """The C hierarchy (PFMeshLevels) of the unit box with `faces` cells a
    side: level l is the box with max(2, round(faces / 2^l)) cells, natural
    order row-major; P bilinear.  Returns (coo list, mass, P coo list, xy list)."""
    coo, mass, _ = box_operators(faces)
    s = np.linspace(0, 1, faces + 1)
    xy = [np.stack(np.meshgrid(s, s), -1).reshape(-1, 2)]
    coos, Ps = [coo], []
    for l in range(1, L):
        n = max(2, int(math.floor(faces / 2.0 ** l + 0.5)))
        c, _, _ = box_operators(n)
        coos.append(c)
        hx = 1.0 / n
        rows, cols, vals = [], [], []
        for v, (x, y) in enumerate(xy[-1]):
            ij, st = [], []
            for u in (x / hx, y / hx):
                i = min(max(int(math.floor(u)), 0), n - 1)
                ij.append(i)
                st.append(min(max(u - i, 0.0), 1.0))
            (i, j), (a, b) = ij, st
            for (di, dj), wv in (((0, 0), (1 - a) * (1 - b)), ((1, 0), a * (1 - b)), ((0, 1), (1 - a) * b), ((1, 1), a * b)):
                if wv != 0:
                    rows.append(v)
                    cols.append((j + dj) * (n + 1) + i + di)
                    vals.append(wv)
        Ps.append((np.array(rows), np.array(cols), np.array(vals)))
        s = np.linspace(0, 1, n + 1)
        xy.append(np.stack(np.meshgrid(s, s), -1).reshape(-1, 2))
    return coos, mass, Ps, xy


# --------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------
def time_embedding(t, E):
    half = E // 2
    k = torch.arange(half, dtype=torch.float64)
    freqs = torch.exp(-math.log(10000.0) * k / half).to(t.dtype)
    arg = TEMB_SCALE * t.reshape(-1, 1) * freqs.reshape(1, -1)
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class MeshNet(nn.Module):
    """The C mesh network on a Hierarchy: L = 1 is -net_type meshnet, L > 1
    the U-Net (-net_type meshunet)."""

    def __init__(self, hier, F=2, C=32, D=2, G=8, E=32):
        super().__init__()
        if C % G or E % 2:
            raise ValueError("groups must divide the width and the time embedding be even")
        self.hier, self.F, self.C, self.D, self.G, self.E = hier, F, C, D, G, E
        self.L = hier.L
        self.layout = param_layout(F, C, D, E, self.L)
        for name, r, c in self.layout:
            self.register_parameter(_attr(name), nn.Parameter(torch.zeros(r, c, dtype=torch.float64)))

    def p(self, name):
        return getattr(self, _attr(name))

    def ordered_params(self):
        return [self.p(name) for name, _, _ in self.layout]

    def nparams(self):
        return sum(r * c for _, r, c in self.layout)

    @torch.no_grad()
    def load_flat(self, flat):
        flat = torch.as_tensor(np.asarray(flat)).reshape(-1)
        if flat.numel() != self.nparams():
            raise ValueError("flat buffer has %d values, the network needs %d" % (flat.numel(), self.nparams()))
        off = 0
        for p in self.ordered_params():
            p.copy_(flat[off:off + p.numel()].reshape(p.shape).to(p.dtype))
            off += p.numel()
        return self

    @torch.no_grad()
    def init_uniform(self, gen=None):
        """The C init's distribution: U(+-1/sqrt(fan_in)), gamma 1, beta 0."""
        for name, r, c in self.layout:
            p = self.p(name)
            if name.endswith(".gamma"):
                p.fill_(1.0)
            elif name.endswith(".beta"):
                p.zero_()
            else:
                wname = name[:-2] + ".W"
                fan = dict((n, rr) for n, rr, _ in self.layout)[wname]
                b = 1.0 / math.sqrt(fan)
                p.uniform_(-b, b, generator=gen)

    def flat_grads(self):
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                          for p in self.ordered_params()]).detach().numpy()

    # --- layers (X vertex-major [N, B, C]) ------------------------------------
    def conv(self, name, X, level=0):
        N, B, Cin = X.shape
        AX = self.hier.ops[level].apply(X.reshape(N, B * Cin)).reshape(3, N, B, Cin)
        Z = torch.cat([X, AX[0], AX[1], AX[2]], dim=2)
        return Z @ self.p(name + ".W") + self.p(name + ".b")

    def norm(self, name, X, level=0):
        N, B, C = X.shape
        G = self.G
        Xg = X.reshape(N, B, G, C // G)
        w = torch.from_numpy(self.hier.w[level])
        wn = (w / w.sum()).to(X.dtype).reshape(N, 1, 1, 1)
        mu = (wn * Xg).sum(dim=(0, 3), keepdim=True) / (C // G)
        d = Xg - mu
        var = (wn * d * d).sum(dim=(0, 3), keepdim=True) / (C // G)
        Y = (d * torch.rsqrt(var + NORM_EPS)).reshape(N, B, C)
        return Y * self.p(name + ".gamma") + self.p(name + ".beta")

    def block(self, b, h, s, level):
        tp = s @ self.p(b + "time.W") + self.p(b + "time.b")  # [B, C]
        z = self.conv(b + "conv1", Fn.silu(self.norm(b + "norm1", h, level)), level) + tp
        return h + self.conv(b + "conv2", Fn.silu(self.norm(b + "norm2", z, level)), level)

    def forward(self, x, t):
        """x [B, F, N], t [B] -> v [B, F, N]"""
        X = x.permute(2, 0, 1)  # [N, B, F]
        s = Fn.silu(time_embedding(t, self.E) @ self.p("time.W") + self.p("time.b"))
        h = self.conv("in", X)
        names = iter(block_names(self.D, self.L))
        skips = []
        for l in range(self.L):
            for _ in range(self.D):
                h = self.block(next(names) + ".", h, s, l)
            if l + 1 < self.L:
                skips.append(h)
                N, B, C = h.shape
                h = self.hier.T[l].restrict(h.reshape(N, B * C)).reshape(-1, B, C)
        for l in range(self.L - 2, -1, -1):
            N, B, C = h.shape
            h = self.hier.T[l].prolong(h.reshape(N, B * C)).reshape(-1, B, C) + skips[l]
            for _ in range(self.D):
                h = self.block(next(names) + ".", h, s, l)
        v = self.conv("out", Fn.silu(self.norm("out.norm", h)))
        return v.permute(1, 2, 0)


# --------------------------------------------------------------------------
# reference
# --------------------------------------------------------------------------
def _ai(v):
    return int(np.asarray(v).reshape(-1)[0])


def load_dump(path):
    import h5py
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        die("cannot read %s: %s" % (path, e))
    with f:
        for k in ("params", "x", "t", "dv", "mass", "ops/dx/rows", "param_views/offset"):
            if k not in f:
                die("%s has no /%s (not a tests/meshnet_dump file?)" % (path, k))
        a = f.attrs
        d = {"F": _ai(a["nfields"]), "C": _ai(a["mesh_width"]), "D": _ai(a["mesh_depth"]),
             "G": _ai(a["mesh_groups"]), "E": _ai(a["mesh_temb_dim"]),
             "L": _ai(a["mesh_levels"]) if "mesh_levels" in a else 1}
        for k in ("params", "x", "t", "dv", "mass"):
            d[k] = np.asarray(f[k][...], dtype=np.float64)
        d["coords"] = np.asarray(f["coords"][...]) if "coords" in f else None
        def coo(prefix):
            return tuple(np.asarray(f["%s/%s" % (prefix, q)][...]) for q in ("rows", "cols", "vals"))

        d["ops"] = {k: coo("ops/" + k) for k in OPS}
        d["level_ops"], d["prolong"], d["level_xy"] = [d["ops"]], [], [d["coords"]]
        for l in range(1, d["L"]):
            if "levels/%d/P" % l not in f:
                die("%s has mesh_levels %d but no /levels/%d" % (path, d["L"], l))
            d["level_ops"].append({k: coo("levels/%d/ops/%s" % (l, k)) for k in OPS})
            d["prolong"].append(coo("levels/%d/P" % l))
            d["level_xy"].append(np.asarray(f["levels/%d/coords" % l][...]))
        names = f["param_views"].attrs["names"]
        names = names.decode() if isinstance(names, bytes) else str(names)
        d["views"] = list(zip(names.split("\n"), *(np.asarray(f["param_views/" + q][...]).tolist()
                                                    for q in ("offset", "rows", "cols"))))
    return d


def check_layout(d):
    """The C view table must be exactly param_layout()."""
    off = 0
    lay = param_layout(d["F"], d["C"], d["D"], d["E"], d["L"])
    if len(lay) != len(d["views"]):
        die("the dump has %d parameter views, this reference builds %d" % (len(d["views"]), len(lay)))
    for (n, r, c), (cn, co, cr, cc) in zip(lay, d["views"]):
        if (n, off, r, c) != (cn, co, cr, cc):
            die("parameter view mismatch: C has %s at %d [%dx%d], the reference %s at %d [%dx%d]"
                % (cn, co, cr, cc, n, off, r, c))
        off += r * c
    if off != d["params"].size:
        die("the dump has %d parameters, the layout %d" % (d["params"].size, off))


def build_from_dump(d):
    hier = Hierarchy(d["level_ops"], d["mass"], d["prolong"])
    net = MeshNet(hier, d["F"], d["C"], d["D"], d["G"], d["E"])
    net.load_flat(d["params"])
    return net


def cmd_reference(a):
    import h5py
    torch.set_num_threads(max(1, a.threads))
    d = load_dump(a.dump)
    check_layout(d)
    net = build_from_dump(d)
    x = torch.from_numpy(d["x"]).requires_grad_(True)
    v = net(x, torch.from_numpy(d["t"]))
    (v * torch.from_numpy(d["dv"])).sum().backward()
    with h5py.File(a.output, "w") as f:
        f["v"] = v.detach().numpy()
        f["grad_params"] = net.flat_grads()
        f["grad_x"] = x.grad.numpy()
        f.attrs["kind"] = "torch_reference"
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["arch"] = "mesh network F=%d C=%d D=%d G=%d E=%d L=%d N=%d" % (d["F"], d["C"], d["D"], d["G"], d["E"], d["L"], d["mass"].size)
    return 0


# --------------------------------------------------------------------------
# throughput
# --------------------------------------------------------------------------
def cmd_throughput(a):
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    dtype = torch.float64 if a.double else torch.float32
    if a.dump:
        d = load_dump(a.dump)
        hier = Hierarchy(d["level_ops"], d["mass"], d["prolong"], dtype)
        mass = d["mass"]
        src = a.dump
    else:
        coos, mass, Ps, _ = box_levels(a.faces, a.levels)
        hier = Hierarchy(coos, mass, Ps, dtype)
        src = "box %d" % a.faces
    nv = mass.size
    F = 2
    net = MeshNet(hier, F, a.width, a.depth, a.groups, a.temb).to(dtype)
    net.init_uniform(gen)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    # data: smooth random fields (a few low Fourier modes), fixed pool
    if a.dump and d["coords"] is not None:
        xy = d["coords"]
    else:
        s = np.linspace(0, 1, a.faces + 1)
        xy = np.stack(np.meshgrid(s, s), axis=-1).reshape(-1, 2)
    rng = np.random.default_rng(a.seed)
    pool = np.zeros((256, F, nv))
    for m in range(1, 4):
        for n in range(1, 4):
            basis = np.sin(m * np.pi * xy[:, 0]) * np.sin(n * np.pi * xy[:, 1])
            pool += rng.standard_normal((256, F, 1)) / (m * n) * basis
    pool = torch.from_numpy(pool).to(dtype)
    lw = torch.from_numpy(mass / (mass.sum() * F)).to(dtype)  # mass-weighted mean

    def step():
        x1 = pool[torch.randint(0, pool.shape[0], (a.batch,), generator=gen)]
        x0 = torch.randn(x1.shape, generator=gen, dtype=dtype)
        t = torch.rand(a.batch, generator=gen, dtype=dtype)
        tc = t[:, None, None]
        xt = (1 - tc) * x0 + tc * x1
        v = net(xt, t)
        loss = ((v - (x1 - x0)) ** 2 * lw).sum() / a.batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    from benchutil import time_steps

    secs, loss = time_steps(step, a.warmup, a.steps)
    C, D = a.width, a.depth
    nblockv = sum(D * op.n * (1 if l == hier.L - 1 else 2) for l, op in enumerate(hier.ops))
    flops = 3.0 * 2.0 * (nv * (4 * F * C + 4 * C * F) + nblockv * 2 * 4 * C * C) * a.batch * a.steps
    rec = {"impl": "torch.sparse", "threads": a.threads, "mesh": src, "nvert": int(nv),
           "width": C, "depth": D, "levels": hier.L, "groups": a.groups, "batch": a.batch, "steps": a.steps,
           "dtype": str(dtype).replace("torch.", ""), "seconds": round(secs, 6),
           "samples_per_s": round(a.batch * a.steps / secs, 3),
           "gemm_gflops_per_s": round(flops / secs / 1e9, 4),
           "final_loss": float(loss.detach()), "torch": str(torch.__version__)}
    print(json.dumps(rec))
    return 0


# --------------------------------------------------------------------------
# selftest
# --------------------------------------------------------------------------
def _selftest_network(check, net, nv, tag):
    torch.manual_seed(3)
    flat = torch.randn(net.nparams(), dtype=torch.float64) * 0.3
    net.load_flat(flat.numpy())
    x = torch.randn(3, 2, nv, dtype=torch.float64, requires_grad=True)
    t = torch.rand(3, dtype=torch.float64)
    dv = torch.randn(3, 2, nv, dtype=torch.float64)
    (net(x, t) * dv).sum().backward()
    g = net.flat_grads()
    dirn = np.random.default_rng(0).standard_normal(g.size)
    eps = 1e-6
    with torch.no_grad():
        fp = float((net.load_flat(flat.numpy() + eps * dirn)(x, t) * dv).sum())
        fm = float((net.load_flat(flat.numpy() - eps * dirn)(x, t) * dv).sum())
        net.load_flat(flat.numpy())
    an = float(g @ dirn)
    check("%s params: directional FD vs autograd" % tag, abs((fp - fm) / (2 * eps) - an) / max(1, abs(an)), 1e-7)
    dx = torch.randn(x.shape, dtype=torch.float64)
    with torch.no_grad():
        fp = float((net(x + eps * dx, t) * dv).sum())
        fm = float((net(x - eps * dx, t) * dv).sum())
    an = float((x.grad * dx).sum())
    check("%s inputs: directional FD vs autograd" % tag, abs((fp - fm) / (2 * eps) - an) / max(1, abs(an)), 1e-7)
    # sample independence (no statistics across the batch)
    with torch.no_grad():
        v_all = net(x, t)
        v_one = net(x[1:2], t[1:2])
    check("%s samples are independent" % tag, float((v_all[1:2] - v_one).abs().max()), 1e-13)


def cmd_selftest(a):
    torch.set_num_threads(1)
    from benchutil import Checker

    check = Checker(58)

    faces = 4
    coo, mass, h = box_operators(faces)
    nv = mass.size
    ops = MeshOps(coo, nv)
    A = ops.dense()
    xy = np.stack(np.meshgrid(np.linspace(0, 1, faces + 1), np.linspace(0, 1, faces + 1)), -1).reshape(-1, 2)
    # operators: derivatives of linear functions (exact in the interior and,
    # with the lumped mass, on the boundary for the tangential part)
    lin = torch.from_numpy(2 * xy[:, 0] - 3 * xy[:, 1])
    check("box Dx(2x-3y) = 2h", float((A[0] @ lin - 2 * h).abs().max()), 1e-12)
    check("box Dy(2x-3y) = -3h", float((A[1] @ lin + 3 * h).abs().max()), 1e-12)
    check("box L(const) = 0", float((A[2] @ torch.ones(nv, dtype=torch.float64)).abs().max()), 1e-12)
    check("box mass sums to 1", abs(mass.sum() - 1.0), 1e-13)
    # sparse op with its custom backward vs dense autograd
    X = torch.randn(nv, 5, dtype=torch.float64, requires_grad=True)
    R = torch.randn(3, nv, 5, dtype=torch.float64)
    (ops.apply(X) * R).sum().backward()
    g1 = X.grad.clone()
    X.grad = None
    Y2 = torch.einsum("knm,mf->knf", A, X)
    check("sparse apply vs dense", float((ops.apply(X) - Y2).abs().max()), 1e-14)
    (Y2 * R).sum().backward()
    check("sparse transpose (backward) vs dense autograd", float((g1 - X.grad).abs().max()), 1e-13)
    # whole network (single level and a 3-level U-Net): finite differences
    # along random directions
    for L, fcs in ((1, faces), (3, 8)):
        coos, bm, Ps, _ = box_levels(fcs, L)
        _selftest_network(check, MeshNet(Hierarchy(coos, bm, Ps), 2, 8, 2, 2, 8), bm.size, "L=%d" % L)
    # transfers: P reproduces linear functions, R is a weighted average
    coos, bm, Ps, bxy = box_levels(8, 3)
    hier = Hierarchy(coos, bm, Ps)
    for l, T in enumerate(hier.T):
        lin = torch.from_numpy(np.stack([np.ones(len(bxy[l + 1])), bxy[l + 1][:, 0], bxy[l + 1][:, 1]], 1))
        lf = torch.from_numpy(np.stack([np.ones(len(bxy[l])), bxy[l][:, 0], bxy[l][:, 1]], 1))
        check("level %d: P(linear) exact" % l, float((T.prolong(lin) - lf).abs().max()), 1e-13)
        check("level %d: R(const) = const" % l, float((T.restrict(torch.ones(T.nf, 2, dtype=torch.float64)) - 1).abs().max()), 1e-13)
        check("level %d: weights keep the area" % l, abs(hier.w[l + 1].sum() - 1.0), 1e-13)

    if a.dump:
        d = load_dump(a.dump)
        check_layout(d)
        if d["coords"] is None:
            die("%s has no /coords" % a.dump)
        xy = d["coords"]
        fc = int(round(math.sqrt(xy.shape[0]))) - 1
        bcoo, bmass, _ = box_operators(fc)
        s = np.linspace(0, 1, fc + 1)
        bxy = np.stack(np.meshgrid(s, s), -1).reshape(-1, 2)
        if bxy.shape != xy.shape or np.abs(bxy - xy).max() > 1e-12:
            die("%s is not the natural-order box mesh with %d faces" % (a.dump, fc))
        check("box masses vs the C masses", float(np.abs(bmass - d["mass"]).max() / d["mass"].max()), 1e-12)
        coos, _, Ps, bxys = box_levels(fc, d["L"])
        for l in range(d["L"]):
            if l > 0 and (bxys[l].shape != d["level_xy"][l].shape or np.abs(bxys[l] - d["level_xy"][l]).max() > 1e-12):
                die("%s: level %d is not the natural-order box with %d cells" % (a.dump, l, int(math.sqrt(len(bxys[l]))) - 1))
            Ab = MeshOps(coos[l], len(bxys[l])).dense()
            Ac = MeshOps(d["level_ops"][l], len(bxys[l])).dense()
            for k, name in enumerate(OPS):
                check("level %d box %s vs the C operator" % (l, name),
                      float((Ab[k] - Ac[k]).abs().max() / Ac[k].abs().max()), 1e-12)
            if l > 0:
                def dense(c, shape):
                    M = np.zeros(shape)
                    np.add.at(M, (np.asarray(c[0], dtype=np.int64), np.asarray(c[1], dtype=np.int64)), c[2])
                    return M
                shape = (len(bxys[l - 1]), len(bxys[l]))
                check("level %d prolongation vs the C one" % l,
                      float(np.abs(dense(Ps[l - 1], shape) - dense(d["prolong"][l - 1], shape)).max()), 1e-12)

    print("selftest:", "PASS" if check.ok else "FAIL")
    return 0 if check.ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("reference", help="float64 forward + gradients of a tests/meshnet_dump file")
    p.add_argument("--dump", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("throughput", help="time training steps, print one JSON line")
    p.add_argument("--faces", type=int, default=63, help="box mesh cells per side (63 -> 64x64 vertices)")
    p.add_argument("--dump", default=None, help="take the operators and masses from a meshnet_dump file instead")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--levels", type=int, default=1, help="U-Net levels (1: -net_type meshnet)")
    p.add_argument("--groups", type=int, default=8)
    p.add_argument("--temb", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--double", action="store_true", help="float64 instead of float32")

    p = sub.add_parser("selftest", help="check this module")
    p.add_argument("--dump", default=None, help="also compare the box operators with a box-mesh dump")

    a = ap.parse_args(argv)
    if a.cmd == "reference":
        return cmd_reference(a)
    if a.cmd == "throughput":
        for k in ("faces", "width", "batch", "steps", "threads", "temb", "groups", "levels"):
            if getattr(a, k) < 1:
                die("--%s must be >= 1" % k)
        if a.depth < 0 or a.warmup < 0 or a.temb % 2 or a.width % a.groups:
            die("need --depth, --warmup >= 0, --temb even, --groups dividing --width")
        return cmd_throughput(a)
    return cmd_selftest(a)


if __name__ == "__main__":
    sys.exit(main())
