#!/usr/bin/python3
"""The action-chunk contrast over seeds: `cvae --condition actions` at the driver's defaults, with one
obstacle and with two (--p-left 0.5), seeds 1-3, and one Markdown table of every model's figures
(mean and range over the seeds) against the issue's goals; the runs stay in runs/actions-S-O/.

    scripts/action_table.py [--build build] [--seeds 1,2,3] [--out docs/action-chunks-table.md]

Standard library only. The table is what docs/cvae.md shows; scripts/figures.sh runs this.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL = 0.05  # sampled and deterministic collisions, and the mode-share error, at most this


def run(exe, obstacles, seed):
    out = os.path.join(REPO, "runs", "actions-s%d-o%d" % (seed, obstacles))
    shutil.rmtree(out, ignore_errors=True)  # a fresh run each time (the driver refuses a used folder)
    subprocess.run([exe, "--condition", "actions", "--obstacles", str(obstacles), "--p-left", "0.5", "--seed", str(seed),
                    "--out", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def cell(values, fmt="%.3f"):
    lo, hi, mean = min(values), max(values), sum(values) / len(values)
    return (fmt % mean) + " (" + (fmt % lo) + " to " + (fmt % hi) + ")"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--out", default=None, help="also write the table to this file")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bin", "cvae")
    if not os.access(exe, os.X_OK):
        sys.exit("action_table: %s is not built" % exe)
    seeds = [int(s) for s in a.seeds.split(",")]
    lines = ["| obstacles | model | sampled collisions | deterministic collisions | worst mode-share error | test NLL (nats) | goals (every seed) |",
             "|---|---|---|---|---|---|---|"]
    for obstacles in (1, 2):
        runs = [run(exe, obstacles, s) for s in seeds]
        uni_nll = [r["unimodal"]["test_nll"]["mean"] for r in runs]
        for model in ("unimodal", "mdn", "cvae"):
            sc = [r[model]["sampled"]["collision_rate"] for r in runs]
            dc = [r[model]["deterministic"]["collision_rate"] for r in runs]
            me = [r[model]["mode_shares"]["max_abs_error"] for r in runs]
            nll = [r[model]["test_nll"]["mean"] for r in runs]
            se = [r[model]["test_nll"]["se"] for r in runs]
            if model == "unimodal":
                goals = "the contrast"
            else:
                missed = []
                if max(sc) > GOAL: missed.append("sampled")
                if max(dc) > GOAL: missed.append("deterministic")
                if max(me) > GOAL: missed.append("shares")
                # NLL better than the unimodal's by more than 2 standard errors of each seed's pair
                u_se = [r["unimodal"]["test_nll"]["se"] for r in runs]
                if any(not (n < u - 2 * (s * s + t * t) ** 0.5) for n, u, s, t in zip(nll, uni_nll, se, u_se)):
                    missed.append("NLL")
                goals = "met" if not missed else "missed: " + ", ".join(missed)
            lines.append("| %d | %s | %s | %s | %s | %s | %s |" % (obstacles, model, cell(sc), cell(dc), cell(me),
                                                                cell(nll, "%.1f"), goals))
    table = "\n".join(lines) + "\n"
    sys.stdout.write(table)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(table)
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
