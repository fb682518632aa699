"""Tables for the review page's tests, written with precomputed vectors (no encoder)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

#: long, banking77-like class names (77 of them), one far longer than a button
WORDS_A = ("card", "transfer", "top_up", "cash_withdrawal", "exchange_rate", "pin", "refund", "direct_debit",
           "virtual_card", "beneficiary", "balance")
WORDS_B = ("not_working", "pending", "declined", "charged_twice", "wrong_amount", "failed", "limits")


def class_names_77() -> list[str]:
    names = [f"{a}_{b}" for a in WORDS_A for b in WORDS_B][:76]
    names.append("refund_request_not_showing_up_in_the_statement_after_the_merchant_confirmed_it_by_email")
    return names


def write_table(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def unit(rng, k, d):
    C = rng.normal(size=(k, d))
    return C / np.linalg.norm(C, axis=1, keepdims=True)


def many_classes(tmp: Path, *, n_per: int = 4, d: int = 48, seed: int = 0):
    """A 77-class table: ``n_per`` rows per class around its own centre, one label for every
    other class; one row has a 2,000-character text. Returns (table, vectors, classes file,
    truth by id)."""
    rng = np.random.default_rng(seed)
    names = class_names_77()
    C = unit(rng, len(names), d)
    rows, X, truth = [], [], {}
    for c, name in enumerate(names):
        for j in range(n_per):
            i = len(rows)
            text = f"message {i}: a question about {name.replace('_', ' ')}, number {j}"
            if i == 5:
                text = ("A very long complaint. " + "The transfer was stuck for days and nobody answered. " * 40)[:2000]
            rows.append({"id": f"m{i:04d}", "text": text, "channel": "email" if j % 2 else "chat",
                         "label": name if (j == 0 and c % 2 == 0) else ""})
            X.append(C[c] + 0.25 * rng.normal(size=d) / np.sqrt(d))
            truth[f"m{i:04d}"] = name
    table = write_table(tmp / "banking.csv", rows)
    np.save(tmp / "banking.npy", np.asarray(X, dtype=np.float32))
    (tmp / "classes.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return table, tmp / "banking.npy", tmp / "classes.txt", truth


def shifted_clusters(tmp: Path, *, n_sub: int = 20, d: int = 16, seed: int = 3):
    """Three classes of two sub-clusters each; the given labels (two per class) sit in the
    first, and each class's second sub-cluster lies near another class's first, so the first
    guesses there are wrong until rows of it are labeled. Returns (table, vectors, truth by id)."""
    rng = np.random.default_rng(seed)
    A = unit(rng, 3, d)
    B = np.stack([0.6 * A[(c + 1) % 3] + 0.8 * unit(rng, 1, d)[0] for c in range(3)])
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    rows, X, truth = [], [], {}
    for c, name in enumerate(("billing", "bug", "account")):
        for sub, centre in (("a", A[c]), ("b", B[c])):
            for j in range(n_sub):
                i = len(rows)
                rows.append({"id": f"r{i:03d}", "text": f"ticket {i} ({sub})",
                             "label": name if (sub == "a" and j < 2) else ""})
                X.append(centre + 0.35 * rng.normal(size=d) / np.sqrt(d))
                truth[f"r{i:03d}"] = name
    table = write_table(tmp / "shifted.csv", rows)
    np.save(tmp / "shifted.npy", np.asarray(X, dtype=np.float32))
    return table, tmp / "shifted.npy", truth


def with_wrong_labels(tmp: Path, *, seed: int = 1):
    """90 rows of three well-separated classes, 30 labeled, three of them wrong. Returns
    (table, vectors, ids of the wrong labels)."""
    rng = np.random.default_rng(seed)
    names = ("billing", "bug", "account")
    C = unit(rng, 3, 16)
    rows, X, wrong = [], [], []
    for i in range(90):
        c = i % 3
        lab = names[c] if i < 30 else ""
        if i in (3, 7, 14):
            lab = names[(c + 1) % 3]
            wrong.append(f"w{i:03d}")
        rows.append({"id": f"w{i:03d}", "text": f"ticket {i} about {names[c]}", "label": lab})
        X.append(C[c] + 0.1 * rng.normal(size=16))
    table = write_table(tmp / "wrong.csv", rows)
    np.save(tmp / "wrong.npy", np.asarray(X, dtype=np.float32))
    return table, tmp / "wrong.npy", wrong
