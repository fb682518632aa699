"""Fine-tuned encoder vs SetFit 1.2, same packaged MiniLM, same random labels.

    nice -n 5 python bench/finetune.py --datasets trec --seeds 0 --pool 2000 \\
        --json bench/results/finetune.json --markdown bench/results/finetune.md

For each dataset and seed: ``--n-labels`` random train rows keep their label (bench.common
``sample_labels``, as bench/run.py); the pool is those rows plus random unlabeled train rows
up to ``--pool`` rows (the issue allows a subsampled pool for the timing). Then

* **SetFit** 1.2 with the issue's settings (``num_iterations=20``, one epoch, batch 16, its
  other defaults), loaded offline from the packaged model folder; trained on the labeled
  rows; timed: train, then predict on the pool and on the test split.
* **fewlabels off**: ``label_arrays`` on the frozen (cached) vectors; end model on test.
* **fewlabels on**: the same, then :func:`fewlabels.finetuned.maybe_finetune` with
  ``mode="on"`` and default :class:`FineTuneParams` (fold encoders, the choice, the final
  encoder, re-embedding the pool); the end model on the test split embedded with the chosen
  encoder. A fresh model cache per run, so nothing is reused between runs (unless ``--models-dir``).
* with ``--always``: fewlabels with the fine-tuned encoder forced (fold results reused).

Reports test accuracy, pool accuracy, the estimate and wall seconds. The machine is shared:
seconds are upper bounds, and both tools run in the same process under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, pool_rows, read_split, run_info  # noqa: E402

from fewlabels.classes import ClassSpec  # noqa: E402
from fewlabels.embed import EmbeddingCache, SentenceTransformerEncoder, default_model_path, embed_texts  # noqa: E402
from fewlabels.embed.finetune import FineTuneParams, cpu_threads  # noqa: E402
from fewlabels.finetuned import anchors_for, class_vectors, maybe_finetune  # noqa: E402
from fewlabels.pipeline import label_arrays  # noqa: E402
from fewlabels.options import LabelOptions  # noqa: E402
from fewlabels.pool import Pool  # noqa: E402


def load_texts(name: str):
    t_tr, l_tr = read_split(DATA / name / "train.csv")
    t_te, l_te = read_split(DATA / name / "test.csv")
    classes = sorted(set(l_tr))
    code = {c: i for i, c in enumerate(classes)}
    return classes, t_tr, np.array([code[c] for c in l_tr]), t_te, np.array([code[c] for c in l_te])


def run_setfit(texts_lab, y_lab, pool_texts, test_texts, seed: int, iterations: int = 20) -> dict:
    import torch
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    torch.set_num_threads(cpu_threads())
    t0 = time.perf_counter()
    model = SetFitModel.from_pretrained(str(default_model_path()))
    out_dir = tempfile.mkdtemp(prefix="setfit-bench-")  # its checkpoints, not in the working tree
    args = TrainingArguments(output_dir=out_dir, num_iterations=iterations, num_epochs=1, batch_size=16, seed=seed,
                             report_to="none", save_strategy="no")
    trainer = Trainer(model=model, args=args,
                      train_dataset=Dataset.from_dict({"text": list(texts_lab), "label": [int(v) for v in y_lab]}))
    trainer.train()
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pool_pred = np.asarray(model.predict(list(pool_texts)))
    pool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_pred = np.asarray(model.predict(list(test_texts)))
    test_s = time.perf_counter() - t0
    return {"train_s": train_s, "predict_pool_s": pool_s, "predict_test_s": test_s,
            "pool_pred": pool_pred.astype(int), "test_pred": test_pred.astype(int)}


def run_one(name: str, seed: int, n_labels: int, pool_size: int, always: bool, tiny: bool = False,
            steps: int | None = None, fold_steps: int | None = None, setfit_iterations: int = 20,
            setfit: bool = True, models_dir: Path | None = None) -> dict:
    params = FineTuneParams(steps=2, fold_steps=2, batch_classes=2, per_class=2, sub_pool=20) if tiny else FineTuneParams()
    if steps is not None or fold_steps is not None:
        from dataclasses import replace

        params = replace(params, steps=steps or params.steps, fold_steps=fold_steps or params.fold_steps)
    classes, t_tr, y_tr, t_te, y_te = load_texts(name)
    rows, y = pool_rows(y_tr, n_labels, pool_size, seed)
    texts = [t_tr[i] for i in rows]
    truth = y_tr[rows]
    unl = y < 0
    spec = ClassSpec(classes, {})
    enc, cache = SentenceTransformerEncoder(), EmbeddingCache()
    rec = {"dataset": name, "seed": seed, "n_pool": len(rows), "n_labels": int((~unl).sum()), "k": len(classes),
           "n_test": len(y_te)}

    # frozen vectors (cached), not timed as part of either tool: both start from texts, but
    # fewlabels' frozen embedding is shared with every other bench and usually cached
    t0 = time.perf_counter()
    X = embed_texts(texts, enc, cache)
    X_te = embed_texts(t_te, enc, cache)
    C = class_vectors(enc, anchors_for(classes, None), cache)
    rec["frozen_embed_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    frozen = label_arrays(Pool(X=X, y=y, classes=classes, class_embeddings=C), LabelOptions.of(random_state=seed))
    off_s = time.perf_counter() - t0
    rec["off"] = {"method": frozen.method, "test_acc": float((frozen.end_model.predict_proba(X_te).argmax(1) == y_te).mean()),
                  "pool_acc": float((frozen.labels[unl] == truth[unl]).mean()),
                  "estimate": frozen.report["estimated_accuracy"]["value"], "seconds": off_s}
    print(f"  {name} seed {seed}: off {rec['off']['method']} test {rec['off']['test_acc']:.3f} "
          f"pool {rec['off']['pool_acc']:.3f} est {rec['off']['estimate']:.3f} ({off_s:.0f}s)", flush=True)

    with tempfile.TemporaryDirectory(prefix="fl-ft-bench-") as tmp_models:
        # --models-dir keeps the encoders and fold results, so that a second run (a new
        # estimator, say) reuses them; its seconds then are not the training's
        models = tmp_models if models_dir is None else str(models_dir / f"{name}-{seed}")
        for mode in ("on", "always") if always else ("on",):
            frozen_copy = label_arrays(Pool(X=X, y=y, classes=classes, class_embeddings=C),
                                       LabelOptions.of(random_state=seed)) if mode == "always" \
                else frozen
            timings: dict = {}
            t0 = time.perf_counter()
            res = maybe_finetune(frozen_copy, X, y, spec, texts, class_embeddings=C, mode=mode, encoder=enc,
                                 cache=cache, random_state=seed, params=params,
                                 cache_dir=models, timings=timings)
            ft_s = time.perf_counter() - t0
            ft = res.report["finetune"]
            t0 = time.perf_counter()
            if ft.get("encoder_dir") and res.method.startswith("ft:"):
                Xt = embed_texts(t_te, SentenceTransformerEncoder(ft["encoder_dir"]), None)
            else:
                Xt = X_te
            test_embed_s = time.perf_counter() - t0
            rec[mode] = {"method": res.method, "test_acc": float((res.end_model.predict_proba(Xt).argmax(1) == y_te).mean()),
                         "pool_acc": float((res.labels[unl] == truth[unl]).mean()),
                         "estimate": res.report["estimated_accuracy"]["value"],
                         "seconds": off_s + ft_s, "finetune_s": ft_s, "test_embed_s": test_embed_s,
                         "timings": timings,
                         "candidates": {k: v["accuracy"] for k, v in res.report["candidates"].items()},
                         "folds": ft.get("folds"), "estimate_parts": ft.get("estimate_parts"),
                         "final_cached": ft.get("final_cached")}
            r = rec[mode]
            print(f"  {name} seed {seed}: {mode} {r['method']} test {r['test_acc']:.3f} pool {r['pool_acc']:.3f} "
                  f"est {r['estimate']:.3f} ({r['seconds']:.0f}s; {timings})", flush=True)

    if not setfit:
        return rec
    s = run_setfit([texts[i] for i in np.flatnonzero(~unl)], y[~unl], texts, t_te, seed, 1 if tiny else setfit_iterations)
    rec["setfit"] = {"test_acc": float((s["test_pred"] == y_te).mean()),
                     "pool_acc": float((s["pool_pred"][unl] == truth[unl]).mean()),
                     "train_s": s["train_s"], "predict_pool_s": s["predict_pool_s"],
                     "predict_test_s": s["predict_test_s"], "seconds": s["train_s"] + s["predict_pool_s"], "iterations": 1 if tiny else setfit_iterations}
    print(f"  {name} seed {seed}: setfit test {rec['setfit']['test_acc']:.3f} pool {rec['setfit']['pool_acc']:.3f} "
          f"(train {s['train_s']:.0f}s + predict pool {s['predict_pool_s']:.0f}s)", flush=True)
    return rec


def table(records: list[dict]) -> str:
    modes = [m for m in ("off", "on", "always") if any(m in r for r in records)]
    head = ["dataset", "seed", "pool", "SetFit test", "SetFit s (train+pool)"]
    for m in modes:
        head += [f"FL {m} test", f"FL {m} pool", f"FL {m} est", f"FL {m} chosen", f"FL {m} s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        sf = r.get("setfit")
        row = [r["dataset"], str(r["seed"]), str(r["n_pool"]), f"{sf['test_acc']:.3f}" if sf else "-",
               f"{sf['seconds']:.0f}" if sf else "-"]
        for m in modes:
            v = r.get(m)
            row += ["-"] * 5 if v is None else [f"{v['test_acc']:.3f}", f"{v['pool_acc']:.3f}", f"{v['estimate']:.3f}",
                                                v["method"], f"{v['seconds']:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="trec", help="comma-separated names under ../shared/data")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--n-labels", type=int, default=100)
    ap.add_argument("--pool", type=int, default=2000, help="pool rows (labeled + random unlabeled train rows)")
    ap.add_argument("--always", action="store_true", help="also force the fine-tuned encoder")
    ap.add_argument("--steps", type=int, help="final encoder steps (default: FineTuneParams)")
    ap.add_argument("--fold-steps", type=int, help="steps of each fold's encoder (default: FineTuneParams)")
    ap.add_argument("--setfit-iterations", type=int, default=20, help="SetFit num_iterations (its default: 20)")
    ap.add_argument("--no-setfit", action="store_true", help="skip SetFit (its column shows -)")
    ap.add_argument("--tiny", action="store_true", help="smoke test: 2 training steps, 1 SetFit iteration")
    ap.add_argument("--models-dir", type=Path, help="keep fine-tuned encoders and fold results here (per dataset "
                    "and seed), so a re-run reuses them; default: a fresh temporary folder per run")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from common import print_run_info

    print_run_info(run_info())
    records = []
    for name in a.datasets.split(","):
        for seed in map(int, a.seeds.split(",")):
            records.append(run_one(name, seed, a.n_labels, a.pool, a.always, a.tiny, a.steps, a.fold_steps,
                                   a.setfit_iterations, not a.no_setfit, a.models_dir))
            if a.json:  # after each run: an interrupted bench keeps what it measured
                a.json.parent.mkdir(parents=True, exist_ok=True)
                a.json.write_text(json.dumps({"info": run_info(), "records": records}, indent=2, default=float))
    md = table(records)
    print(md)
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
