"""What the review page shows: the pool read once, and the rows to review as items.

An item is a dict: ``key``, ``row`` (1-based data row), ``text``, ``guess``, ``confidence``,
``proba`` (k floats, the current probabilities, for the page's top-guess keys and filter
order), ``reason``, ``kind`` (``suspect`` or ``suggested``), ``why`` (the suggestion's kind),
``given`` (a suspect's flagged label), ``fields`` (the row's other columns, shortened) and
``batch`` (1 for the first batch, 2 for the next, ...).

Cost: :func:`prepare_session` reads and embeds the table (cached), then one cheap fit
(:func:`~fewlabels.loop.suggest.current_proba`) and one suggestion run; with ``suspects``,
a 5-fold selection of two cheap methods on the labeled rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import InputError

#: longest text sent to the page (the page folds anything past ~400 characters)
MAX_TEXT = 20_000
#: other columns shown on request: at most this many, each cut to this many characters
MAX_FIELDS, MAX_FIELD_CHARS = 40, 300


@dataclass
class ReviewSession:
    """The classes and the rows to review, in order, plus the pool for refits and new batches."""

    classes: list[str]
    items: list[dict]
    store_path: Path
    title: str = "fewlabels review"
    meta: dict = field(default_factory=dict)
    pool: object = None
    batch_size: int = 50
    random_state: int = 0
    text_column: str | None = None


def prepare_session(input_path, labels_db, *, n: int = 50, suspects: bool = False,
                    suggestion_keys: Sequence[str] | None = None, random_state=0, progress=None,
                    **pool_options) -> ReviewSession:
    """Rows to review: the suspected label errors first (with ``suspects``), then ``n``
    suggested rows (or the rows whose keys ``suggestion_keys`` lists, in that order; or, with
    ``suggestions=`` FILE among ``pool_options``, the rows of ``suggest``'s file), each with
    the current guess and its confidence. Suspects a reviewer confirmed are left out."""
    from .. import tables
    from ..suggest import current_proba

    pool = tables.load_pool(input_path, labels_db=labels_db, progress=progress, **pool_options)
    names = list(pool.classes.names)
    P = current_proba(pool.X, pool.y, len(names), pool.class_embeddings, random_state)
    text_column = pool_options.get("text_column") or "text"
    items = _suspect_items(pool, names, random_state, labels_db, text_column) if suspects else []
    if suggestion_keys is not None:
        items += keyed_items(pool, names, suggestion_keys, P, input_path, text_column)
    else:
        items += suggested_items(pool, names, n, random_state, P, text_column, exclude=())
    items = unique_by_key(items)
    if not items:
        raise InputError(f"{input_path}: nothing to review (every row is labeled)")
    return ReviewSession(names, items, Path(labels_db), f"fewlabels review · {Path(input_path).name}",
                         {"rows": len(pool.keys), "labeled": int((pool.y >= 0).sum())}, pool, n, random_state,
                         text_column)


def unique_by_key(items: list[dict]) -> list[dict]:
    """Rows sharing a text share a key: keep each key once, first come first."""
    seen, out = set(), []
    for it in items:
        if it["key"] not in seen:
            seen.add(it["key"])
            out.append(it)
    return out


def row_fields(pool, i: int, text_column: str | None) -> dict:
    """Row ``i``'s columns other than the text, as short strings (list columns summarised)."""
    out = {}
    for name in pool.table.column_names[:MAX_FIELDS]:
        if name == text_column:
            continue
        v = pool.table.column(name)[i].as_py()
        if isinstance(v, (list, tuple)):
            v = f"[{len(v)} values]"
        s = "" if v is None else str(v)
        out[name] = s if len(s) <= MAX_FIELD_CHARS else s[:MAX_FIELD_CHARS] + "…"
    return out


def make_item(pool, names, i: int, P, *, kind: str, reason: str, why: str, text_column, batch: int = 1,
              given=None) -> dict:
    """One item for row ``i`` with the guesses of ``P`` (None: no guess yet)."""
    text = pool.texts[i] if pool.texts else ""
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f" … [{len(text) - MAX_TEXT} more characters not shown]"
    item = {"key": pool.keys[i], "row": i + 1, "text": text, "reason": reason, "kind": kind, "why": why,
            "given": given, "fields": row_fields(pool, i, text_column), "batch": batch}
    set_guess(item, names, None if P is None else P[i])
    return item


def set_guess(item: dict, names, p) -> None:
    """Put the probabilities ``p`` (k,) or None into ``item``'s guess, confidence and proba."""
    if p is None:
        item.update(guess=None, confidence=None, proba=None)
        return
    g = int(np.argmax(p))
    item.update(guess=names[g], confidence=float(p[g]), proba=[round(float(v), 4) for v in p])


def suggested_items(pool, names, n, random_state, P, text_column, *, exclude, batch: int = 1) -> list[dict]:
    """``n`` suggested rows (:func:`~fewlabels.loop.tables.suggestion_rows`) whose keys are not in ``exclude``."""
    from ..tables import suggestion_rows

    n_unlabeled = int((pool.y < 0).sum())
    want = min(n + len(exclude), n_unlabeled)
    if want <= 0:
        return []
    rows = [r for r in suggestion_rows(pool, want, random_state, proba=P) if r["key"] not in exclude]
    return [make_item(pool, names, r["index"], P, kind="suggested", reason=r["reason"], why=r["kind"],
                      text_column=text_column, batch=batch) for r in rows[:n]]


def keyed_items(pool, names, keys: Sequence[str], P, input_path, text_column) -> list[dict]:
    """Items for the rows with these keys, in this order (e.g. the keys of ``suggest``'s file)."""
    first = {}
    for i, k in enumerate(pool.keys):
        first.setdefault(k, i)
    missing = [k for k in keys if str(k) not in first]
    if missing:
        raise InputError(f"{input_path}: {len(missing)} suggested key(s) are not rows of this table (first: "
                         f"{missing[0]!r}); give the table (and --id-column) the suggestions were made from")
    return [make_item(pool, names, first[str(k)], P, kind="suggested", reason="suggested", why="given",
                      text_column=text_column) for k in keys]


def _suspect_items(pool, names, random_state, labels_db, text_column):
    """Suspected wrong labels, least likely first; labels a reviewer confirmed are left out."""
    from ...select import select_labeler
    from ..label_issues import find_label_issues
    from ..store import LabelStore

    y = pool.y
    lab = y >= 0
    if lab.sum() < 4 or len(set(y[lab].tolist())) < 2:
        return []
    ctx = {"n_classes": len(names), "class_embeddings": pool.class_embeddings, "random_state": random_state,
           "graph": None}
    sel = select_labeler(pool.X, y, ["logistic", "prototype"], ctx, random_state=random_state)
    P = (sel.scores["logistic"].oof_proba + sel.scores["prototype"].oof_proba) / 2
    P = P / P.sum(axis=1, keepdims=True)
    issues = find_label_issues(P, sel.y_labeled)
    with LabelStore(labels_db) as store:
        confirmed = store.confirmed()
    out = []
    for j in issues.ranked():
        i = int(sel.labeled_index[j])
        if confirmed.get(pool.keys[i]) == pool.given[i]:
            continue
        reason = (f"given {pool.given[i]!r}, but the other labels say {names[issues.suggested[j]]!r} "
                  f"(p of the given label {issues.quality[j]:.2f})")
        item = make_item(pool, names, i, None, kind="suspect", reason=reason, why="suspect",
                         text_column=text_column, given=pool.given[i])
        set_guess(item, names, P[j])
        out.append(item)
    return out
