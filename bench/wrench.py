"""Weak supervision on rules other people wrote: WRENCH's TREC, YouTube and SMS, against Snorkel.

Data: ``../shared/data/wrench/{trec,youtube,sms}``, WRENCH's own copies with its labeling
functions already applied (``weak_labels``). fewlabels pools train + test (transductive, as
a user would label everything at once) and is scored on the test rows; Snorkel 0.10 fits
on train and predicts test, as WRENCH does, ties broken at random (``tie_break_policy=
"random"``) for both ``LabelModel`` and ``MajorityLabelVoter``, on the identical L. Metric:
accuracy, and F1 of the spam class for sms (WRENCH's metric there). Test labels are used
for scoring only.

Part ``zero`` (0 given labels): every fewlabels label model alone (fit time too), the
automatic choice (``label_arrays`` with the votes: with no labels it uses ``fused``) and
its end model on the test texts, Snorkel's two models; and the zero-label accuracy
estimate of the report against the true accuracy on the pool.

Part ``hundred`` (100 uniformly random train labels, seeds 0..``--seeds``-1): rules only
(``majority`` and ``dawid_skene`` fitted with the labels), embeddings only (the automatic
choice without votes), and the automatic choice with the votes; labels on the test rows and
the end model on the test texts.

Part ``estimate`` (0 given labels): the report's model-based accuracy estimate against the
true pool accuracy, on the WRENCH sets and, as a check on rules that were not looked at
while the estimate was built, on this repository's hand-written rules for SMS and YouTube
spam (``bench/rules``, train split as the pool).

    python bench/wrench.py --snorkel bench/.venv-snorkel/bin/python --out bench/results/wrench.json

Snorkel lives in its own environment (old pins): ``python -m venv bench/.venv-snorkel &&
bench/.venv-snorkel/bin/pip install snorkel==0.10.0``.
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
from common import DATA, ROOT, class_embeddings, encoder, format_table, print_run_info, run_info, sample_labels
from sklearn.metrics import f1_score

from fewlabels.embed import EmbeddingCache, embed_texts
from fewlabels.io import write_json
from fewlabels.labelers.label_models import LABEL_MODELS
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool
from fewlabels.io.votes import read_wrench

SETS = ("trec", "youtube", "sms")
#: WRENCH's published numbers (Zhang et al. 2021, Table 5 of the NeurIPS paper, label model
#: alone on test), filled in only where they were found in stored text; see BENCHMARKS.md
SNORKEL_SCRIPT = """
import json, sys, time
import numpy as np
from snorkel.labeling.model import LabelModel, MajorityLabelVoter
L_train = np.load(sys.argv[1]).astype(np.int64)
L_test = np.load(sys.argv[2]).astype(np.int64)
k = int(sys.argv[3])
out = {}
t = time.perf_counter()
lm = LabelModel(cardinality=k, verbose=False)
lm.fit(L_train, seed=0, progress_bar=False)
out["fit_s"] = time.perf_counter() - t
out["LabelModel"] = lm.predict(L_test, tie_break_policy="random").tolist()
out["MajorityLabelVoter"] = MajorityLabelVoter(cardinality=k).predict(L_test, tie_break_policy="random").tolist()
json.dump(out, open(sys.argv[4], "w"))
"""


def load_set(name: str) -> dict:
    """Train and test of a WRENCH set: L, gold codes, texts, embeddings; class names and embeddings."""
    enc, cache = encoder(), EmbeddingCache()
    out = {}
    for split in ("train", "test"):
        table, classes = read_wrench(DATA / "wrench" / name / f"{split}.json")
        texts = table.column("text").to_pylist()
        out[split] = {
            "L": np.array([json.loads(v) for v in table.column("weak_labels").to_pylist()], dtype=np.int64),
            "y": np.array([classes.index(v) for v in table.column("gold_label").to_pylist()]),
            "texts": texts,
            "X": embed_texts(texts, enc, cache),
        }
    out["classes"] = classes
    out["C"] = class_embeddings(classes, enc, cache)
    return out


def score(name: str, pred, truth) -> float:
    pred, truth = np.asarray(pred), np.asarray(truth)
    if name == "sms":
        return float(f1_score(truth, pred, pos_label=1, zero_division=0))
    return float(np.mean(pred == truth))


def run_snorkel(python: str, L_train, L_test, k: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        np.save(d / "tr.npy", L_train)
        np.save(d / "te.npy", L_test)
        (d / "run.py").write_text(SNORKEL_SCRIPT)
        proc = subprocess.run([python, str(d / "run.py"), str(d / "tr.npy"), str(d / "te.npy"), str(k),
                               str(d / "out.json")], capture_output=True, text=True, check=False)
        if proc.returncode:
            return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads((d / "out.json").read_text())


def pooled(ds: dict):
    X = np.vstack([ds["train"]["X"], ds["test"]["X"]])
    L = np.vstack([ds["train"]["L"], ds["test"]["L"]])
    truth = np.concatenate([ds["train"]["y"], ds["test"]["y"]])
    return X, L, truth, len(ds["train"]["y"])


def part_zero(name: str, ds: dict, snorkel: str | None) -> dict:
    X, L, truth, n_train = pooled(ds)
    k = len(ds["classes"])
    y_test = ds["test"]["y"]
    test = slice(n_train, None)
    rec = {"rows": len(truth), "rules": L.shape[1], "classes": ds["classes"],
           "coverage_test": float((ds["test"]["L"] >= 0).any(axis=1).mean()), "models": {}}
    y = np.full(len(truth), -1)
    for model in LABEL_MODELS:
        t = time.perf_counter()
        m = LABEL_MODELS[model](n_classes=k).fit(L, y)
        fit_s = time.perf_counter() - t
        pred = m.predict(L)
        rec["models"][model] = {"test": score(name, pred[test], y_test), "fit_s": fit_s,
                                "fallback": getattr(m, "start_", None)}
    t = time.perf_counter()
    res = label_arrays(Pool(X=X, y=y, classes=ds["classes"], class_embeddings=ds["C"], votes=L),
                       LabelOptions.of(random_state=0))
    seconds = time.perf_counter() - t
    end_pred = res.end_model.predict_proba(ds["test"]["X"]).argmax(axis=1)
    est = res.report.get("estimated_accuracy") or {}
    pool_acc = float(np.mean(res.labels == truth))
    rec["auto"] = {"method": res.method, "test": score(name, res.labels[test], y_test),
                   "end_model_test": score(name, end_pred, y_test), "seconds": seconds,
                   "pool_accuracy": pool_acc, "estimate": est.get("value"), "estimate_low": est.get("low"),
                   "estimate_high": est.get("high"), "estimate_method": est.get("method")}
    if snorkel:
        sn = run_snorkel(snorkel, ds["train"]["L"], ds["test"]["L"], k)
        for model in ("LabelModel", "MajorityLabelVoter"):
            rec["models"][f"snorkel {model}"] = ({"error": sn["error"]} if "error" in sn else
                                                 {"test": score(name, sn[model], y_test),
                                                  "fit_s": sn["fit_s"] if model == "LabelModel" else None})
    return rec


def part_hundred(name: str, ds: dict, seeds: int, n_labels: int) -> dict:
    X, L, truth, n_train = pooled(ds)
    k = len(ds["classes"])
    y_test = ds["test"]["y"]
    test = slice(n_train, None)
    runs = []
    for seed in range(seeds):
        y = np.full(len(truth), -1)
        y[:n_train] = sample_labels(ds["train"]["y"], n_labels, seed)
        r = {"seed": seed}
        for model in ("majority", "dawid_skene"):
            pred = LABEL_MODELS[model](n_classes=k).fit(L, y).predict(L)
            r[f"rules_only {model}"] = score(name, pred[test], y_test)
        for tag, votes in (("embeddings_only", None), ("auto", L)):
            t = time.perf_counter()
            res = label_arrays(Pool(X=X, y=y, classes=ds["classes"], class_embeddings=ds["C"], votes=votes),
                               LabelOptions.of(random_state=seed))
            r[f"{tag} seconds"] = time.perf_counter() - t
            r[tag] = score(name, res.labels[test], y_test)
            r[f"{tag} end_model"] = score(name, res.end_model.predict_proba(ds["test"]["X"]).argmax(axis=1), y_test)
            r[f"{tag} method"] = res.method
            if votes is not None:
                r["auto candidates"] = {c: round(v["accuracy"], 3) for c, v in res.report["candidates"].items()}
        runs.append(r)
        print(f"  {name} seed {seed}: " + ", ".join(f"{key} {v:.3f}" if isinstance(v, float) else f"{key} {v}"
                                                  for key, v in r.items() if key != "auto candidates"), flush=True)
    return {"runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--parts", nargs="+", default=["zero", "hundred"], choices=["zero", "hundred", "estimate"])
    ap.add_argument("--own-rules", nargs="*", default=["sms_spam", "youtube_spam"],
                    help="part estimate: shared datasets whose bench/rules are applied too")
    ap.add_argument("--snorkel", help="python of an environment with snorkel==0.10.0")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--labels", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "wrench.json"))
    args = ap.parse_args()
    info = run_info()
    print_run_info(info)
    results = {"run": info, "sets": {}}
    for name in args.sets:
        ds = load_set(name)
        rec = results["sets"][name] = {}
        if "zero" in args.parts:
            rec["zero"] = part_zero(name, ds, args.snorkel)
            z = rec["zero"]
            print(f"{name} 0 labels: " + ", ".join(f"{m} {v.get('test', float('nan')):.3f}"
                                                    for m, v in z["models"].items())
                  + f"; auto ({z['auto']['method']}) {z['auto']['test']:.3f}, end model "
                  f"{z['auto']['end_model_test']:.3f}; pool accuracy {z['auto']['pool_accuracy']:.3f}, "
                  f"estimate {z['auto']['estimate']}", flush=True)
        if "hundred" in args.parts:
            rec["hundred"] = part_hundred(name, ds, args.seeds, args.labels)
        if "estimate" in args.parts:
            X, L, truth, _ = pooled(ds)
            rec["estimate"] = estimate_row(X, L, truth, ds["classes"], ds["C"])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(results, args.out)
    if "estimate" in args.parts:
        for name in args.own_rules:
            results["sets"][f"own:{name}"] = {"estimate": estimate_row(*own_rules_pool(name))}
            write_json(results, args.out)
        print(estimate_table({n: r["estimate"] for n, r in results["sets"].items() if "estimate" in r}))
    if "zero" in args.parts:
        print(summary(results, markdown=False))


def estimate_row(X, L, truth, classes, C) -> dict:
    """The 0-label report's estimate on one pool, with the truth it estimates."""
    res = label_arrays(Pool(X=X, y=np.full(len(truth), -1), classes=classes, class_embeddings=C, votes=L),
                       LabelOptions.of(random_state=0))
    est = res.report["estimated_accuracy"]
    covered = (L >= 0).any(axis=1)
    return {"method": res.method, "pool_accuracy": float(np.mean(res.labels == truth)),
            "covered_pool_accuracy": float(np.mean(res.labels[covered] == truth[covered])),
            **{key: est.get(key) for key in ("value", "low", "high", "model", "other_model_value",
                                             "covered_accuracy", "uncovered_accuracy", "coverage")}}


def own_rules_pool(name: str):
    """(X, L, truth, classes, C) of a shared dataset's train split with bench/rules applied."""
    from common import load
    from weak_supervision import RULE_FILES

    from fewlabels.signals import apply_rules, load_rules

    ds = load(name)
    L = apply_rules(ds.texts_train, load_rules(RULE_FILES[name], classes=ds.classes), ds.classes).L
    return ds.X_train, L, ds.y_train, ds.classes, ds.class_embeddings


def estimate_table(rows: dict) -> str:
    head = ["pool", "estimate", "95% interval", "model", "true pool accuracy", "error"]
    body = [[name, r["value"], f"{r['low']:.3f}-{r['high']:.3f}", r["model"], r["pool_accuracy"],
             f"{r['value'] - r['pool_accuracy']:+.3f}"] for name, r in rows.items()]
    wrench = [abs(r["value"] - r["pool_accuracy"]) for n, r in rows.items() if n in SETS]
    if wrench:
        body.append(["mean |error|, WRENCH sets", None, None, None, None, f"{np.mean(wrench):.3f}"])
    return format_table(head, body, markdown=True)


def summary(results: dict, markdown: bool) -> str:
    rows = []
    for name, rec in results["sets"].items():
        if "zero" in rec:
            z = rec["zero"]
            m = z["models"]
            rows.append([name, "0", *[m.get(k, {}).get("test") for k in ("majority", "weighted_majority",
                                                                        "dawid_skene", "metal",
                                                                        "snorkel MajorityLabelVoter",
                                                                        "snorkel LabelModel")],
                         z["auto"]["test"], z["auto"]["end_model_test"], z["auto"]["method"]])
    head = ["set", "labels", "majority", "weighted_majority", "dawid_skene", "metal", "Snorkel MV", "Snorkel LM",
            "auto", "auto end model", "chosen"]
    return format_table(head, rows, markdown=markdown)


if __name__ == "__main__":
    sys.exit(main())
