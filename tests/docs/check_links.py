#!/usr/bin/python3
"""Every relative link and picture in README.md and docs/*.md resolves: the file exists and, for
`file.md#anchor` or `#anchor`, a heading of that file has that anchor (GitHub's rule: lower case,
punctuation dropped, spaces to hyphens). Links to http(s) and mailto are not followed.

  check_links.py REPO          exit 0 if all resolve; else one line per broken link, exit 1
  check_links.py --self-test   the checker on a planted broken link and anchor must fail
"""
import os
import re
import sys
import tempfile

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def anchor(heading):
    h = heading.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)  # drop punctuation (backticks, dots, parentheses, ...)
    return h.replace(" ", "-")


def headings(path):
    out, fenced = set(), False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                fenced = not fenced
            elif not fenced and line.startswith("#"):
                out.add(anchor(line.lstrip("#")))
    return out


def links(path):
    fenced = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if fenced:
                continue
            line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
            for m in LINK.finditer(line):
                yield n, m.group(1)


def broken(repo):
    pages = [os.path.join(repo, "README.md")]
    docs = os.path.join(repo, "docs")
    if os.path.isdir(docs):
        pages += sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
    for page in pages:
        for n, target in links(page):
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, frag = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(page), file)) if file else page
            where = f"{os.path.relpath(page, repo)}:{n}: '{target}'"
            if not os.path.exists(dest):
                yield f"{where}: {os.path.relpath(dest, repo)} does not exist"
            elif frag and dest.endswith(".md") and frag not in headings(dest):
                yield f"{where}: no heading with anchor #{frag} in {os.path.relpath(dest, repo)}"


def self_test():
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "docs"))
        with open(os.path.join(d, "README.md"), "w") as f:
            f.write("# Top\n## The `a.b` part\n[ok](docs/p.md) [ok](#the-ab-part) [gone](docs/q.md) [bad](#nope)\n"
                    "```\n[in a fence](x.md)\n```\n`[in code](y.md)`\n")
        with open(os.path.join(d, "docs", "p.md"), "w") as f:
            f.write("# P\n![pic](img/none.png) [up](../README.md#top)\n")
        got = list(broken(d))
    want = ["README.md:3: 'docs/q.md'", "README.md:3: '#nope'", "docs/p.md:2: 'img/none.png'"]
    ok = len(got) == len(want) and all(any(g.startswith(w) for g in got) for w in want)
    print("\n".join(got))
    return ok


def main():
    if sys.argv[1:] == ["--self-test"]:
        ok = self_test()
        print("self-test:", "the planted broken links were found" if ok else "FAILED")
        return 0 if ok else 1
    bad = list(broken(sys.argv[1]))
    for b in bad:
        print(b)
    print(f"{len(bad)} broken link(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
