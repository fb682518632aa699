"""Weak supervision benchmark: hand-written rules on SMS spam and YouTube spam.

The rules in ``bench/rules/<dataset>.toml`` are what a user would write in ten minutes
from general knowledge of spam (never tuned on a test split). For each dataset:

* rule statistics on the train split (coverage, overlaps, conflicts);
* 0 given labels: accuracy of each label model on the rows the rules cover, and of the
  fused method (rules carried to every row by the embeddings) on all train rows, plus
  the test accuracy of fewlabels' end model;
* 100 random given labels (3 seeds): fewlabels with rules (auto over embedding, rule and
  fused candidates) against embeddings only and rules only (Dawid-Skene with the labels);
  pool accuracy and end-model test accuracy;
* optionally (``--snorkel PYTHON``), Snorkel's ``LabelModel`` and ``MajorityLabelVoter`` on
  the identical L, run by another Python that has snorkel installed.

    python bench/weak_supervision.py [--snorkel bench/.venv-snorkel/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from common import ROOT, accuracy, format_table, load, print_run_info, run_info, sample_labels
from fewlabels.io import write_json
from fewlabels.labelers.label_models import LABEL_MODELS
from fewlabels.labelers.registry import make_labeler
from fewlabels.pipeline import label_arrays
from fewlabels.signals import analyze, apply_rules, load_rules

SNORKEL_SCRIPT = """
import json, sys, time, numpy as np
from snorkel.labeling.model import LabelModel, MajorityLabelVoter
L = np.load(sys.argv[1]); k = int(sys.argv[2])
out = {}
t = time.perf_counter(); lm = LabelModel(cardinality=k, verbose=False); lm.fit(L, seed=0)
out["LabelModel"] = {"pred": lm.predict(L, tie_break_policy="random").tolist(), "fit_s": time.perf_counter() - t}
out["MajorityLabelVoter"] = {"pred": MajorityLabelVoter(cardinality=k).predict(L, tie_break_policy="random").tolist()}
json.dump(out, open(sys.argv[3], "w"))
"""


def snorkel_predictions(python: str, L: np.ndarray, k: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        np.save(Path(d) / "L.npy", L.astype(np.int64))
        (Path(d) / "run.py").write_text(SNORKEL_SCRIPT)
        subprocess.run([python, str(Path(d) / "run.py"), str(Path(d) / "L.npy"), str(k), str(Path(d) / "out.json")],
                       check=True, capture_output=True, text=True)
        return json.loads((Path(d) / "out.json").read_text())


def run_dataset(name: str, seeds: int, snorkel: str | None) -> dict:
    ds = load(name)
    k = len(ds.classes)
    rules = load_rules(ROOT / "bench" / "rules" / f"{name}.toml")
    applied = apply_rules(ds.texts_train, rules, ds.classes)
    L = applied.L.astype(np.int64)
    covered = (L >= 0).any(axis=1)
    stats = analyze(L, applied.rule_names, ds.classes)["totals"]
    out: dict = {"rules": len(rules), "totals": stats, "zero_labels": {}, "with_labels": []}
    none = np.full(len(ds.y_train), -1)
    for lm_name, cls in LABEL_MODELS.items():
        t = time.perf_counter()
        pred = cls(n_classes=k).fit(L).predict(L)
        out["zero_labels"][lm_name] = {"covered_acc": accuracy(pred[covered], ds.y_train[covered]),
                                       "fit_s": time.perf_counter() - t}
    if snorkel:
        for s_name, rec in snorkel_predictions(snorkel, L, k).items():
            pred = np.asarray(rec["pred"])
            out["zero_labels"][f"snorkel_{s_name}"] = {"covered_acc": accuracy(pred[covered], ds.y_train[covered]),
                                                       "fit_s": rec.get("fit_s")}
    r = label_arrays(ds.X_train, none, ds.classes, class_embeddings=ds.class_embeddings, votes=L, random_state=0)
    out["zero_labels"]["fewlabels (fused, all rows)"] = {
        "pool_acc": accuracy(r.labels, ds.y_train),
        "test_acc": accuracy(r.end_model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test)}
    for seed in range(seeds):
        y = sample_labels(ds.y_train, 100, seed)
        unl = y < 0
        rec = {"seed": seed}
        for label, kwargs in (("rules+embeddings", {"votes": L}), ("embeddings only", {})):
            res = label_arrays(ds.X_train, y, ds.classes, class_embeddings=ds.class_embeddings, random_state=seed,
                               **kwargs)
            rec[label] = {"method": res.method, "pool_acc": accuracy(res.labels[unl], ds.y_train[unl]),
                          "test_acc": accuracy(res.end_model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test)}
        ds_model = make_labeler("dawid_skene", n_classes=k).fit(L, y)
        rec["rules only (dawid_skene)"] = {"pool_acc": accuracy(ds_model.predict(L)[unl], ds.y_train[unl])}
        out["with_labels"].append(rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["sms_spam", "youtube_spam"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--snorkel", default=None, help="a Python with snorkel 0.10 installed")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "weak_supervision.json"))
    args = ap.parse_args()
    info = run_info()
    print_run_info(info)
    warnings.filterwarnings("ignore")
    results = {name: run_dataset(name, args.seeds, args.snorkel) for name in args.datasets}
    write_json({"meta": info, "results": results}, args.out)
    for name, res in results.items():
        t = res["totals"]
        print(f"\n{name}: {res['rules']} rules, coverage {t['coverage']:.3f}, overlaps {t['overlaps']:.3f}, "
              f"conflicts {t['conflicts']:.3f}")
        rows = [[m, v.get("covered_acc"), v.get("pool_acc"), v.get("test_acc"), v.get("fit_s")]
                for m, v in res["zero_labels"].items()]
        print("0 given labels")
        print(format_table(["method", "acc on covered rows", "acc on all train rows", "end-model test acc",
                            "fit s"], rows, markdown=True))
        keys = ["rules+embeddings", "embeddings only", "rules only (dawid_skene)"]
        rows = [[kk, np.mean([r[kk]["pool_acc"] for r in res["with_labels"]]),
                 np.mean([r[kk]["test_acc"] for r in res["with_labels"]]) if "test_acc" in res["with_labels"][0][kk]
                 else None] for kk in keys]
        print(f"100 given labels, mean of {args.seeds} seeds")
        print(format_table(["setting", "pool acc", "end-model test acc"], rows, markdown=True))
        print("chosen with rules:", [r["rules+embeddings"]["method"] for r in res["with_labels"]])
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
