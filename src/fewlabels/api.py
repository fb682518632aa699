"""``fewlabels.label(data, ...)``: the ``fewlabels label`` command as one Python call on a
pandas DataFrame, a pyarrow Table or a file, returning a pandas DataFrame.

It runs the CLI's own path (:func:`fewlabels.loop.tables.label_with_store`, which calls
:func:`fewlabels.pipeline.label_table`): an in-memory table is written to a temporary
Parquet file, labeled, and the output read back, so the labels, confidences and report are
those the command gives for the same table and options. Cost: the labeling run, plus one
Parquet write and read of the table (O(n), small beside embedding).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .classes import ClassSpec, parse_classes
from .errors import FewLabelsError, InputError

#: ``df.attrs`` key holding the run's report (the JSON ``fewlabels label --report`` writes)
ATTRS_KEY = "fewlabels"


def label(
    data,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    classes=None,
    vectors=None,
    vectors_column: str | None = None,
    encoder=None,
    encoder_backend: str | None = None,
    method: str = "auto",
    rules=None,
    strict_rules: bool = False,
    votes=None,
    votes_column: str | None = None,
    finetune: str = "auto",
    time_budget: float = 300.0,
    labels_db=None,
    id_column: str | None = None,
    unknown: bool = False,
    bag_column: str | None = None,
    proportions=None,
    bag_label_column: str | None = None,
    negative_class: str | None = None,
    fold_case: bool = False,
    n_splits: int = 5,
    random_state: int | None = 0,
    cache=None,
    out=None,
    report=None,
    html=None,
    save_model=None,
    progress=None,
    engine=None,
    return_result: bool = False,
):
    """Label every row of ``data`` from the few labels it holds; return a DataFrame.

    Parameters
    ----------
    data : pandas.DataFrame, pyarrow.Table, or path of a table (.csv, .tsv, .jsonl, .parquet,
        WRENCH .json)
        One row per item: a text column (default ``text``) and/or vectors, and a label
        column (default ``label``) that is empty (None/NaN/"") where the label is unknown.
    classes : list of names, ``{name: description}``, "a,b,c", or a ClassSpec, optional
        The classes (default: the labels seen); name them to allow classes with no label.
    vectors : array of shape (n, d) or path of a .npy, optional
        Precomputed embeddings, one row per row of ``data`` (then no encoder is loaded).
    encoder : path of a sentence-transformers folder (default: the packaged all-MiniLM-L6-v2)
    method, finetune, n_splits, random_state, ... : as the options of ``fewlabels label``
        (``n_splits`` is ``--folds``, ``random_state`` is ``--seed``); ``finetune`` defaults
        to "auto" as there.
    rules, votes, proportions, labels_db : paths, as the CLI's options (``votes`` may also
        be an (n, m) int array)
    cache : embedding cache path or :class:`~fewlabels.embed.EmbeddingCache` (default:
        ``$FEWLABELS_CACHE`` or ``~/.cache/fewlabels/embeddings.sqlite``)
    out, report, html, save_model : optional paths also written, as by the CLI
    progress : optional ``progress(stage, done, total)`` callback
    return_result : also return the :class:`~fewlabels.pipeline.LabelResult` (calibrated
        probabilities, end model, selection)

    Returns
    -------
    pandas.DataFrame, or (DataFrame, LabelResult) with ``return_result``
        The input's columns, then ``fewlabels_label`` (class names), ``fewlabels_confidence``,
        ``fewlabels_source`` ("given" or the method) and ``fewlabels_suspect`` (True where a
        given label is probably wrong): the columns of ``fewlabels label``'s output. A
        DataFrame given keeps its index. ``df.attrs["fewlabels"]`` is the report (method,
        estimated accuracy with its interval, candidates, class counts, warnings), the JSON
        ``--report`` writes.

    Raises
    ------
    FewLabelsError
        For bad input, naming the column and row (rows counted from 1, as in files).

    (Over 60 lines only by its signature and this docstring: one keyword per option of the
    command; the body is short.)
    """
    from .embed import EmbeddingCache, use_backend
    from .io import read_table
    from .loop.tables import label_with_store

    with tempfile.TemporaryDirectory(prefix="fewlabels-") as tmp:
        tmp = Path(tmp)
        input_path, name, index = _input_path(data, tmp)
        options = dict(
            text_column=text_column, label_column=label_column, classes=_class_spec(classes),
            vectors=_array_file(vectors, tmp / "vectors.npy", "vectors", np.float32),
            vectors_column=vectors_column, encoder_path=encoder, method=method, rules=rules,
            strict_rules=strict_rules, votes=_array_file(votes, tmp / "votes.npy", "votes", np.int64),
            votes_column=votes_column, finetune=finetune, time_budget=time_budget, unknown=unknown,
            bag_column=bag_column, proportions=proportions, bag_label_column=bag_label_column,
            negative_class=negative_class, fold_case=fold_case, n_splits=n_splits, random_state=random_state,
            cache=cache if cache is None or isinstance(cache, EmbeddingCache) else EmbeddingCache(cache),
            report_path=report, html_path=html, save_model=save_model, progress=progress, engine=engine,
            labels_db=labels_db, id_column=id_column)
        out_path = Path(out) if out is not None else tmp / "labeled.parquet"
        try:
            with use_backend(encoder_backend):
                result = label_with_store(input_path, out_path, **options)
            table = read_table(out_path)
        except FewLabelsError as exc:
            if name is None:
                raise
            raise _renamed(exc, str(input_path), name) from None
    df = table.to_pandas()
    if index is not None:
        df.index = index
    if name is not None:
        result.report["input"] = name
    if out is None:
        result.report["output"] = None
    df.attrs[ATTRS_KEY] = result.report
    return (df, result) if return_result else df


def _input_path(data, tmp: Path):
    """(path to label, name for messages or None for a file, index to restore or None)."""
    if isinstance(data, (str, os.PathLike)):
        return Path(data), None, None
    import pyarrow as pa

    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - a dependency
        pd = None
    index = None
    if pd is not None and isinstance(data, pd.DataFrame):
        bad = [c for c in data.columns if not isinstance(c, str)]
        if bad:
            raise InputError(f"DataFrame: column name(s) {bad[:5]} are not strings; rename them "
                             "(df.columns = df.columns.astype(str))")
        if data.columns.duplicated().any():
            dup = sorted(set(data.columns[data.columns.duplicated()]))
            raise InputError(f"DataFrame: column(s) {dup[:5]} appear twice; rename or drop one")
        index, name = data.index, "DataFrame"
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"DataFrame: cannot be stored as a table ({str(exc).splitlines()[0]}); give each "
                             "column values of one type (e.g. df[col].astype(str))") from None
    elif isinstance(data, pa.Table):
        table, name = data, "Table"
    else:
        raise InputError(f"fewlabels.label reads a pandas DataFrame, a pyarrow Table or the path of a table; got "
                         f"{type(data).__name__}")
    if table.num_rows == 0:
        raise InputError(f"{name}: the table has no rows; give at least one row")
    import pyarrow.parquet as pq

    path = tmp / "input.parquet"
    pq.write_table(table, path)
    return path, name, index


def _class_spec(classes) -> ClassSpec | None:
    """``classes`` as a ClassSpec: a ClassSpec, "a,b", a list of names or {name: description}."""
    from .classes import _check

    if classes is None or isinstance(classes, ClassSpec):
        return classes
    if isinstance(classes, str):
        return parse_classes(classes)
    names = [str(c).strip() for c in classes]
    if any(not n for n in names):
        raise InputError(f"classes {names}: empty class name; give each class a name")
    _check(names, "classes")
    descriptions = {str(k).strip(): str(v) for k, v in classes.items() if v} if isinstance(classes, dict) else {}
    return ClassSpec(names, descriptions)


def _array_file(value, path: Path, what: str, dtype):
    """A path as it is; an array saved to ``path`` (.npy) for the file-based path."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: cannot be read as a numeric array ({exc}); give an array of shape "
                         "(rows, columns) or the path of a .npy file") from None
    np.save(path, arr)
    return path


def _renamed(exc: FewLabelsError, tmp_name: str, name: str) -> FewLabelsError:
    """``exc`` with the temporary file's path replaced by ``name`` ("DataFrame", "Table")."""
    msg = str(exc).replace(tmp_name, name)
    try:
        new = type(exc)(msg)
    except TypeError:  # pragma: no cover - an error type with another constructor
        return exc
    return new
