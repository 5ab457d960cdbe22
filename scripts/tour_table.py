#!/usr/bin/python3
"""The tour's closing table: one row per run folder of scripts/demo.sh, read from its summary.json.

  scripts/tour_table.py runs/demo            prints the table (Markdown) and writes runs/demo/table.md
Each number carries its standard error over the test examples where the driver reports one.
"""
import json
import os
import sys


def pm(d):
    return f"{d['mean']:.2f} ± {d['se']:.2f}"


def rows(out):
    def load(name):
        path = os.path.join(out, name, "summary.json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    s = load("classify")
    if s:
        yield ("classify", "MLP 784-256-10", "digits", f"test accuracy {s['test_accuracy']:.3f}",
               s["train_seconds"])
    s = load("gmm")
    if s:
        yield ("gmm", "GMM by EM, K by BIC", "8 Gaussians",
               f"K = {s['k']}, mean log-likelihood {s['mean_log_likelihood']:.3f} nats (fitted points)", None)
    s = load("vae-2d")
    if s:
        yield ("vae-2d", "VAE, 2-D latent", "digits", f"test log p(x) {pm(s['log_px'])} nats", s["train_seconds"])
    for k in (1, 5):
        s = load(f"iwae-k{k}")
        if s:
            yield (f"iwae-k{k}", "VAE" if k == 1 else f"IWAE k = {k}", "digits",
                   f"test log p(x) {pm(s['log_px'])} nats", s["train_seconds"])
    s = load("flow")
    if s:
        yield ("flow", "RealNVP flow", "two moons",
               f"test log p(x) {s['test_log_likelihood']:.3f} ± {s['test_log_likelihood_se']:.3f} nats",
               s["train_seconds"])
    s = load("mdn")
    if s:
        yield ("mdn", "MDN (M = 5) vs unimodal", "inverted sine",
               f"test NLL {s['test_nll_mdn']:.3f} ± {s['test_nll_mdn_se']:.3f} vs "
               f"{s['test_nll_unimodal']:.3f} ± {s['test_nll_unimodal_se']:.3f} nats", s["train_seconds"])
    s = load("cvae")
    if s:
        yield ("cvae", "CVAE vs deterministic baseline", "digits, 1 quadrant seen",
               f"missing pixels' NLL {pm(s['cvae_nll'])} vs {pm(s['baseline_nll'])} nats", s["train_seconds"])
    s = load("actions")
    if s:
        parts = []
        for m in ("unimodal", "mdn", "cvae"):
            if m in s:
                parts.append(f"{m} {s[m]['sampled']['collision_rate']:.2f}")
        yield ("actions", "unimodal, MDN, CVAE", "action chunks, 1 obstacle",
               "sampled collisions: " + ", ".join(parts), s["train_seconds"])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/demo"
    lines = ["| run | model | data | test result (± standard error) | train s |", "|---|---|---|---|---|"]
    for name, model, data, result, secs in rows(out):
        t = f"{secs:.1f}" if secs is not None else "–"
        lines.append(f"| `{name}` | {model} | {data} | {result} | {t} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
