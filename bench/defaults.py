"""What a user gets with no flags: `fewlabels label` at its defaults against SetFit 1.2.

    nice -n 5 python bench/defaults.py --datasets trec,emotion,ag_news,sms_spam,youtube_spam,banking77 \\
        --seeds 0,1,2 --pool 2000 --json bench/results/defaults.json

For each dataset and seed the pool is built exactly as in ``bench/finetune.py`` (the same
100 random labels, ``bench.common.sample_labels``, and the same random unlabeled train rows),
so SetFit's results recorded there (``--setfit-from``, raw records of the 2026-12-02 run) are
on the same labels and the same pool; ``--setfit`` runs SetFit again in this run instead.

fewlabels runs as a user runs it: the CLI in a fresh process, on a CSV of the pool
(``text,label``, empty = unlabeled), with **no option** but the output paths, a fresh
embedding cache and a fresh fine-tuned-model cache (so embedding and fine-tuning are both
in the time). Measured: wall seconds and peak RSS of that process (``/usr/bin/time``), the
accuracy of its labels on the pool's unlabeled rows, the test accuracy of its saved end
model (``fewlabels predict`` on the test split, not timed), and the report's estimate with
its error against the pool truth. ``--extra`` adds CLI options (e.g. ``--finetune off``).
``--dry-run-too`` also records ``--dry-run``'s predicted seconds for the same table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, pool_rows, read_split, run_info  # noqa: E402

FEWLABELS = [sys.executable, "-c", "from fewlabels.cli import main; main()"]


def write_csv(path: Path, texts, labels) -> None:
    import pyarrow as pa

    from fewlabels.io import write_table

    write_table(pa.table({"text": list(texts), "label": list(labels)}), path)


def dry_run_total(stdout: str) -> float | None:
    """The predicted total seconds in ``fewlabels label --dry-run``'s table."""
    import re

    for line in stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if cells and cells[0] == "total" and len(cells) > 1:
            return float(cells[1].replace(",", ""))
    return None


def timed(cmd: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, peak RSS in GB, the process) of ``cmd`` under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - t0
        lines = [ln for ln in Path(tf.name).read_text().splitlines() if ln.strip().isdigit()]
    return wall, (int(lines[-1]) / 1024 ** 2 if lines else float("nan")), proc


def make_pool(name: str, n_labels: int, pool_size: int, seed: int, repeat_to: int | None = None):
    """(classes, pool texts, pool y, pool truth, test texts, test labels) of one run."""
    t_tr, l_tr = read_split(DATA / name / "train.csv")
    t_te, l_te = read_split(DATA / name / "test.csv")
    classes = sorted(set(l_tr))
    code = {c: i for i, c in enumerate(classes)}
    y_tr = np.array([code[c] for c in l_tr])
    if repeat_to:  # a large table: train + test texts, repeated to ``repeat_to`` rows (see --rows)
        t_tr, y_tr = list(t_tr) + list(t_te), np.concatenate([y_tr, [code[c] for c in l_te]])
        reps = -(-repeat_to // len(t_tr))
        t_tr, y_tr = (list(t_tr) * reps)[:repeat_to], np.tile(y_tr, reps)[:repeat_to]
        pool_size = repeat_to
    rows, y = pool_rows(y_tr, n_labels, pool_size, seed)
    return classes, [t_tr[i] for i in rows], y, y_tr[rows], t_te, l_te, rows


def run_one(name: str, seed: int, n_labels: int, pool_size: int, extra: list[str], dry_run_too: bool,
            repeat_to: int | None = None) -> dict:
    classes, texts, y, truth, t_te, l_te, rows = make_pool(name, n_labels, pool_size, seed, repeat_to)
    code = {c: i for i, c in enumerate(classes)}
    unl = y < 0
    rec = {"dataset": name, "seed": seed, "n_pool": len(rows), "n_labels": int((~unl).sum()), "k": len(classes),
           "n_test": len(t_te), "extra": extra,
           "labeled_rows_sha": hashlib.sha256(rows[~unl].tobytes()).hexdigest()[:16]}
    with tempfile.TemporaryDirectory(prefix="fl-defaults-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, FEWLABELS_CACHE=str(tmp / "emb.sqlite"), FEWLABELS_MODEL_CACHE=str(tmp / "models"),
                   FEWLABELS_ONNX_CACHE=str(tmp / "onnx"))
        src = tmp / "pool.csv"
        write_csv(src, texts, [classes[v] if v >= 0 else "" for v in y])
        write_csv(tmp / "test.csv", t_te, l_te)
        if dry_run_too:
            proc = subprocess.run([*FEWLABELS, "label", str(src), "--out", str(tmp / "x.csv"), "--dry-run", *extra],
                                  env=env, capture_output=True, text=True)
            rec["dry_run_s"] = dry_run_total(proc.stdout)
        cmd = [*FEWLABELS, "label", str(src), "--out", str(tmp / "out.csv"), "--report", str(tmp / "report.json"),
               "--save-model", str(tmp / "model"), "--html", str(tmp / "report.html"), *extra]
        wall, peak, proc = timed(cmd, env)
        if proc.returncode != 0:
            raise SystemExit(f"{name} seed {seed}: fewlabels failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        rec["stdout"] = proc.stdout[-4000:]
        report = json.loads((tmp / "report.json").read_text())
        from fewlabels.io import read_table

        out = read_table(tmp / "out.csv").column("fewlabels_label").to_pylist()
        pred_pool = np.array([code[v] for v in out])
        proc2 = subprocess.run([*FEWLABELS, "predict", str(tmp / "model"), str(tmp / "test.csv"), "--out",
                                str(tmp / "pred.csv")], env=env, capture_output=True, text=True)
        if proc2.returncode != 0:
            raise SystemExit(f"{name} seed {seed}: predict failed:\n{proc2.stderr[-3000:]}")
        pred_te = read_table(tmp / "pred.csv").column("fewlabels_label").to_pylist()
        est = report.get("estimated_accuracy") or {}
        ft = report.get("finetune") or {}
        pool_acc = float((pred_pool[unl] == truth[unl]).mean())
        rec["fewlabels"] = {
            "seconds": wall, "peak_gb": peak, "method": report["method"],
            "test_acc": float(np.mean([a == b for a, b in zip(pred_te, l_te)])), "pool_acc": pool_acc,
            "estimate": est.get("value"), "low": est.get("low"), "high": est.get("high"),
            "abstained": bool(est.get("abstained")),
            "error": None if est.get("value") is None else est["value"] - pool_acc,
            "covered": None if est.get("low") is None else bool(est["low"] <= pool_acc <= est["high"]),
            "finetune": {k: ft.get(k) for k in ("mode", "used", "chosen", "reason", "estimated_seconds", "why_choice")},
            "timings": report.get("timings_s"),
            "candidates": {k: v.get("accuracy") for k, v in (report.get("candidates") or {}).items()},
            "ece": (report.get("calibration") or {}).get("ece_after"),
        }
    return rec


def load_setfit(paths: list[Path]) -> dict:
    """{(dataset, seed): SetFit's record} from bench/finetune.py JSON files."""
    out = {}
    for p in paths:
        for r in json.loads(p.read_text())["records"] if p.suffix == ".json" else []:
            if "setfit" in r:
                out[(r["dataset"], r["seed"])] = {**r["setfit"], "n_pool": r["n_pool"], "n_labels": r["n_labels"],
                                                  "from": str(p)}
    return out


def run_setfit_live(name: str, seed: int, n_labels: int, pool_size: int, repeat_to: int | None = None) -> dict:
    from finetune import run_setfit

    classes, texts, y, _, t_te, l_te, rows = make_pool(name, n_labels, pool_size, seed, repeat_to)
    code = {c: i for i, c in enumerate(classes)}
    lab = np.flatnonzero(y >= 0)
    s = run_setfit([texts[i] for i in lab], y[lab], texts, t_te, seed)
    y_te = np.array([code[c] for c in l_te])
    return {"test_acc": float((s["test_pred"] == y_te).mean()), "seconds": s["train_s"] + s["predict_pool_s"],
            "train_s": s["train_s"], "predict_pool_s": s["predict_pool_s"], "n_pool": len(rows),
            "n_labels": int(len(lab)), "from": "this run"}


def summary(records: list[dict]) -> str:
    head = ["dataset", "seed", "FL test", "SetFit test", "FL − SetFit", "FL s", "SetFit s", "ratio", "FL est",
            "FL pool", "est err", "chosen", "fine-tuned?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        f, s = r["fewlabels"], r.get("setfit")
        est = "abstain" if f["estimate"] is None else f"{f['estimate']:.3f}"
        err = "-" if f["error"] is None else f"{f['error']:+.3f}"
        ft = f["finetune"] or {}
        lines.append("| " + " | ".join([
            r["dataset"], str(r["seed"]), f"{f['test_acc']:.3f}", "-" if not s else f"{s['test_acc']:.3f}",
            "-" if not s else f"{f['test_acc'] - s['test_acc']:+.3f}", f"{f['seconds']:.0f}",
            "-" if not s else f"{s['seconds']:.0f}", "-" if not s else f"{f['seconds'] / s['seconds']:.2f}",
            est, f"{f['pool_acc']:.3f}", err, f["method"], "yes" if ft.get("used") else f"no ({ft.get('reason')})",
        ]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="trec")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--n-labels", type=int, default=100)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--rows", type=int, help="a large table: train + test texts repeated to this many rows "
                    "(labels sampled from them; test accuracy then is on seen texts: read the time and memory)")
    ap.add_argument("--extra", default="", help="CLI options added to `fewlabels label`, e.g. '--finetune off'")
    ap.add_argument("--setfit-from", type=Path, nargs="*", default=[], help="bench/finetune.py JSON records")
    ap.add_argument("--setfit", action="store_true", help="run SetFit in this run (else --setfit-from)")
    ap.add_argument("--dry-run-too", action="store_true", help="also record --dry-run's predicted seconds")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    setfit = load_setfit(args.setfit_from)
    records = []
    if args.json and args.json.is_file():  # resumable: keep finished runs
        records = json.loads(args.json.read_text())["records"]
    done = {(r["dataset"], r["seed"]) for r in records}
    info = run_info()
    for name in args.datasets.split(","):
        for seed in map(int, args.seeds.split(",")):
            if (name, seed) in done:
                continue
            rec = run_one(name, seed, args.n_labels, args.pool, shlex.split(args.extra), args.dry_run_too, args.rows)
            s = setfit.get((name, seed))
            if args.setfit:
                s = run_setfit_live(name, seed, args.n_labels, args.pool, args.rows)
            if s is not None:
                if (s["n_pool"], s["n_labels"]) != (rec["n_pool"], rec["n_labels"]):
                    raise SystemExit(f"{name} seed {seed}: SetFit's record has another pool")
                rec["setfit"] = s
            records.append(rec)
            f = rec["fewlabels"]
            print(f"{name} seed {seed}: test {f['test_acc']:.3f} pool {f['pool_acc']:.3f} est {f['estimate']} "
                  f"{f['seconds']:.0f}s {f['peak_gb']:.2f}GB {f['method']} ft={f['finetune'].get('used')} "
                  f"timings={f['timings']}" + (f" | SetFit {s['test_acc']:.3f} {s['seconds']:.0f}s" if s else ""),
                  flush=True)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"run": info, "args": vars(args) | {"json": str(args.json),
                                                 "setfit_from": [str(p) for p in args.setfit_from]},
                                                 "records": records}, indent=1, default=str))
    print(summary(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
