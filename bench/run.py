"""Benchmark of the core labeling pipeline against what a user can do without fewlabels.

For each dataset and seed, ``--labels`` uniformly random train rows keep their label and
the rest of the train split is the unlabeled pool. On the same embeddings and the same
labeled rows it measures:

* fewlabels ``label_arrays`` (automatic choice): accuracy of its labels on the unlabeled
  train rows ("pool accuracy"), test accuracy of its end model, the report's accuracy
  estimate, the chosen method, calibration error and the time of each stage;
* every registered labeling method fitted directly (pool accuracy, and test accuracy of its
  own ``predict_proba`` on the test split);
* anchors from scikit-learn: ``LabelSpreading(kernel="knn")``,
  ``SelfTrainingClassifier(LogisticRegression)``, ``LogisticRegression`` on the labeled
  rows only, and (once per dataset) ``LogisticRegression`` on all train labels, the ceiling.

Raw per-seed records go to a JSON file (rewritten atomically after each dataset); a summary
over seeds is printed and optionally written as markdown.

    python bench/run.py                                   # all datasets, 3 seeds, 100 labels
    python bench/run.py --datasets trec sms_spam --seeds 1
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

from common import (ROOT, Dataset, accuracy, datasets, format_table, load, mean_present, print_run_info, run_info,
                    sample_labels, timed_fit)
from fewlabels.graph import knn_graph
from fewlabels.io import write_json
from fewlabels.labelers.registry import REGISTRY, available, make_labeler
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool

#: anchor key -> column title; the ceiling (logistic regression on all train labels) is separate
ANCHORS = {"label_spreading": "LabelSpreading", "self_training": "SelfTraining", "logreg_labeled": "LogReg@k"}
#: fewlabels counts as matching the anchors when its test accuracy is at least best anchor − this
TOLERANCE = 0.01


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------

def run_fewlabels(ds: Dataset, y: np.ndarray, unl: np.ndarray, seed: int) -> dict:
    """fewlabels' automatic pipeline, end model included."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    r = label_arrays(Pool(X=ds.X_train, y=y, classes=ds.classes, class_embeddings=ds.class_embeddings),
                     LabelOptions.of(random_state=seed), timings=timings)
    total = time.perf_counter() - t
    pool = accuracy(r.labels[unl], ds.y_train[unl])
    est = r.report["estimated_accuracy"]
    cv = None if est is None else est.get("cross_validated", est)
    cal = r.report["calibration"]
    return {
        "method": r.method,
        "pool_acc": pool,
        "test_acc": accuracy(r.end_model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test),
        "estimate": None if est is None else {k: est[k] for k in ("value", "low", "high")},
        "estimate_abs_err": None if est is None else abs(est["value"] - pool),
        "estimate_covers": None if est is None else bool(est["low"] <= pool <= est["high"]),
        "cv_estimate_abs_err": None if cv is None else abs(cv["value"] - pool),
        "cv_estimate_covers": None if cv is None else bool(cv["low"] <= pool <= cv["high"]),
        "temperature": cal.get("temperature"),
        "ece_before": cal.get("ece_before"),
        "ece_after": cal.get("ece_after"),
        "candidates_oof": r.report["candidates"],
        "fallback": r.report["fallback"],
        "warnings": r.warnings,
        "timings_s": timings,
        "total_s": total,
    }


def run_candidates(ds: Dataset, y: np.ndarray, unl: np.ndarray, seed: int, graph) -> dict:
    """Each registered method fitted on the pool: pool accuracy and its own test accuracy."""
    context = {"n_classes": len(ds.classes), "class_embeddings": ds.class_embeddings, "graph": graph,
               "random_state": seed}
    out = {}
    for name in REGISTRY:
        if not available(name, context):
            out[name] = {"error": "unavailable"}
            continue
        model = make_labeler(name, **context)
        rec: dict = {}
        try:
            rec["fit_s"], rec["warnings"] = timed_fit(model, ds.X_train, y)
            rec["pool_acc"] = accuracy(model.predict_proba(ds.X_train)[unl].argmax(axis=1), ds.y_train[unl])
        except Exception as exc:  # a failing method is a result to report, not a crash
            out[name] = {"error": f"fit: {type(exc).__name__}: {exc}"}
            continue
        try:
            t = time.perf_counter()
            rec["test_acc"] = accuracy(model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test)
            rec["test_predict_s"] = time.perf_counter() - t
        except Exception as exc:
            rec["test_acc"] = None
            rec["error"] = f"predict test: {type(exc).__name__}: {exc}"
        out[name] = rec
    return out


def run_anchors(ds: Dataset, y: np.ndarray, unl: np.ndarray) -> dict:
    """scikit-learn baselines on the same embeddings and labeled rows."""
    lab = ~unl
    out = {}

    ls = LabelSpreading(kernel="knn")
    fit_s, warns = timed_fit(ls, ds.X_train, y)
    with warnings.catch_warnings():
        # rows whose neighbours carry no label mass give 0/0; scikit-learn then predicts classes_[0]
        warnings.simplefilter("ignore", RuntimeWarning)
        P_test = ls.predict_proba(ds.X_test)
    out["label_spreading"] = {
        "pool_acc": accuracy(ls.transduction_[unl], ds.y_train[unl]),
        "test_acc": accuracy(ls.classes_[np.nan_to_num(P_test).argmax(axis=1)], ds.y_test),
        "fit_s": fit_s, "warnings": warns, "n_iter": int(ls.n_iter_), "converged": bool(ls.n_iter_ < ls.max_iter),
        # rows no label reached (all-zero distribution): labeled classes_[0] by default
        "n_pool_unreached": int((ls.label_distributions_[unl].sum(axis=1) == 0).sum()),
        "n_test_unreached": int(np.isnan(P_test).any(axis=1).sum()),
    }

    st = SelfTrainingClassifier(estimator=LogisticRegression(max_iter=1000))
    fit_s, warns = timed_fit(st, ds.X_train, y)
    out["self_training"] = {
        "pool_acc": accuracy(st.predict(ds.X_train[unl]), ds.y_train[unl]),
        "test_acc": accuracy(st.predict(ds.X_test), ds.y_test),
        "fit_s": fit_s, "warnings": warns, "n_iter": int(st.n_iter_),
        "termination": st.termination_condition_, "n_pseudo_labeled": int((st.transduction_[unl] >= 0).sum()),
    }

    lr = LogisticRegression(max_iter=1000)
    fit_s, warns = timed_fit(lr, ds.X_train[lab], y[lab])
    out["logreg_labeled"] = {
        "pool_acc": accuracy(lr.predict(ds.X_train[unl]), ds.y_train[unl]),
        "test_acc": accuracy(lr.predict(ds.X_test), ds.y_test),
        "fit_s": fit_s, "warnings": warns,
    }
    return out


def run_ceiling(ds: Dataset) -> dict:
    """Logistic regression on all train labels: what full labeling would give."""
    lr = LogisticRegression(max_iter=1000)
    fit_s, warns = timed_fit(lr, ds.X_train, ds.y_train)
    return {"test_acc": accuracy(lr.predict(ds.X_test), ds.y_test), "fit_s": fit_s, "warnings": warns}


def run_dataset(ds: Dataset, seeds: list[int], n_labels: int) -> tuple[list[dict], dict]:
    """All measurements on one dataset: per-seed records, and what is measured once (ceiling)."""
    ceiling = run_ceiling(ds)
    t = time.perf_counter()
    graph = knn_graph(ds.X_train, 10)
    info = {"n_train": len(ds.y_train), "n_test": len(ds.y_test), "classes": ds.classes, "ceiling": ceiling,
            "candidate_graph_s": time.perf_counter() - t}
    records = []
    for seed in seeds:
        y = sample_labels(ds.y_train, n_labels, seed)
        unl = y < 0
        rec = {
            "dataset": ds.name, "seed": seed, "n_train": len(ds.y_train), "n_test": len(ds.y_test),
            "k": len(ds.classes), "n_labels": int((~unl).sum()),
            "n_classes_labeled": int(len(np.unique(y[~unl]))),
            "fewlabels": run_fewlabels(ds, y, unl, seed),
            "candidates": run_candidates(ds, y, unl, seed, graph),
            "anchors": run_anchors(ds, y, unl),
        }
        records.append(rec)
        fl = rec["fewlabels"]
        print(f"  {ds.name} seed {seed}: fewlabels {fl['method']} pool {fl['pool_acc']:.3f} "
              f"test {fl['test_acc']:.3f} est {_fmt(fl['estimate'] and fl['estimate']['value'])} "
              f"({fl['total_s']:.1f}s) | "
              + " ".join(f"{ANCHORS[a]} {v['test_acc']:.3f}" for a, v in rec["anchors"].items())
              + f" | ceiling {ceiling['test_acc']:.3f}", flush=True)
    return records, info


# ---------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------

def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def summarise(records: list[dict], per_dataset: dict) -> list[dict]:
    """Means over seeds, one dict per dataset (in order of first appearance)."""
    names = list(dict.fromkeys(r["dataset"] for r in records))
    out = []
    for name in names:
        rs = [r for r in records if r["dataset"] == name]
        fl = [r["fewlabels"] for r in rs]
        ceil = per_dataset[name]["ceiling"]["test_acc"]
        fl_test = mean_present(f["test_acc"] for f in fl)
        out.append({
            "dataset": name, "n_train": rs[0]["n_train"], "k": rs[0]["k"], "n_seeds": len(rs),
            "fewlabels_test_acc": fl_test,
            "fewlabels_pool_acc": mean_present(f["pool_acc"] for f in fl),
            "estimate": mean_present(f["estimate"] and f["estimate"]["value"] for f in fl),
            "estimate_abs_err": mean_present(f["estimate_abs_err"] for f in fl),
            "estimate_coverage": mean_present(f["estimate_covers"] for f in fl),  # share of seeds inside low..high
            "cv_estimate_abs_err": mean_present(f.get("cv_estimate_abs_err") for f in fl),
            "cv_estimate_coverage": mean_present(f.get("cv_estimate_covers") for f in fl),
            "ece_after": mean_present(f["ece_after"] for f in fl),
            "chosen": dict(Counter(f["method"] for f in fl)),
            "fewlabels_total_s": mean_present(f["total_s"] for f in fl),
            "anchors_test_acc": {a: mean_present(r["anchors"][a]["test_acc"] for r in rs) for a in ANCHORS},
            "anchors_pool_acc": {a: mean_present(r["anchors"][a]["pool_acc"] for r in rs) for a in ANCHORS},
            "candidates_pool_acc": {c: mean_present(r["candidates"][c].get("pool_acc") for r in rs) for c in REGISTRY},
            "candidates_test_acc": {c: mean_present(r["candidates"][c].get("test_acc") for r in rs) for c in REGISTRY},
            "ceiling_test_acc": ceil,
            "share_of_ceiling": fl_test / ceil,
        })
    return out


def _chosen(counts: dict) -> str:
    return " ".join(f"{m}:{n}" for m, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def tables(summary: list[dict], markdown: bool = False) -> str:
    """The main table, the pool-accuracy table and the check lines, as one text block."""
    def avg(key, sub=None):
        """Mean across datasets of a summary column (``sub``: a key inside a dict column)."""
        return mean_present(s[key] if sub is None else s[key][sub] for s in summary)

    heads = ["dataset", "n_train", "k", "FL test", "FL pool", "estimate", "|est-pool|", "covered", "|CV est-pool|",
             "CV covered", "chosen",
             *(f"{t} test" for t in ANCHORS.values()), "ceiling test", "FL/ceiling", "FL seconds"]
    rows = [[s["dataset"], s["n_train"], s["k"], s["fewlabels_test_acc"], s["fewlabels_pool_acc"], s["estimate"],
             s["estimate_abs_err"], s["estimate_coverage"], s["cv_estimate_abs_err"], s["cv_estimate_coverage"],
             _chosen(s["chosen"]), *(s["anchors_test_acc"][a] for a in ANCHORS),
             s["ceiling_test_acc"], s["share_of_ceiling"], f"{s['fewlabels_total_s']:.1f}"] for s in summary]
    total_chosen = sum((Counter(s["chosen"]) for s in summary), Counter())
    rows.append(["average", f"{avg('n_train'):.0f}", f"{avg('k'):.1f}", avg("fewlabels_test_acc"), avg("fewlabels_pool_acc"),
                 avg("estimate"), avg("estimate_abs_err"), avg("estimate_coverage"), avg("cv_estimate_abs_err"),
                 avg("cv_estimate_coverage"), _chosen(total_chosen),
                 *(avg("anchors_test_acc", a) for a in ANCHORS), avg("ceiling_test_acc"), avg("share_of_ceiling"),
                 f"{avg('fewlabels_total_s'):.1f}"])

    pool_heads = ["dataset", "FL (auto)", *REGISTRY, *ANCHORS.values()]
    pool_rows = [[s["dataset"], s["fewlabels_pool_acc"], *(s["candidates_pool_acc"][c] for c in REGISTRY),
                  *(s["anchors_pool_acc"][a] for a in ANCHORS)] for s in summary]
    pool_rows.append(["average", avg("fewlabels_pool_acc"), *(avg("candidates_pool_acc", c) for c in REGISTRY),
                      *(avg("anchors_pool_acc", a) for a in ANCHORS)])

    checks = []
    for s in summary:
        best = max(ANCHORS, key=lambda a: s["anchors_test_acc"][a])
        ok = s["fewlabels_test_acc"] >= s["anchors_test_acc"][best] - TOLERANCE
        checks.append(f"{s['dataset']}: fewlabels {s['fewlabels_test_acc']:.3f} vs best anchor {ANCHORS[best]} "
                      f"{s['anchors_test_acc'][best]:.3f} -> {'OK' if ok else 'BELOW'} (tolerance {TOLERANCE})")
    checks.append("average test acc: fewlabels " + f"{avg('fewlabels_test_acc'):.3f} | "
                  + " | ".join(f"{t} {avg('anchors_test_acc', a):.3f}" for a, t in ANCHORS.items())
                  + f" | ceiling {avg('ceiling_test_acc'):.3f}")

    h = "### " if markdown else ""
    bullet = "- " if markdown else ""
    return "\n\n".join([
        f"{h}Test accuracy and fewlabels' estimate (mean over seeds; FL = fewlabels, pool = unlabeled train rows)",
        format_table(heads, rows, markdown),
        f"{h}Pool accuracy (unlabeled train rows) of each method fitted directly, mean over seeds",
        format_table(pool_heads, pool_rows, markdown),
        f"{h}Check: fewlabels end-model test accuracy >= best anchor - {TOLERANCE}",
        "\n".join(bullet + c for c in checks),
    ])


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", metavar="NAME", help=f"default: all ({', '.join(datasets())})")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default: 3)")
    ap.add_argument("--labels", type=int, default=100, help="random train labels per seed (default: 100)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "core.json",
                    help="results JSON (default: bench/results/core.json)")
    ap.add_argument("--markdown", type=Path, metavar="PATH", help="also write the summary tables as markdown")
    args = ap.parse_args(argv)
    names = args.datasets or datasets()
    unknown = sorted(set(names) - set(datasets()))
    if unknown:
        ap.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(datasets())}")
    if args.seeds < 1 or args.labels < 2:
        ap.error("--seeds must be >= 1 and --labels >= 2")

    info = run_info()
    print_run_info(info)
    seeds = list(range(args.seeds))
    records: list[dict] = []
    per_dataset: dict[str, dict] = {}
    for name in names:
        t = time.perf_counter()
        ds = load(name)
        print(f"{name}: {len(ds.y_train)} train / {len(ds.y_test)} test, {len(ds.classes)} classes "
              f"(loaded in {time.perf_counter() - t:.1f}s)", flush=True)
        recs, per_dataset[name] = run_dataset(ds, seeds, args.labels)
        records += recs
        write_json({"meta": {**info, "args": {"datasets": names, "seeds": seeds, "labels": args.labels}},
                    "summary": summarise(records, per_dataset), "datasets": per_dataset, "records": records},
                   args.out)

    summary = summarise(records, per_dataset)
    text = tables(summary)
    print("\n" + text)
    print(f"\nresults: {args.out}")
    if args.markdown is not None:
        from fewlabels.io import atomic_path

        md = (f"# fewlabels core benchmark\n\n`{info['command']}`\n\n{info['date']}, {info['platform']}, "
              f"{info['cpu_count']} CPUs; {args.labels} random labels, seeds {seeds}\n\n"
              + tables(summary, markdown=True) + "\n")
        with atomic_path(args.markdown) as tmp:
            tmp.write_text(md, encoding="utf-8")
        print(f"markdown: {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
