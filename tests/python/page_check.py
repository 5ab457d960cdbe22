#!/usr/bin/python3
"""Checks a run folder's page (train/page.cpp), and with --chromium renders it in headless Chromium.

  page_check.py DIR              the page parses; every src and href is a relative path inside the
                                 folder that exists (an in-page #anchor names an id on the page);
                                 every image is a PNG; every *.png of the folder is shown and every
                                 file linked; nothing refers outside the folder (no network) and the
                                 page has no script
  page_check.py DIR --chromium   also: Chromium loads the page (its DOM holds the page's heading and
                                 as many images), its log shows it fetched every image and no file
                                 that is missing, and its screenshot is written to DIR/page.png
Exit 0 when all holds, 1 naming each problem, 77 ("missing: chromium") when --chromium is given and
Chromium is not installed (the C++ test then skips, or fails under LZ_REQUIRE_PEERS). LZ_CHROMIUM
names the binary (default: chromium on PATH, else /usr/bin/chromium).
"""
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse

PNG = b"\x89PNG\r\n\x1a\n"
SHOT_W, SHOT_H = 1200, 2400


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []  # (tag, attribute, value)
        self.ids = set()
        self.scripts = 0
        self.h1 = ""
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == "id":
                self.ids.add(v)
            if k in ("src", "href") and v is not None:
                self.refs.append((tag, k, v))
        if tag == "script":
            self.scripts += 1
        self._in_h1 = tag == "h1"

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1 += data


def is_temp(name):
    return ".tmp-" in name or ".tmp." in name


def check(folder):
    """Returns (problems, parsed page)."""
    problems = []
    index = os.path.join(folder, "index.html")
    if not os.path.isfile(index):
        return [f"{index}: no page"], None
    page = Page()
    with open(index, encoding="utf-8") as f:
        page.feed(f.read())
    if page.scripts:
        problems.append(f"{index}: {page.scripts} <script> element(s); the page is meant to be static")
    shown, linked = set(), set()
    for tag, attr, value in page.refs:
        where = f"{index}: <{tag} {attr}=\"{value}\">"
        parts = urllib.parse.urlsplit(value)
        if parts.scheme or parts.netloc or value.startswith("/"):
            problems.append(f"{where} refers outside the run folder")
            continue
        if not parts.path:
            if parts.fragment and parts.fragment not in page.ids:
                problems.append(f"{where}: no element has id '{parts.fragment}'")
            continue
        path = urllib.parse.unquote(parts.path)
        target = os.path.normpath(os.path.join(folder, path))
        if not os.path.exists(target):
            problems.append(f"{where}: {target} is missing")
            continue
        if path.endswith("/") and not os.path.isdir(target):
            problems.append(f"{where}: {target} is not a folder")
        if tag == "img":
            with open(target, "rb") as f:
                if f.read(8) != PNG:
                    problems.append(f"{where}: {target} is not a PNG")
            shown.add(os.path.normpath(path))
        if attr == "href":
            linked.add(os.path.normpath(path))
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if not os.path.isfile(p) or name in ("index.html", "page.png") or is_temp(name):
            continue
        if name.endswith(".png") and name not in shown:
            problems.append(f"{index}: the picture {name} is not shown")
        if name not in linked:
            problems.append(f"{index}: the file {name} is not linked")
    return problems, page


def chromium(folder, page):
    # LZ_CHROMIUM names another binary (a path that does not exist shows the skip).
    exe = os.environ.get("LZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(exe, os.X_OK):
        print(f"missing: chromium (no {exe})")
        sys.exit(77)
    index = os.path.abspath(os.path.join(folder, "index.html"))
    url = "file://" + urllib.parse.quote(index)
    problems = []
    shot = os.path.join(os.path.abspath(folder), "page.png")
    if os.path.exists(shot):
        os.remove(shot)
    with tempfile.TemporaryDirectory() as profile:
        # One launch: the DOM after loading on stdout, the files it fetched in the log, the screenshot.
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=1", f"--window-size={SHOT_W},{SHOT_H}",
               f"--screenshot={shot}", "--dump-dom", url]
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=180)
    if r.returncode != 0:
        return [f"chromium --dump-dom --screenshot {url} exited {r.returncode}:\n{r.stderr[-3000:]}"]
    dom = r.stdout
    heading = page.h1.strip()
    if not heading or html_text(heading) not in dom:
        problems.append(f"chromium's DOM of {url} lacks the page's heading '{heading}'")
    images = [v for t, a, v in page.refs if t == "img"]
    if len(re.findall(r"<img\b", dom)) != len(images):
        problems.append(f"chromium's DOM of {url} holds {len(re.findall(r'<img', dom))} images, the page {len(images)}")
    fetched = set()
    for m in re.finditer(r"FileURLLoader::Start: (file://\S+)", r.stderr):
        fetched.add(os.path.normpath(urllib.parse.unquote(urllib.parse.urlsplit(m.group(1)).path)))
    if not fetched:
        problems.append("chromium's log (--v=1) names no file it loaded: cannot tell that the images loaded")
    for p in sorted(fetched):
        if not os.path.exists(p):
            problems.append(f"chromium fetched {p}, which is missing")
    for v in images:
        p = os.path.normpath(os.path.join(os.path.dirname(index), urllib.parse.unquote(v)))
        if fetched and p not in fetched:
            problems.append(f"chromium did not fetch the image {p}")
    if not os.path.isfile(shot):
        return problems + [f"chromium wrote no screenshot {shot}:\n{r.stderr[-3000:]}"]
    with open(shot, "rb") as f:
        head = f.read(24)
    if head[:8] != PNG:
        problems.append(f"{shot} is not a PNG")
    else:
        w, h = struct.unpack(">II", head[16:24])
        if (w, h) != (SHOT_W, SHOT_H):
            problems.append(f"{shot} is {w} x {h}, expected {SHOT_W} x {SHOT_H}")
    return problems


def html_text(s):
    # The DOM serialiser writes & < > in text as references, as the page does.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    folder = args[0]
    problems, page = check(folder)
    if page is not None and not problems and "--chromium" in sys.argv:
        problems += chromium(folder, page)
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    images = sum(1 for t, _, _ in page.refs if t == "img")
    print(f"ok: {folder}/index.html, {images} images, {len(page.refs)} links"
          + (", rendered to page.png" if "--chromium" in sys.argv else ""))


if __name__ == "__main__":
    main()
