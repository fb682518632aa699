"""Supervision on groups, open-set rejection and novel-class discovery (issue 13).

    python bench/groups.py --parts llp,mil,openset [--seeds 0] [--markdown]
    python bench/groups.py --parts opoints --openset-datasets trec,ag_news --seeds 0,1,2

Every case is built from the *train* split of a dataset in ../shared/data (embedded with
the default encoder, cached), except MIL bag accuracy, which is measured on test bags:

* llp: the train rows are shuffled (seed) and cut into consecutive bags of 16, 64 or 256
  rows (the last bag may be smaller); each bag's true class shares are given, no row label.
  Instance accuracy over all train rows. Baselines: every row gets its bag's majority
  class; DLLP (a softmax regression on the embeddings trained so each bag's mean predicted
  distribution matches its shares, cross-entropy, L-BFGS). Scale: fewlabels label_arrays
  (method auto) with 100 random row labels, accuracy on the other rows.
* mil: sms_spam train rows shuffled into bags of 10; a bag is "spam" if it holds a spam,
  else "ham" (the negative class). Instance F1 (spam) over the train rows; bag accuracy on
  the test split cut the same way, bags predicted from the instance classifier (a bag is
  spam if one row is). Baselines: every row gets its bag's label (a logistic regression
  trained that way predicts the test rows); mi-SVM (Andrews et al. 2002: linear SVM, the
  rows of positive bags relabeled by it until stable, each positive bag keeping >= 1 positive).
* openset: a third of the classes (chosen by the seed) are left out of the class list;
  their train rows stay in the pool, unlabeled. Given labels: n random rows of the known
  classes (trec 300, banking77 1000). label_arrays with candidates logistic, prototype and
  spreading (to keep CPU low), then mark_unknown. AUROC of the unknown score over the
  unlabeled rows (unknown = of a hidden class) against max-softmax-probability; accuracy on
  the unlabeled known-class rows: closed-set (argmax), with rejection (a known row marked
  unknown is an error), and for a run whose pool holds the known classes only.
* opoints (detector only, no labeler: the score does not use the labeler's probabilities):
  the same open-set cases (ag_news and emotion: 300 labels, the development sets of the
  score), the estimated unknown share and its 95% interval against the true share, and
  the flags' precision / recall at the default (2% of given labels) and at
  --unknown-rate 0.2, --unknown-precision 0.9 and --unknown-recall 0.8.
* discovery: on the rows the openset run marked unknown, fewlabels.discover's estimated
  number of new classes (true: the number of hidden classes) and the clustering accuracy
  (Hungarian matching) on those of them that are truly of a hidden class.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment, minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_table, load, print_run_info, run_info  # noqa: E402

from fewlabels.groups import label_bags, label_proportions, mark_unknown  # noqa: E402
from fewlabels.labelers.base import softmax  # noqa: E402
from fewlabels.labelers.mil import bag_predictions  # noqa: E402
from fewlabels.pipeline import label_arrays  # noqa: E402
from fewlabels.options import LabelOptions  # noqa: E402
from fewlabels.pool import Pool  # noqa: E402

OPENSET_LABELS = {"trec": 300, "banking77": 1000, "ag_news": 300, "emotion": 300}
OPERATING_POINTS = (("default", {}), ("rate 0.2", {"rate": 0.2}), ("precision 0.9", {"precision": 0.9}),
                    ("recall 0.8", {"recall": 0.8}))
OPENSET_CANDIDATES = ("logistic", "prototype", "spreading")


def shares(truth, bags, k):
    P = np.zeros((bags.max() + 1, k))
    np.add.at(P, bags, np.eye(k)[truth])
    return P / P.sum(axis=1, keepdims=True)


def dllp(X, bags, props, C=10.0, max_iter=200):
    """DLLP-style baseline: softmax regression minimising Σ_b n_b CE(π_b, mean_{i∈b} p_i)."""
    X = np.hstack([X / np.linalg.norm(X, axis=1, keepdims=True), np.ones((len(X), 1))]).astype(np.float64)
    n, d1 = X.shape
    k = props.shape[1]
    sizes = np.bincount(bags)
    lam = 1.0 / (C * n)

    def f(theta):
        W = theta.reshape(d1, k)
        P = softmax(X @ W)
        m = np.zeros_like(props)
        np.add.at(m, bags, P)
        m /= sizes[:, None]
        loss = -(sizes[:, None] * props * np.log(np.clip(m, 1e-12, None))).sum() / n + 0.5 * lam * (W[:-1] ** 2).sum()
        R = props[bags] * P / np.clip(m[bags], 1e-12, None)  # r_ic
        G = -(R - P * R.sum(axis=1, keepdims=True)) / n
        g = X.T @ G
        g[:-1] += lam * W[:-1]
        return loss, g.ravel()

    res = minimize(f, np.zeros(d1 * k), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return softmax(X @ res.x.reshape(d1, k))


def part_llp(seeds, rows):
    for name in ("ag_news", "sms_spam"):
        ds = load(name)
        X, truth, k = ds.X_train, ds.y_train, len(ds.classes)
        for seed in seeds:
            rng = np.random.default_rng(seed)
            y100 = np.full(len(truth), -1)
            lab = rng.choice(len(truth), 100, replace=False)
            y100[lab] = truth[lab]
            t = time.perf_counter()
            r100 = label_arrays(Pool(X=X, y=y100, classes=ds.classes, class_embeddings=ds.class_embeddings),
                                LabelOptions.of(random_state=seed, fit_end_model=False))
            acc100 = float((r100.labels[y100 < 0] == truth[y100 < 0]).mean())
            print(f"{name} seed {seed}: 100 labels ({r100.method}) {acc100:.3f} in {time.perf_counter() - t:.0f}s",
                  flush=True)
            for size in (16, 64, 256):
                bags = rng.permutation(len(truth)) // size
                props = shares(truth, bags, k)
                t = time.perf_counter()
                res = label_proportions(X, np.full(len(truth), -1), ds.classes, bags, props, n_folds=3,
                                        random_state=seed, fit_end_model=False)
                secs = time.perf_counter() - t
                acc = float((res.labels == truth).mean())
                maj = float((props[bags].argmax(axis=1) == truth).mean())
                dl = float((dllp(X, bags, props).argmax(axis=1) == truth).mean())
                est = res.report["estimated_accuracy"]
                rows.append([name, seed, size, acc, maj, dl, acc100, acc / acc100, est["value"], est["upper_bound"],
                             est["share_error"], round(secs, 1)])
                print(format_table(HEAD_LLP, [rows[-1]]).splitlines()[-1], flush=True)


HEAD_LLP = ["dataset", "seed", "bag size", "fewlabels", "bag majority", "DLLP", "100 labels", "ratio to 100",
            "estimate", "upper bound", "share error", "seconds"]


def misvm(X, bags, bag_pos, max_iter=10, C=1.0):
    """mi-SVM: instances of negative bags negative; positive bags' instances relabeled by a
    linear SVM until stable, each positive bag keeping its highest-scoring instance positive."""
    from sklearn.svm import LinearSVC

    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    lab = bag_pos[bags].astype(int)
    in_pos = bag_pos[bags]
    svm = None
    for _ in range(max_iter):
        svm = LinearSVC(C=C, class_weight="balanced", max_iter=5000).fit(Xn, lab)
        f = svm.decision_function(Xn)
        new = np.where(in_pos, (f > 0).astype(int), 0)
        best = np.full(bags.max() + 1, -np.inf)
        np.maximum.at(best, bags, np.where(in_pos, f, -np.inf))
        top = in_pos & (f == best[bags])
        new[top] = 1
        if np.array_equal(new, lab):
            break
        lab = new
    return lab, svm


def f1(pred, truth):
    tp = int(((pred == 1) & (truth == 1)).sum())
    return 2 * tp / max(int((pred == 1).sum() + (truth == 1).sum()), 1)


def part_mil(seeds, rows):
    from sklearn.linear_model import LogisticRegression

    ds = load("sms_spam")
    spam = ds.classes.index("spam")
    ham = 1 - spam
    X, truth = ds.X_train, (ds.y_train == spam).astype(int)
    Xt, truth_t = ds.X_test, (ds.y_test == spam).astype(int)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        bags = rng.permutation(len(truth)) // 10
        bags_t = rng.permutation(len(truth_t)) // 10
        pos = np.zeros(bags.max() + 1, bool)
        np.logical_or.at(pos, bags, truth == 1)
        pos_t = np.zeros(bags_t.max() + 1, bool)
        np.logical_or.at(pos_t, bags_t, truth_t == 1)
        sets = np.zeros((len(pos), 2), bool)
        sets[:, spam] = pos
        sets[:, ham] = ~pos
        t = time.perf_counter()
        res = label_bags(X, np.full(len(truth), -1), ds.classes, bags, sets, negative=ham, random_state=seed,
                         fit_end_model=False)
        secs = time.perf_counter() - t
        pred = (res.labels == spam).astype(int)
        # test bags from the fitted instance classifier (the teacher), no bag constraint
        from fewlabels.labelers.mil import BagLabeler

        model = BagLabeler(bags=bags, bag_sets=sets, negative=ham, random_state=seed).fit(X, np.full(len(truth), -1))
        Pt = model.predict_classifier(Xt)
        bag_acc = float(((bag_predictions(Pt, bags_t, len(pos_t), ham)[:, spam] > 0.5) == pos_t).mean())
        naive = pos[bags].astype(int)
        lr = LogisticRegression(C=10, max_iter=1000).fit(X, naive)
        naive_bag = np.zeros(len(pos_t), bool)
        np.logical_or.at(naive_bag, bags_t, lr.predict(Xt) == 1)
        mi_lab, svm = misvm(X, bags, pos)
        mi_bag = np.zeros(len(pos_t), bool)
        np.logical_or.at(mi_bag, bags_t, svm.decision_function(Xt / np.linalg.norm(Xt, axis=1, keepdims=True)) > 0)
        rows.append(["sms_spam", seed, 10, f1(pred, truth), f1(naive, truth), f1(mi_lab, truth), bag_acc,
                     float((naive_bag == pos_t).mean()), float((mi_bag == pos_t).mean()), round(secs, 1)])
        print(format_table(HEAD_MIL, [rows[-1]]).splitlines()[-1], flush=True)


HEAD_MIL = ["dataset", "seed", "bag size", "F1 fewlabels", "F1 bag label", "F1 mi-SVM", "bag acc fewlabels",
            "bag acc bag label", "bag acc mi-SVM", "seconds"]


def load_train(name):
    """The train split only (the open-set and discovery cases never use test.csv)."""
    from types import SimpleNamespace

    from common import DATA, class_embeddings, encoder, read_split

    from fewlabels.embed import EmbeddingCache, embed_texts

    texts, labels = read_split(DATA / name / "train.csv")
    classes = sorted(set(labels))
    code = {c: i for i, c in enumerate(classes)}
    return SimpleNamespace(classes=classes, X_train=embed_texts(texts, encoder(), EmbeddingCache()),
                           y_train=np.array([code[c] for c in labels]), texts_train=texts,
                           class_embeddings=class_embeddings(classes))


def hungarian_accuracy(pred, truth):
    P = np.unique(pred, return_inverse=True)[1]
    T = np.unique(truth, return_inverse=True)[1]
    M = np.zeros((P.max() + 1, T.max() + 1))
    np.add.at(M, (P, T), 1)
    r, c = linear_sum_assignment(-M)
    return float(M[r, c].sum() / len(pred))


def part_openset(seeds, rows, disc_rows, datasets=("trec", "banking77"), reference=False):
    from sklearn.metrics import roc_auc_score

    from fewlabels.discover import discover

    for name in datasets:
        ds = load_train(name)
        X, truth, k = ds.X_train, ds.y_train, len(ds.classes)
        for seed in seeds:
            y, known, known_cls = openset_case(name, seed, ds)  # the same draws as before
            hidden = [c for c in range(k) if c not in known_cls]
            remap = np.full(k, -1)
            remap[known_cls] = np.arange(len(known_cls))
            names = [ds.classes[c] for c in known_cls]
            t = time.perf_counter()
            res = label_arrays(Pool(X=X, y=y, classes=names, class_embeddings=ds.class_embeddings[known_cls]),
                               LabelOptions.of(candidates=OPENSET_CANDIDATES, random_state=seed, fit_end_model=False))
            closed = res.proba.argmax(axis=1)
            msp = res.proba.max(axis=1)
            det = mark_unknown(res, X, y)
            secs = time.perf_counter() - t
            u = y < 0
            ku = u & known
            auroc = roc_auc_score(~known[u], det.scores_[u])
            auroc_msp = roc_auc_score(~known[u], -msp[u])
            acc_closed = float((closed[ku] == remap[truth[ku]]).mean())
            acc_rej = float((res.labels[ku] == remap[truth[ku]]).mean())
            res0 = label_arrays(Pool(X=X[known], y=y[known], classes=names, class_embeddings=ds.class_embeddings[known_cls]),
                                LabelOptions.of(candidates=OPENSET_CANDIDATES, random_state=seed, fit_end_model=False))
            u0 = y[known] < 0
            acc0 = float((res0.labels[u0] == remap[truth[known]][u0]).mean())
            rows.append([name, seed, len(hidden), OPENSET_LABELS[name], res.method, auroc, auroc_msp,
                         float((~known[u]).mean()), det.estimated_share_, float(det.unknown_[u & ~known].mean()),
                         acc0, acc_closed, acc_rej, acc_rej - acc0, round(secs, 1)])
            print(format_table(HEAD_OPEN, [rows[-1]]).splitlines()[-1], flush=True)
            flagged = np.flatnonzero(det.unknown_ & u)
            t = time.perf_counter()
            texts = [ds.texts_train[i] for i in flagged]
            disc = discover(X[flagged], texts, k_max=min(40, max(4, len(flagged) // 20)), random_state=seed,
                            reference=(X[y >= 0], y[y >= 0]) if reference else None)
            hid = ~known[flagged]
            hacc = hungarian_accuracy(disc.labels[hid], truth[flagged][hid]) if hid.any() else float("nan")
            disc_rows.append([name, seed, len(hidden), "spread" if reference else "silhouette", disc.n_classes,
                              disc.n_classes / len(hidden) - 1, len(flagged), float(hid.mean()), hacc,
                              "; ".join(c.name for c in disc.classes[:6]), round(time.perf_counter() - t, 1)])
            print(format_table(HEAD_DISC, [disc_rows[-1]]).splitlines()[-1], flush=True)


def openset_case(name, seed, ds):
    """(y given codes of the known classes, (n,) bool known, known class codes) as part_openset builds it."""
    truth, k = ds.y_train, len(ds.classes)
    rng = np.random.default_rng(seed)
    hidden = rng.choice(k, k // 3, replace=False)
    known_cls = [c for c in range(k) if c not in hidden]
    remap = np.full(k, -1)
    remap[known_cls] = np.arange(len(known_cls))
    known = remap[truth] >= 0
    y = np.full(len(truth), -1)
    lab = rng.choice(np.flatnonzero(known), OPENSET_LABELS[name], replace=False)
    y[lab] = remap[truth[lab]]
    return y, known, known_cls


def part_opoints(seeds, rows, datasets):
    from fewlabels.labelers.openset import OpenSetDetector

    for name in datasets:
        ds = load_train(name)
        for seed in seeds:
            y, known, known_cls = openset_case(name, seed, ds)
            u = y < 0
            true = float((~known[u]).mean())
            kk = len(known_cls)
            row = [name, seed, true]
            t = time.perf_counter()
            for label, kw in OPERATING_POINTS:
                det = OpenSetDetector(random_state=seed, **kw).fit(ds.X_train, y, np.full((len(y), kk), 1 / kk), None)
                f = det.unknown_ & u
                if label == "default":
                    lo, hi = det.share_interval_
                    row += [det.estimated_share_, det.estimated_share_ - true, f"{lo:.3f}-{hi:.3f}",
                            lo <= true <= hi]
                row += [float(f[u].mean()), float((~known[f]).mean()) if f.any() else float("nan"),
                        float(f[~known].sum() / max((u & ~known).sum(), 1))]
            row.append(round(time.perf_counter() - t, 1))
            rows.append(row)
            print(format_table(HEAD_POINTS, [rows[-1]]).splitlines()[-1], flush=True)


HEAD_POINTS = ["dataset", "seed", "true unknown share", "estimated share", "error", "95% interval", "covers"] + [
    f"{p} {m}" for p, _ in OPERATING_POINTS for m in ("flagged", "precision", "recall")] + ["seconds"]
HEAD_OPEN = ["dataset", "seed", "hidden classes", "labels", "method", "AUROC", "AUROC MSP", "true unknown share",
             "estimated share", "unknown recall", "known acc (no unknowns in pool)", "known acc closed-set",
             "known acc with rejection", "drop", "seconds"]
HEAD_DISC = ["dataset", "seed", "hidden classes", "criterion", "estimated", "relative error", "rows flagged",
             "share truly hidden", "Hungarian acc (hidden rows)", "first suggested names", "seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="llp,mil,openset")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--openset-datasets", default="trec,banking77")
    ap.add_argument("--reference", action="store_true", help="discovery: count classes by the known classes' "
                    "spread instead of the silhouette")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    info = run_info()
    print_run_info(info)
    parts = args.parts.split(",")
    out = {"info": info}
    if "llp" in parts:
        rows: list = []
        part_llp(seeds, rows)
        print(format_table(HEAD_LLP, rows, markdown=args.markdown))
        out["llp"] = rows
    if "mil" in parts:
        rows = []
        part_mil(seeds, rows)
        print(format_table(HEAD_MIL, rows, markdown=args.markdown))
        out["mil"] = rows
    if "opoints" in parts:
        rows = []
        part_opoints(seeds, rows, args.openset_datasets.split(","))
        print(format_table(HEAD_POINTS, rows, markdown=args.markdown))
        out["opoints"] = rows
    if "openset" in parts:
        rows, disc = [], []
        part_openset(seeds, rows, disc, args.openset_datasets.split(","), args.reference)
        print(format_table(HEAD_OPEN, rows, markdown=args.markdown))
        print(format_table(HEAD_DISC, disc, markdown=args.markdown))
        out["openset"], out["discovery"] = rows, disc
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
