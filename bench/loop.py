"""Benchmark of the labeling loop (issue 12).

Part 1, budget curves: for each dataset and seed, labels are bought in rounds up to 10, 25,
50, 100 and 200 rows, chosen either uniformly at random (nested: the first b rows of one
random order) or by ``fewlabels.loop.suggest`` (cold start at 10, then each round suggests
the next rows given the labels so far, with the same cheap probabilities ``fewlabels
suggest`` uses). The rows' true classes simulate the annotator. At each budget a fixed
method (``--method``, no cross-validation) is fitted on the train pool and its accuracy on
the test split is recorded (its ``predict_proba`` there, as bench/run.py scores methods),
with the share of classes that have at least one label.

Part 2, label errors: 200 random train rows keep their label and 5% or 10% of them are
flipped to another class at random. ``label_arrays`` (automatic choice) runs on them and every
candidate's out-of-fold probabilities are saved (bench/results/loop_oof). ``fewlabels_suspect``
(``noise_estimate`` on the chosen method's and logistic's mean; see ``score_detectors`` for the
other columns) is compared with cleanlab's ``find_label_issues`` (its default filter) on the
chosen method's probabilities, and with cleanlab on its own (its out-of-fold probabilities from
a 5-fold logistic regression on the 200 labeled rows, as its docs show). Precision, recall and
F1 against the flipped rows. ``--rescore`` scores the detectors again on the saved runs.

Only datasets whose train and test embeddings are already in the cache are used (the
machine is shared; nothing is re-encoded here) unless ``--encode``.

    python bench/loop.py --part budget --seeds 3 --out bench/results/loop_budget.json
    python bench/loop.py --part errors --seeds 3 --out bench/results/loop_errors.json
    python bench/loop.py --part errors --rescore --out bench/results/loop_errors.json
    python bench/loop.py --part budget --method ensemble --score-at 50 100 --out bench/results/loop_budget.json
    python bench/loop.py --part coverage --datasets banking77 --out bench/results/loop_coverage.json

Part 3, class coverage: the share of classes with at least one label after each round,
random against suggest (cheap: no labeler is fitted to score).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import ROOT, accuracy, datasets, load, print_run_info, read_split, run_info
from fewlabels.embed import EmbeddingCache, text_hash
from fewlabels.io import write_json
from fewlabels.labelers.registry import make_labeler
from fewlabels.loop.label_issues import find_label_issues
from fewlabels.loop.suggest import current_proba, suggest, typicality
from fewlabels.graph import knn_graph, normalize_rows

BUDGETS = (10, 25, 50, 100, 200)
#: out-of-fold probabilities of each label-error run, kept so the detectors can be re-scored
OOF_DIR = ROOT / "bench" / "results" / "loop_oof"


def cached(name: str) -> bool:
    """Whether every train and test text of ``name`` is in the embedding cache."""
    from common import DATA, encoder

    cache = EmbeddingCache()
    enc_id = encoder().id
    for split in ("train", "test"):
        texts, _ = read_split(DATA / name / f"{split}.csv")
        hashes = list({text_hash(t) for t in texts})
        got = 0
        for i in range(0, len(hashes), 5000):
            got += len(cache.get(enc_id, hashes[i:i + 5000]))
        if got < len(hashes):
            return False
    return True


def evaluate(ds, y, method: str, seed: int, graph) -> dict:
    """Test accuracy of ``method`` fitted on the pool with labels ``y`` (its ``predict_proba``
    on the test split, as bench/run.py scores each method; no end model, to save time on
    the shared machine), and its accuracy on the pool's unlabeled rows."""
    k = len(ds.classes)
    ctx = {"n_classes": k, "class_embeddings": ds.class_embeddings, "random_state": seed, "graph": graph}
    model = make_labeler(method, **ctx).fit(ds.X_train, y)
    labels = model.predict_proba(ds.X_train).argmax(axis=1)
    lab = y >= 0
    test = accuracy(model.predict_proba(ds.X_test).argmax(axis=1), ds.y_test)
    return {"test": test, "pool": accuracy(labels[~lab], ds.y_train[~lab]),
            "classes_labeled": float(len(np.unique(y[lab])) / k)}


def budget_curves(ds, seed: int, method: str, budgets=BUDGETS, score_at=None, balance: bool = True,
                  strategies=("random", "suggest")) -> list[dict]:
    """Rounds at every budget up to the largest of ``score_at`` (default: all); the labeler
    is fitted and scored at the budgets in ``score_at`` only (the suggested rows are the
    same as in a full run). ``balance`` is passed to ``suggest`` (False: the plain margin
    step, for an ablation)."""
    score_at = set(budgets if score_at is None else score_at)
    budgets = [b for b in budgets if b <= max(score_at)]
    n, k = len(ds.y_train), len(ds.classes)
    graph = knn_graph(ds.X_train, 10)
    typ = typicality(normalize_rows(ds.X_train))
    order = np.random.default_rng(seed).permutation(n)
    out = []
    y_s = np.full(n, -1)
    for b in budgets:
        # random: the first b rows of one random order (nested budgets)
        y_r = np.full(n, -1)
        y_r[order[:b]] = ds.y_train[order[:b]]
        t = time.perf_counter()
        need = b - int((y_s >= 0).sum())
        P = current_proba(ds.X_train, y_s, k, ds.class_embeddings, seed) if (y_s >= 0).any() else None
        s = suggest(ds.X_train, y_s, P, n=need, classes=ds.classes, class_embeddings=ds.class_embeddings,
                    random_state=seed, typical=typ, balance=balance)
        y_s[s.index] = ds.y_train[s.index]  # the annotator answers with the true class
        t_sug = time.perf_counter() - t
        kinds = {kd: s.kind.count(kd) for kd in set(s.kind)}
        if b not in score_at:
            continue
        for strategy, y in (("random", y_r), ("suggest", y_s)):
            if strategy not in strategies:
                continue
            rec = {"dataset": ds.name, "seed": seed, "budget": b, "strategy": strategy,
                   **evaluate(ds, y, method, seed, graph)}
            if strategy == "suggest":
                rec.update({"suggest_seconds": round(t_sug, 2), "kinds": kinds})
            out.append(rec)
            print(f"  {ds.name} seed {seed} {b:>3} {strategy:<8} test {rec['test']:.3f} pool {rec['pool']:.3f} "
                  f"classes {rec['classes_labeled']:.2f}", flush=True)
    return out


def coverage(ds, seed: int, budgets=BUDGETS) -> list[dict]:
    """Share of classes with a label after each round, random against suggest (no labeler
    fitted beyond the cheap probabilities suggest itself uses)."""
    n, k = len(ds.y_train), len(ds.classes)
    typ = typicality(normalize_rows(ds.X_train))
    order = np.random.default_rng(seed).permutation(n)
    y_s = np.full(n, -1)
    out = []
    for b in budgets:
        P = current_proba(ds.X_train, y_s, k, ds.class_embeddings, seed) if (y_s >= 0).any() else None
        s = suggest(ds.X_train, y_s, P, n=b - int((y_s >= 0).sum()), classes=ds.classes,
                    class_embeddings=ds.class_embeddings, random_state=seed, typical=typ)
        y_s[s.index] = ds.y_train[s.index]
        for strategy, labeled in (("random", ds.y_train[order[:b]]), ("suggest", y_s[y_s >= 0])):
            out.append({"dataset": ds.name, "seed": seed, "budget": b, "strategy": strategy,
                        "classes_labeled": float(len(np.unique(labeled)) / k)})
        print(f"  {ds.name} seed {seed} {b:>3} classes labeled: random {out[-2]['classes_labeled']:.3f} "
              f"suggest {out[-1]['classes_labeled']:.3f}", flush=True)
    return out


def prf(flag: np.ndarray, truth: np.ndarray) -> dict:
    tp = int((flag & truth).sum())
    p = tp / flag.sum() if flag.sum() else 0.0
    r = tp / truth.sum() if truth.sum() else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "flagged": int(flag.sum())}


def label_errors(ds, seed: int, rate: float, n_labels: int = 200) -> dict:
    from cleanlab.filter import find_label_issues as cl_find
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from fewlabels.pipeline import label_arrays
    from fewlabels.options import LabelOptions
    from fewlabels.pool import Pool

    rng = np.random.default_rng(1000 + seed)
    n, k = len(ds.y_train), len(ds.classes)
    idx = rng.choice(n, n_labels, replace=False)
    y = np.full(n, -1)
    y[idx] = ds.y_train[idx]
    flip = rng.choice(idx, int(round(rate * n_labels)), replace=False)
    y[flip] = (ds.y_train[flip] + rng.integers(1, k, len(flip))) % k
    t = time.perf_counter()
    r = label_arrays(Pool(X=ds.X_train, y=y, classes=ds.classes, class_embeddings=ds.class_embeddings),
                     LabelOptions.of(random_state=seed, fit_end_model=False))
    sel = r.selection
    P = sel.scores[r.method].oof_proba
    P = P / P.sum(axis=1, keepdims=True)
    truth = np.isin(sel.labeled_index, flip)
    names = list(sel.scores)
    np.savez_compressed(OOF_DIR / f"oof_{ds.name}_{seed}_{rate:.2f}.npz", P=P, y=sel.y_labeled, truth=truth,
                        labeled_index=sel.labeled_index, fold_of=sel.fold_of, chosen=r.method,
                        names=np.array(names), all_oof=np.stack([sel.scores[m].oof_proba for m in names]))
    rec = {"dataset": ds.name, "seed": seed, "rate": rate, "method": r.method, "n_flipped": int(len(flip)),
           "seconds_pipeline": round(time.perf_counter() - t, 1)}
    rec.update(score_detectors(ds, seed, OOF_DIR / f"oof_{ds.name}_{seed}_{rate:.2f}.npz"))
    print(f"  {ds.name} seed {seed} rate {rate:.2f} ({r.method}): "
          + " ".join(f"{key} F1 {rec[key]['f1']:.2f}" for key in ("fewlabels_noise_estimate", "cleanlab_same_oof",
                                                                     "cleanlab_own") if "f1" in rec[key]), flush=True)
    return rec


#: detectors scored by ``score_detectors``; the first is ``fewlabels_suspect``'s
DETECTORS = ("fewlabels_noise_estimate", "fewlabels_noise_estimate_chosen", "fewlabels_prune_view",
             "fewlabels_prune_by_noise_rate", "cleanlab_same_oof", "cleanlab_own")


def score_detectors(ds, seed: int, npz: Path) -> dict:
    """Precision / recall / F1 of each detector on one saved label-error run (the out-of-fold
    probabilities of every candidate, as ``label_arrays`` scored them). ``fewlabels_noise_estimate``
    is what ``fewlabels_suspect`` flags (``selection_view``: the chosen method's and logistic's
    out-of-fold mean); ``_chosen`` the same count on the chosen method's alone;
    ``prune_view`` cleanlab's pruning on the mean; ``prune_by_noise_rate`` the previous default
    (pruning on the chosen method's); cleanlab on the chosen method's, and on its own
    (5-fold logistic regression on the 200 labeled rows)."""
    from cleanlab.filter import find_label_issues as cl_find
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from fewlabels.loop.label_issues import selection_view
    from fewlabels.select import CandidateScore, Selection

    d = np.load(npz)
    k = len(ds.classes)
    yl, truth, chosen = d["y"], d["truth"], str(d["chosen"])
    scores = {str(m): CandidateScore(str(m), P, float("nan"), 0.0, 0.0, len(yl), 0.0)
              for m, P in zip(d["names"], d["all_oof"])}
    sel = Selection(chosen, scores, d["fold_of"], d["labeled_index"], yl)
    P = scores[chosen].oof_proba / scores[chosen].oof_proba.sum(axis=1, keepdims=True)
    V = selection_view(sel)
    issues = find_label_issues(V, yl, method="noise_estimate")
    rec = {"fewlabels_noise_estimate": {**prf(issues.suspect, truth), "estimated": round(issues.n_estimated, 1)},
           "fewlabels_noise_estimate_chosen": prf(find_label_issues(P, yl, method="noise_estimate").suspect, truth),
           "fewlabels_prune_view": prf(find_label_issues(V, yl, method="prune_by_noise_rate").suspect, truth),
           "fewlabels_prune_by_noise_rate": prf(find_label_issues(P, yl, method="prune_by_noise_rate").suspect, truth)}
    present = np.unique(yl)
    # cleanlab needs every class it is told about to appear; give it the labeled classes only
    remap = np.full(k, -1)
    remap[present] = np.arange(len(present))
    Pc = P[:, present]
    Pc = Pc / Pc.sum(axis=1, keepdims=True)
    rec["cleanlab_same_oof"] = prf(np.asarray(cl_find(remap[yl], Pc), dtype=bool), truth)
    # cleanlab on its own: 5-fold logistic regression on the labeled rows only
    Xl = ds.X_train[d["labeled_index"]]
    counts = np.bincount(remap[yl])
    folds = int(max(2, min(5, counts.min()))) if counts.min() >= 2 else 2
    try:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed) if counts.min() >= folds else folds
        Po = cross_val_predict(LogisticRegression(max_iter=1000), Xl, remap[yl], cv=cv, method="predict_proba")
        rec["cleanlab_own"] = prf(np.asarray(cl_find(remap[yl], Po), dtype=bool), truth)
    except ValueError as exc:  # a class too small for the folds
        rec["cleanlab_own"] = {"error": str(exc).splitlines()[0]}
    return rec


def rescore(records: list[dict]) -> list[dict]:
    """Every record's detectors scored again from its saved out-of-fold probabilities with
    the current detector code (the pipeline is not rerun)."""
    out, loaded = [], {}
    for r in records:
        ds = loaded.get(r["dataset"]) or loaded.setdefault(r["dataset"], load(r["dataset"]))
        keep = {key: r[key] for key in ("dataset", "seed", "rate", "method", "n_flipped", "seconds_pipeline")}
        out.append({**keep, **score_detectors(ds, r["seed"], OOF_DIR / f"oof_{r['dataset']}_{r['seed']}_{r['rate']:.2f}.npz")})
    return out


def summarize_budget(records: list[dict]) -> str:
    BUDGETS = sorted({r["budget"] for r in records})  # noqa: N806 (the budgets scored)
    lines = ["| dataset | strategy | " + " | ".join(str(b) for b in BUDGETS) + " |",
             "|---|---|" + "---|" * len(BUDGETS)]
    names = sorted({r["dataset"] for r in records})
    for name in names + ["mean"]:
        for strategy in ("random", "suggest"):
            cells = []
            for b in BUDGETS:
                v = [r["test"] for r in records if r["budget"] == b and r["strategy"] == strategy
                     and (name == "mean" or r["dataset"] == name)]
                if name == "mean":  # mean over datasets of the per-dataset means
                    v = [np.mean([r["test"] for r in records if r["budget"] == b and r["strategy"] == strategy
                                  and r["dataset"] == d]) for d in names]
                cells.append(f"{np.mean(v):.3f}" if v else "-")
            lines.append(f"| {name} | {strategy} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Share of classes with at least one label:")
    lines.append("")
    lines.append("| dataset | strategy | " + " | ".join(str(b) for b in BUDGETS) + " |")
    lines.append("|---|---|" + "---|" * len(BUDGETS))
    for name in names:
        for strategy in ("random", "suggest"):
            cells = [f"{np.mean([r['classes_labeled'] for r in records if r['budget'] == b and r['dataset'] == name and r['strategy'] == strategy]):.2f}"
                     for b in BUDGETS]
            lines.append(f"| {name} | {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summarize_errors(records: list[dict]) -> str:
    keys = DETECTORS
    lines = ["| dataset | noise | " + " | ".join(f"{k} P / R / F1" for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    names = sorted({r["dataset"] for r in records})
    for rate in sorted({r["rate"] for r in records}):
        for name in names + ["mean"]:
            rs = [r for r in records if r["rate"] == rate and (name == "mean" or r["dataset"] == name)]
            cells = []
            for k in keys:
                ok = [r[k] for r in rs if "f1" in r[k]]
                cells.append(" / ".join(f"{np.mean([o[m] for o in ok]):.2f}" for m in ("precision", "recall", "f1"))
                             if ok else "-")
            lines.append(f"| {name} | {rate:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r["dataset"] for r in records})
    BUDGETS = sorted({r["budget"] for r in records})  # noqa: N806 (the budgets scored)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for strategy, colour in (("random", "#ea580c"), ("suggest", "#2563eb")):
            m = [np.mean([r["test"] for r in records if r["dataset"] == name and r["strategy"] == strategy
                          and r["budget"] == b]) for b in BUDGETS]
            s = [np.std([r["test"] for r in records if r["dataset"] == name and r["strategy"] == strategy
                         and r["budget"] == b]) for b in BUDGETS]
            ax.errorbar(BUDGETS, m, yerr=s, marker="o", label=strategy, color=colour, capsize=3)
        ax.set_xscale("log")
        ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
        ax.set_title(name)
        ax.set_xlabel("labels")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("budget", "errors", "coverage"), required=True)
    ap.add_argument("--datasets", nargs="*", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--method", default="spreading", help="method that labels the pool at each budget")
    ap.add_argument("--encode", action="store_true", help="encode datasets that are not cached")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--score-at", type=int, nargs="*", default=None,
                    help="budget part: fit and score the labeler at these budgets only (rounds stay the same)")
    ap.add_argument("--no-balance", action="store_true",
                    help="budget part: suggest without its class-balanced uncertainty step (ablation)")
    ap.add_argument("--strategies", nargs="*", default=["random", "suggest"], help="budget part: which to score")
    ap.add_argument("--rescore", action="store_true",
                    help="errors part: score the detectors again on the saved out-of-fold probabilities of --out's "
                         "runs (no pipeline run), and write the result to --out with this run's info")
    args = ap.parse_args(argv)
    OOF_DIR.mkdir(parents=True, exist_ok=True)
    info = run_info()
    print_run_info(info)
    names = args.datasets or datasets()
    records = []
    if args.out.exists():  # resume
        records = json.loads(args.out.read_text())["records"]
    if args.rescore:
        if args.part != "errors" or not records:
            print("--rescore needs --part errors and an existing --out")
            return 1
        records = rescore(records)
        write_json({"info": info, "part": args.part, "rescored": True, "records": records}, args.out)
        print(summarize_errors(records))
        return 0
    done = {(r["dataset"], r["seed"], r.get("rate")) for r in records}
    for name in names:
        if not args.encode and not cached(name):
            print(f"skip {name}: not fully in the embedding cache (run bench/embed_datasets.py)", flush=True)
            continue
        ds = load(name)
        for seed in range(args.seeds):
            if args.part in ("budget", "coverage"):
                if (name, seed, None) in done:
                    continue
                records += (budget_curves(ds, seed, args.method, score_at=args.score_at, balance=not args.no_balance,
                                          strategies=args.strategies) if args.part == "budget"
                            else coverage(ds, seed))
            else:
                for rate in (0.05, 0.10):
                    if (name, seed, rate) in done:
                        continue
                    records.append(label_errors(ds, seed, rate))
            write_json({"info": info, "part": args.part, "method": args.method, "records": records}, args.out)
    if not records:
        print("no records")
        return 1
    if args.part == "coverage":
        for name in sorted({r["dataset"] for r in records}):
            for strategy in ("random", "suggest"):
                print(f"| {name} | {strategy} | " + " | ".join(
                    f"{np.mean([r['classes_labeled'] for r in records if r['dataset'] == name and r['budget'] == b and r['strategy'] == strategy]):.3f}"
                    for b in BUDGETS) + " |")
    elif args.part == "budget":
        print(summarize_budget(records))
        if args.plot:
            plot(records, args.plot)
            print(f"wrote {args.plot}")
    else:
        print(summarize_errors(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
