#!/usr/bin/python3
"""PyTorch side of tests/nn/test_torch_optim.cpp.

Reads a JSON job (initial weights of a 4-6-3 tanh MLP, inputs, targets, optimizer runs), trains
the same model with torch.optim in float64 and writes the final parameters, the losses, the
gradient norms returned by clip_grad_norm_ and the learning rates used, as JSON.
Exit code 77 (and a message) if torch is not installed (peer.py).
"""
import json
import sys

from peer import need

torch = need("torch", "python3-torch")


class MLP(torch.nn.Module):
    def __init__(self, sizes):
        super().__init__()
        for i in range(len(sizes) - 1):
            setattr(self, f"fc{i + 1}", torch.nn.Linear(sizes[i], sizes[i + 1]))
        self.n = len(sizes) - 1

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"fc{i + 1}")(x)
            if i + 1 < self.n:
                x = torch.tanh(x)
        return x


def make_optimizer(run, params):
    kind = run["opt"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=run["lr"], momentum=run["momentum"], dampening=run["dampening"],
                               nesterov=run["nesterov"], weight_decay=run["weight_decay"])
    if kind == "adam":
        return torch.optim.Adam(params, lr=run["lr"], betas=(run["beta1"], run["beta2"]), eps=run["eps"],
                                weight_decay=run["weight_decay"])
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=run["lr"], betas=(run["beta1"], run["beta2"]), eps=run["eps"],
                                 weight_decay=run["weight_decay"])
    raise ValueError(f"unknown optimizer {kind}")


def main():
    job_path, out_path = sys.argv[1], sys.argv[2]
    with open(job_path) as f:
        job = json.load(f)
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    X = torch.tensor(job["X"])
    Y = torch.tensor(job["Y"])
    results = []
    for run in job["runs"]:
        model = MLP(job["sizes"])
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.tensor(job["init"][name]))
        opt = make_optimizer(run, model.parameters())
        sched = None
        if run.get("cosine"):
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=run["cosine"]["T_max"],
                                                               eta_min=run["cosine"]["eta_min"])
        losses, norms, lrs = [], [], []
        for _ in range(run["steps"]):
            opt.zero_grad()
            loss = ((model(X) - Y) ** 2).mean()
            loss.backward()
            if run.get("clip"):
                norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), run["clip"])))
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched:
                sched.step()
            losses.append(loss.item())
        results.append({
            "name": run["name"],
            "params": {n: p.detach().reshape(-1).tolist() for n, p in model.named_parameters()},
            "losses": losses, "norms": norms, "lrs": lrs,
        })
    with open(out_path, "w") as f:
        json.dump({"torch": torch.__version__, "runs": results}, f)


if __name__ == "__main__":
    main()
