#!/usr/bin/python3
"""Kills from outside: each gradient-trained driver is started with frequent checkpoints, sent
SIGKILL at a random instant (anywhere in the run: while a step runs, while a checkpoint or a
picture is written, during the end-of-epoch evaluation), resumed with `--resume RUN`, and its final
checkpoint compared bit for bit with an uninterrupted run's (every tensor's bytes and the
generator and counters), its metrics.jsonl and summary.json record for record (wall-clock fields
aside), and its folder checked for leftover temporary files.

    scripts/kill_stress.py [--build build] [--instants 20] [--drivers vae,cvae,flow,mdn,classify]
                           [--seed 1] [--work DIR]

A kill before the first checkpoint leaves nothing to resume (the driver says so, and to start again):
then the folder is removed and the command run again, as a user would. The instants are drawn
uniformly over the uninterrupted run's wall time (measured first; shortened
to any quicker run's), from a generator seeded by --seed, so a failing instant can be replayed; a run that finished before its
instant is counted as such. Exits 1 if any resumed run differs; prints one line
per driver: instants tried, killed mid-run, resumed, bit-identical. Standard library only.
"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One small run per driver, a checkpoint every 2-3 steps and an evaluation at each epoch's end,
# about one to two seconds each in Release.
RUNS = {
    "vae": "--data digits --arch 64 --latent 4 --epochs 2 --batch 200 --eval-k 20 --eval-n 50 --naive-n 0 "
           "--log-every 5 --checkpoint-every 3 --seed 5",
    "cvae": "--condition actions --n-train 2048 --n-test 64 --samples 4 --eval-k 20 --arch 32 --prior-arch 16 "
            "--latent 2 --components 2 --batch 64 --epochs 4 --log-every 4 --checkpoint-every 3 --seed 5",
    "flow": "--data two_moons --n 4000 --n-test 500 --hidden 32,32 --epochs 3 --batch 128 --log-every 5 "
            "--checkpoint-every 2 --seed 5",
    "mdn": "--n-train 2000 --n-test 500 --hidden 32,32 --epochs 4 --batch 100 --log-every 5 --checkpoint-every 3 --seed 5",
    "classify": "--data digits --hidden 64 --epochs 1 --batch 128 --log-every 5 --checkpoint-every 2 --seed 5",
}
WALL_CLOCK = {"seconds", "train_seconds"}


def read_safetensors(path):
    """(header without data offsets, {name: bytes}) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        tensors[name] = (t["dtype"], tuple(t["shape"]), data[a:b])
    return header.get("__metadata__", {}), tensors


def records(run):
    out = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            for k in WALL_CLOCK:
                j.pop(k, None)
            out.append(j)
    return out


def summary(run):
    with open(os.path.join(run, "summary.json")) as f:
        j = json.load(f)
    for k in WALL_CLOCK:
        j.pop(k, None)
    return j


def differences(ref, run):
    """What differs between two finished run folders ([] if nothing)."""
    out = []
    meta_a, ta = read_safetensors(os.path.join(ref, "checkpoint.safetensors"))
    meta_b, tb = read_safetensors(os.path.join(run, "checkpoint.safetensors"))
    if sorted(ta) != sorted(tb):
        out.append("checkpoint tensor names differ")
    for name in ta:
        if name in tb and ta[name] != tb[name]:
            out.append("checkpoint tensor %s differs" % name)
    for k in ("rng.state", "optim.step", "train.step", "train.epochs_done", "train.records"):
        if meta_a.get(k) != meta_b.get(k):
            out.append("checkpoint %s: %s vs %s" % (k, meta_a.get(k), meta_b.get(k)))
    if records(ref) != records(run):
        out.append("metrics.jsonl differs")
    if summary(ref) != summary(run):
        out.append("summary.json differs")
    leftovers = [f for f in os.listdir(run) if ".tmp" in f or ".plot-" in f]
    if leftovers:
        out.append("temporary files left: %s" % ", ".join(sorted(leftovers)))
    return out


def run(cmd, timeout=600):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--instants", type=int, default=20)
    ap.add_argument("--drivers", default="vae,cvae,flow,mdn,classify")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None, help="scratch folder (default: BUILD/kill-stress)")
    a = ap.parse_args()
    drivers = [d for d in a.drivers.split(",") if d]
    for d in drivers:
        if d not in RUNS:
            sys.exit("kill_stress: unknown driver '%s' (expected one of %s)" % (d, ", ".join(RUNS)))
    if a.instants < 1:
        sys.exit("kill_stress: --instants must be at least 1")
    work = a.work or os.path.join(a.build, "kill-stress")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rng = random.Random(a.seed)
    failed = False
    for d in drivers:
        exe = os.path.join(a.build, "bin", d)
        if not os.access(exe, os.X_OK):
            sys.exit("kill_stress: %s is not built (cmake --build %s --target %s)" % (exe, a.build, d))
        args = RUNS[d].split()
        ref = os.path.join(work, d, "ref")
        t0 = time.monotonic()
        r = run([exe] + args + ["--out", ref])
        wall = ref_wall = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit("kill_stress: the uninterrupted %s run failed (%d): %s" % (d, r.returncode, r.stderr))
        killed = resumed = identical = finished_first = restarted = 0
        for i in range(a.instants):
            at = rng.uniform(0.0, wall)
            folder = os.path.join(work, d, "k%02d" % i)
            p = subprocess.Popen([exe] + args + ["--out", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = time.monotonic()
            time.sleep(at)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                killed += 1
                p.wait()
            else:
                finished_first += 1
                p.wait()
                # the run was quicker than the uninterrupted one (a busy machine then): draw the
                # next instants over the shorter time, so that they land inside runs
                wall = min(wall, time.monotonic() - started)
            r = None
            if os.path.exists(os.path.join(folder, "config.json")):
                r = run([exe, "--resume", folder])
                if r.returncode == 2 and "stopped before its first checkpoint" in r.stderr:
                    r = None  # the driver says there is nothing to resume, and to start again
            if r is None:  # killed before the run folder or its first checkpoint existed: start again
                restarted += 1
                shutil.rmtree(folder, ignore_errors=True)
                r = run([exe] + args + ["--out", folder])
            if r.returncode != 0:
                print("kill_stress: %s instant %d (%.3f s of %.3f): the resumed run failed (%d): %s"
                      % (d, i, at, wall, r.returncode, r.stderr.strip()), file=sys.stderr)
                failed = True
                continue
            resumed += 1
            diff = differences(ref, folder)
            if diff:
                print("kill_stress: %s instant %d (%.3f s of %.3f, seed %d): %s"
                      % (d, i, at, wall, a.seed, "; ".join(diff)), file=sys.stderr)
                failed = True
            else:
                identical += 1
        print("kill_stress: %-8s run %.2f s, %d instants: %d killed mid-run (%d had finished), %d resumed "
              "(%d of them started again: killed before a first checkpoint), %d bit-identical"
              % (d, ref_wall, a.instants, killed, finished_first, resumed, restarted, identical))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
