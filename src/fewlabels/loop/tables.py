"""The loop on files: read a table (and a label store), suggest rows, label with the store's
labels merged in, write the outputs. Each function is what one CLI command calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..classes import ClassSpec
from ..errors import InputError
from .store import LabelStore

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
    id_column: str | None = None  # the id column the keys come from (None: text hashes)
    suggestions: list | None = None  # rows read from ``suggest``'s file ({key, index, reason}), in its order


def load_pool(input_path, *, text_column=None, label_column=None, classes: ClassSpec | None = None, vectors=None,
              vectors_column=None, encoder_path=None, cache=None, id_column=None, labels_db=None,
              progress=None, notes: list | None = None, new_store_ok: bool = True, suggestions=None) -> Pool:
    """Read ``input_path``, merge the store's labels, embed (cached).

    ``notes`` collects warnings for the user (text-hash keys, store labels that match no
    row, classes added from the store); ``new_store_ok`` lets ``labels_db`` be missing (the
    review page creates it; ``suggest``, which only reads, passes False); ``suggestions`` is the file ``fewlabels suggest`` wrote, whose
    rows (in order) :func:`suggestion_rows` then returns instead of new ones."""
    from ..embed import EmbeddingCache
    from ..io import read_table
    from ..pipeline import _given_labels, _pool_vectors, embed_classes, load_encoder
    from .keys import check_stored_labels, join_store, read_suggestions, resolve_classes

    table = read_table(input_path)
    join = join_store(table, input_path, text_column=text_column, label_column=label_column, id_column=id_column,
                      labels_db=labels_db, new_store_ok=new_store_ok)
    classes = resolve_classes(classes, join, labels_db)
    if notes is not None:
        notes.extend(join.notes)
    has_labels = any(v is not None for v in join.labels)
    if classes is None and not has_labels:
        raise InputError(f"{input_path}: no labels yet, in the table or the store; name the classes with --classes "
                         "or --classes-file")
    check_stored_labels(join, classes, labels_db, input_path)
    rows = read_suggestions(suggestions, join.keys, input_path) if suggestions is not None else None
    _, y, classes = _given_labels(table, input_path, label_column, classes, join.labels)
    cache = cache if cache is not None else EmbeddingCache()
    need_encoder = (vectors is None and vectors_column is None) or encoder_path is not None
    encoder = load_encoder(encoder_path) if need_encoder else None
    X = _pool_vectors(table, input_path, texts=join.texts, vectors=vectors, vectors_column=vectors_column,
                      encoder=encoder, cache=cache, progress=progress)
    C = embed_classes(classes.names, classes.descriptions, encoder, cache) if encoder is not None else None
    if C is not None and C.shape[1] != X.shape[1]:
        C = None
    return Pool(table, join.texts, X, y, classes, C, join.keys, join.labels, join.sources, join.conflicts, labels_db,
                join.n_used, join.id_column, rows)


def suggestion_rows(pool: Pool, n: int, random_state=0, proba=None) -> list[dict]:
    """The suggested rows as dicts (row = 1-based data row, key, text, reason, guess, confidence)."""
    from .suggest import current_proba, suggest

    k = len(pool.classes.names)
    P = proba if proba is not None else current_proba(pool.X, pool.y, k, pool.class_embeddings, random_state)
    if pool.suggestions is not None:  # suggest's own rows, in its order; guesses from the labels as they are now
        return [{"rank": rank, "index": r["index"], "row": r["index"] + 1, "key": r["key"],
                 "text": None if pool.texts is None else pool.texts[r["index"]], "reason": r["reason"],
                 "kind": "suggested", "guess": None if P is None else pool.classes.names[int(P[r["index"]].argmax())],
                 "confidence": None if P is None else float(P[r["index"]].max())}
                for rank, r in enumerate(pool.suggestions, start=1)]
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

    check_outputs(input_path, out_path=out_path, reads={"--vectors": pool_options.get("vectors")},
                  stores={"--labels-db": pool_options.get("labels_db")})
    pool = load_pool(input_path, progress=progress, **{"new_store_ok": False, **pool_options})
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
                     report_path=None, progress=None, engine=None, audit=None, **label_options):
    """``pipeline.label_table`` with the store's labels merged into the given ones, a
    ``fewlabels_suspect`` column and ``label_issues`` in the report, and an optional HTML
    report. Audit labels (the ``audit`` file and the store's source ``audit``) only measure:
    the report's estimate becomes the verified one (:mod:`fewlabels.loop.audit_table`).
    ``label_options``: the run's settings as keywords (:meth:`fewlabels.options.LabelOptions.of`).
    Returns the LabelResult."""
    import pyarrow as pa

    from ..io import read_table
    from ..options import LabelOptions
    from ..pipeline import check_outputs, label_table
    from .label_issues import selection_label_issues, selection_view

    opts = dict(label_options)
    check_outputs(input_path, out_path=out_path, report_path=report_path, html=html_path,
                  save_model=opts.get("save_model"),
                  reads={"--rules": opts.get("rules"), "--vectors": opts.get("vectors"),
                         "--encoder": opts.get("encoder_path"), "--votes": opts.get("votes"),
                         "--proportions": opts.get("proportions"), "--audit": audit},
                  stores={"--cache": getattr(opts.get("cache"), "path", None), "--labels-db": labels_db})
    texts = given = join = None
    store_info, store_notes = None, []
    if labels_db is not None or id_column is not None:
        from .keys import check_stored_labels, join_store, resolve_classes

        join = join_store(read_table(input_path), input_path, text_column=text_column, label_column=label_column,
                          id_column=id_column, labels_db=labels_db)
        opts["classes"] = resolve_classes(opts.get("classes"), join, labels_db)
        check_stored_labels(join, opts["classes"], labels_db, input_path)
        texts, given, conflicts, store_notes = join.texts, join.labels, join.conflicts, join.notes
        store_info = {"path": str(labels_db) if labels_db else None, "id_column": join.id_column,
                      "n_stored": join.n_stored, "n_used": join.n_used, "conflicts": conflicts[:100],
                      "n_conflicts": len(conflicts), "n_review": sum(1 for s in join.sources if s == "review")}
    confirmed = {}  # labels a reviewer kept after they were flagged: never flagged again
    if labels_db is not None:
        with LabelStore(labels_db, create=False) as store:
            confirmed = store.confirmed()
    extras: dict = {}
    audit_rows = None
    if audit is not None or labels_db is not None:  # checked before any work; never in y
        from .audit_table import match_audit, read_audit_files
        from .keys import join_store

        audit_labels = read_audit_files(audit, labels_db, label_column)
        if audit_labels.labels:
            if join is None:
                join = join_store(read_table(input_path), input_path, text_column=text_column,
                                  label_column=label_column, id_column=None, labels_db=None)
            audit_rows = match_audit(audit_labels, join.keys, join.labels, input_path)

    def add_suspects(result, y):
        lab = np.flatnonzero(y >= 0)
        flag = np.zeros(len(y), dtype=bool)
        entry = None
        if result.selection is not None:
            idx, issues = selection_label_issues(result.selection, result.method, method=issue_method)
            view = selection_view(result.selection, result.method)
            if confirmed:
                issues.suspect &= ~np.array([confirmed.get(join.keys[i]) == given[i] for i in idx], dtype=bool)
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
        result.warnings.extend(store_notes)
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
        options = LabelOptions.of(**{**opts, "text_column": text_column, "label_column": label_column,
                                     "report_path": None, "given": given, "extra_columns": add_suspects})
        result = label_table(input_path, out_path, options, progress=progress, engine=engine, outputs=outs)
        names = result.report.get("classes") or []
        if audit_rows is not None:
            from .audit_table import apply_audit

            apply_audit(result, extras["y"], audit_labels, audit_rows,
                        names + (["unknown"] if opts.get("unknown") else []))
        empty = [c for c, v in (result.report.get("class_counts") or {}).get("labeled", {}).items() if v == 0]
        if empty:  # kept in every output with a count of 0, never dropped: say so
            result.warnings.append(f"{len(empty)} class(es) have no row in the output ({', '.join(empty[:10])}"
                                   f"{', ...' if len(empty) > 10 else ''}): a count of 0. Label a row of each "
                                   "(`fewlabels suggest` finds rows near a class name), or describe it in "
                                   "--classes-file")
        for r in (result.report.get("label_issues") or {}).get("rows", []):
            r["given"], r["suggested"] = names[r["given"]], names[r["suggested"]]
        if report_path is not None:
            outs.json(result.report, report_path, "--report")
        if html_path is not None:
            _write_html(result, html_path, input_path, extras, texts, suggest_n, opts, text_column,
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


def audit_table(input_path, out_path, *, n: int, random_state=0, id_column=None, label_column=None,
                text_column=None, labels_db=None, force: bool = False) -> dict:
    """Write ``n`` rows drawn uniformly at random from the rows without a given label (in the
    table or the store) to ``out_path``: every column of the table, ``fewlabels_key`` and the
    label column, empty, for a person to fill. Returns ``{"rows", "pool", "label_column"}``.

    Cost: reading the table and O(rows) to key and draw; no embedding."""
    import pyarrow as pa

    from ..audit import draw_audit
    from ..io import read_table, write_table
    from ..pipeline import check_outputs
    from .audit_table import KEY_COLUMN

    check_outputs(input_path, out_path=out_path, stores={"--labels-db": labels_db})
    if Path(out_path).exists() and not force:
        raise InputError(f"{out_path}: --out already exists (an audit file someone may be filling); choose "
                         "another path, or pass --force to replace it")
    table = read_table(input_path)
    if KEY_COLUMN in table.column_names:
        raise InputError(f"{input_path}: already has column {KEY_COLUMN}; rename or drop it first")
    from .keys import join_store

    join = join_store(table, input_path, text_column=text_column, label_column=label_column, id_column=id_column,
                      labels_db=labels_db)
    keys, merged = join.keys, join.labels
    y = np.array([-1 if v is None else 0 for v in merged])
    rows = draw_audit(y, n, random_state, keys=keys)
    out = table.take(pa.array(rows))
    out = out.append_column(KEY_COLUMN, pa.array([keys[i] for i in rows], pa.string()))
    column = label_column or "label"
    empty = pa.array([None] * len(rows), pa.string())
    if column in out.column_names:
        out = out.set_column(out.column_names.index(column), column, empty)
    else:
        out = out.append_column(column, empty)
    write_table(out, out_path)
    return {"rows": [int(i) + 1 for i in rows], "pool": int((y < 0).sum()), "label_column": column}
