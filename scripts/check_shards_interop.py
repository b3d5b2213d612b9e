#!/usr/bin/env python3
"""Check that Python's standard tools read avcurate's WebDataset shards the way the loader does.

Usage: /usr/bin/python3 scripts/check_shards_interop.py SHARDS_DIR DUMP_JSON

DUMP_JSON is written by the TypeScript side (`avcurate export ... --dump DUMP_JSON`, or
dumpShards() from avcurate/loaders). This script reads SHARDS_DIR/shards.json, checks each shard's
size and sha256, reads every shard with the standard library `tarfile`, groups members into samples
by the WebDataset rule (key = path up to the first dot of the file name), and compares with the
dump: sample order and keys, member sizes and sha256, .json values, and .npy arrays loaded with
numpy (dtype, shape, sha256 of the C-order data, sum). Exit status 0 when everything matches, 1 on
a mismatch (each printed), 2 when numpy is missing or the arguments are wrong.
"""
import hashlib
import io
import json
import os
import re
import sys
import tarfile

try:
    import numpy as np
except ImportError:  # pragma: no cover
    print("numpy is not installed for this python (use Debian's /usr/bin/python3)", file=sys.stderr)
    sys.exit(2)

KEY_RE = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")
DTYPES = {
    "bool": "bool", "uint8": "uint8", "int8": "int8", "uint16": "uint16", "int16": "int16",
    "uint32": "uint32", "int32": "int32", "float32": "float32", "float64": "float64",
    "int64": "int64", "uint64": "uint64",
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_samples(path):
    """Samples of one tar as (key, {ext: bytes}) in order, the WebDataset way."""
    samples = []
    with tarfile.open(path, "r") as tar:
        for member in tar:
            if not member.isfile():
                continue
            m = KEY_RE.match(member.name)
            if not m:
                continue
            key, ext = m.group(1), m.group(2).lower()
            data = tar.extractfile(member).read()
            if not samples or samples[-1][0] != key:
                samples.append((key, {}))
            samples[-1][1][ext] = data
    return samples


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    shards_dir, dump_file = argv[1], argv[2]
    with open(os.path.join(shards_dir, "shards.json")) as f:
        index = json.load(f)
    with open(dump_file) as f:
        dump = json.load(f)
    problems = []
    samples = []
    for shard in index["shards"]:
        path = os.path.join(shards_dir, shard["name"])
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != shard["bytes"]:
            problems.append("%s: %d bytes, index says %d" % (shard["name"], len(data), shard["bytes"]))
        if sha256(data) != shard["sha256"]:
            problems.append("%s: sha256 differs from shards.json" % shard["name"])
        got = read_samples(path)
        if len(got) != shard["count"]:
            problems.append("%s: %d samples, index says %d" % (shard["name"], len(got), shard["count"]))
        samples.extend((shard["name"], key, members) for key, members in got)
    expected = dump["samples"]
    if len(samples) != len(expected):
        problems.append("python read %d samples, the loader %d" % (len(samples), len(expected)))
    npy_checked = 0
    for (shard, key, members), exp in zip(samples, expected):
        where = "%s/%s" % (shard, key)
        if key != exp["key"] or shard != exp["shard"]:
            problems.append("%s: the loader has %s/%s at this position" % (where, exp["shard"], exp["key"]))
            continue
        if sorted(members) != sorted(exp["members"]):
            problems.append("%s: members %s vs loader %s" % (where, sorted(members), sorted(exp["members"])))
        for ext, data in members.items():
            m = exp["members"].get(ext)
            if m is None:
                continue
            if len(data) != m["size"] or sha256(data) != m["sha256"]:
                problems.append("%s.%s: bytes differ" % (where, ext))
            if ext.endswith(".npy"):
                arr = np.load(io.BytesIO(data), allow_pickle=False)
                e = exp["npy"][ext]
                if str(arr.dtype) != DTYPES[e["dtype"]] or list(arr.shape) != e["shape"]:
                    problems.append("%s.%s: numpy %s%s, loader %s%s" % (where, ext, arr.dtype, list(arr.shape), e["dtype"], e["shape"]))
                    continue
                c = np.ascontiguousarray(arr)
                if sha256(c.tobytes()) != e["sha256"]:
                    problems.append("%s.%s: array data differs" % (where, ext))
                s = float(c.astype(np.float64).sum())
                if abs(s - e["sum"]) > 1e-6 * max(1.0, abs(s)):
                    problems.append("%s.%s: sum %r vs loader %r" % (where, ext, s, e["sum"]))
                npy_checked += 1
            elif ext.endswith("json"):
                if json.loads(data.decode("utf-8")) != exp["json"][ext]:
                    problems.append("%s.%s: json differs" % (where, ext))
    for p in problems:
        print("MISMATCH " + p)
    print("checked %d shards, %d samples, %d npy arrays: %s" % (
        len(index["shards"]), len(samples), npy_checked, "OK" if not problems else "%d problems" % len(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
