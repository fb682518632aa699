"""The accuracy estimate against the truth (issue 22): is the number the report prints right,
and does its 95% interval contain the truth?

Each run labels a pool with :func:`fewlabels.pipeline.label_arrays` (frozen vectors: no
fine-tuning; the default encoder through fewlabels' embedding cache) and compares the
report's ``estimated_accuracy`` with the true accuracy of the labels on the rows without a
given label (all rows with 0 labels). An abstained estimate (no value) counts as covered when
the truth lies inside its bound.

Settings (``--settings``):

* ``labels20``, ``labels100``: the six shared sets, a 2,000-row pool drawn once per set
  from train (seed 0), 20 / 100 uniformly random labels from it per seed.
* ``hidden``: as ``labels100`` on the sets with at least four classes, with every label of
  two random classes (per seed) removed: classes named but never labeled.
* ``wrench0``, ``wrench100``: WRENCH trec, youtube, sms with their own rules, pool =
  train + test; 0 labels, and 100 random train labels per seed.
* ``oneclass``: ``bench/rules/{ag_news,trec}_oneclass.toml`` (one class per keyword rule,
  little overlap: issue 22's Reuters-10 shape) on the 2,000-row pool, 0 labels.
* ``synthetic``: rule sets with known truth whose accuracies agreement cannot identify
  (one-class rules that never overlap), 0 labels; see :func:`synthetic_pool`.

Resumable: each run writes ``RECORDS/<setting>__<set>__<seed>.json`` and is skipped when it
exists. The summary (per setting: runs, abstained, mean error, mean |error|, max |error| of
the point estimates, and the interval's coverage over all runs) is printed from the records.

    python bench/estimate.py --records bench/records/estimate --seeds 3          # the full run
    python bench/estimate.py --records /tmp/est --seeds 1 --settings wrench0 oneclass
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import DATA, ROOT, class_embeddings, encoder, format_table, print_run_info, read_split, run_info

from fewlabels.embed import EmbeddingCache, embed_texts
from fewlabels.io import write_json
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool

SHARED = ("trec", "emotion", "ag_news", "sms_spam", "youtube_spam", "banking77")
WRENCH = ("trec", "youtube", "sms")
ONECLASS = {"ag_news": ROOT / "bench" / "rules" / "ag_news_oneclass.toml",
            "trec": ROOT / "bench" / "rules" / "trec_oneclass.toml"}
SETTINGS = ("labels20", "labels100", "hidden", "wrench0", "wrench100", "oneclass", "synthetic")
POOL = 2000


def shared_pool(name: str) -> dict:
    """A 2,000-row pool of a shared set's train split (drawn once, seed 0), embedded."""
    texts, labels = read_split(DATA / name / "train.csv")
    classes = sorted(set(labels))
    rows = np.sort(np.random.default_rng(0).choice(len(texts), min(POOL, len(texts)), replace=False))
    texts = [texts[i] for i in rows]
    code = {c: i for i, c in enumerate(classes)}
    enc, cache = encoder(), EmbeddingCache()
    return {"X": embed_texts(texts, enc, cache), "truth": np.array([code[labels[i]] for i in rows]),
            "texts": texts, "classes": classes, "C": class_embeddings(classes, enc, cache), "L": None}


def wrench_pool(name: str) -> dict:
    from wrench import load_set, pooled

    ds = load_set(name)
    X, L, truth, n_train = pooled(ds)
    return {"X": X, "L": L, "truth": truth, "classes": ds["classes"], "C": ds["C"], "n_train": n_train}


def synthetic_pool(seed: int) -> dict:
    """Known truth, unidentifiable rules: 4 classes, 2,000 rows, two one-class rules per
    class that fire on disjoint rows (so no two rules ever vote on the same row) with
    accuracy 0.85; vectors carry the class weakly. Agreement says nothing here."""
    rng = np.random.default_rng(1000 + seed)
    n, k, d = 2000, 4, 16
    truth = rng.integers(0, k, n)
    X = rng.normal(size=(n, d)) + 1.5 * np.eye(k, d)[truth]
    L = np.full((n, 2 * k), -1)
    fire = rng.random(n) < 0.6
    for i in np.flatnonzero(fire):
        c = truth[i] if rng.random() < 0.85 else rng.choice([c for c in range(k) if c != truth[i]])
        L[i, 2 * c + rng.integers(0, 2)] = c
    return {"X": X, "L": L, "truth": truth, "classes": [f"c{c}" for c in range(k)], "C": None}


def oneclass_pool(name: str) -> dict:
    from fewlabels.signals import apply_rules, load_rules

    p = shared_pool(name)
    p["L"] = apply_rules(p["texts"], load_rules(ONECLASS[name], classes=p["classes"]), p["classes"]).L
    return p


def runs(settings, seeds: int):
    """(setting, set, seed, pool loader, n labels, hide classes) for every run."""
    for setting in settings:
        if setting in ("labels20", "labels100"):
            for name in SHARED:
                for s in range(seeds):
                    yield setting, name, s, ("shared", name), int(setting[6:]), 0
        elif setting == "hidden":
            for name in ("trec", "emotion", "ag_news", "banking77"):
                for s in range(seeds):
                    yield setting, name, s, ("shared", name), 100, 2
        elif setting in ("wrench0", "wrench100"):
            for name in WRENCH:
                for s in range(1 if setting == "wrench0" else seeds):
                    yield setting, name, s, ("wrench", name), int(setting[6:]), 0
        elif setting == "oneclass":
            for name in ONECLASS:
                yield setting, name, 0, ("oneclass", name), 0, 0
        elif setting == "synthetic":
            for s in range(seeds):
                yield setting, "synthetic", s, ("synthetic", s), 0, 0


def one_run(pool: dict, n_labels: int, hide: int, seed: int) -> dict:
    truth = pool["truth"]
    rng = np.random.default_rng(seed)
    y = np.full(len(truth), -1)
    choose_from = np.arange(pool.get("n_train", len(truth)))  # WRENCH: labels from train only
    if n_labels:
        keep = rng.choice(choose_from, min(n_labels, len(choose_from)), replace=False)
        y[keep] = truth[keep]
    hidden = []
    if hide:
        hidden = sorted(rng.choice(len(pool["classes"]), hide, replace=False).tolist())
        y[np.isin(y, hidden)] = -1
    t = time.perf_counter()
    res = label_arrays(Pool(X=pool["X"], y=y, classes=pool["classes"], class_embeddings=pool["C"], votes=pool["L"]),
                       LabelOptions.of(random_state=seed))
    est = res.report.get("estimated_accuracy") or {}
    rest = y < 0
    return {"truth": float(np.mean(res.labels[rest] == truth[rest])), "value": est.get("value"),
            "low": est.get("low"), "high": est.get("high"), "abstained": bool(est.get("abstained", False)),
            "reason": est.get("reason"), "method": res.method, "model": est.get("model"),
            "cross_validated": (est.get("cross_validated") or {}).get("value"), "n_given": int((y >= 0).sum()),
            "hidden_classes": [pool["classes"][c] for c in hidden],
            "calibration": {key: res.report["calibration"].get(key) for key in ("temperature", "fitted_temperature",
                                                                                  "ece_before", "ece_after", "applied")},
            "warnings": res.report.get("warnings", []), "seconds": round(time.perf_counter() - t, 2)}


def summarize(records: list[dict]) -> str:
    rows = []
    for setting in SETTINGS:
        rs = [r for r in records if r["setting"] == setting]
        if not rs:
            continue
        point = [r for r in rs if r["value"] is not None]
        err = [r["value"] - r["truth"] for r in point]
        cov = [r["low"] is not None and r["low"] - 1e-9 <= r["truth"] <= r["high"] + 1e-9 for r in rs]
        cal = [r for r in rs if r["calibration"].get("ece_after") is not None]
        worse = sum(1 for r in cal if r["calibration"].get("applied", True) and
                    r["calibration"]["ece_after"] > r["calibration"]["ece_before"])
        rows.append([setting, len(rs), len(rs) - len(point), float(np.mean(err)) if err else None,
                     float(np.mean(np.abs(err))) if err else None, float(np.max(np.abs(err))) if err else None,
                     f"{np.mean(cov):.0%}", f"{worse}/{len(cal)}" if cal else "-"])
    head = ["setting", "runs", "abstained", "mean error", "mean |error|", "max |error|", "coverage",
            "calibration raised ECE"]
    return format_table(head, rows, markdown=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    ap.add_argument("--sets", nargs="+", help="only these sets (names as in the records)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--records", default=str(ROOT / "bench" / "records" / "estimate"))
    ap.add_argument("--summary-only", action="store_true")
    args = ap.parse_args()
    print_run_info(run_info())
    out = Path(args.records)
    out.mkdir(parents=True, exist_ok=True)
    loaders = {"shared": shared_pool, "wrench": wrench_pool, "oneclass": oneclass_pool, "synthetic": synthetic_pool}
    pools: dict = {}
    for setting, name, seed, src, n_labels, hide in ([] if args.summary_only else runs(args.settings, args.seeds)):
        path = out / f"{setting}__{name}__{seed}.json"
        if path.exists() or (args.sets and name not in args.sets):
            continue
        if src not in pools:
            pools.clear()  # one pool in memory at a time
            pools[src] = loaders[src[0]](src[1])
        rec = {"setting": setting, "set": name, "seed": seed, **one_run(pools[src], n_labels, hide, seed)}
        write_json(rec, path)
        shown = "abstained" if rec["value"] is None else f"{rec['value']:.3f}"
        print(f"{setting} {name} seed {seed}: estimate {shown} ({rec['low']:.3f}-{rec['high']:.3f}), "
              f"truth {rec['truth']:.3f}, {rec['method']}, {rec['seconds']:.0f}s", flush=True)
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    print(summarize([r for r in records if r["setting"] in args.settings]))


if __name__ == "__main__":
    sys.exit(main())
