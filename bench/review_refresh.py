"""Benchmark of the review page's refits (issue 23): how much better the guesses get as
the user labels.

A simulated user labels, with the true classes, the rows of the review page in the order it
shows them (``ReviewState``, the page's own code, without HTTP): two batches of 50 suggested
rows from a cold start (no label, the classes named: zero-shot guesses first), the second
batch asked for with "next batch". Every 10 answers the page refits its cheap method
(prototype + logistic on the labels so far). At each refit, the guess accuracy on the rows
still unlabeled is taken with the guesses shown before the refit and with the refit's, over
the whole pool and over the batch's rows still to do.

Only a fixed random sample of ``--sample`` train rows of each dataset is embedded (through
fewlabels' cache, so a second run encodes nothing); each seed's pool is a random ``--pool``
of them, and the seed is also the page's ``random_state``.

    python bench/review_refresh.py --datasets trec ag_news sms_spam --seeds 3 --out bench/results/review_refresh.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DATA, ROOT, class_embeddings, encoder, print_run_info, read_split, run_info
from fewlabels.embed import EmbeddingCache, embed_texts
from fewlabels.classes import ClassSpec
from fewlabels.io import write_json
from fewlabels.loop.review.session import ReviewSession, suggested_items
from fewlabels.loop.review.state import ReviewState
from fewlabels.loop.suggest import current_proba
from fewlabels.loop.tables import Pool


class Sample:
    """A fixed random sample of a dataset's train rows, embedded: X_train, y_train, texts_train, classes."""

    def __init__(self, name: str, size: int):
        texts, labels = read_split(DATA / name / "train.csv")
        keep = np.random.default_rng(12345).choice(len(texts), size=min(size, len(texts)), replace=False)
        self.classes = sorted(set(labels))
        code = {c: i for i, c in enumerate(self.classes)}
        self.texts_train = [texts[i] for i in keep]
        self.y_train = np.array([code[labels[i]] for i in keep])
        self.X_train = embed_texts(self.texts_train, encoder(), EmbeddingCache())
        self.class_embeddings = class_embeddings(self.classes)


def make_state(ds, idx: np.ndarray, seed: int, db: Path, batch: int) -> tuple[ReviewState, np.ndarray, np.ndarray]:
    """A review state on the pool rows ``idx``, cold start; returns (state, truth, first P)."""
    import pyarrow as pa

    X, truth = ds.X_train[idx], ds.y_train[idx]
    texts = [ds.texts_train[i] for i in idx]
    keys = [f"r{i}" for i in range(len(idx))]
    y = np.full(len(idx), -1)
    pool = Pool(pa.table({"id": keys, "text": texts}), texts, X, y, ClassSpec(list(ds.classes), {}),
                ds.class_embeddings, keys, [None] * len(idx), [None] * len(idx))
    P0 = current_proba(X, y, len(ds.classes), ds.class_embeddings, seed)
    items = suggested_items(pool, list(ds.classes), batch, seed, P0, "text", exclude=())
    session = ReviewSession(list(ds.classes), items, db, pool=pool, batch_size=batch, random_state=seed,
                            text_column="text")
    return ReviewState(session, background=False), truth, P0


def run_one(ds, seed: int, pool_size: int, batches: int, batch: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds.y_train), size=min(pool_size, len(ds.y_train)), replace=False)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        st, truth, P_shown = make_state(ds, idx, seed, Path(tmp) / "labels.sqlite", batch)
        names = st.session.classes
        rows = {it["key"]: it["row"] - 1 for it in st.session.items}
        for b in range(batches):
            if b:
                st.next_batch()
                P_shown = st.proba
            rows.update({it["key"]: it["row"] - 1 for it in st.session.items})
            while True:
                todo = [it for it in st.state()["items"] if not it["done"]]
                if not todo:
                    break
                it = todo[0]  # the page shows the first row still to do
                shown = {t["key"]: t["guess"] for t in todo}
                n_before = st.refreshes
                t0 = time.perf_counter()
                st.answer(it["key"], names[truth[rows[it["key"]]]])
                if st.refreshes == n_before:
                    continue
                y = st.labels_now()
                rest = y < 0
                left = [t for t in st.state()["items"] if not t["done"]]
                after = {t["key"]: t["guess"] for t in left}
                out.append({
                    "seed": seed, "answers": st.answers, "labels": int((y >= 0).sum()),
                    "pool_before": float((P_shown[rest].argmax(1) == truth[rest]).mean()),
                    "pool_after": float((st.proba[rest].argmax(1) == truth[rest]).mean()),
                    "batch_before": _acc([shown[t["key"]] for t in left], left, truth, rows, names),
                    "batch_after": _acc([after[t["key"]] for t in left], left, truth, rows, names),
                    "refit_s": time.perf_counter() - t0})
                P_shown = st.proba
        st.close()
    return out


def _acc(guesses, items, truth, rows, names):
    if not items:
        return float("nan")
    return float(np.mean([g == names[truth[rows[t["key"]]]] for g, t in zip(guesses, items)]))


def _mean(values) -> str:
    v = [x for x in values if x == x]
    return f"{np.mean(v):.3f}" if v else "–"


def summarize(records: list[dict]) -> str:
    lines = ["| dataset | answers | pool before | pool after | batch rest before | batch rest after | refit s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in sorted({r["dataset"] for r in records}):
        for a in sorted({r["answers"] for r in records if r["dataset"] == name}):
            rs = [r for r in records if r["dataset"] == name and r["answers"] == a]
            m = {k: _mean([r[k] for r in rs]) for k in ("pool_before", "pool_after", "batch_before", "batch_after",
                                                         "refit_s")}
            lines.append(f"| {name} | {a} | {m['pool_before']} | {m['pool_after']} | {m['batch_before']} | "
                         f"{m['batch_after']} | {m['refit_s']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["trec", "ag_news", "sms_spam"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sample", type=int, default=1500, help="train rows embedded per dataset")
    ap.add_argument("--pool", type=int, default=1200, help="rows of the sample in each seed's pool")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "review_refresh.json")
    args = ap.parse_args(argv)
    info = run_info()
    print_run_info(info)
    records = []
    for name in args.datasets:
        ds = Sample(name, args.sample)
        for seed in range(args.seeds):
            t0 = time.time()
            rs = run_one(ds, seed, args.pool, args.batches, args.batch)
            records += [{"dataset": name, **r} for r in rs]
            print(f"{name} seed {seed}: {len(rs)} refits in {time.time() - t0:.0f} s", file=sys.stderr)
    write_json({"run": info, "args": {k: str(v) for k, v in vars(args).items()}, "records": records}, args.out)
    print(summarize(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
