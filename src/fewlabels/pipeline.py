"""The one place that wires the steps together.

A table's route: load → embed (cached) → votes → label (the methods on the pool: select,
calibrate, fit, estimate, end model; or supervision on bags; the fine-tuned encoder as a
candidate; unknown rows) → write. :func:`label_arrays` is the array-level core (a
:class:`~fewlabels.pool.Pool` in; labels, confidences, model and report out);
:func:`label_table` adds reading a table, embedding and writing the outputs. Each step is a
function of :mod:`fewlabels.steps` (or a candidate: :mod:`fewlabels.finetuned`,
:mod:`fewlabels.groups`); the run's settings are one :class:`~fewlabels.options.LabelOptions`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .calibrate import apply_temperature
from .endmodel import EndModel
from .errors import ConfigError, InputError
from .options import LabelOptions, Progress
from .pool import Pool
from .pool_core import core_rows
from .result import LabelResult, given_labels_win
from .steps.check import checked_pool, core_of
from .steps.choose import (AUTO_CANDIDATES, PREFERRED, RULE_CANDIDATES, candidate_names, plan_choice,  # noqa: F401
                           select_and_calibrate, shared_graph, timer)
from .steps.embed import embed_rows, needs_encoder
from .steps.embed import pool_vectors as _pool_vectors
from .steps.estimate import arrays_report, estimate_accuracy
from .steps.fit import extend_to_rest, fit_chosen, fit_end_model
from .steps.inputs import given_labels as _given_labels  # noqa: F401 (for the loop and discover)
from .steps.inputs import read_rows
from .steps.rules_tables import rules_table, synthesize_table  # noqa: F401 (for the CLI)
from .steps.votes import note_rules, rule_votes, table_votes  # noqa: F401
from .steps.write import OUTPUT_COLUMNS, check_outputs, check_run, output_table, write_outputs
from .text_vectors import embed_classes  # noqa: F401 (for the loop and the estimator)
from .threads import one_blas_thread, with_one_blas_thread

__all__ = ["AUTO_CANDIDATES", "RULE_CANDIDATES", "OUTPUT_COLUMNS", "Progress", "check_outputs", "label_arrays",
           "label_table", "load_encoder", "predict_table", "rule_votes", "rules_table", "synthesize_table"]


@with_one_blas_thread
def label_arrays(pool: Pool, options: LabelOptions | None = None, *, progress: Progress | None = None,
                 timings: dict | None = None, engine=None) -> LabelResult:
    """Label every row of ``pool.X`` from the few labels in ``pool.y``.

    Parameters
    ----------
    pool : :class:`~fewlabels.pool.Pool` with
        X (n, d); y (n,), int codes into ``classes``, -1 for unlabeled; classes: k class names;
        class_embeddings : array (k, d), optional: embeddings of the class names/descriptions
        (enables zero-shot and lets classes without labels be found);
        votes : array (n, m), optional: the rules' label matrix L (class codes, -1 = abstain);
        adds the label models and the fused method (:data:`RULE_CANDIDATES`) to the candidates.
    options : :class:`~fewlabels.options.LabelOptions`; its ``methods`` are read:
        method ("auto" or a registry name), candidates (names tried by "auto"; default:
        :data:`AUTO_CANDIDATES`, plus :data:`RULE_CANDIDATES` with ``votes``), n_splits,
        n_neighbors, random_state, fit_end_model, and core_size (default 20,000): above this
        many rows, selection, calibration and the fit run on a core (all labeled rows plus a
        random sample of the rest) and the fitted method labels the other rows in blocks
        (:mod:`fewlabels.pool_core`): time and memory of everything but that last pass stay
        constant in n. None: always the whole pool. The methods read the pool's fields they
        declare; its ``random_state``, ``graph`` and ``weights`` are the run's.
    progress, timings : optional ``progress(step, done, total)``; a dict given the seconds of each step
    engine : optional (:mod:`fewlabels.engine`): the k-NN graph's search runs in blocks on it
    """
    opts = (options or LabelOptions()).methods
    timings = {} if timings is None else timings
    pool, warn = checked_pool(pool)
    classes, k = pool.classes, len(pool.classes)
    core = core_rows(pool.y, opts.core_size, opts.random_state)
    # what the methods read: the pool's core (compare, calibrate and fit there; label the rest after)
    work = core_of(pool, core).replace(n_classes=k, random_state=opts.random_state, graph=None, weights=None)
    plan = plan_choice(work, opts.method, candidate_names(opts.method, opts.candidates, work))
    graph_info: dict = {}  # one k-NN graph, shared by methods and folds
    work = work.replace(graph=shared_graph(work.X, plan.names, opts.n_neighbors, engine=engine, timings=timings,
                                           info=graph_info))
    selection, chosen, T, ece = None, plan.chosen, 1.0, None
    if plan.can_cross_validate:
        selection, chosen, T, ece, weights = select_and_calibrate(work, plan, opts, progress=progress,
                                                                  timings=timings, warn=warn)
        work = work.replace(weights=weights)
    model, P_raw = fit_chosen(chosen, work, timings)
    core_report = None
    if core is not None:
        P_raw, core_report = extend_to_rest(model, chosen, pool, core, P_raw, work, progress=progress,
                                            engine=engine, timings=timings)
    P = apply_temperature(P_raw, T)
    conf_est = estimate_accuracy(P_raw, pool.y, pool.X, pool.votes, k, selection, chosen, T, opts.random_state,
                                 warn=warn, timings=timings)
    P, labels, confidence, source = given_labels_win(P, pool.y, chosen)
    end_model = None
    if opts.fit_end_model:
        end_model = fit_end_model(pool.X, labels, confidence, classes, core, opts.random_state, timings)
    report = arrays_report(classes, pool.y, labels, confidence, chosen, selection, T, ece, plan.fallback, warn,
                           timings, opts.random_state, conf_est)
    if core_report is not None:
        report["core"] = core_report
    if graph_info.get("method") == "ivf":  # approximate: say how close to exact
        report["graph"] = graph_info
    return LabelResult(P, labels, confidence, source, chosen, report, end_model, warn, selection, list(classes))


# ---------------------------------------------------------------------------------------
# Steps on files
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cached_encoder(path: str | None, backend: str = "torch"):
    from .embed import make_encoder

    return make_encoder(path, backend)


def load_encoder(encoder_path=None):
    """The encoder for ``encoder_path`` (default: packaged MiniLM) on the current backend
    (:func:`fewlabels.embed.use_backend`), loaded once per process."""
    from .embed import current_backend

    return _cached_encoder(None if encoder_path is None else str(Path(encoder_path).resolve()), current_backend())


def label_table(input_path, out_path, options: LabelOptions | None = None, *, progress: Progress | None = None,
                engine=None, outputs=None) -> LabelResult:
    """Read a table, label every row, write the table with three new columns.

    The output keeps every input column untouched and in order, and adds
    ``fewlabels_label``, ``fewlabels_confidence`` and ``fewlabels_source``. ``options``
    (:class:`~fewlabels.options.LabelOptions`) holds the run's settings: its ``inputs.given``
    (one label or None per row) replaces the label column's values (e.g. a label store's);
    ``outputs.extra_columns(result, y)`` may return more columns ({name: pyarrow array}),
    added after the three, and may add to ``result.report`` before it is written;
    ``methods.finetune`` ("auto", the default as in the CLI, | "off" | "on" | "always") adds
    the fine-tuned encoder as a candidate (:mod:`fewlabels.finetuned`; with it chosen,
    ``save_model`` stores its encoder too); ``methods.unknown_options`` ({"rate" |
    "false_reject" | "precision" | "recall": value}, implies ``unknown``) is the operating
    point of :func:`fewlabels.groups.mark_unknown`.

    Every path is checked against every other before any work (:func:`check_outputs`), and
    the table, the report and the model folder are committed together at the end: a run that
    fails changes none of them. ``outputs`` (a :class:`fewlabels.outputs.Outputs`) stages them
    into a caller's commit instead. Warnings of the libraries used are recorded in the
    report's ``warnings``, one line each. ``engine`` (:mod:`fewlabels.engine`, default: one
    pass in this process): encoding, rule votes and the k-NN graph's search run in blocks of
    rows on it; the rest runs here.
    """
    from .embed import EmbeddingCache
    from .errors import captured_warnings
    from .honesty import fill_table_name

    options = options or LabelOptions()
    inp, opts, outo = options.inputs, options.methods, options.outputs
    unknown = opts.unknown or bool(opts.unknown_options)  # an operating point (e.g. {"rate": 0.1}) implies --unknown
    check_run(input_path, out_path, inp, outo, opts.random_state)
    timings: dict[str, float] = {}
    t = timer()
    rows = read_rows(input_path, inp, strip=_unknown_rows(input_path, inp.label_column) if unknown else None)
    timings["load"] = t()
    t = timer()
    cache = inp.cache if inp.cache is not None else EmbeddingCache()  # opened only if something is embedded
    encoder = load_encoder(inp.encoder_path) if needs_encoder(inp) else None
    X, C = embed_rows(rows, input_path, inp, encoder, cache, progress=progress, engine=engine)
    timings["embed"] = t()
    votes, rules_report = table_votes(rows, input_path, inp, progress=progress, engine=engine, timings=timings)
    pool = Pool(X=X, y=rows.y, classes=rows.classes.names, class_embeddings=C, votes=votes, texts=rows.texts)
    with captured_warnings(rows.notes), one_blas_thread():  # warnings into the report, one line each; threads.py
        result = _label(pool, rows, input_path, options, unknown, encoder=encoder, cache=cache, progress=progress,
                        timings=timings, engine=engine)
    result.warnings[:0] = rows.notes  # label notes first, then library warnings (the report's list)
    fill_table_name(result.report, result.warnings, input_path)  # an abstained estimate's next step
    note_rules(result, rules_report, inp.rules, rows.y)
    clock = timer()
    out = output_table(rows.table, result, rows.classes.names + (["unknown"] if unknown else []), rows.y,
                       outo.extra_columns, input_path)
    info = {"input": str(input_path), "output": str(out_path),
            "text_column": (inp.text_column or "text") if rows.texts is not None else None,
            "label_column": rows.label_column, "encoder": None if encoder is None else encoder.id,
            "classes": rows.classes.names}
    write_outputs(result, out, out_path, input_path, outo, encoder, info=info, timings=timings, clock=clock,
                  outputs=outputs)
    return result


def _unknown_rows(input_path, label_column):
    """For ``--unknown``: ``strip(table, classes)`` takes the rows labeled 'unknown' out of the
    given labels, as examples of no named class (:func:`fewlabels.groups.strip_unknown_labels`)."""
    from .groups import strip_unknown_labels

    return lambda table, classes: strip_unknown_labels(table, label_column, input_path, classes)


def _label(pool: Pool, rows, input_path, options: LabelOptions, unknown: bool, *, encoder, cache, progress, timings,
           engine) -> LabelResult:
    """The label step of a table: supervision on bags of rows (their shares or labels), or
    :func:`label_arrays` with the fine-tuned encoder as a candidate; then rows of no named
    class marked ``unknown``."""
    inp, opts = options.inputs, options.methods
    if inp.has_bags:
        from .groups import label_groups_table  # supervision on bags of rows: their shares or labels

        if unknown:
            raise ConfigError("--unknown goes with given row labels, not with --bag-column; drop one")
        result = label_groups_table(rows.table, input_path, pool.X, pool.y, rows.classes.names,
                                    bag_column=inp.bag_column, proportions=inp.proportions,
                                    bag_label_column=inp.bag_label_column, negative_class=inp.negative_class,
                                    random_state=opts.random_state)
    else:
        result = label_arrays(pool, options, progress=progress, timings=timings, engine=engine)
        if opts.finetune != "off":  # the fine-tuned encoder as a candidate (fewlabels.finetuned)
            from .finetuned import maybe_finetune

            result = maybe_finetune(result, pool.X, pool.y, rows.classes, rows.texts,
                                    class_embeddings=pool.class_embeddings, mode=opts.finetune,
                                    time_budget=opts.time_budget, encoder=encoder, cache=cache, votes=pool.votes,
                                    method=opts.method, random_state=opts.random_state, params=opts.finetune_params,
                                    cache_dir=opts.model_cache, progress=progress, timings=timings)
    if unknown:
        from .groups import mark_unknown

        mark_unknown(result, pool.X, pool.y, unknown=rows.unknown_rows, **(opts.unknown_options or {}))
    return result


def predict_table(model_dir, input_path, out_path, *, text_column: str = "text", vectors=None,
                  vectors_column: str | None = None, encoder_path=None, cache=None,
                  progress: Progress | None = None, engine=None) -> np.ndarray:
    """Apply a saved end model to a table; adds ``fewlabels_label`` and ``fewlabels_confidence``.
    With an ``engine`` (:mod:`fewlabels.engine`), encoding and prediction run in blocks of rows on it."""
    import pyarrow as pa

    from .embed import EmbeddingCache
    from .io import read_table, text_column as read_texts, write_table

    check_outputs(input_path, out_path=out_path,
                  reads={"model": model_dir, "--vectors": vectors, "--encoder": encoder_path},
                  stores={"--cache": getattr(cache, "path", None)})
    model, meta = EndModel.load(model_dir)
    table = read_table(input_path)
    clash = [c for c in OUTPUT_COLUMNS[:2] if c in table.column_names]
    if clash:
        raise InputError(f"{input_path}: already has column(s) {', '.join(clash)}; rename or drop them first")
    encoder = None
    texts = None
    if vectors is None and vectors_column is None:
        texts = read_texts(table, text_column, input_path)
        from .embed import model_id
        from .embed.saved import saved_encoder_path

        encoder = load_encoder(encoder_path or saved_encoder_path(model_dir, meta) or meta.get("encoder"))
        if meta.get("encoder_id") and model_id(encoder.id) != model_id(meta["encoder_id"]):  # any backend
            raise InputError(f"{model_dir}: the model was trained with encoder {meta['encoder_id']} but "
                             f"{encoder.id} is loaded; pass --encoder with the original model folder")
    X = _pool_vectors(table, input_path, texts=texts, vectors=vectors, vectors_column=vectors_column,
                      encoder=encoder, cache=cache if cache is not None else EmbeddingCache(), progress=progress,
                      engine=engine)
    if X.shape[1] != model.n_features_in_:
        raise InputError(f"{vectors or input_path}: vectors have dimension {X.shape[1]} but the model in "
                         f"{model_dir} expects {model.n_features_in_}; use the encoder the model was trained with")
    if engine is not None:
        from .engine.ops import predict_proba

        P = predict_proba(engine, model, X)
    else:
        P = model.predict_proba(X)
    idx = P.argmax(axis=1)
    out = table.append_column(OUTPUT_COLUMNS[0], pa.array(model.classes_[idx].tolist(), pa.string()))
    out = out.append_column(OUTPUT_COLUMNS[1], pa.array(np.round(P.max(axis=1), 6), pa.float64()))
    write_table(out, out_path)
    return P
