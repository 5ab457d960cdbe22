#!/usr/bin/python3
"""PyTorch's side of tests/models/test_flow_torch.cpp.

Reads a flow's layers, weights and input (a JSON file), recomputes log p(x [| c]) from the papers'
formulas with torch autograd (RealNVP's affine coupling with a tanh-bounded log-scale, Glow's
ActNorm and LU-parameterised linear map, and Durkan et al.'s rational-quadratic spline with
identity tails; nflows is not imported), and writes the per-row log-likelihoods and the gradients
of their negated mean with respect to every parameter and to x; and, given base noise z, the
samples x = f^{-1}(z [; c]) by each layer's inverse written from the same papers (the spline's by
the root of its quadratic, Durkan et al. eqs. 6-8), layers taken in reverse order:
    torch_flow_check.py IN.json OUT.json [IN2.json OUT2.json ...]
"""
import json
import math
import sys

from peer import need

torch = need("torch", "python3-torch")  # exit 77 if not installed
import torch.nn.functional as F  # noqa: E402

DT = torch.float64
MIN_BIN_WIDTH = MIN_BIN_HEIGHT = MIN_DERIVATIVE = 1e-3


def tensor(v):
    return torch.tensor(v["data"], dtype=DT).reshape(v["shape"])


def mlp(params, prefix, h, act):
    n = sum(1 for k in params if k.startswith(prefix + ".fc") and k.endswith(".weight"))
    for i in range(1, n + 1):
        h = F.linear(h, params[f"{prefix}.fc{i}.weight"], params[f"{prefix}.fc{i}.bias"])
        if i < n:
            h = act(h)
    return h


def knots(raw, bound, min_bin):
    """Cumulative knot positions [..., K+1] from -bound to bound and the bin sizes [..., K]."""
    K = raw.shape[-1]
    size = min_bin + (1 - min_bin * K) * torch.softmax(raw, dim=-1)
    inner = -bound + 2 * bound * torch.cumsum(size, dim=-1)[..., :-1]
    edge = torch.full(raw.shape[:-1] + (1,), bound, dtype=raw.dtype)  # float32 too (bench/flow_torch.py)
    k = torch.cat([-edge, inner, edge], dim=-1)
    return k, k[..., 1:] - k[..., :-1]


def rq_spline(x, uw, uh, ud, bound):
    """Durkan et al. (2019), eq. (4) and the derivative (5); identity outside [-B, B]. The spline is
    evaluated on x replaced by 0 in the tails, so its untaken branch is finite (no 0 * NaN)."""
    inside = (x >= -bound) & (x <= bound)
    xin = torch.where(inside, x, torch.zeros_like(x))
    K = uw.shape[-1]
    cw, widths = knots(uw, bound, MIN_BIN_WIDTH)
    ch, heights = knots(uh, bound, MIN_BIN_HEIGHT)
    one = torch.ones(ud.shape[:-1] + (1,), dtype=ud.dtype)
    deriv = torch.cat([one, MIN_DERIVATIVE + F.softplus(ud), one], dim=-1)
    k = (xin[..., None] >= cw[..., 1:K]).sum(dim=-1, keepdim=True)  # the bin; x = B is in bin K-1

    def at(t, idx):
        return t.gather(-1, idx)[..., 0]

    xk, w, yk, h = at(cw, k), at(widths, k), at(ch, k), at(heights, k)
    d0, d1 = at(deriv, k), at(deriv, k + 1)
    s = h / w
    theta = (xin - xk) / w
    tau = theta * (1 - theta)
    den = s + (d0 + d1 - 2 * s) * tau
    y = yk + h * (s * theta ** 2 + d0 * tau) / den
    dnum = d1 * theta ** 2 + 2 * s * tau + d0 * (1 - theta) ** 2
    logd = 2 * torch.log(s) + torch.log(dnum) - 2 * torch.log(den)
    return torch.where(inside, y, x), torch.where(inside, logd, torch.zeros_like(logd))


def coupling_input(x, c, parity):
    D = x.shape[1]
    m = torch.tensor([1.0 if j % 2 == parity else 0.0 for j in range(D)], dtype=DT)
    h = x * m
    return m, (torch.cat([h, c], dim=1) if c is not None else h)


def affine(layer, params, x, c, act):
    p = layer["prefix"]
    D = x.shape[1]
    m, h = coupling_input(x, c, layer["parity"])
    out = mlp(params, p + ".net", h, act)
    s = (1 - m) * params[p + ".scale"] * torch.tanh(out[:, :D])
    t = (1 - m) * out[:, D:]
    return x * torch.exp(s) + t, s.sum(1)


def spline(layer, params, x, c, act):
    p, K, B = layer["prefix"], layer["bins"], layer["tail_bound"]
    N, D = x.shape
    _, h = coupling_input(x, c, layer["parity"])
    cols = [j for j in range(D) if j % 2 != layer["parity"]]
    raw = mlp(params, p + ".net", h, act).reshape(N, len(cols), 3 * K - 1)
    yt, logd = rq_spline(x[:, cols], raw[..., :K], raw[..., K:2 * K], raw[..., 2 * K:], B)
    y = torch.stack([yt[:, cols.index(j)] if j in cols else x[:, j] for j in range(D)], dim=1)
    return y, logd.sum(1)


def actnorm(layer, params, x):
    ls, b = params[layer["prefix"] + ".log_scale"], params[layer["prefix"] + ".bias"]
    return x * torch.exp(ls) + b, ls.sum().expand(x.shape[0])


def lu(layer, params, x):
    p = layer["prefix"]
    D = x.shape[1]
    P = torch.zeros(D, D, dtype=DT)
    for i, j in enumerate(layer["perm"]):
        P[i, j] = 1
    L = torch.tril(params[p + ".lower"], -1) + torch.eye(D, dtype=DT)
    U = torch.triu(params[p + ".upper"], 1) + torch.diag(torch.exp(params[p + ".log_diag"]))
    return x @ (P @ L @ U).T, params[p + ".log_diag"].sum().expand(x.shape[0])


def rq_spline_inverse(y, uw, uh, ud, bound):
    """The inverse of rq_spline: in y's bin, θ is the root in [0, 1] of a θ² + b θ + c = 0
    (Durkan et al. 2019, eqs. 6-8, in the numerically stable form 2c / (−b − √(b² − 4ac)))."""
    inside = (y >= -bound) & (y <= bound)
    yin = torch.where(inside, y, torch.zeros_like(y))
    K = uw.shape[-1]
    cw, widths = knots(uw, bound, MIN_BIN_WIDTH)
    ch, heights = knots(uh, bound, MIN_BIN_HEIGHT)
    one = torch.ones(ud.shape[:-1] + (1,), dtype=ud.dtype)
    deriv = torch.cat([one, MIN_DERIVATIVE + F.softplus(ud), one], dim=-1)
    k = (yin[..., None] >= ch[..., 1:K]).sum(dim=-1, keepdim=True)

    def at(t, idx):
        return t.gather(-1, idx)[..., 0]

    xk, w, yk, h = at(cw, k), at(widths, k), at(ch, k), at(heights, k)
    d0, d1 = at(deriv, k), at(deriv, k + 1)
    s = h / w
    dy = yin - yk
    a = h * (s - d0) + dy * (d0 + d1 - 2 * s)
    b = h * d0 - dy * (d0 + d1 - 2 * s)
    c = -s * dy
    theta = 2 * c / (-b - torch.sqrt(b * b - 4 * a * c))
    x = xk + theta * w
    return torch.where(inside, x, y)


def invert(layers, params, z, c):
    """x = f^{-1}(z; c): every layer's inverse, last layer first."""
    h = z
    for layer in reversed(layers):
        act = {"tanh": torch.tanh, "relu": torch.relu}.get(layer.get("activation"))
        p, D = layer["prefix"], h.shape[1]
        if layer["type"] == "affine":
            m, inp = coupling_input(h, c, layer["parity"])  # the kept coordinates are unchanged
            out = mlp(params, p + ".net", inp, act)
            s = (1 - m) * params[p + ".scale"] * torch.tanh(out[:, :D])
            t = (1 - m) * out[:, D:]
            h = (h - t) * torch.exp(-s)
        elif layer["type"] == "spline":
            K, B, N = layer["bins"], layer["tail_bound"], h.shape[0]
            _, inp = coupling_input(h, c, layer["parity"])
            cols = [j for j in range(D) if j % 2 != layer["parity"]]
            raw = mlp(params, p + ".net", inp, act).reshape(N, len(cols), 3 * K - 1)
            xt = rq_spline_inverse(h[:, cols], raw[..., :K], raw[..., K:2 * K], raw[..., 2 * K:], B)
            h = torch.stack([xt[:, cols.index(j)] if j in cols else h[:, j] for j in range(D)], dim=1)
        elif layer["type"] == "actnorm":
            h = (h - params[p + ".bias"]) * torch.exp(-params[p + ".log_scale"])
        elif layer["type"] == "lu":
            P = torch.zeros(D, D, dtype=DT)
            for i, j in enumerate(layer["perm"]):
                P[i, j] = 1
            L = torch.tril(params[p + ".lower"], -1) + torch.eye(D, dtype=DT)
            U = torch.triu(params[p + ".upper"], 1) + torch.diag(torch.exp(params[p + ".log_diag"]))
            h = torch.linalg.solve(P @ L @ U, h.T).T  # y = x Wᵀ  ⇔  x = (W⁻¹ yᵀ)ᵀ
        else:
            sys.exit(f"torch_flow_check.py: unknown layer type {layer['type']}")
    return h


def main(inp_path, out_path):
    inp = json.load(open(inp_path))
    params = {n: tensor(v).requires_grad_() for n, v in inp["params"].items()}
    x = tensor(inp["x"]).requires_grad_()
    c = tensor(inp["c"]) if "c" in inp else None
    h, total = x, torch.zeros(x.shape[0], dtype=DT)
    for layer in inp["layers"]:
        act = {"tanh": torch.tanh, "relu": torch.relu}.get(layer.get("activation"))
        if layer["type"] == "affine":
            h, ld = affine(layer, params, h, c, act)
        elif layer["type"] == "spline":
            h, ld = spline(layer, params, h, c, act)
        elif layer["type"] == "actnorm":
            h, ld = actnorm(layer, params, h)
        elif layer["type"] == "lu":
            h, ld = lu(layer, params, h)
        else:
            sys.exit(f"torch_flow_check.py: unknown layer type {layer['type']}")
        total = total + ld
    D = x.shape[1]
    log_prob = -0.5 * D * math.log(2 * math.pi) - 0.5 * (h ** 2).sum(1) + total
    loss = -log_prob.mean()
    grads = torch.autograd.grad(loss, [x] + list(params.values()))
    out = {"log_prob": log_prob.tolist(), "mean_log_prob": -loss.item(), "grad_x": grads[0].reshape(-1).tolist(),
           "grads": {n: g.reshape(-1).tolist() for n, g in zip(params, grads[1:])}}
    if "z" in inp:
        with torch.no_grad():
            out["samples"] = invert(inp["layers"], params, tensor(inp["z"]), c).reshape(-1).tolist()
    json.dump(out, open(out_path, "w"))


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: torch_flow_check.py IN.json OUT.json [IN2.json OUT2.json ...]")
    for i in range(0, len(args), 2):
        main(args[i], args[i + 1])
