"""Imports for the peer scripts: a peer that is not installed exits 77 with `missing: <package>`
(the C++ test skips, or fails under LZ_REQUIRE_PEERS: tests/skip.hpp); one that is installed but
fails to import raises its own error (exit 1), which is always a failure."""
import importlib
import importlib.util
import sys


def need(module, package):
    if importlib.util.find_spec(module) is None:
        print(f"missing: {package} (/usr/bin/python3 finds no module '{module}')")
        sys.exit(77)
    return importlib.import_module(module)
