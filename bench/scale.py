"""Time, peak memory and quality of ``label_arrays`` from 10^4 to 10^6 rows.

Each pool size runs in its own process (so each peak RSS is that run's alone), embeddings
given, 100 uniformly random labels, the full automatic choice and the end model:

* ``--data synthetic``: clustered 384-d unit vectors, 20 classes of Dirichlet(2) sizes, each
  class three Gaussian modes on the sphere (noise ``--noise``), generated in blocks;
* ``--data real``: bench/speed.py's pool of real MiniLM embeddings (emotion + ag_news train,
  20,000 rows, 10 classes, from the cache) replicated to n rows, each copy with Gaussian
  noise of norm about ``--noise`` / 3, renormalised.

For every n up to ``--full-up-to`` it also runs the full computation (``core_size=None``:
selection, graph and fit on the whole pool) and compares: chosen method, estimate, pool
accuracy, and the share of rows whose label differs.

    python bench/scale.py --rows 10000 100000 1000000 --full-up-to 100000 --json bench/results/scale.json

The generated pools are kept as .npy under ``--cache-dir`` (default /tmp/fewlabels-scale), so
a re-run skips generation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, format_table, print_run_info, run_info, sample_labels  # noqa: E402


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def synthetic(n: int, d: int = 384, k: int = 20, modes: int = 3, noise: float = 1.0, seed: int = 0,
              block: int = 100_000):
    """(X float32 (n, d) unit rows, y (n,)): k classes of Dirichlet(2) sizes, ``modes`` Gaussian
    modes each, isotropic noise of expected norm ``noise`` around unit-norm mode centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k * modes, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    prior = rng.dirichlet(np.full(k, 2.0))
    y = rng.choice(k, size=n, p=prior)
    mode = y * modes + rng.integers(0, modes, n)
    X = np.empty((n, d), np.float32)
    for s in range(0, n, block):
        e = min(n, s + block)
        B = centres[mode[s:e]] + np.float32(noise / np.sqrt(d)) * rng.standard_normal((e - s, d), dtype=np.float32)
        B /= np.linalg.norm(B, axis=1, keepdims=True)
        X[s:e] = B
    return X, y


def replicated_real(n: int, noise: float = 1.0, seed: int = 0, block: int = 100_000):
    """bench/speed.py's real pool (emotion train + ag_news train: 20,000 MiniLM embeddings,
    10 classes) tiled to n rows, each copy jittered by noise of norm about ``noise`` / 3
    (cosine about 0.95 to its original) and renormalised; the originals come first."""
    from speed import build_pool

    base, yb, _, _ = build_pool()
    base = base.astype(np.float32)
    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(yb), n)
    src[: min(n, len(yb))] = np.arange(min(n, len(yb)))
    d = base.shape[1]
    X = np.empty((n, d), np.float32)
    for s in range(0, n, block):
        e = min(n, s + block)
        B = base[src[s:e]] + np.float32(noise / 3 / np.sqrt(d)) * rng.standard_normal((e - s, d), dtype=np.float32)
        B /= np.linalg.norm(B, axis=1, keepdims=True)
        X[s:e] = B
    return X, yb[src]


def pool(data: str, n: int, noise: float, cache_dir: Path):
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = cache_dir / f"{data}-{n}-{noise:g}"
    if Path(f"{stem}.X.npy").exists():
        return np.load(f"{stem}.X.npy"), np.load(f"{stem}.y.npy")
    if data == "synthetic":
        X, y = synthetic(n, noise=noise)
    else:
        X, y = replicated_real(n, noise=noise)
    for part, arr in (("X", X), ("y", y)):
        tmp = f"{stem}.{part}.tmp.npy"
        np.save(tmp, arr)
        os.replace(tmp, f"{stem}.{part}.npy")
    return X, y


def run_one(args) -> dict:
    """One pool size, one mode, in this process: the child side of the bench."""
    from fewlabels.pipeline import label_arrays
    from fewlabels.options import LabelOptions
    from fewlabels.pool import Pool

    t = time.perf_counter()
    X, y_true = pool(args.data, args.one, args.noise, args.cache_dir)
    gen_s = time.perf_counter() - t
    k = int(y_true.max()) + 1
    y = sample_labels(y_true, args.labels, args.seed)
    rss_before = peak_rss_gb()
    timings: dict = {}
    t = time.perf_counter()
    r = label_arrays(Pool(X=X, y=y, classes=[f"c{i}" for i in range(k)]),
                     LabelOptions.of(random_state=args.seed, method=args.method, core_size=None if args.mode == "full" else args.core_size),
                     timings=timings)
    total = time.perf_counter() - t
    unl = y < 0
    est = r.report["estimated_accuracy"]
    out = {"n": args.one, "mode": args.mode, "data": args.data, "method": r.method,
           "pool_acc": float(np.mean(r.labels[unl] == y_true[unl])),
           "estimate": None if est is None else est["value"],
           "total_s": round(total, 2), "timings_s": r.report["timings_s"], "load_s": round(gen_s, 2),
           "peak_rss_gb": round(peak_rss_gb(), 3), "rss_before_gb": round(rss_before, 3),
           "core": r.report.get("core"), "graph": r.report.get("graph"),
           "candidates": {c: v["accuracy"] for c, v in r.report["candidates"].items()}}
    np.save(args.labels_out, r.labels.astype(np.int32))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--data", choices=["synthetic", "real"], default="synthetic")
    ap.add_argument("--noise", type=float, default=1.0, help="noise norm around the modes (default 1.0)")
    ap.add_argument("--labels", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="auto", help="'auto' (the full choice) or a method to force, e.g. "
                    "ensemble for the costliest final fit and extension")
    ap.add_argument("--core-size", type=int, default=None, help="label_arrays' core_size (default: its own)")
    ap.add_argument("--full-up-to", type=int, default=100_000,
                    help="also run the full computation (core_size=None) up to this many rows")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/fewlabels-scale"))
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="core", help=argparse.SUPPRESS)
    ap.add_argument("--labels-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.core_size is None:
        from fewlabels.pool_core import CORE_SIZE

        args.core_size = CORE_SIZE

    if args.one:  # child
        print(json.dumps(run_one(args)), flush=True)
        return 0

    info = run_info()
    print_run_info(info)
    results = []
    for n in args.rows:
        pool(args.data, n, args.noise, args.cache_dir)  # generate once, outside the timed children
        modes = ["core"] + (["full"] if n <= args.full_up_to and n > args.core_size else [])
        labels = {}
        for mode in modes:
            lab_path = args.cache_dir / f"labels-{args.data}-{n}-{mode}.npy"
            cmd = [sys.executable, __file__, "--one", str(n), "--mode", mode, "--data", args.data,
                   "--noise", str(args.noise), "--labels", str(args.labels), "--seed", str(args.seed),
                   "--method", args.method,
                   "--core-size", str(args.core_size), "--cache-dir", str(args.cache_dir),
                   "--labels-out", str(lab_path)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                return proc.returncode
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            labels[mode] = np.load(lab_path)
            results.append(res)
            print(f"n={n:>9,} {mode:4s} {res['method']:>12s} acc {res['pool_acc']:.4f} est "
                  f"{res['estimate'] if res['estimate'] is None else round(res['estimate'], 4)} "
                  f"total {res['total_s']:7.1f}s peak {res['peak_rss_gb']:.2f} GB  {res['timings_s']}", flush=True)
        if len(labels) == 2:
            results[-1]["label_agreement_with_core"] = float(np.mean(labels["core"] == labels["full"]))
    rows = [[f"{r['n']:,}", r["mode"], r["method"], f"{r['pool_acc']:.4f}",
             "-" if r["estimate"] is None else f"{r['estimate']:.4f}", f"{r['total_s']:.1f}",
             " ".join(f"{k} {v:.1f}" for k, v in r["timings_s"].items()), f"{r['peak_rss_gb']:.2f}"]
            for r in results]
    print(format_table(["rows", "mode", "chosen", "pool acc", "estimate", "total s", "stages (s)", "peak RSS GB"],
                       rows))
    from fewlabels.io import write_json

    write_json({"meta": {**info, "args": {k: str(v) for k, v in vars(args).items()}}, "results": results}, args.json)
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
