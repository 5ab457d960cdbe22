#!/usr/bin/python3
"""PyTorch's side of bench/vae.sh: the pytorch/examples VAE (784-400-20-400-784, ReLU, Bernoulli
logits, Adam 1e-3, batch 128) trained on Fashion-MNIST; prints images/s (the best of 3 timing
windows, as bench_vae does) and peak RSS.

  vae_torch.py THREADS SECONDS
"""
import gzip
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import print_env  # noqa: E402


class VAE(nn.Module):  # pytorch/examples vae/main.py, with logits out (BCE-with-logits as the loss)
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def main(threads, seconds, windows=3):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    print_env()
    with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
        x = torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, warm, t0, best, window = 0, 0, None, 0.0, 0
    while True:
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 128):
            xb = x[perm[i:i + 128]]
            logits, mu, logvar = model(xb)
            bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (bce + kld) / xb.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
            if t0 is None:
                warm += 1
                if warm == 20:
                    t0 = time.perf_counter()
                continue
            images += xb.shape[0]
            if time.perf_counter() - t0 >= seconds / windows:  # best of `windows` timing windows
                best = max(best, images / (time.perf_counter() - t0))
                window += 1
                if window == windows:
                    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    print(f"images_per_s={best:.1f} peak_rss_mb={rss:.1f}")
                    return
                images, t0 = 0, time.perf_counter()


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
