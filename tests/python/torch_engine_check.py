#!/usr/bin/python3
"""PyTorch reference for tests/autodiff/test_torch_crosscheck.cpp.

Reads the weights, inputs and targets the C++ test wrote (JSON, argv[1]), evaluates the same
MLP and loss in torch.float64, and prints
{"loss": ..., "grads": {name: [flat values]}} as JSON; exit 77 if torch is not installed (peer.py).
The loss must stay written exactly as in the C++ test.
"""
import json
import math
import sys

from peer import need

torch = need("torch", "python3-torch")
import torch.nn.functional as F  # noqa: E402


def main(path):
    with open(path) as f:
        d = json.load(f)

    def t(name, grad):
        v = d[name]
        return torch.tensor(v["data"], dtype=torch.float64).reshape(v["shape"]).requires_grad_(grad)

    x, W1, b1, W2, b2 = (t(n, True) for n in ("x", "W1", "b1", "W2", "b2"))
    y, tgt = t("y", False), t("t", False)
    labels = torch.tensor(d["labels"], dtype=torch.int64)

    h = torch.tanh(F.linear(x, W1, b1))
    out = F.linear(h, W2, b2)                      # [N, 6]: mean | logvar | logits
    mu, logvar, logits = out[:, 0:2], out[:, 2:4], out[:, 4:6]
    log_density = -0.5 * (math.log(2 * math.pi) + logvar + (y - mu) ** 2 * torch.exp(-logvar))
    kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar)
    bce = F.binary_cross_entropy_with_logits(logits, tgt, reduction="none")
    loss = (torch.logsumexp(out, dim=1).mean()
            - log_density.mean()
            + kl.sum(dim=1).mean()
            + bce.mean()
            + F.nll_loss(F.log_softmax(out, dim=1), labels)
            + (torch.logsumexp(out, dim=0) - math.log(out.shape[0])).sum()   # log_mean_exp over the batch
            + F.softplus(out).mean() * 0.1)
    loss.backward()
    print(json.dumps({
        "loss": loss.item(),
        "torch": torch.__version__,
        "grads": {n: v.grad.reshape(-1).tolist() for n, v in (("x", x), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))},
    }))


if __name__ == "__main__":
    main(sys.argv[1])
