"""Encoder backends side by side (issue 14): torch, onnx (fp32) and onnx-int8.

1. **Throughput** on ``--n-texts`` (10,000) distinct texts drawn from the train subsets of
   part 3 (every shared dataset, seed 0). Each backend encodes them exactly as fewlabels does
   (:func:`fewlabels.embed.embed_texts`, no cache: chunks of 512 sorted by length, batches of
   64). The machine may be shared, so the texts are cut into ``--blocks`` blocks and the
   backends take turns block by block (torch, onnx, int8, torch, ...): load from other work
   falls on all three alike. Models are loaded and warmed up before the clock starts; the
   one-time ONNX export is timed separately.
2. **Agreement**: cosine of each backend's vectors to torch's on those texts (mean, min).
3. **End-model accuracy** on each shared dataset: scikit-learn ``LogisticRegression`` fitted on
   the vectors of up to ``--train`` (2,000) random train rows, scored on up to ``--test``
   (2,000) random test rows, the same rows for every backend. Vectors go through fewlabels'
   SQLite cache under each backend's own encoder id.

    nice -n 5 python bench/encoders.py [--n-texts 10000] [--train 2000] [--test 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from common import DATA, ROOT, datasets, format_table, print_run_info, read_split, run_info
from fewlabels.embed import EmbeddingCache, embed_texts, make_encoder
from fewlabels.io import write_json

BACKENDS = ("torch", "onnx", "onnx-int8")


def subset(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` random row numbers of ``n`` (all of them, in order, when k >= n)."""
    return np.arange(n) if k >= n else np.sort(rng.choice(n, size=k, replace=False))


def subsets(name: str, n_train: int, n_test: int, seed: int) -> dict:
    """Up to ``n_train`` random train rows and ``n_test`` random test rows of dataset ``name``:
    texts and class codes (a test label unseen in train gets -1, always wrong)."""
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    t_tr, l_tr = read_split(DATA / name / "train.csv")
    t_te, l_te = read_split(DATA / name / "test.csv")
    classes = sorted(set(l_tr))
    code = {c: i for i, c in enumerate(classes)}
    tr, te = subset(len(t_tr), n_train, rng), subset(len(t_te), n_test, rng)
    return {"classes": classes, "train": [t_tr[i] for i in tr], "y_train": np.array([code[l_tr[i]] for i in tr]),
            "test": [t_te[i] for i in te], "y_test": np.array([code.get(l_te[i], -1) for i in te])}


def throughput_texts(parts: dict, n_texts: int, seed: int) -> list[str]:
    """``n_texts`` distinct texts from the train subsets of every dataset, shuffled (so the
    accuracy part finds their vectors cached)."""
    rng = np.random.default_rng(seed)
    pool = list(dict.fromkeys(t for p in parts.values() for t in p["train"]))
    if len(pool) < n_texts:
        raise SystemExit(f"only {len(pool)} distinct texts in the train subsets; lower --n-texts or raise --train")
    return [pool[i] for i in rng.permutation(len(pool))[:n_texts]]


def load_encoders() -> tuple[dict, dict]:
    """The three encoders (export timed where it happens) and the export seconds."""
    encoders, export_s = {}, {}
    for b in BACKENDS:
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoders[b] = make_encoder(None, b)
        export_s[b] = round(time.perf_counter() - t, 2)
        for w in caught:
            print(f"  {b}: {w.category.__name__}: {w.message}", flush=True)
        if b != "torch" and encoders[b].id == encoders["torch"].id:
            raise SystemExit(f"{b} fell back to torch; see the warning above")
    return encoders, export_s


def measure_throughput(encoders: dict, texts: list[str], blocks: int) -> dict:
    for enc in encoders.values():  # load the model / session, first-call overheads
        enc.encode(texts[:64])
    seconds = {b: 0.0 for b in encoders}
    loads = []
    vectors = {b: [] for b in encoders}
    for i, block in enumerate(np.array_split(np.arange(len(texts)), blocks)):
        part = [texts[j] for j in block]
        for b, enc in encoders.items():
            t = time.perf_counter()
            vectors[b].append(embed_texts(part, enc, None))
            seconds[b] += time.perf_counter() - t
        loads.append(os.getloadavg()[0])
        print(f"  block {i + 1}/{blocks}: " + ", ".join(f"{b} {len(texts[:block[-1] + 1]) / s:.0f}/s so far"
                                                         for b, s in seconds.items()) + f" (load {loads[-1]:.1f})",
              flush=True)
    V = {b: np.concatenate(v) for b, v in vectors.items()}
    out = {}
    for b in encoders:
        cos = np.sum(V[b] * V["torch"], axis=1)
        out[b] = {"seconds": round(seconds[b], 2), "per_second": round(len(texts) / seconds[b], 1),
                  "speedup_vs_torch": round(seconds["torch"] / seconds[b], 3),
                  "cosine_mean": round(float(cos.mean()), 5), "cosine_min": round(float(cos.min()), 5),
                  "cosine_p01": round(float(np.quantile(cos, 0.01)), 5)}
    return {"backends": out, "load_average_per_block": [round(x, 2) for x in loads]}, V


def dataset_accuracy(encoders: dict, cache: EmbeddingCache, part: dict) -> dict:
    from sklearn.linear_model import LogisticRegression

    y_tr, y_te = part["y_train"], part["y_test"]
    tr, te = part["train"], part["test"]
    classes = part["classes"]
    row = {"train_rows": int(len(tr)), "test_rows": int(len(te)), "classes": len(classes)}
    preds = {}
    for b, enc in encoders.items():
        t = time.perf_counter()
        X_tr = embed_texts(tr, enc, cache)
        X_te = embed_texts(te, enc, cache)
        enc_s = time.perf_counter() - t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a ConvergenceWarning would hit every backend alike
            model = LogisticRegression(max_iter=2000).fit(X_tr, y_tr)
        preds[b] = model.predict(X_te)
        row[b] = round(float(np.mean(preds[b] == y_te)), 4)
        row[f"{b}_encode_s"] = round(enc_s, 1)
    for b in BACKENDS[1:]:
        row[f"{b}_delta_points"] = round(100 * (row[b] - row["torch"]), 2)
        row[f"{b}_same_prediction"] = round(float(np.mean(preds[b] == preds["torch"])), 4)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-texts", type=int, default=10_000, help="texts for the throughput (default: 10,000)")
    ap.add_argument("--blocks", type=int, default=5, help="turns the backends take (default: 5)")
    ap.add_argument("--train", type=int, default=2000, help="train rows per dataset (default: 2,000)")
    ap.add_argument("--test", type=int, default=2000, help="test rows per dataset (default: 2,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-throughput", action="store_true", help="only the accuracy part")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "encoders.json")
    args = ap.parse_args(argv)

    info = run_info()
    info["threads"] = {"torch": __import__("torch").get_num_threads(),
                       "onnxruntime": __import__("fewlabels.embed.onnx_backend", fromlist=["n_threads"]).n_threads()}
    print_run_info(info)
    names = datasets()
    encoders, export_s = load_encoders()
    print("encoders: " + ", ".join(f"{b} {e.id} ({export_s[b]}s to load/export)" for b, e in encoders.items()))
    result: dict = {"run": info, "encoder_ids": {b: e.id for b, e in encoders.items()},
                    "load_or_export_seconds": export_s,
                    "export_check": {b: getattr(e, "check", None) for b, e in encoders.items()}}
    cache = EmbeddingCache()
    parts = {name: subsets(name, args.train, args.test, args.seed) for name in names}
    if not args.skip_throughput:
        texts = throughput_texts(parts, args.n_texts, args.seed)
        print(f"throughput: {len(texts)} texts from {', '.join(names)}, {args.blocks} blocks", flush=True)
        result["throughput"], V = measure_throughput(encoders, texts, args.blocks)
        result["throughput"]["n_texts"] = len(texts)
        from fewlabels.embed import text_hash

        for b, enc in encoders.items():  # the accuracy part reuses these vectors
            cache.put(enc.id, [text_hash(t) for t in texts], V[b])
        rows = [[b, r["per_second"], r["speedup_vs_torch"], r["cosine_mean"], r["cosine_min"], r["cosine_p01"]]
                for b, r in result["throughput"]["backends"].items()]
        print(format_table(["backend", "texts/s", "x torch", "cos mean", "cos min", "cos 1%"], rows))
    result["datasets"] = {}
    for name in names:
        print(f"accuracy: {name}", flush=True)
        result["datasets"][name] = dataset_accuracy(encoders, cache, parts[name])
        write_json(result, args.out)
    rows = [[n, r["train_rows"], r["test_rows"], r["torch"], r["onnx"], r["onnx-int8"], r["onnx_delta_points"],
             r["onnx-int8_delta_points"], r["onnx-int8_same_prediction"]] for n, r in result["datasets"].items()]
    print(format_table(["dataset", "train", "test", "torch", "onnx", "int8", "onnx Δ pts", "int8 Δ pts",
                        "int8 = torch"], rows))
    result["run"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    write_json(result, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
