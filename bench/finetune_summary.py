"""Summarise bench/finetune.py runs: accuracy against SetFit (mean over seeds) and the estimate.

    python bench/finetune_summary.py bench/results/ft_table_seed*.json
    python bench/finetune_summary.py bench/results/ft_table_seed*.json --estimates-from bench/results/ft_est_seed*.json

``--estimates-from``: JSON files of a second run of the same datasets and seeds with
``--models-dir`` (the encoders and fold results reused, so the same labels; only the
estimate's code is new). Its records replace the first run's estimate and estimate parts;
accuracy and seconds stay the first run's, and the labels must agree (checked).

``--fewlabels-from``: JSON files of a ``--no-setfit`` re-run of some datasets and seeds on
newer fewlabels code; its fewlabels results replace the first run's (SetFit's stay: same
labels, same pool, checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: estimators compared from a run's ``estimate_parts`` (+gain: plus the label-fraction gain)
CANDIDATES = ("report", "fold_encoders", "fold_encoders_atc", "out_of_fold", "out_of_fold_corrected",
              "final_encoder")


def load(paths) -> list[dict]:
    out = []
    for p in paths:
        out.extend(json.loads(Path(p).read_text())["records"])
    return out


def merge_estimates(records: list[dict], later: list[dict]) -> None:
    by_key = {(r["dataset"], r["seed"]): r for r in later}
    for r in records:
        new = by_key.get((r["dataset"], r["seed"]))
        if new is None:
            continue
        for mode in ("on", "always"):
            if mode in r and mode in new:
                if abs(new[mode]["pool_acc"] - r[mode]["pool_acc"]) > 1e-9 or new[mode]["method"] != r[mode]["method"]:
                    raise SystemExit(f"{r['dataset']} seed {r['seed']} {mode}: the re-run labels differ "
                                     f"({new[mode]['method']} {new[mode]['pool_acc']:.4f} against "
                                     f"{r[mode]['method']} {r[mode]['pool_acc']:.4f}); not the same encoders")
                r[mode]["estimate"] = new[mode]["estimate"]
                r[mode]["estimate_parts"] = new[mode].get("estimate_parts")


def replace_fewlabels(records: list[dict], later: list[dict]) -> list[str]:
    """fewlabels' results (``off``, ``on``) of ``later`` (a ``--no-setfit`` re-run of the same
    datasets and seeds on newer code) replace the first run's; SetFit's stay. The labels and
    pool must be the same (checked by their sizes and the frozen, unchanged, fine-tuning-off
    result). Returns the replaced (dataset, seed) names."""
    by_key = {(r["dataset"], r["seed"]): r for r in later}
    done = []
    for r in records:
        new = by_key.get((r["dataset"], r["seed"]))
        if new is None:
            continue
        same = all(new[k] == r[k] for k in ("n_pool", "n_labels", "k", "n_test"))
        if not same or abs(new["off"]["pool_acc"] - r["off"]["pool_acc"]) > 1e-9:
            raise SystemExit(f"{r['dataset']} seed {r['seed']}: the re-run's pool or labels differ")
        for mode in ("off", "on", "always"):
            if mode in new:
                r[mode] = new[mode]
        done.append(f"{r['dataset']}-{r['seed']}")
    return done


def accuracy_table(records: list[dict]) -> str:
    names = list(dict.fromkeys(r["dataset"] for r in records))
    lines = ["| dataset | seeds | SetFit test | FL off test | **FL on test** | on − SetFit | chosen (per seed) | "
             "SetFit s | FL on s |", "|---|---|---|---|---|---|---|---|---|"]
    diffs = []
    for n in names:
        rs = [r for r in records if r["dataset"] == n and "setfit" in r and "on" in r]
        if not rs:
            continue
        sf = np.mean([r["setfit"]["test_acc"] for r in rs])
        off = np.mean([r["off"]["test_acc"] for r in rs])
        on = np.mean([r["on"]["test_acc"] for r in rs])
        diffs.append(on - sf)
        lines.append(f"| {n} | {','.join(str(r['seed']) for r in rs)} | {sf:.3f} | {off:.3f} | **{on:.3f}** | "
                     f"{on - sf:+.3f} | {', '.join(r['on']['method'] for r in rs)} | "
                     f"{np.mean([r['setfit']['seconds'] for r in rs]):.0f} | {np.mean([r['on']['seconds'] for r in rs]):.0f} |")
    if diffs:
        lines.append(f"| **mean** | | | | | **{np.mean(diffs):+.3f}** | | | |")
    return "\n".join(lines)


def estimate_table(records: list[dict]) -> str:
    """Signed and absolute error of the report's estimate against the pool accuracy on every
    run, then of each estimator on the runs where the fine-tuned encoder was chosen (the
    parts exist only then)."""
    rows = [r for r in records if "on" in r and r["on"].get("estimate_parts")]
    head = ["estimator", "runs", "mean error", "mean abs. error", "max abs. error"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|---|---|"]
    every = np.asarray([r["on"]["estimate"] - r["on"]["pool_acc"] for r in records if "on" in r])
    if len(every):
        lines.append(f"| report as each run's code wrote it, every run | {len(every)} | {every.mean():+.3f} | "
                     f"{np.abs(every).mean():.3f} | {np.abs(every).max():.3f} |")
    # the estimator now in the code (fewlabels.finetuned.finetuned_estimate) on every run: made of
    # the recorded parts where the fine-tuned encoder was chosen (runs of older code included),
    # else the report's (frozen) estimate, which that change does not touch
    from fewlabels.finetuned import finetuned_estimate

    cur = np.asarray([(finetuned_estimate(r["on"]["estimate_parts"], r["n_labels"])["value"]
                       if r["on"].get("estimate_parts") else r["on"]["estimate"]) - r["on"]["pool_acc"]
                      for r in records if "on" in r])
    if len(cur):
        lines.append(f"| finetuned_estimate (current code), every run | {len(cur)} | {cur.mean():+.3f} | "
                     f"{np.abs(cur).mean():.3f} | {np.abs(cur).max():.3f} |")
    for name in CANDIDATES:
        for gain in (False, True):
            errs = []
            for r in rows:
                parts = r["on"]["estimate_parts"]
                v = r["on"]["estimate"] if name == "report" else parts.get(name)
                if v is None:
                    continue
                errs.append(v + (parts["label_gain"] if gain else 0.0) - r["on"]["pool_acc"])
            if errs and not (name == "report" and gain):
                e = np.asarray(errs)
                lines.append(f"| {name}{' + label_gain' if gain else ''} | {len(e)} | {e.mean():+.3f} | "
                             f"{np.abs(e).mean():.3f} | {np.abs(e).max():.3f} |")
    per_run = ["", "| dataset | seed | chosen | pool acc | report | " + " | ".join(CANDIDATES[1:]) + " | label_gain |",
               "|---|---|---|---|---|" + "---|" * len(CANDIDATES[1:]) + "---|"]
    for r in rows:
        p = r["on"]["estimate_parts"]
        per_run.append(f"| {r['dataset']} | {r['seed']} | {r['on']['method']} | {r['on']['pool_acc']:.3f} | "
                       f"{r['on']['estimate']:.3f} | " + " | ".join(f"{p.get(c, float('nan')):.3f}" for c in CANDIDATES[1:])
                       + f" | {p['label_gain']:.3f} |")
    return "\n".join(lines + per_run)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="JSON files written by bench/finetune.py --json")
    ap.add_argument("--estimates-from", nargs="*", type=Path, default=[],
                    help="JSON files of a re-run with --models-dir (same encoders): their estimates replace the first")
    ap.add_argument("--fewlabels-from", nargs="*", type=Path, default=[],
                    help="JSON files of a --no-setfit re-run on newer code: its fewlabels results replace the first")
    a = ap.parse_args(argv)
    records = load(a.runs)
    if a.fewlabels_from:
        print("fewlabels results replaced from the re-run:", ", ".join(replace_fewlabels(records, load(a.fewlabels_from))))
    if a.estimates_from:
        merge_estimates(records, load(a.estimates_from))
    print(accuracy_table(records))
    print()
    print(estimate_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
