"""Label-model fit time and accuracy on synthetic label matrices, fewlabels vs Snorkel.

L is drawn from conditionally independent rules with known accuracy (0.6-0.9) and coverage
(0.1-0.5), 2 classes, so each model's accuracy and fewlabels' recovery of the rule
accuracies can be checked. Snorkel's ``LabelModel`` (defaults, seed 0) runs in another
Python on the identical L.

    python bench/label_model_speed.py --snorkel bench/.venv-snorkel/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, format_table, print_run_info, run_info
from fewlabels.io import write_json
from fewlabels.labelers.label_models import DawidSkeneLabeler, MajorityVoteLabeler, TripletLabeler

SIZES = [(10_000, 20), (100_000, 20), (1_000_000, 20), (10_000, 200), (100_000, 200)]

SNORKEL = """
import json, sys, time, numpy as np
from snorkel.labeling.model import LabelModel
L = np.load(sys.argv[1])
t = time.perf_counter(); lm = LabelModel(cardinality=2, verbose=False); lm.fit(L, seed=0)
fit = time.perf_counter() - t
np.save(sys.argv[2], lm.predict(L, tie_break_policy="random"))
json.dump({"fit_s": fit}, open(sys.argv[3], "w"))
"""


def synthetic(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    acc = rng.uniform(0.6, 0.9, m)
    cov = rng.uniform(0.1, 0.5, m)
    votes = rng.random((n, m)) < cov
    right = rng.random((n, m)) < acc
    L = np.where(votes, np.where(right, truth[:, None], 1 - truth[:, None]), -1).astype(np.int8)
    return L, truth, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snorkel", default=None)
    ap.add_argument("--timeout", type=int, default=300, help="seconds allowed for one Snorkel fit")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "label_model_speed.json"))
    args = ap.parse_args()
    info = run_info()
    print_run_info(info)
    rows, records = [], []
    for n, m in SIZES:
        L, truth, acc = synthetic(n, m)
        covered = (L >= 0).any(axis=1)
        rec = {"n": n, "m": m}
        t = time.perf_counter()
        ds = DawidSkeneLabeler(n_classes=2).fit(L)
        rec["ds_fit_s"] = time.perf_counter() - t
        rec["ds_acc"] = float((ds.predict(L)[covered] == truth[covered]).mean())
        rec["ds_recovery_err"] = float(np.abs(ds.accuracies_ - acc).max())
        rec["ds_patterns"] = int(ds.n_patterns_)
        t = time.perf_counter()
        tri = TripletLabeler(n_classes=2).fit(L)
        rec["triplet_fit_s"] = time.perf_counter() - t
        rec["triplet_acc"] = float((tri.predict(L)[covered] == truth[covered]).mean())
        rec["triplet_recovery_err"] = float(np.abs(tri.accuracies_ - acc).max())
        t = time.perf_counter()
        mv = MajorityVoteLabeler(n_classes=2).fit(L)
        rec["mv_fit_s"] = time.perf_counter() - t
        rec["mv_acc"] = float((mv.predict(L)[covered] == truth[covered]).mean())
        if args.snorkel:
            with tempfile.TemporaryDirectory() as d:
                d = Path(d)
                np.save(d / "L.npy", L.astype(np.int64))
                (d / "s.py").write_text(SNORKEL)
                try:
                    subprocess.run([args.snorkel, str(d / "s.py"), str(d / "L.npy"), str(d / "p.npy"),
                                    str(d / "t.json")], check=True, capture_output=True, timeout=args.timeout)
                    rec["snorkel_fit_s"] = json.loads((d / "t.json").read_text())["fit_s"]
                    pred = np.load(d / "p.npy")
                    rec["snorkel_acc"] = float((pred[covered] == truth[covered]).mean())
                except subprocess.TimeoutExpired:
                    rec["snorkel_fit_s"] = f"> {args.timeout} s"
        records.append(rec)
        sn = rec.get("snorkel_fit_s") if isinstance(rec.get("snorkel_fit_s"), float) else None
        rows.append([f"{n:,} x {m}", rec["triplet_fit_s"], rec["triplet_acc"], rec["triplet_recovery_err"],
                     rec["ds_fit_s"], rec["ds_acc"], rec["ds_recovery_err"], rec["mv_acc"], sn, rec.get("snorkel_acc"),
                     sn / rec["triplet_fit_s"] if sn else None])
        print(f"  {n} x {m}: {rec}", flush=True)
    write_json({"meta": info, "records": records}, args.out)
    print(format_table(["L", "triplet fit s", "triplet acc", "triplet max |acc err|", "DS fit s", "DS acc",
                        "DS max |acc err|", "MV acc", "Snorkel fit s", "Snorkel acc", "Snorkel s / triplet s"],
                       rows, markdown=True))


if __name__ == "__main__":
    main()
