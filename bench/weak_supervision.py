"""Weak supervision benchmark: label models on hand-written rules, and their speed.

Part 1, real rules, 0 given labels. ``bench/rules/sms_spam.toml`` and
``bench/rules/youtube_spam.py`` hold rules a user would write in ten minutes from general
knowledge of spam (not tuned on any split). They are applied to each train split; every
label model of fewlabels (and, with ``--snorkel``, Snorkel 0.10's ``LabelModel`` and
``MajorityLabelVoter``, on the identical L) labels the pool. Reported: accuracy on the
rows some rule covers, and on all rows (rows without votes get each model's prior, i.e.
its argmax; Snorkel's uniform prior gives class 0, "ham", there).

Part 2, speed. Synthetic L from conditionally independent rules of known accuracy
(0.6–0.9) and coverage (0.1–0.5), 2 balanced classes, at 10k / 100k / 1M rows × 20 / 200
rules: fit and predict time of each model (best of ``--repeat`` runs), accuracy, and how
far each model's estimated rule accuracies are from the true ones. Snorkel's ``LabelModel`` (its defaults: 100
epochs, seed 0) runs on the identical L in its own Python (best of ``--repeat`` runs when
a run takes under 10 s); a Snorkel run longer than ``--snorkel-timeout`` seconds is
stopped and reported as such.

    python bench/weak_supervision.py --snorkel bench/.venv-snorkel/bin/python

Snorkel lives in its own virtual environment (old pins): ``python -m venv
bench/.venv-snorkel && bench/.venv-snorkel/bin/pip install snorkel==0.10.0``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DATA, ROOT, format_table, print_run_info, read_split, run_info

from fewlabels.io import write_json
from fewlabels.labelers.label_models import LABEL_MODELS
from fewlabels.signals import analyze, apply_rules, load_rules
from fewlabels.signals.synthetic import make_votes

RULES = Path(__file__).resolve().parent / "rules"
RULE_FILES = {"sms_spam": RULES / "sms_spam.toml", "youtube_spam": RULES / "youtube_spam.py"}
SIZES = [(10_000, 20), (100_000, 20), (1_000_000, 20), (10_000, 200), (100_000, 200), (1_000_000, 200)]

#: fewlabels models run in both parts: name → (label model, parameters)
MODELS = {name: (name, {}) for name in LABEL_MODELS}
MODELS["dawid_skene (abstain evidence)"] = ("dawid_skene", {"abstain_evidence": True})
MODELS["metal (abstain evidence)"] = ("metal", {"abstain_evidence": True})

SNORKEL_SCRIPT = """
import json, sys, time
import numpy as np
from snorkel.labeling.model import LabelModel, MajorityLabelVoter
L = np.load(sys.argv[1]).astype(np.int64)
k, mode = int(sys.argv[2]), sys.argv[3]
out = {}
t = time.perf_counter()
lm = LabelModel(cardinality=k, verbose=False)
lm.fit(L, seed=0, progress_bar=False)
out["fit_s"] = time.perf_counter() - t
t = time.perf_counter()
P = lm.predict_proba(L)
out["predict_s"] = time.perf_counter() - t
out["LabelModel"] = P.argmax(axis=1).tolist()
out["accuracies"] = lm.get_weights().tolist()
if mode == "all":
    out["MajorityLabelVoter"] = MajorityLabelVoter(cardinality=k).predict_proba(L).argmax(axis=1).tolist()
json.dump(out, open(sys.argv[4], "w"))
"""


def run_snorkel(python: str, L: np.ndarray, k: int, mode: str, timeout: float) -> dict:
    """Snorkel on L in another Python: {"fit_s", "predict_s", "LabelModel": preds, ...} or {"error"}."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        np.save(d / "L.npy", L)
        (d / "run.py").write_text(SNORKEL_SCRIPT)
        try:
            proc = subprocess.run([python, str(d / "run.py"), str(d / "L.npy"), str(k), mode, str(d / "out.json")],
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"stopped after {timeout:.0f} s"}
        if proc.returncode:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
        return json.loads((d / "out.json").read_text())


def accuracy(pred, truth) -> float:
    return float(np.mean(np.asarray(pred) == truth)) if len(truth) else float("nan")


def real_rules(name: str, snorkel: str | None, timeout: float) -> dict:
    texts, labels = read_split(DATA / name / "train.csv")
    classes = sorted(set(labels))
    truth = np.array([classes.index(v) for v in labels])
    k = len(classes)
    rules = load_rules(RULE_FILES[name])
    t = time.perf_counter()
    applied = apply_rules(texts, rules, classes)
    apply_s = time.perf_counter() - t
    L = applied.L
    stats = analyze(L, applied.rule_names, classes, truth)  # truth only for the per-rule table
    covered = (L >= 0).any(axis=1)
    out = {"rules_file": f"bench/rules/{RULE_FILES[name].name}", "rows": len(texts), "classes": classes,
           "class_shares": (np.bincount(truth, minlength=k) / len(truth)).tolist(), "apply_s": apply_s,
           "slowest_rules": applied.timings(3), "totals": stats["totals"], "rules": stats["rules"], "models": {}}
    for label, (model, params) in MODELS.items():
        t = time.perf_counter()
        m = LABEL_MODELS[model](n_classes=k, **params).fit(L)
        fit_s = time.perf_counter() - t
        pred = m.predict(L)
        out["models"][label] = {"covered_acc": accuracy(pred[covered], truth[covered]),
                                "all_acc": accuracy(pred, truth), "fit_s": fit_s,
                                "prior": np.round(m.prior_, 3).tolist()}
    if snorkel:
        res = run_snorkel(snorkel, L, k, "all", timeout)
        for label in ("LabelModel", "MajorityLabelVoter"):
            if label not in res:
                out["models"][f"snorkel {label}"] = {"error": res.get("error")}
                continue
            pred = np.asarray(res[label])
            out["models"][f"snorkel {label}"] = {"covered_acc": accuracy(pred[covered], truth[covered]),
                                                 "all_acc": accuracy(pred, truth),
                                                 "fit_s": res["fit_s"] if label == "LabelModel" else None}
    return out


def speed(snorkel: str | None, timeout: float, sizes, repeat: int) -> list[dict]:
    records = []
    for n, m in sizes:
        s = make_votes(n, m, 2, accuracy=(0.6, 0.9), coverage=(0.1, 0.5), random_state=0)
        rec = {"n": n, "m": m, "models": {}}
        for label, (model, params) in MODELS.items():
            if "abstain evidence" in label:  # same fit as the plain model
                continue
            fit_s = predict_s = float("inf")
            for _ in range(repeat):  # best of `repeat`: the machine is shared
                t = time.perf_counter()
                lm = LABEL_MODELS[model](n_classes=2, **params).fit(s.L)
                fit_s = min(fit_s, time.perf_counter() - t)
                t = time.perf_counter()
                pred = lm.predict(s.L)
                predict_s = min(predict_s, time.perf_counter() - t)
            err = float(np.abs(lm.accuracies_ - s.accuracy).max()) if hasattr(lm, "accuracies_") else None
            rec["models"][label] = {"fit_s": fit_s, "predict_s": predict_s, "acc": accuracy(pred, s.truth),
                                    "recovery_err": err, "n_iter": getattr(lm, "n_iter_", None)}
            print(f"  {n:>9,} × {m:<3} {label:18s} fit {fit_s:7.2f} s  predict {predict_s:6.2f} s", flush=True)
        if model_exact := rec["models"].get("metal"):  # moments from every row, for reference
            fit_s = float("inf")
            for _ in range(repeat):
                t = time.perf_counter()
                lm = LABEL_MODELS["metal"](n_classes=2, moment_sample=None).fit(s.L)
                fit_s = min(fit_s, time.perf_counter() - t)
            rec["models"]["metal (all rows)"] = {
                "fit_s": fit_s, "predict_s": model_exact["predict_s"],
                "acc": accuracy(lm.predict(s.L), s.truth),
                "recovery_err": float(np.abs(lm.accuracies_ - s.accuracy).max()), "n_iter": lm.n_iter_}
        if snorkel:
            res = run_snorkel(snorkel, s.L, 2, "lm", timeout)
            for _ in range(repeat - 1 if res.get("fit_s", np.inf) < 10 else 0):  # best of `repeat` when quick
                again = run_snorkel(snorkel, s.L, 2, "lm", timeout)
                res["fit_s"] = min(res["fit_s"], again.get("fit_s", np.inf))
                res["predict_s"] = min(res["predict_s"], again.get("predict_s", np.inf))
            if "error" in res:
                rec["models"]["snorkel LabelModel"] = {"error": res["error"]}
            else:
                # Snorkel's get_weights() is P(vote right | vote) too
                rec["models"]["snorkel LabelModel"] = {
                    "fit_s": res["fit_s"], "predict_s": res["predict_s"], "acc": accuracy(res["LabelModel"], s.truth),
                    "recovery_err": float(np.abs(np.asarray(res["accuracies"]) - s.accuracy).max())}
            print(f"  {n:>9,} × {m:<3} snorkel LabelModel {rec['models']['snorkel LabelModel']}", flush=True)
        records.append(rec)
    return records


def print_tables(results: dict) -> None:
    for name, res in results.get("real", {}).items():
        t = res["totals"]
        print(f"\n### {name}: {t['rules']} rules ({res['rules_file']}) on {t['rows']} train rows, "
              f"0 given labels; class shares {dict(zip(res['classes'], np.round(res['class_shares'], 3)))}")
        print(f"coverage {t['coverage']:.3f}, overlaps {t['overlaps']:.3f}, conflicts {t['conflicts']:.3f}; "
              f"rules applied in {res['apply_s']:.2f} s")
        rows = [[label, v.get("covered_acc"), v.get("all_acc"), v.get("fit_s"), v.get("error")]
                for label, v in res["models"].items()]
        print(format_table(["label model", f"acc, covered rows ({t['coverage']:.0%})", "acc, all rows", "fit s",
                            "note"], rows, markdown=True))
    if results.get("speed"):
        print("\n### fit time on synthetic L (2 classes), seconds; accuracy; max |estimated − true rule accuracy|")
        rows = []
        for rec in results["speed"]:
            snork = rec["models"].get("snorkel LabelModel", {})
            for label, v in rec["models"].items():
                ratio = (snork["fit_s"] / v["fit_s"]) if snork.get("fit_s") and v.get("fit_s") else None
                rows.append([f"{rec['n']:,} × {rec['m']}", label, v.get("fit_s"), v.get("predict_s"), v.get("acc"),
                             v.get("recovery_err"), None if label.startswith("snorkel") else ratio,
                             v.get("error")])
        print(format_table(["n × m", "model", "fit s", "predict s", "acc", "acc. error", "snorkel fit / this fit",
                            "note"], rows, markdown=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snorkel", default=None, help="a Python with snorkel 0.10 installed")
    ap.add_argument("--snorkel-timeout", type=float, default=180.0)
    ap.add_argument("--datasets", nargs="*", default=list(RULE_FILES))
    ap.add_argument("--sizes", nargs="*", default=[f"{n}x{m}" for n, m in SIZES],
                    help="synthetic sizes as NxM; none to skip the speed part")
    ap.add_argument("--repeat", type=int, default=3,
                    help="time each fit this many times and keep the fastest (Snorkel: when under 10 s)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "weak_supervision.json"))
    args = ap.parse_args()
    info = run_info()
    print_run_info(info)
    results = {"real": {}, "speed": []}
    for name in args.datasets:
        print(f"{name} ...", flush=True)
        results["real"][name] = real_rules(name, args.snorkel, args.snorkel_timeout)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    results["speed"] = speed(args.snorkel, args.snorkel_timeout, sizes, args.repeat)
    write_json({"meta": info, "results": results}, args.out)
    print_tables(results)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
