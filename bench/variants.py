"""Pool accuracy of the optional method pieces (issue 3), one option on at a time.

For each dataset and seed, ``--labels`` uniformly random train rows keep their label and
the rest of the train split is the unlabeled pool. On the same embeddings and labeled rows
it fits each variant below (class-name embeddings and ``random_state=seed`` passed as the
pipeline would) and measures its accuracy on the pool (the unlabeled train rows).

The option values were fixed before any run; nothing here changes a default.

    cd bench && python variants.py                          # all datasets, seeds 0,1,2, 100 labels
    cd bench && python variants.py --datasets trec sms_spam --seeds 1
    cd bench && python variants.py --variants prototype "prototype n_sub=3"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import (
    ROOT,
    accuracy,
    datasets,
    format_table,
    load,
    print_run_info,
    run_info,
    sample_labels,
    timed_fit,
)

from fewlabels.io import write_json
from fewlabels.labelers.registry import make_labeler

#: column title -> (registry name, options on top of the defaults); one option at a time
VARIANTS: dict[str, tuple[str, dict]] = {
    "prototype": ("prototype", {}),
    "prototype n_sub=3": ("prototype", {"n_sub": 3}),
    "selftraining": ("selftraining", {}),
    "st soft_weight=0.3": ("selftraining", {"soft_weight": 0.3}),
    "st adaptive_threshold": ("selftraining", {"adaptive_threshold": True}),
    "st ema=0.5": ("selftraining", {"ema": 0.5}),
}


def build(name: str, options: dict, context: dict):
    model = make_labeler(name, **context)
    return type(model)(**{**model.get_params(), **options})


def run_dataset(ds, seeds: list[int], n_labels: int, variants: list[str]) -> list[dict]:
    recs = []
    for seed in seeds:
        y = sample_labels(ds.y_train, n_labels, seed)
        unl = y < 0
        context = {"n_classes": len(ds.classes), "class_embeddings": ds.class_embeddings, "random_state": seed}
        for title in variants:
            name, options = VARIANTS[title]
            model = build(name, options, context)
            fit_s, warns = timed_fit(model, ds.X_train, y)
            pool = accuracy(model.predict_proba(ds.X_train)[unl].argmax(axis=1), ds.y_train[unl])
            recs.append({"dataset": ds.name, "seed": seed, "variant": title, "method": name, "options": options,
                         "pool_acc": pool, "fit_s": fit_s, "warnings": warns})
            print(f"  {ds.name} seed {seed} {title:<22} pool {pool:.3f}  fit {fit_s:.1f}s", flush=True)
    return recs


def summary(recs: list[dict], names: list[str], variants: list[str]) -> tuple[list[str], list[list]]:
    headers = ["dataset", *variants, "fit s (all)"]
    rows = []
    for name in [*names, "mean"]:
        rs = recs if name == "mean" else [r for r in recs if r["dataset"] == name]
        row = [name]
        for title in variants:
            if name == "mean":  # mean over datasets of the per-dataset means
                row.append(float(np.mean([np.mean([r["pool_acc"] for r in recs if r["dataset"] == d
                                                   and r["variant"] == title]) for d in names])))
            else:
                row.append(float(np.mean([r["pool_acc"] for r in rs if r["variant"] == title])))
        row.append(float(sum(r["fit_s"] for r in rs)))
        rows.append(row)
    return headers, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", metavar="NAME", help=f"default: all ({', '.join(datasets())})")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default: 3)")
    ap.add_argument("--labels", type=int, default=100, help="random train labels per seed (default: 100)")
    ap.add_argument("--variants", nargs="+", metavar="TITLE", choices=list(VARIANTS),
                    help=f"default: all ({', '.join(repr(v) for v in VARIANTS)})")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "variants.json",
                    help="raw per-seed results (default: bench/results/variants.json)")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.labels < 2:
        ap.error("--seeds must be >= 1 and --labels >= 2")
    names = args.datasets or datasets()
    unknown = sorted(set(names) - set(datasets()))
    if unknown:
        ap.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(datasets())}")
    seeds = list(range(args.seeds))
    variants = args.variants or list(VARIANTS)
    info = run_info()
    print_run_info(info)
    recs: list[dict] = []
    for name in names:
        recs += run_dataset(load(name), seeds, args.labels, variants)
        write_json({"meta": {**info, "args": {"datasets": names, "seeds": seeds, "labels": args.labels},
                             "variants": {t: {"method": VARIANTS[t][0], "options": VARIANTS[t][1]} for t in variants}},
                    "records": recs}, args.out)
    done = [n for n in names if any(r["dataset"] == n for r in recs)]
    headers, rows = summary(recs, done, variants)
    print(f"\nPool accuracy (unlabeled train rows), mean over seeds {seeds}; {args.labels} random labels; "
          "st = selftraining; one option on at a time\n")
    print(format_table(headers, rows, markdown=True))
    print(f"\nraw results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
