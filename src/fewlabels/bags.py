"""Inputs of the group supervision: bags of rows, their class shares (label proportions)
and their label sets (multiple-instance bags). Checks for arrays, and readers that turn
table columns and a proportions file into arrays, naming file, column and row on error.

Notation: n rows, B bags, k classes. ``bags`` is (n,) int codes ``0..B-1``;
``proportions`` is (B, k) shares, rows summing to 1; ``bag_sets`` is (B, k) bool, the
classes at least one row of the bag has.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError, where

#: largest |Σ shares − 1| accepted in a proportions file (rounded percentages to 2 decimals)
SHARE_TOLERANCE = 0.011


def check_bags(bags, n_samples: int) -> np.ndarray:
    """Bag codes: (n,) ints in 0..B-1, every bag with at least one row."""
    bags = np.asarray(bags)
    if bags.ndim != 1 or bags.shape[0] != n_samples:
        raise InputError(f"bags must have shape ({n_samples},): one bag code per row; got shape {bags.shape}")
    if not np.issubdtype(bags.dtype, np.integer):
        raise InputError(f"bags must hold integer bag codes 0..B-1; got dtype {bags.dtype}")
    if (bags < 0).any():
        raise InputError(f"bags holds {int(bags.min())} at row {int(np.argmin(bags)) + 1}; every row needs a bag "
                         "code 0..B-1")
    empty = np.flatnonzero(np.bincount(bags) == 0)
    if len(empty):
        raise InputError(f"bag {int(empty[0])} has no rows; number bags 0..B-1 without gaps")
    return bags.astype(np.int64)


def check_proportions(props, n_bags: int, n_classes: int) -> np.ndarray:
    """Shares: (B, k), finite, in [0, 1], each row summing to 1 (±SHARE_TOLERANCE); renormalised."""
    P = np.asarray(props, dtype=np.float64)
    if P.shape != (n_bags, n_classes):
        raise InputError(f"proportions must have shape ({n_bags}, {n_classes}): one share per bag and class; "
                         f"got {P.shape}")
    bad = ~np.isfinite(P).all(axis=1) | (P < 0).any(axis=1) | (P > 1).any(axis=1)
    if bad.any():
        raise InputError(f"proportions of bag {int(np.flatnonzero(bad)[0])} are not all in [0, 1]")
    s = P.sum(axis=1)
    off = np.flatnonzero(np.abs(s - 1) > SHARE_TOLERANCE)
    if len(off):
        raise InputError(f"shares of bag {int(off[0])} sum to {s[off[0]]:.4f}, not 1")
    return P / s[:, None]


def check_bag_sets(sets, n_bags: int, n_classes: int) -> np.ndarray:
    """Label sets: (B, k) bool, at least one class per bag."""
    S = np.asarray(sets)
    if S.shape != (n_bags, n_classes):
        raise InputError(f"bag label sets must have shape ({n_bags}, {n_classes}); got {S.shape}")
    S = S.astype(bool)
    empty = np.flatnonzero(~S.any(axis=1))
    if len(empty):
        raise InputError(f"bag {int(empty[0])} has an empty label set; name at least one class")
    return S


# ---------------------------------------------------------------------------------------
# from tables and files
# ---------------------------------------------------------------------------------------

def read_bag_column(table, column: str, path) -> tuple[list[str], np.ndarray]:
    """(bag names in order of first appearance, (n,) codes) from a table column."""
    from .io import require_column

    require_column(table, column, path, "--bag-column")
    raw = table.column(column).to_pylist()
    names: dict[str, int] = {}
    codes = np.empty(len(raw), dtype=np.int64)
    for i, v in enumerate(raw):
        if v is None or str(v).strip() == "":
            raise InputError(f"{where(path, column, i)}empty bag; give every row a bag (or drop the row)")
        codes[i] = names.setdefault(str(v).strip(), len(names))
    return list(names), codes


def read_proportions(path, bag_names: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """(B, k) shares from a CSV with columns ``bag,class,share`` (classes not listed: 0)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: proportions file not found; give a CSV with columns bag,class,share")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("bag", "class", "share") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: no column(s) {', '.join(map(repr, missing))}; the proportions file needs "
                             "columns bag,class,share")
        rows = list(reader)
    bag_code = {b: i for i, b in enumerate(bag_names)}
    cls_code = {c: i for i, c in enumerate(classes)}
    P = np.full((len(bag_names), len(classes)), np.nan)
    for r, row in enumerate(rows):
        bag, cls, share = (row["bag"] or "").strip(), (row["class"] or "").strip(), (row["share"] or "").strip()
        at = where(path, row=r)
        if bag not in bag_code:
            raise InputError(f"{at}bag {bag!r} has no rows in the table; fix the name or drop the line")
        if cls not in cls_code:
            raise InputError(f"{at}class {cls!r} is not one of the classes ({', '.join(list(classes)[:20])}); "
                             "fix the name or add the class")
        try:
            v = float(share)
        except ValueError:
            raise InputError(f"{at}share {share!r} is not a number; write a share between 0 and 1") from None
        if not 0 <= v <= 1:
            raise InputError(f"{at}share {v} of bag {bag!r} is outside [0, 1]; write shares, not percentages")
        if not np.isnan(P[bag_code[bag], cls_code[cls]]):
            raise InputError(f"{at}bag {bag!r}, class {cls!r} is listed twice; keep one line")
        P[bag_code[bag], cls_code[cls]] = v
    listed = ~np.isnan(P).all(axis=1)
    if not listed.all():
        b = bag_names[int(np.flatnonzero(~listed)[0])]
        raise InputError(f"{path}: bag {b!r} (in the table) has no shares; add its lines or drop its rows")
    P = np.nan_to_num(P, nan=0.0)
    s = P.sum(axis=1)
    off = np.flatnonzero(np.abs(s - 1) > SHARE_TOLERANCE)
    if len(off):
        raise InputError(f"{path}: the shares of bag {bag_names[off[0]]!r} sum to {s[off[0]]:.4f}, not 1; "
                         "fix them so each bag's shares sum to 1")
    return P / s[:, None]


def read_bag_labels(table, bag_column: str, label_column: str, path, bags: np.ndarray, n_bags: int,
                    classes: Sequence[str], sep: str = "|") -> np.ndarray:
    """(B, k) bool label sets from a column holding each row's bag label, e.g. ``"a|b"``.

    Every row of a bag must carry the same bag label (or leave it empty on all but one)."""
    from .io import require_column

    require_column(table, label_column, path, "--bag-label-column")
    raw = table.column(label_column).to_pylist()
    cls_code = {c: i for i, c in enumerate(classes)}
    seen: list[str | None] = [None] * n_bags
    first: list[int] = [0] * n_bags
    S = np.zeros((n_bags, len(classes)), dtype=bool)
    for i, v in enumerate(raw):
        if v is None or str(v).strip() == "":
            continue
        v = str(v).strip()
        b = int(bags[i])
        if seen[b] is not None and seen[b] != v:
            raise InputError(f"{where(path, label_column, i)}bag label {v!r} differs from {seen[b]!r} given for the "
                             f"same bag on row {first[b] + 1}; give one label per bag")
        if seen[b] is None:
            for name in (p.strip() for p in v.split(sep)):
                if name not in cls_code:
                    raise InputError(f"{where(path, label_column, i)}bag label names class {name!r}, which is not "
                                     f"one of the classes ({', '.join(list(classes)[:20])}); fix it or add the class")
                S[b, cls_code[name]] = True
            seen[b], first[b] = v, i
    missing = [b for b in range(n_bags) if seen[b] is None]
    if missing:
        row = int(np.flatnonzero(bags == missing[0])[0])
        raise InputError(f"{where(path, label_column, row)}bag has no label on any of its rows; label the bag "
                         "(e.g. 'a' or 'a|b')")
    return S
