#!/usr/bin/python3
"""PyTorch peer of bench/flow.cpp: issue 14's flow recipe written out from the formulas of
models/flow.hpp (RealNVP affine couplings with alternating masks, each net a 2-128-128-4 ReLU MLP
whose last layer starts at zero, log-scale s = (1-m) * scale * tanh(raw) with a learned scale
initialised to 1, shift t = (1-m) * shift; y = x * exp(s) + t, log|det| = sum s; base N(0, I)),
float32, Adam 1e-3 (torch.optim.Adam), batch 256, on the two-moons points bench_flow writes.

  flow_torch.py --data-dir D [--case affine] [--threads 1,2] [--seconds 2] [--repeats 5]
      steps per second: prints `peer case=<c> threads=<n> steps_per_s=<v>` lines
  flow_torch.py --data-dir D --train --seed S [--epochs 39]
      trains as build/bin/flow does (shuffled epochs of batch 256, the last one short) and prints
      `peer case=<c> seed=<s> steps=<n> test_nll=<v> base_test_ll=<b>` (nats per point)
D holds train.csv and test.csv (bench_flow --write-data D). Without torch: `peer skipped: <reason>`.
CASES maps a case name to its coupling class: a spline coupling is one more entry.
"""
import argparse
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print("peer skipped: python3-torch not installed (%s)" % e)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import print_env  # noqa: E402

BATCH, LR, DIM, HIDDEN, COUPLINGS = 256, 1e-3, 2, (128, 128), 8


class AffineCoupling(nn.Module):
    def __init__(self, parity, dim=DIM, hidden=HIDDEN):
        super().__init__()
        mask = torch.tensor([1.0 if j % 2 == parity else 0.0 for j in range(dim)])
        self.register_buffer("mask", mask)
        self.register_buffer("keep", 1 - mask)
        self.scale = nn.Parameter(torch.ones(dim))
        sizes = [dim, *hidden, 2 * dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))  # U(+-1/sqrt(in)), as ours
        with torch.no_grad():  # the flow starts as the identity
            self.layers[-1].weight.zero_()
            self.layers[-1].bias.zero_()

    def forward(self, x):
        h = x * self.mask
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i + 1 < len(self.layers):
                h = F.relu(h)
        raw, shift = h.chunk(2, dim=1)
        s = torch.tanh(raw) * self.scale * self.keep
        return x * torch.exp(s) + shift * self.keep, s.sum(1)


# The spline is the cross-check's (tests/python/torch_flow_check.py, written from Durkan et al.'s
# formulas), so the bench times the implementation that is held to ours within 1e-10 in double.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from torch_flow_check import rq_spline  # noqa: E402

BINS, TAIL_BOUND = 8, 3.0


class SplineCoupling(nn.Module):
    def __init__(self, parity, dim=DIM, hidden=HIDDEN, bins=BINS, bound=TAIL_BOUND):
        super().__init__()
        mask = torch.tensor([1.0 if j % 2 == parity else 0.0 for j in range(dim)])
        self.register_buffer("mask", mask)
        self.cols = [j for j in range(dim) if j % 2 != parity]
        self.bins, self.bound = bins, bound
        per = 3 * bins - 1
        sizes = [dim, *hidden, len(self.cols) * per]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        with torch.no_grad():  # the identity, as ours: derivative biases log(e^(1 - 1e-3) - 1)
            self.layers[-1].weight.zero_()
            bias = torch.zeros(len(self.cols), per)
            bias[:, 2 * bins:] = math.log(math.expm1(1 - 1e-3))
            self.layers[-1].bias.copy_(bias.reshape(-1))

    def forward(self, x):
        h = x * self.mask
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i + 1 < len(self.layers):
                h = F.relu(h)
        K = self.bins
        raw = h.reshape(x.shape[0], len(self.cols), 3 * K - 1)
        yt, logd = rq_spline(x[:, self.cols], raw[..., :K], raw[..., K:2 * K], raw[..., 2 * K:], self.bound)
        y = x.clone()
        y[:, self.cols] = yt
        return y, logd.sum(1)


CASES = {"affine": AffineCoupling, "spline": SplineCoupling}


class Flow(nn.Module):
    def __init__(self, coupling, couplings=COUPLINGS):
        super().__init__()
        self.steps = nn.ModuleList(coupling(k % 2) for k in range(couplings))

    def log_prob(self, x):
        log_det = 0
        for step in self.steps:
            x, ld = step(x)
            log_det = log_det + ld
        return -0.5 * (x * x).sum(1) - 0.5 * DIM * math.log(2 * math.pi) + log_det


def load(d, name):
    return torch.from_numpy(np.loadtxt(os.path.join(d, name), delimiter=",", skiprows=1, dtype=np.float32))


class Training:
    def __init__(self, case, train, seed):
        torch.manual_seed(seed)
        self.flow = Flow(CASES[case])
        self.opt = torch.optim.Adam(self.flow.parameters(), lr=LR)
        self.train, self.batches = train, []

    def epoch(self):
        perm = torch.randperm(self.train.shape[0])
        self.batches = [perm[i:i + BATCH] for i in range(0, self.train.shape[0], BATCH)]

    def step(self):
        if not self.batches:
            self.epoch()
        xb = self.train[self.batches.pop(0)]
        loss = -self.flow.log_prob(xb).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


def rate(f, seconds, repeats):  # bench/engine_torch.py's rule: median of `repeats` blocks
    for _ in range(20):
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
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--case", default="affine", choices=sorted(CASES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=39)
    a = ap.parse_args()
    train = load(a.data_dir, "train.csv")
    print_env()
    if a.train:
        torch.set_num_threads(int(a.threads.split(",")[0]))
        t = Training(a.case, train, a.seed)
        steps = 0
        for _ in range(a.epochs):
            t.epoch()
            while t.batches:
                t.step()
                steps += 1
        test = load(a.data_dir, "test.csv")
        with torch.no_grad():
            nll = -t.flow.log_prob(test).double().mean().item()
            base = (-0.5 * (test.double() ** 2).sum(1) - math.log(2 * math.pi)).mean().item()
        print("peer case=%s seed=%d steps=%d test_nll=%.6f base_test_ll=%.6f" % (a.case, a.seed, steps, nll, base))
        return
    for n in (int(v) for v in a.threads.split(",")):
        torch.set_num_threads(n)
        t = Training(a.case, train, 0)  # a fresh flow per setting, as bench_flow
        print("peer case=%s threads=%d steps_per_s=%.2f" % (a.case, n, rate(t.step, a.seconds, a.repeats)), flush=True)
    print("peer torch=%s" % torch.__version__)


if __name__ == "__main__":
    main()
