"""Label-budget sweep: test accuracy against the number of given labels.

For each dataset, budget (default 10, 25, 50, 100, 250 labels) and seed, random train rows
keep their label; then on the same rows:

* fewlabels' automatic choice: test accuracy of its end model;
* every registered method fitted directly: test accuracy of its own ``predict_proba``;
* the ceiling: logistic regression on all train labels (one line).

Writes ``bench/results/sweep.json`` and a PNG (one panel per dataset, one line per method,
the ceiling dashed), and prints a table of mean test accuracy.

    python bench/sweep.py                                  # trec, sms_spam, ag_news; 3 seeds
    python bench/sweep.py --datasets ag_news --budgets 10 100 --seeds 1
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from common import ROOT, accuracy, format_table, load, print_run_info, run_info, sample_labels
from fewlabels.graph import knn_graph
from fewlabels.io import atomic_path, write_json
from fewlabels.labelers.registry import REGISTRY, available, make_labeler
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool


def sweep_dataset(name: str, budgets: list[int], seeds: int) -> dict:
    ds = load(name)
    k = len(ds.classes)
    graph = knn_graph(ds.X_train, 10)
    ceiling = accuracy(LogisticRegression(max_iter=1000).fit(ds.X_train, ds.y_train).predict(ds.X_test), ds.y_test)
    context = {"n_classes": k, "class_embeddings": ds.class_embeddings, "graph": graph}
    names = [n for n in REGISTRY if available(n, context)]
    acc: dict[str, dict[int, list[float]]] = {m: {b: [] for b in budgets} for m in ["auto", *names]}
    for b in budgets:
        for seed in range(seeds):
            y = sample_labels(ds.y_train, b, seed)
            r = label_arrays(Pool(X=ds.X_train, y=y, classes=ds.classes, class_embeddings=ds.class_embeddings),
                             LabelOptions.of(random_state=seed))
            acc["auto"][b].append(accuracy(r.end_model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test))
            for m in names:
                if (y >= 0).sum() < REGISTRY[m].min_labels:
                    continue
                try:
                    model = make_labeler(m, **context, random_state=seed).fit(ds.X_train, y)
                    acc[m][b].append(accuracy(model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test))
                except Exception as exc:  # e.g. logistic with one labeled class: report, don't crash
                    print(f"  {name} {m} budget {b} seed {seed}: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(f"  {name} budget {b} seed {seed}: auto {acc['auto'][b][-1]:.3f} ({r.method})", flush=True)
    return {"ceiling": ceiling, "budgets": budgets,
            "mean": {m: {str(b): (float(np.mean(v)) if v else None) for b, v in d.items()} for m, d in acc.items()},
            "raw": {m: {str(b): v for b, v in d.items()} for m, d in acc.items()}}


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        res = results[name]
        budgets = res["budgets"]
        for m, means in res["mean"].items():
            ys = [means[str(b)] for b in budgets]
            style = dict(linewidth=2.5, color="black") if m == "auto" else dict(linewidth=1.2)
            ax.plot(budgets, [np.nan if v is None else v for v in ys], marker="o", label=m, **style)
        ax.axhline(res["ceiling"], linestyle="--", color="grey", label="ceiling (all labels)")
        ax.set_xscale("log")
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(name)
        ax.set_xlabel("given labels")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["trec", "sms_spam", "ag_news"])
    ap.add_argument("--budgets", nargs="+", type=int, default=[10, 25, 50, 100, 250])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sweep.json"))
    ap.add_argument("--png", default=str(ROOT / "bench" / "sweep.png"))
    args = ap.parse_args()
    info = run_info()
    print_run_info(info)
    warnings.filterwarnings("ignore")
    results = {name: sweep_dataset(name, args.budgets, args.seeds) for name in args.datasets}
    write_json({"meta": info, "results": results}, args.out)
    plot(results, args.png)
    for name, res in results.items():
        headers = ["method", *[str(b) for b in res["budgets"]]]
        rows = [[m, *[res["mean"][m][str(b)] for b in res["budgets"]]] for m in res["mean"]]
        rows.append(["ceiling", *[res["ceiling"]] * len(res["budgets"])])
        print(f"\n{name}: mean test accuracy over {args.seeds} seeds")
        print(format_table(headers, rows, markdown=True))
    print(f"\nwrote {args.out} and {args.png}")


if __name__ == "__main__":
    main()
