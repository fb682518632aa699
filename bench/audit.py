"""The verified estimate of a 50-row random audit against the truth, on WRENCH's rules.

Setting (issue 22, "0 labels plus a 50-row audit"): WRENCH's TREC, YouTube and SMS
(``shared/data/wrench``, train + test pooled as in ``bench/wrench.py``), their rules' votes,
no given label. Each pool is labeled once (``label_arrays`` with the votes: ``fused``). Then
``--draws`` audits of ``--n`` rows are drawn (``fewlabels.audit.draw_audit``, seeds 0..draws-1)
from the pool, the true labels standing in for the person's answers, and each gives the
verified estimate (``fewlabels.audit.verified_estimate``) of the accuracy on the pool's rows
(all without a given label). Per set: the true accuracy, the model-based estimate of the
report, and over the audits the verified estimate's mean error, mean |error|, max |error|,
95% interval coverage and mean width; the audit's own accuracy (Wilson) beside it.

Texts are embedded through fewlabels' cache (set ``FEWLABELS_CACHE`` to reuse one).

    python bench/audit.py [--sets trec youtube sms] [--n 50] [--draws 100]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import format_table, print_run_info, run_info
from wrench import SETS, load_set, pooled

from fewlabels.audit import draw_audit, verified_estimate
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool


def audit_runs(name: str, n: int, draws: int) -> dict:
    """One labeling of the pool, then ``draws`` random audits of ``n`` rows."""
    ds = load_set(name)
    X, L, truth, _ = pooled(ds)
    y = np.full(len(truth), -1)
    t = time.perf_counter()
    res = label_arrays(Pool(X=X, y=y, classes=ds["classes"], class_embeddings=ds["C"], votes=L),
                       LabelOptions.of(random_state=0))
    seconds = time.perf_counter() - t
    true_acc = float(np.mean(res.labels == truth))
    conf = res.confidence
    right = res.labels == truth
    runs = []
    for seed in range(draws):
        idx = draw_audit(y, n, seed)
        est = verified_estimate(conf, right[idx], conf[idx])
        runs.append({"seed": seed, **{k: est[k] for k in ("value", "low", "high")},
                     "audit_only": est["audit_only"]})
    model = res.report.get("estimated_accuracy") or {}
    return {"set": name, "rows": len(truth), "method": res.method, "label_seconds": seconds,
            "true_accuracy": true_acc, "mean_confidence": float(conf.mean()), "model_based": model.get("value"),
            "runs": runs}


def summarize(rec: dict, key=None) -> dict:
    truth = rec["true_accuracy"]
    pick = (lambda r: r) if key is None else (lambda r: r[key])
    err = np.array([pick(r)["value"] - truth for r in rec["runs"]])
    cover = np.array([pick(r)["low"] <= truth <= pick(r)["high"] for r in rec["runs"]])
    width = np.array([pick(r)["high"] - pick(r)["low"] for r in rec["runs"]])
    return {"mean_error": float(err.mean()), "mean_abs_error": float(np.abs(err).mean()),
            "max_abs_error": float(np.abs(err).max()), "coverage": float(cover.mean()),
            "mean_width": float(width.mean())}


def table(records: list[dict], n: int) -> str:
    head = ["set", "rows", "true acc.", "model-based est.", "estimate", "mean error", "mean |error|",
            "max |error|", "coverage", "mean width"]
    body = []
    for rec in records:
        for label, key in ((f"verified ({n} audit + confidences)", None), (f"audit only ({n}, Wilson)",
                                                                             "audit_only")):
            s = summarize(rec, key)
            body.append([rec["set"], rec["rows"], f"{rec['true_accuracy']:.3f}",
                         "-" if rec["model_based"] is None else f"{rec['model_based']:.3f}", label,
                         f"{s['mean_error']:+.3f}", f"{s['mean_abs_error']:.3f}", f"{s['max_abs_error']:.3f}",
                         f"{s['coverage']:.2f}", f"{s['mean_width']:.3f}"])
    allv = [summarize(r) for r in records]
    body.append(["all", sum(r["rows"] for r in records), "", "", "verified",
                 f"{np.mean([s['mean_error'] for s in allv]):+.3f}",
                 f"{np.mean([s['mean_abs_error'] for s in allv]):.3f}",
                 f"{max(s['max_abs_error'] for s in allv):.3f}", f"{np.mean([s['coverage'] for s in allv]):.2f}",
                 f"{np.mean([s['mean_width'] for s in allv]):.3f}"])
    return format_table(head, body, markdown=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--n", type=int, default=50, help="audit size")
    ap.add_argument("--draws", type=int, default=100, help="audits per set")
    args = ap.parse_args()
    print_run_info(run_info())
    records = []
    for name in args.sets:
        rec = audit_runs(name, args.n, args.draws)
        records.append(rec)
        s = summarize(rec)
        print(f"{name}: {rec['method']} labeled {rec['rows']} rows in {rec['label_seconds']:.0f}s, true accuracy "
              f"{rec['true_accuracy']:.3f}; verified mean |error| {s['mean_abs_error']:.3f}, coverage "
              f"{s['coverage']:.2f}", flush=True)
    print(table(records, args.n))


if __name__ == "__main__":
    sys.exit(main())
