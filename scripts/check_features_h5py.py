#!/usr/bin/python3
"""Check avcurate feature shards with h5py (interoperability check; not part of npm test).

Usage: /usr/bin/python3 scripts/check_features_h5py.py RUN_DIR [--ami]

Reads every RUN_DIR/features/shard-*.h5 with h5py and checks: an `ids` dataset of unique strings,
float32 datasets audio/<layer> and visual/<layer> of shape [n, dim] with finite values, the same
layers and dims in every shard, the attributes the store writes, and (when RUN_DIR/manifest.jsonl
exists) that every id is a manifest clip. With --ami and scikit-learn installed, also clusters each
layer with k-means (k = number of classes) and prints the adjusted mutual information with the
manifest's visual_class / audio_class. Exits 0 when all checks pass, 1 otherwise, 2 when h5py is
missing (Debian: apt-get install python3-h5py; run with /usr/bin/python3).
"""
import glob
import json
import os
import re
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"check_features_h5py: {e}; install python3-h5py and run with /usr/bin/python3", file=sys.stderr)
    sys.exit(2)

REQUIRED_ATTRS = ["extractors", "extractor_versions", "config_hash", "shard_index", "shard_count", "created"]


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir = args[0]
    files = sorted(f for f in glob.glob(os.path.join(run_dir, "features", "shard-*.h5")) if re.search(r"shard-\d{5}-of-\d{5}\.h5$", f))
    if not files:
        print(f"{run_dir}/features: no shard files", file=sys.stderr)
        return 1
    problems = []
    layout = None
    ids_all = []
    data = {}
    for f in files:
        with h5py.File(f, "r") as h:
            for a in REQUIRED_ATTRS:
                if a not in h.attrs:
                    problems.append(f"{f}: attribute {a} missing")
            ids = [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in h["ids"][()]]
            n = len(ids)
            ids_all.extend(ids)
            shard_layout = []
            for modality in ("audio", "visual"):
                if modality not in h:
                    continue
                for name in sorted(h[modality].keys()):
                    ds = h[modality][name]
                    key = f"{modality}/{name}"
                    if ds.dtype != np.float32:
                        problems.append(f"{f}: {key} has dtype {ds.dtype}, expected float32")
                    if ds.ndim != 2 or ds.shape[0] != n:
                        problems.append(f"{f}: {key} has shape {ds.shape}, expected ({n}, dim)")
                        continue
                    arr = ds[()]
                    if not np.all(np.isfinite(arr)):
                        problems.append(f"{f}: {key} holds non-finite values")
                    shard_layout.append((key, ds.shape[1]))
                    data.setdefault(key, []).append(arr)
            if layout is None:
                layout = shard_layout
            elif shard_layout != layout:
                problems.append(f"{f}: layers {shard_layout} differ from {files[0]}: {layout}")
            hashes = h.attrs.get("config_hash")
            print(f"{os.path.basename(f)}: {n} clips, {len(shard_layout)} layers, config {hashes}")
    if len(set(ids_all)) != len(ids_all):
        problems.append("duplicate clip ids across shards")
    manifest = os.path.join(run_dir, "manifest.jsonl")
    labels = {}
    if os.path.exists(manifest):
        with open(manifest) as m:
            rows = [json.loads(line) for line in m if line.strip()]
        known = {r["id"] for r in rows}
        labels = {r["id"]: r for r in rows}
        missing = [i for i in ids_all if i not in known]
        if missing:
            problems.append(f"{len(missing)} ids are not in the manifest (e.g. {missing[0]})")
        print(f"{len(ids_all)} of {len(rows)} manifest clips have features")
    for key, dim in layout or []:
        print(f"  {key}: dim {dim}")
    if "--ami" in argv and labels:
        try:
            from sklearn.cluster import KMeans
            from sklearn.metrics import adjusted_mutual_info_score
        except ImportError:
            print("scikit-learn not installed: skipping --ami")
        else:
            for key, _dim in layout or []:
                modality = key.split("/")[0]
                field = "visual_class" if modality == "visual" else "audio_class"
                y = [labels[i].get(field) for i in ids_all]
                if any(v is None for v in y):
                    continue
                X = np.concatenate(data[key]).astype(np.float64)
                sd = X.std(0)
                sd[sd < 1e-9] = 1
                Z = (X - X.mean(0)) / sd
                k = len(set(y))
                scores = [adjusted_mutual_info_score(y, KMeans(k, n_init=1, random_state=s).fit_predict(Z)) for s in range(3)]
                print(f"  AMI {key} vs {field} (k={k}, standardised): {np.mean(scores):.3f}")
    if problems:
        for p in problems:
            print("PROBLEM:", p, file=sys.stderr)
        return 1
    print(f"OK: {len(files)} shard(s), {len(ids_all)} clips read with h5py {h5py.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
