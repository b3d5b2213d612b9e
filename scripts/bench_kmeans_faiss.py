#!/usr/bin/python3
"""Baseline for scripts/bench-kmeans.ts: k-means on the same points with faiss (or sklearn).

Usage: bench_kmeans_faiss.py DATA.f32 N DIM K ITERS SEED THREADS CENTROIDS_OUT.f32

DATA.f32 holds N*DIM little-endian float32 values (row-major). Trains with every point used
(max_points_per_centroid = N), writes the centroids as float32 [K, DIM] to CENTROIDS_OUT.f32 and
prints one JSON line: library, version, blas, threads, train_s, inertia (faiss's own assignment of
all points to the final centroids), iterations.

Run it with Debian's python (/usr/bin/python3): that is where python3-faiss lives. Set
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before starting it (the TS bench does).
"""
import json
import os
import sys
import time


def blas_info():
    """Which BLAS this process loaded: threadpoolctl when present, else the mapped libraries."""
    try:
        from threadpoolctl import threadpool_info

        infos = [
            {"api": i.get("internal_api"), "file": i.get("filepath"), "threads": i.get("num_threads"), "version": i.get("version")}
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
        if infos:
            return infos
    except Exception:
        pass
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and ("blas" in parts[-1] or "lapack" in parts[-1] or "mkl" in parts[-1]):
                    libs.add(os.path.realpath(parts[-1]))
    except OSError:
        pass
    return [{"api": "unknown", "file": p} for p in sorted(libs)]


def main():
    if len(sys.argv) != 9:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    data, n, dim, k, iters, seed, threads, out = sys.argv[1:]
    n, dim, k, iters, seed, threads = int(n), int(dim), int(k), int(iters), int(seed), int(threads)
    import numpy as np

    x = np.fromfile(data, dtype="<f4")
    if x.size != n * dim:
        print(f"{data}: holds {x.size} floats, expected {n}*{dim}", file=sys.stderr)
        sys.exit(2)
    x = x.reshape(n, dim)
    try:
        import faiss

        lib, version = "faiss", getattr(faiss, "__version__", "?")
    except ImportError:
        faiss = None
    if faiss is not None:
        faiss.omp_set_num_threads(threads)
        km = faiss.Kmeans(dim, k, niter=iters, seed=seed, max_points_per_centroid=n, verbose=False, spherical=False)
        t0 = time.perf_counter()
        km.train(x)
        train_s = time.perf_counter() - t0
        centroids = np.ascontiguousarray(km.centroids, dtype="<f4")
        dist, _ = km.index.search(x, 1)
        inertia = float(dist.astype(np.float64).sum())
        iterations = iters
    else:
        try:
            from sklearn.cluster import KMeans
            import sklearn
        except ImportError:
            print(json.dumps({"library": None, "error": "neither faiss nor sklearn is importable"}))
            return
        lib, version = "sklearn", sklearn.__version__
        km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd", random_state=seed)
        t0 = time.perf_counter()
        km.fit(x)
        train_s = time.perf_counter() - t0
        centroids = np.ascontiguousarray(km.cluster_centers_, dtype="<f4")
        inertia = float(km.inertia_)
        iterations = int(km.n_iter_)
    centroids.tofile(out)
    print(json.dumps({
        "library": lib,
        "version": version,
        "blas": blas_info(),
        "threads": threads,
        "train_s": train_s,
        "inertia": inertia,
        "iterations": iterations,
    }))


if __name__ == "__main__":
    main()
