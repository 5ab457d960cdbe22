#!/usr/bin/python3
"""numpy side of tests/nn/test_checkpoint.cpp: open a latentzoo checkpoint with numpy alone.

The safetensors layout is parsed by hand here (struct + json + np.frombuffer), independently of
the C++ reader, and every tensor is compared bit for bit with the values the C++ test wrote as
JSON text. Usage: numpy_checkpoint_check.py CHECKPOINT EXPECTED_JSON. Exit 77 without numpy (peer.py).
"""
import json
import struct
import sys

from peer import need

np = need("numpy", "python3-numpy")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    path, expected_path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        blob = f.read()
    with open(expected_path) as f:
        expected = json.load(f)
    (n,) = struct.unpack("<Q", blob[:8])
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    raw = blob[8:8 + n]
    if raw.rstrip(b" ") != raw.rstrip():
        fail("header padding is not spaces")
    header = json.loads(raw.decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    for k, v in expected["metadata"].items():
        if meta.get(k) != v:
            fail(f"metadata {k!r}: expected {v!r}, found {meta.get(k)!r}")
    if set(header) != set(expected["tensors"]):
        fail(f"tensor names differ: file {sorted(header)}, expected {sorted(expected['tensors'])}")
    spans = sorted((e["data_offsets"][0], e["data_offsets"][1], name) for name, e in header.items())
    pos = 0
    for b, e, name in spans:
        if b != pos:
            fail(f"{name}: starts at {b}, expected {pos}")
        pos = e
    if pos != len(data):
        fail(f"data section is {len(data)} bytes, tensors cover {pos}")
    for name, e in header.items():
        want = expected["tensors"][name]
        if e["dtype"] != want["dtype"] or e["shape"] != want["shape"]:
            fail(f"{name}: {e['dtype']} {e['shape']}, expected {want['dtype']} {want['shape']}")
        dt = {"F32": "<f4", "F64": "<f8"}[e["dtype"]]
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=dt).reshape(e["shape"])
        ref = np.array(want["values"], dtype=np.float64).astype(dt).reshape(want["shape"])
        if arr.tobytes() != ref.tobytes():
            i = int(np.argmax(arr.reshape(-1) != ref.reshape(-1)))
            fail(f"{name}: element {i} is {arr.reshape(-1)[i]!r}, expected {ref.reshape(-1)[i]!r}")
    print(f"ok: {len(header)} tensors, {len(data)} data bytes, numpy {np.__version__}")


if __name__ == "__main__":
    main()
