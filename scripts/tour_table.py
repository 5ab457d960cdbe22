#!/usr/bin/python3
"""The tour's closing table: one row per run folder of scripts/demo.sh, read from its summary.json.

  scripts/tour_table.py runs/demo            prints the table (Markdown), writes runs/demo/table.md and
                                             runs/demo/index.html (the table as a page, each run
                                             linked to its own page, its pictures as thumbnails)
Each number carries its standard error over the test examples where the driver reports one.
The page is static like the runs' own (train/page.cpp): relative links only, no script.
"""
import html
import json
import os
import sys
import urllib.parse


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


def page(out, table):
    """runs/demo/index.html: the table, each run's name a link to its page, then every run folder
    (those the table has no row for too) with its pictures as thumbnails."""
    e = html.escape
    q = urllib.parse.quote
    body = ["<!DOCTYPE html>", '<html lang="en">', '<head><meta charset="utf-8"><title>latentzoo tour</title>',
            "<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em}"
            "table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}"
            "img{height:160px;border:1px solid #ddd;margin:2px}</style></head>", "<body>",
            "<h1>latentzoo tour (scripts/demo.sh)</h1>",
            '<p>The table as Markdown: <a href="table.md">table.md</a>. Each run\'s name opens its own page.</p>',
            "<table><tr><th>run</th><th>model</th><th>data</th><th>test result (± standard error)</th><th>train s</th></tr>"]
    for name, model, data, result, secs in table:
        t = f"{secs:.1f}" if secs is not None else "–"
        link = f"{q(name)}/index.html" if os.path.exists(os.path.join(out, name, "index.html")) else f"{q(name)}/"
        body.append(f'<tr><td><a href="{e(link)}">{e(name)}</a></td><td>{e(model)}</td><td>{e(data)}</td>'
                    f"<td>{e(result)}</td><td>{t}</td></tr>")
    body.append("</table>")
    for name in sorted(os.listdir(out)):
        d = os.path.join(out, name)
        if not os.path.isdir(d):
            continue
        link = f"{q(name)}/index.html" if os.path.exists(os.path.join(d, "index.html")) else f"{q(name)}/"
        body.append(f'<h2><a href="{e(link)}">{e(name)}</a></h2><p>')
        for png in sorted(f for f in os.listdir(d) if f.endswith(".png") and f != "page.png"):
            src = e(f"{q(name)}/{q(png)}")
            body.append(f'<a href="{src}"><img src="{src}" alt="{e(name)}/{e(png)}"></a>')
        body.append("</p>")
    body += ["</body>", "</html>", ""]
    tmp = os.path.join(out, f"index.html.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(body))
    os.replace(tmp, os.path.join(out, "index.html"))  # atomically, as the runs' pages are


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/demo"
    table = list(rows(out))
    lines = ["| run | model | data | test result (± standard error) | train s |", "|---|---|---|---|---|"]
    for name, model, data, result, secs in table:
        t = f"{secs:.1f}" if secs is not None else "–"
        lines.append(f"| `{name}` | {model} | {data} | {result} | {t} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text)
    page(out, table)


if __name__ == "__main__":
    main()
