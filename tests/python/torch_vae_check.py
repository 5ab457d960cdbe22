#!/usr/bin/python3
"""PyTorch's side of tests/models/test_vae_torch.cpp.

Reads the weights, data and noise that the C++ test used (a JSON file), recomputes the VAE loss
(analytic KL, beta weight) and the IWAE-k loss with torch — the densities through
torch.distributions, not through our formulas — and writes both losses and every parameter's
gradient to a JSON file:  torch_vae_check.py IN.json OUT.json
"""
import json
import math
import sys

from peer import need

torch = need("torch", "python3-torch")  # exit 77 if not installed
import torch.nn.functional as F  # noqa: E402
from torch.distributions import Normal  # noqa: E402


def main(inp_path, out_path):
    inp = json.load(open(inp_path))
    dt = torch.float64 if inp["dtype"] == "F64" else torch.float32
    params = {n: torch.tensor(v["data"], dtype=dt).reshape(v["shape"]).requires_grad_() for n, v in inp["params"].items()}
    act = {"tanh": torch.tanh, "relu": torch.relu}[inp["activation"]]
    Z = inp["z_dim"]
    x = torch.tensor(inp["x"]["data"], dtype=dt).reshape(inp["x"]["shape"])
    eps1 = torch.tensor(inp["eps_vae"]["data"], dtype=dt).reshape(inp["eps_vae"]["shape"])
    epsk = torch.tensor(inp["eps_iwae"]["data"], dtype=dt).reshape(inp["eps_iwae"]["shape"])
    gaussian = inp["likelihood"] == "gaussian"

    def mlp(prefix, h):
        n = sum(1 for k in params if k.startswith(prefix + ".fc") and k.endswith(".weight"))
        for i in range(1, n + 1):
            h = F.linear(h, params[f"{prefix}.fc{i}.weight"], params[f"{prefix}.fc{i}.bias"])
            if i < n:
                h = act(h)
        return h

    def log_lik(z):  # log p(x|z) summed over pixels; z: [..., B, Z]
        out = mlp("decoder", z)
        if gaussian:
            lv = params["decoder_logvar"] if "decoder_logvar" in params else torch.tensor(inp["fixed_logvar"], dtype=dt)
            return Normal(out, torch.exp(0.5 * lv)).log_prob(x).sum(-1)
        return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)

    def encode():
        h = mlp("encoder", x)
        return h[:, :Z], h[:, Z:]

    result = {}
    # VAE: -(E_q log p(x|z) - beta KL), analytic KL
    mu, lv = encode()
    z = mu + torch.exp(0.5 * lv) * eps1
    kl = 0.5 * (torch.exp(lv) + mu ** 2 - 1 - lv).sum(-1)
    loss = -(log_lik(z) - inp["beta"] * kl).mean()
    grads = torch.autograd.grad(loss, list(params.values()))
    result["vae_loss"] = loss.item()
    result["vae_grads"] = {n: g.reshape(-1).tolist() for n, g in zip(params, grads)}
    # IWAE-k: -mean_B log mean_i p(x|z_i) p(z_i) / q(z_i|x)
    mu, lv = encode()
    q = Normal(mu, torch.exp(0.5 * lv))
    z = mu + torch.exp(0.5 * lv) * epsk
    logw = log_lik(z) + Normal(torch.zeros_like(z), torch.ones_like(z)).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    k = epsk.shape[0]
    loss = -(torch.logsumexp(logw, 0) - math.log(k)).mean()
    grads = torch.autograd.grad(loss, list(params.values()))
    result["iwae_loss"] = loss.item()
    result["iwae_grads"] = {n: g.reshape(-1).tolist() for n, g in zip(params, grads)}
    json.dump(result, open(out_path, "w"))


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: torch_vae_check.py IN.json OUT.json [IN2.json OUT2.json ...]")
    for i in range(0, len(args), 2):
        main(args[i], args[i + 1])
