"""The loop on files: read a table (and a label store), suggest rows, label with the store's
labels merged in, write the outputs. Each function is what one CLI command calls."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..classes import ClassSpec
from ..errors import InputError
from .store import LabelStore, merge_labels, row_keys

#: column added by ``fewlabels label``: True where a given label is probably wrong
SUSPECT_COLUMN = "fewlabels_suspect"
SUGGEST_COLUMNS = ("fewlabels_rank", "fewlabels_row", "fewlabels_key", "fewlabels_reason", "fewlabels_guess",
                   "fewlabels_confidence")


@dataclass
class Pool:
    """A table read for the loop: texts, vectors, merged labels, keys."""

    table: object
    texts: list | None
    X: np.ndarray
    y: np.ndarray
    classes: ClassSpec
    class_embeddings: np.ndarray | None
    keys: list[str]
    given: list
    sources: list
    conflicts: list = field(default_factory=list)
    store_path: object = None
    n_stored: int = 0


def read_store_labels(table, input_path, *, text_column, label_column, id_column, labels_db):
    """(keys, texts, merged labels, their sources, conflicts, labels in the store) for a table."""
    from ..io import label_column as read_labels, text_column as read_texts

    texts = read_texts(table, text_column or "text", input_path) if (
        text_column or "text" in table.column_names) else None
    keys = row_keys(table, id_column=id_column, texts=texts, path=input_path)
    if label_column is None and "label" in table.column_names:
        label_column = "label"
    raw = read_labels(table, label_column, input_path) if label_column else [None] * table.num_rows
    stored = {}
    if labels_db is not None:
        with LabelStore(labels_db) as store:
            stored = store.current()
    merged, sources, conflicts = merge_labels(raw, keys, stored)
    n_used = sum(1 for k in keys if k in stored)
    return keys, texts, merged, sources, conflicts, n_used


def load_pool(input_path, *, text_column=None, label_column=None, classes: ClassSpec | None = None, vectors=None,
              vectors_column=None, encoder_path=None, cache=None, id_column=None, labels_db=None,
              progress=None) -> Pool:
    """Read ``input_path``, merge the store's labels, embed (cached)."""
    from ..embed import EmbeddingCache
    from ..io import read_table
    from ..pipeline import _given_labels, _pool_vectors, embed_classes, load_encoder

    table = read_table(input_path)
    keys, texts, merged, sources, conflicts, n_used = read_store_labels(
        table, input_path, text_column=text_column, label_column=label_column, id_column=id_column,
        labels_db=labels_db)
    has_labels = any(v is not None for v in merged)
    if classes is None and not has_labels:
        raise InputError(f"{input_path}: no labels yet, in the table or the store; name the classes with --classes "
                         "or --classes-file")
    _, y, classes = _given_labels(table, input_path, label_column, classes, merged)
    cache = cache if cache is not None else EmbeddingCache()
    need_encoder = (vectors is None and vectors_column is None) or encoder_path is not None
    encoder = load_encoder(encoder_path) if need_encoder else None
    X = _pool_vectors(table, input_path, texts=texts, vectors=vectors, vectors_column=vectors_column,
                      encoder=encoder, cache=cache, progress=progress)
    C = embed_classes(classes.names, classes.descriptions, encoder, cache) if encoder is not None else None
    if C is not None and C.shape[1] != X.shape[1]:
        C = None
    return Pool(table, texts, X, y, classes, C, keys, merged, sources, conflicts, labels_db, n_used)


def suggestion_rows(pool: Pool, n: int, random_state=0, proba=None) -> list[dict]:
    """The suggested rows as dicts (row = 1-based data row, key, text, reason, guess, confidence)."""
    from .suggest import current_proba, suggest

    k = len(pool.classes.names)
    P = proba if proba is not None else current_proba(pool.X, pool.y, k, pool.class_embeddings, random_state)
    s = suggest(pool.X, pool.y, P, n=n, classes=pool.classes.names, class_embeddings=pool.class_embeddings,
                random_state=random_state)
    rows = []
    for rank, (i, reason, kind) in enumerate(zip(s.index.tolist(), s.reason, s.kind), start=1):
        g = None if P is None else int(P[i].argmax())
        rows.append({"rank": rank, "index": i, "row": i + 1, "key": pool.keys[i],
                     "text": None if pool.texts is None else pool.texts[i], "reason": reason, "kind": kind,
                     "guess": None if g is None else pool.classes.names[g],
                     "confidence": None if g is None else float(P[i, g])})
    return rows


def suggest_table(input_path, out_path, *, n: int = 50, random_state=0, progress=None, **pool_options) -> list[dict]:
    """Write the ``n`` rows most worth labeling next to ``out_path``: the input's columns,
    untouched, plus :data:`SUGGEST_COLUMNS`, best row first."""
    import pyarrow as pa

    from ..io import write_table
    from ..pipeline import check_outputs

    check_outputs(input_path, out_path=out_path)
    pool = load_pool(input_path, progress=progress, **pool_options)
    clash = [c for c in SUGGEST_COLUMNS if c in pool.table.column_names]
    if clash:
        raise InputError(f"{input_path}: already has column(s) {', '.join(clash)}; rename or drop them first")
    rows = suggestion_rows(pool, n, random_state)
    out = pool.table.take(pa.array([r["index"] for r in rows], pa.int64()))
    for name, key, typ in (("fewlabels_rank", "rank", pa.int64()), ("fewlabels_row", "row", pa.int64()),
                           ("fewlabels_key", "key", pa.string()), ("fewlabels_reason", "reason", pa.string()),
                           ("fewlabels_guess", "guess", pa.string()),
                           ("fewlabels_confidence", "confidence", pa.float64())):
        vals = [r[key] for r in rows]
        if key == "confidence":
            vals = [None if v is None else round(v, 6) for v in vals]
        out = out.append_column(name, pa.array(vals, typ))
    write_table(out, out_path)
    return rows


def label_with_store(input_path, out_path, *, labels_db=None, id_column=None, html_path=None,
                     issue_method: str = "noise_estimate", suggest_n: int = 20, text_column=None, label_column=None,
                     report_path=None, progress=None, **label_options):
    """``pipeline.label_table`` with the store's labels merged into the given ones, a
    ``fewlabels_suspect`` column and ``label_issues`` in the report, and an optional HTML
    report. Returns the LabelResult."""
    import pyarrow as pa

    from ..io import read_table
    from ..pipeline import check_outputs, label_table
    from .label_issues import selection_label_issues, selection_view

    opts = label_options
    check_outputs(input_path, out_path=out_path, report_path=report_path, html=html_path,
                  save_model=opts.get("save_model"),
                  reads={"--rules": opts.get("rules"), "--vectors": opts.get("vectors"),
                         "--encoder": opts.get("encoder_path"), "--votes": opts.get("votes"),
                         "--proportions": opts.get("proportions")},
                  stores={"--cache": getattr(opts.get("cache"), "path", None), "--labels-db": labels_db})
    table = read_table(input_path)
    keys = texts = given = None
    store_info = None
    if labels_db is not None or id_column is not None:
        keys, texts, given, sources, conflicts, n_used = read_store_labels(
            table, input_path, text_column=text_column, label_column=label_column, id_column=id_column,
            labels_db=labels_db)
        store_info = {"path": str(labels_db) if labels_db else None, "n_used": n_used, "conflicts": conflicts[:100],
                      "n_conflicts": len(conflicts), "n_review": sum(1 for s in sources if s == "review")}
    confirmed = {}  # labels a reviewer kept after they were flagged: never flagged again
    if labels_db is not None:
        with LabelStore(labels_db) as store:
            confirmed = store.confirmed()
    extras: dict = {}

    def add_suspects(result, y):
        lab = np.flatnonzero(y >= 0)
        flag = np.zeros(len(y), dtype=bool)
        entry = None
        if result.selection is not None:
            idx, issues = selection_label_issues(result.selection, result.method, method=issue_method)
            view = selection_view(result.selection, result.method)
            if confirmed:
                issues.suspect &= ~np.array([confirmed.get(keys[i]) == given[i] for i in idx], dtype=bool)
            flag[idx[issues.suspect]] = True
            rows = []
            for j in issues.ranked():
                i = int(idx[j])
                rows.append({"row": i + 1, "given": int(y[i]),
                             "suggested": int(issues.suggested[j]), "p_given": float(issues.quality[j]),
                             "p_suggested": float(view[j].max())})
            views = result.method + (" and logistic" if "logistic" in result.selection.scores
                                     and result.method != "logistic" else "")
            entry = {"method": f"confident learning ({issue_method}) on the out-of-fold probabilities of "
                               f"{views}", "n_checked": int(len(lab)), "n_suspect": int(flag.sum()),
                     "rows": rows}
            extras["issues"] = (idx, issues)
        result.report["label_issues"] = entry
        if store_info is not None:
            result.report["label_store"] = store_info
            if store_info["n_review"]:
                result.warnings.append(f"{store_info['n_review']} given label(s) come from the review page, on rows "
                                       "chosen by `fewlabels suggest` rather than at random; the accuracy estimate "
                                       "may be optimistic")
            if store_info["n_conflicts"]:
                c = store_info["conflicts"][0]
                result.warnings.append(f"{store_info['n_conflicts']} row(s) have a given label that differs from the "
                                       f"label store's (first: row {c['row']}, table {c['given']!r}, store "
                                       f"{c['stored']!r}); the store's label was used")
        extras["y"] = y
        return {SUSPECT_COLUMN: pa.array(flag.tolist(), pa.bool_())}

    from ..outputs import Outputs

    # one commit for every output (table, model, report, HTML): a failure anywhere changes none
    with Outputs() as outs:
        result = label_table(input_path, out_path, text_column=text_column, label_column=label_column,
                             report_path=None, progress=progress, given=given, extra_columns=add_suspects,
                             outputs=outs, **label_options)
        names = result.report.get("classes") or []
        for r in (result.report.get("label_issues") or {}).get("rows", []):
            r["given"], r["suggested"] = names[r["given"]], names[r["suggested"]]
        if report_path is not None:
            outs.json(result.report, report_path, "--report")
        if html_path is not None:
            _write_html(result, html_path, input_path, extras, texts, suggest_n, label_options, text_column,
                        label_column, id_column, labels_db, outs)
    return result


def _write_html(result, html_path, input_path, extras, texts, suggest_n, label_options, text_column,
                label_column, id_column, labels_db, outputs=None):
    from ..report.html import write_html_report

    if texts is None:
        from ..io import read_table, text_column as read_texts

        table = read_table(input_path)
        if text_column or "text" in table.column_names:
            texts = read_texts(table, text_column or "text", input_path)
    suggestions = []
    y = extras.get("y")
    if y is not None and (y < 0).any():
        pool = load_pool(input_path, text_column=text_column, label_column=label_column,
                         classes=label_options.get("classes"), vectors=label_options.get("vectors"),
                         vectors_column=label_options.get("vectors_column"),
                         encoder_path=label_options.get("encoder_path"), cache=label_options.get("cache"),
                         id_column=id_column, labels_db=labels_db)
        P = result.proba.copy()
        suggestions = suggestion_rows(pool, suggest_n, label_options.get("random_state", 0), proba=P)
    write_html_report(result, html_path, texts=texts, suggestions=suggestions, outputs=outputs)
