"""Ray engine at scale: the row-level steps over a local 2-worker Ray cluster against one process.

Synthetic clustered 384-d float32 vectors (20 classes), generated block by block from a seed.
Two steps that grow with n are timed, each three ways on the same input:

- **predict**: the end model (:class:`fewlabels.endmodel.EndModel`, fitted on a 20,000-row
  sample's cluster labels) predicts every row: ``model.predict_proba(X)`` in one pass; the
  same over fixed blocks in this process (``LocalEngine``); the blocks as Ray tasks.
- **knn**: every row searches its 10 nearest rows of a 50,000-row core (the pipeline's
  core, :mod:`fewlabels.pool_core`) in a FAISS IVF index built once (nlist 256, nprobe 8):
  ``index.search(X, 10)`` in one pass; in blocks; blocks as Ray tasks with the index
  serialised once into the object store.

- **pipeline** (``--steps pipeline``): ``label_arrays`` on all rows with 100 given labels (5 per
  class), full automatic choice, without and with the Ray engine (on Ray: the k-NN search of
  the core's graph, and the chosen method's labels for the rows outside the core).

For each it prints seconds, rows/s, and the check against the one-pass result: labels
(argmax) and neighbour ids that differ (expected 0), and the largest difference of the
floats. Peak RSS is this driver process's (Ray's worker processes are not included).

    nice -n 5 python bench/ray_scale.py --rows 1000000 --out bench/results/ray_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

import numpy as np


def clustered(n: int, d: int = 384, k: int = 20, seed: int = 0, block: int = 100_000):
    """(X float32 unit rows, truth) built block by block: no (n, d) float64 temporary."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = rng.integers(0, k, n)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, block):
        e = min(s + block, n)
        B = centres[truth[s:e]] + rng.standard_normal((e - s, d), dtype=np.float32) * np.float32(0.06)
        B /= np.linalg.norm(B, axis=1, keepdims=True)
        X[s:e] = B
    return X, truth


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--core", type=int, default=50_000)
    ap.add_argument("--block-rows", type=int, default=65_536)
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    ap.add_argument("--steps", default="predict,knn")
    ap.add_argument("--no-local-blocks", action="store_true", help="skip the in-process blocks (one pass and Ray only)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import faiss

    from fewlabels.endmodel import EndModel
    from fewlabels.engine import ops
    from fewlabels.engine.local import LocalEngine
    from fewlabels.engine.ray_engine import RayEngine

    steps = args.steps.split(",")
    res: dict = {"rows": args.rows, "d": 384, "classes": 20, "block_rows": args.block_rows,
                 "workers": args.workers, "steps": {}}
    X, truth = clustered(args.rows)
    rng = np.random.default_rng(1)
    print(f"{args.rows:,} x 384 float32 ({X.nbytes / 1e9:.2f} GB); peak RSS {peak_rss_gb():.2f} GB", flush=True)

    os.environ.pop("RAY_ADDRESS", None)
    ray_engine, t_init = timed(lambda: RayEngine(num_cpus=args.workers, block_rows=args.block_rows))
    _, t_warm = timed(ray_engine.warm_up)
    res["ray_init_s"], res["ray_warm_up_s"] = round(t_init, 2), round(t_warm, 2)
    print(f"ray cluster ({args.workers} CPUs) started in {t_init:.1f} s, workers warmed up (imports) in "
          f"{t_warm:.1f} s", flush=True)
    local = LocalEngine(block_rows=args.block_rows)
    try:
        if "predict" in steps:
            sample = rng.choice(args.rows, 20_000, replace=False)
            model = EndModel().fit(X[sample], truth[sample], classes=[f"c{i}" for i in range(20)])
            P0, t0 = timed(lambda: model.predict_proba(X))
            P1, t1 = (P0, float("nan")) if args.no_local_blocks else timed(lambda: ops.predict_proba(local, model, X))
            P2, t2 = timed(lambda: ops.predict_proba(ray_engine, model, X))
            lab0 = P0.argmax(1)
            res["steps"]["predict"] = {
                "one_pass_s": round(t0, 2), "local_blocks_s": round(t1, 2), "ray_s": round(t2, 2),
                "labels_differ_local": int((P1.argmax(1) != lab0).sum()),
                "labels_differ_ray": int((P2.argmax(1) != lab0).sum()),
                "max_abs_diff_local": float(np.abs(P1 - P0).max()),
                "max_abs_diff_ray": float(np.abs(P2 - P0).max()),
                "ray_equals_local_blocks_bitwise": bool(np.array_equal(P1, P2)),
                "accuracy_vs_truth": float((lab0 == truth).mean()),
            }
            del P0, P1, P2
            print("predict", res["steps"]["predict"], f"peak RSS {peak_rss_gb():.2f} GB", flush=True)
        if "knn" in steps:
            core = np.sort(rng.choice(args.rows, args.core, replace=False))
            quantizer = faiss.IndexFlatIP(384)
            index = faiss.IndexIVFFlat(quantizer, 384, 256, faiss.METRIC_INNER_PRODUCT)
            _, tb = timed(lambda: (index.train(X[core]), index.add(X[core])))
            index.nprobe = 8
            (D0, I0), t0 = timed(lambda: index.search(X, 10))
            (D1, I1), t1 = ((D0, I0), float("nan")) if args.no_local_blocks else timed(
                lambda: ops.search_index(local, index, X, 10))
            (D2, I2), t2 = timed(lambda: ops.search_index(ray_engine, index, X, 10))
            res["steps"]["knn"] = {
                "index": "IVFFlat nlist=256 nprobe=8", "core_rows": args.core, "k": 10, "build_s": round(tb, 2),
                "one_pass_s": round(t0, 2), "local_blocks_s": round(t1, 2), "ray_s": round(t2, 2),
                "ids_differ_local": int((I1 != I0).sum()), "ids_differ_ray": int((I2 != I0).sum()),
                "max_abs_diff_ray": float(np.abs(D2 - D0).max()),
                "ray_equals_local_blocks_bitwise": bool(np.array_equal(D1, D2) and np.array_equal(I1, I2)),
            }
            print("knn", res["steps"]["knn"], f"peak RSS {peak_rss_gb():.2f} GB", flush=True)
        if "pipeline" in steps:
            from fewlabels.pipeline import label_arrays
            from fewlabels.options import LabelOptions
            from fewlabels.pool import Pool

            y = np.full(args.rows, -1, dtype=np.int64)
            for c in range(20):
                y[rng.choice(np.flatnonzero(truth == c), 5, replace=False)] = c
            classes = [f"c{i}" for i in range(20)]
            r0, t0 = timed(lambda: label_arrays(Pool(X=X, y=y, classes=classes), LabelOptions.of(random_state=0)))
            r2, t2 = timed(lambda: label_arrays(Pool(X=X, y=y, classes=classes),
                                                LabelOptions.of(random_state=0), engine=ray_engine))
            res["steps"]["pipeline"] = {
                "one_pass_s": round(t0, 2), "ray_s": round(t2, 2), "method": r0.method, "method_ray": r2.method,
                "labels_differ_ray": int((r2.labels != r0.labels).sum()),
                "max_abs_diff_ray": float(np.abs(r2.proba - r0.proba).max()),
                "pool_accuracy": float((r0.labels == truth).mean()),
                "timings_one_pass": r0.report["timings_s"], "timings_ray": r2.report["timings_s"],
            }
            del r0, r2
            print("pipeline", res["steps"]["pipeline"], f"peak RSS {peak_rss_gb():.2f} GB", flush=True)
    finally:
        ray_engine.close()
    res["driver_peak_rss_gb"] = round(peak_rss_gb(), 2)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    res["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit,
                   "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                   "faiss_threads_one_pass": faiss.omp_get_max_threads()}
    print(json.dumps(res, indent=2))
    if args.out:
        from fewlabels.io import write_json

        write_json(res, args.out)


if __name__ == "__main__":
    main()
