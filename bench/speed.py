"""Wall time and peak memory of ``label_arrays`` on 20,000 items.

The pool is the 16,000 emotion train rows plus the first 4,000 ag_news train rows
(embeddings from the cache), with the union of both label sets as classes (10) and
``--labels`` uniformly random given labels. It times the full automatic pipeline: graph,
selection among all candidates, calibration, labeling and the end model.

    python bench/speed.py
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from common import ROOT, accuracy, format_table, load, print_run_info, run_info, sample_labels
from fewlabels.io import write_json
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool

N_ROWS = 20_000


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_pool(n_rows: int = N_ROWS):
    """(X, y_true, classes, class_embeddings): emotion train, then ag_news train up to ``n_rows``."""
    parts = [load("emotion"), load("ag_news")]
    X, y, classes, C = [], [], [], []
    left = n_rows
    for ds in parts:
        take = min(left, len(ds.y_train))
        X.append(ds.X_train[:take])
        y.append(ds.y_train[:take] + len(classes))
        classes += ds.classes
        C.append(ds.class_embeddings)
        left -= take
    if left or len(set(classes)) != len(classes):
        raise SystemExit(f"cannot build a pool of {n_rows} rows with distinct classes from emotion + ag_news")
    return np.concatenate(X), np.concatenate(y), classes, np.concatenate(C)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=int, default=100, help="random given labels (default: 100)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the labels and the pipeline (default: 0)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speed.json",
                    help="results JSON (default: bench/results/speed.json)")
    args = ap.parse_args(argv)

    info = run_info()
    print_run_info(info)
    t = time.perf_counter()
    X, y_true, classes, C = build_pool()
    load_s = time.perf_counter() - t
    y = sample_labels(y_true, args.labels, args.seed)
    rss_before = peak_rss_mb()
    print(f"pool: {X.shape[0]} rows x {X.shape[1]} dims, {len(classes)} classes, {int((y >= 0).sum())} labels "
          f"(loaded from the cache in {load_s:.1f}s)", flush=True)

    timings: dict[str, float] = {}
    t = time.perf_counter()
    r = label_arrays(Pool(X=X, y=y, classes=classes, class_embeddings=C),
                     LabelOptions.of(random_state=args.seed), timings=timings)
    total = time.perf_counter() - t
    rss_peak = peak_rss_mb()

    unl = y < 0
    stages = dict(r.report["timings_s"])
    result = {
        "meta": {**info, "args": {"labels": args.labels, "seed": args.seed}},
        "n_rows": int(X.shape[0]), "dims": int(X.shape[1]), "k": len(classes), "n_labels": int((~unl).sum()),
        "method": r.method,
        "pool_acc": accuracy(r.labels[unl], y_true[unl]),
        "estimate": r.report["estimated_accuracy"],
        "candidates_oof": r.report["candidates"],
        "timings_s": stages,
        "total_s": total,
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb": rss_peak,
        "load_s": load_s,
    }
    write_json(result, args.out)

    rows = [[name, f"{sec:.2f}"] for name, sec in stages.items()]
    rows.append(["total (label_arrays)", f"{total:.2f}"])
    print(format_table(["stage", "seconds"], rows))
    est = r.report["estimated_accuracy"]
    print(f"chosen {r.method}, pool accuracy {result['pool_acc']:.3f}, "
          f"estimate {'-' if est is None else format(est['value'], '.3f')}")
    print(f"peak RSS {rss_peak:.0f} MiB (before label_arrays: {rss_before:.0f} MiB)")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
