#!/usr/bin/python3
"""PyTorch peer of bench/engine.cpp: the same 784-400-20 ReLU MLP step (batch 128, float32,
log_softmax + nll, backward, SGD update), steps per second at each thread count.

  /usr/bin/python3 bench/engine_torch.py [--threads 1,2] [--seconds 2] [--repeats 5]
Prints `peer threads=<n> steps_per_s=<v>` lines, or `peer skipped: <reason>` without torch.
"""
import argparse
import os
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print("peer skipped: python3-torch not installed (%s)" % e)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import print_env  # noqa: E402

BATCH, IN, HIDDEN, OUT, LR = 128, 784, 400, 20, 0.01


def rate(f, seconds, repeats):
    for _ in range(5):
        f()
    t0 = time.perf_counter()
    probe = 0
    while time.perf_counter() - t0 < 0.1:
        f()
        probe += 1
    per_block = max(1, int(probe * seconds / repeats / (time.perf_counter() - t0)))
    r = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(per_block):
            f()
        r.append(per_block / (time.perf_counter() - t))
    return sorted(r)[len(r) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(1)
    print_env()
    lin1, lin2 = torch.nn.Linear(IN, HIDDEN), torch.nn.Linear(HIDDEN, OUT)  # float32, PyTorch's init
    params = list(lin1.parameters()) + list(lin2.parameters())
    x = torch.randn(BATCH, IN)
    y = torch.randint(0, OUT, (BATCH,))

    def step():
        loss = F.nll_loss(F.log_softmax(lin2(F.relu(lin1(x))), dim=1), y)
        loss.backward()
        with torch.no_grad():
            # Plain SGD as ours, in PyTorch's fastest form here: a fused in-place add_ (both
            # `p.sub_(LR * p.grad)` and torch.optim.SGD measured slower on this machine).
            for p in params:
                p.add_(p.grad, alpha=-LR)
                p.grad = None
        return loss.item()

    for t in (int(v) for v in a.threads.split(",")):
        torch.set_num_threads(t)
        print("peer threads=%d steps_per_s=%.2f" % (t, rate(step, a.seconds, a.repeats)), flush=True)
    print("peer torch=%s" % torch.__version__)


if __name__ == "__main__":
    main()
