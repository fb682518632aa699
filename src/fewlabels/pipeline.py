"""The one place that wires the steps together.

load → embed (cached) → labelers → selection and calibration → end model → report and
export. :func:`label_arrays` is the array-level core (X, y in; labels, confidences, model and
report out); :func:`label_table` adds reading a table, embedding and writing the outputs.
"""

from __future__ import annotations

import functools
import time
from os import PathLike
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .calibrate import apply_temperature, confidence_accuracy, cross_fitted_ece, fit_temperature
from .endmodel import EndModel
from .errors import ConfigError, InputError, where
from .graph import knn_graph
from .honesty import (abstain_note, check_against_labels, keep_calibration_if_it_helps, span_estimators,
                      unlabeled_classes_share, vector_warnings)
from .labelers.registry import accepts, available, get_labeler_class, labeler_input, make_labeler
from .options import LabelOptions
from .pool import Pool
from .pool_core import core_rows, extend_to_pool, extension_info
from .threads import one_blas_thread, with_one_blas_thread
from .report.summary import build_report
from .result import LabelResult, given_labels_win
from .select import select_labeler
from .text_vectors import embed_classes
from .validation import check_X, check_y

from .classes import ClassSpec

#: candidates tried by ``method="auto"``, in order of preference on ties
AUTO_CANDIDATES = ("logistic", "prototype", "spreading", "clustering", "selftraining", "zeroshot", "ensemble")

#: added to the candidates when rules give a label matrix: rules alone, and rules with embeddings
RULE_CANDIDATES = ("majority", "dawid_skene", "fused")

#: kept by "auto" unless another candidate beats it by more than one standard error: averaging
#: methods that err differently is the safer bet when a hundred labels cannot tell them apart
PREFERRED = "ensemble"
#: (With rules, ``fused``, rules and embeddings, is a candidate like the others: it must win on
#: the folds. It used to be preferred (kept unless beaten by more than one SE): on WRENCH's
#: rules with 100 labels (bench/wrench.py, 3 seeds each of trec, youtube, sms) that kept it in
#: 3 to 5 of the 9 runs, and it lost to the embeddings-only choice in all but one, by 0.07 to
#: 0.31 on test (it won once, by 0.004); its out-of-fold accuracy was within one SE of the
#: ensemble's each time. With 0 labels, where nothing can be cross-validated, ``fused`` is
#: still what is used.)

Progress = Callable[[str, int, int], None]


def _timer():
    t0 = time.perf_counter()
    return lambda: round(time.perf_counter() - t0, 3)


@with_one_blas_thread
def label_arrays(pool: Pool, options: LabelOptions | None = None, *, progress: Progress | None = None,
                 timings: dict | None = None, engine=None) -> LabelResult:
    """Label every row of ``pool.X`` from the few labels in ``pool.y``.

    Parameters
    ----------
    pool : :class:`~fewlabels.pool.Pool` with
        X : array of shape (n, d);
        y : array of shape (n,), int codes into ``classes``, -1 for unlabeled;
        classes : k class names;
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
        constant in n. None: always the whole pool.
    progress : optional ``progress(step, done, total)``
    timings : optional dict that receives the seconds of each step
    engine : optional (:mod:`fewlabels.engine`): the k-NN graph's search runs in blocks on it
    """
    opts = (options or LabelOptions()).methods
    X, y, classes, class_embeddings, votes = pool.X, pool.y, list(pool.classes), pool.class_embeddings, pool.votes
    method, candidates, n_splits, n_neighbors = opts.method, opts.candidates, opts.n_splits, opts.n_neighbors
    random_state, fit_end_model, core_size = opts.random_state, opts.fit_end_model, opts.core_size
    X = check_X(X)
    k = len(classes)
    y = check_y(y, X.shape[0], k)
    timings = {} if timings is None else timings
    warn: list[str] = []
    lab = np.flatnonzero(y >= 0)
    counts = np.bincount(y[lab], minlength=k)

    missing = [classes[c] for c in range(k) if counts[c] == 0]
    single = [classes[c] for c in range(k) if counts[c] == 1]
    if missing and len(lab):
        warn.append(f"{len(missing)} class(es) have no given label ({', '.join(missing[:10])}"
                    f"{', ...' if len(missing) > 10 else ''}); they can only be found from their names")
    if single:
        warn.append(f"{len(single)} class(es) have only one given label ({', '.join(single[:10])}"
                    f"{', ...' if len(single) > 10 else ''}); the accuracy estimate for them is rough")
    warn.extend(vector_warnings(X))  # before labeling: vectors that cannot tell rows apart

    if votes is not None:
        votes = np.asarray(votes)
        if votes.ndim != 2 or votes.shape[0] != X.shape[0]:
            raise InputError(f"votes must have shape ({X.shape[0]}, m): one row of rule votes per item")
    core = core_rows(y, core_size, random_state)
    pool = (X, y, votes)
    if core is not None:  # compare, calibrate and fit on the core; label the rest after
        X, y, votes = X[core], y[core], None if votes is None else votes[core]
        lab = np.flatnonzero(y >= 0)  # every labeled row is in the core
    context = {"n_classes": k, "class_embeddings": class_embeddings, "random_state": random_state, "graph": None,
               "votes": votes}
    if method == "auto":
        names = list(candidates or (AUTO_CANDIDATES + (RULE_CANDIDATES if votes is not None else ())))
    else:
        cls = get_labeler_class(method)
        # an ensemble is scored from its members' out-of-fold outputs, so they run too
        members = getattr(cls, "stacked_members", None) or getattr(cls, "default_members", None) or ()
        names = [*members, method]
    for name in names:
        get_labeler_class(name)
    unavailable = [n for n in names if not available(n, context)]
    if method != "auto" and unavailable:
        need = ", ".join(get_labeler_class(method).needs)
        raise ConfigError(f"method {method!r} needs {need}: give an encoder (not only --vectors) so class "
                          "names can be embedded")
    names = [n for n in names if n not in unavailable]

    fallback = None
    can_cross_validate = len(lab) >= 2 and len(np.unique(y[lab])) >= 2
    if not can_cross_validate:
        # Too few labels to cross-validate: use what works without labels.
        if method != "auto":
            if len(lab) < get_labeler_class(method).min_labels:
                raise InputError(f"method {method!r} needs at least {get_labeler_class(method).min_labels} "
                                 f"given labels; got {len(lab)}. Label more rows or use zeroshot")
            chosen = method
        elif votes is not None:
            chosen = "fused"  # rules label what they cover; embeddings carry it to the rest
        elif available("zeroshot", context):
            # class-balanced self-training from zero-shot (or one-class) starting scores
            chosen = "selftraining"
        else:
            raise InputError(
                f"only {len(lab)} given label(s) in {len(np.unique(y[lab]))} class(es), and no class names "
                "can be embedded: label at least two rows of two classes, or give an encoder for zero-shot")
        fallback = (f"{len(lab)} given label(s): too few to cross-validate, so '{chosen}' was used without "
                    + ("a cross-validated accuracy estimate (the one shown is model-based, from how the rules "
                       "agree: unverified)" if votes is not None and not len(lab) else "an accuracy estimate")
                    + " and its confidence is not calibrated")
        names = [chosen]
    elif counts[counts > 0].mean() < 2 or missing:
        fallback = ("fewer than 2 given labels per class on average, or classes without labels: "
                    "methods were compared with folds that hide whole classes, so the estimate is rough")

    graph_info: dict = {}
    if any(accepts(n, "graph") for n in names):  # one k-NN graph, shared by methods and folds
        t = _timer()
        context["graph"] = knn_graph(X, n_neighbors, engine=engine, info=graph_info)
        timings["graph"] = t()

    selection = None
    T = 1.0
    ece = None
    if can_cross_validate:
        t = _timer()
        preferred = (PREFERRED,)
        selection = select_labeler(X, y, names, context, n_splits=n_splits, random_state=random_state,
                                   prefer=preferred,
                                   progress=(lambda d, n: progress("select", d, n)) if progress else None)
        if method != "auto":  # forced: no choice was made, so there is no optimism to remove
            selection.best = method
            selection.corrected_accuracy = selection.scores[method].accuracy
        chosen = selection.best
        if chosen in selection.weights:
            context["weights"] = selection.weights[chosen]
        timings["select"] = t()
        t = _timer()
        oof = selection.scores[chosen].oof_proba
        T = fit_temperature(oof, selection.y_labeled)
        ece = cross_fitted_ece(oof, selection.y_labeled, selection.fold_of)
        T, ece = keep_calibration_if_it_helps(T, ece, warn)  # T = 1 when scaling does not lower the ECE
        timings["calibrate"] = t()

    t = _timer()
    X_in = labeler_input(chosen, X, context)
    model = make_labeler(chosen, **context).fit(X_in, y)
    P_raw = model.predict_proba(X_in)
    timings["label"] = t()
    core_report = None
    if core is not None:
        t = _timer()
        X, y, votes = pool
        P_raw = extend_to_pool(model, chosen, X, core, P_raw, dict(context, votes=votes),
                               progress=(lambda d, n: progress("extend", d, n)) if progress else None,
                               engine=engine)
        timings["extend"] = t()
        core_report = {"rows": int(len(core)), "pool_rows": int(len(y)), "extension": extension_info(model)}
    P = apply_temperature(P_raw, T)
    conf_est = None
    if selection is not None and (y < 0).any():  # rows left to estimate on
        t = _timer()
        conf_est = confidence_accuracy(P_raw[y < 0], selection.scores[chosen].oof_proba, selection.y_labeled,
                                       temperature=T, random_state=random_state)
        conf_est = span_estimators(conf_est, P_raw[y < 0], selection.scores[chosen].oof_proba, selection.y_labeled,
                                   T)  # the interval spans the estimators, not only the temperature's noise
        timings["estimate"] = t()
    elif selection is None and votes is not None and not len(lab):  # rules and no label: model-based only
        from .zero_label_estimate import rules_accuracy_estimate

        t = _timer()
        conf_est = rules_accuracy_estimate(X, votes, k, labels=P_raw.argmax(axis=1), random_state=random_state)
        if conf_est.get("abstained"):
            warn.append(abstain_note(conf_est))
        timings["estimate"] = t()
    P, labels, confidence, source = given_labels_win(P, y, chosen)

    end_model = None
    if fit_end_model:
        t = _timer()
        fit_rows = slice(None) if core is None else core  # the core carries the method's own labels
        end_model = EndModel(random_state=random_state).fit(X[fit_rows], labels[fit_rows],
                                                            sample_weight=confidence[fit_rows], classes=list(classes))
        timings["end_model"] = t()

    report = build_report(classes, y, labels, chosen, selection, T, ece, fallback, warn, timings,
                          random_state, len(X), conf_est)
    est = check_against_labels(report["estimated_accuracy"], warn)  # the labels' evidence wins
    report["estimated_accuracy"] = unlabeled_classes_share(est, labels, confidence, y, classes, warn)
    if core_report is not None:
        report["core"] = core_report
    if graph_info.get("method") == "ivf":  # approximate: say how close to exact
        report["graph"] = graph_info
    return LabelResult(P, labels, confidence, source, chosen, report, end_model, warn, selection, list(classes))


# ---------------------------------------------------------------------------------------
# Steps on files
# ---------------------------------------------------------------------------------------

OUTPUT_COLUMNS = ("fewlabels_label", "fewlabels_confidence", "fewlabels_source")


@functools.lru_cache(maxsize=4)
def _cached_encoder(path: str | None, backend: str = "torch"):
    from .embed import make_encoder

    return make_encoder(path, backend)


def rule_votes(texts, rules_path, classes: Sequence[str], y=None, *, strict: bool = False,
               progress: Progress | None = None, engine=None) -> tuple[np.ndarray, dict]:
    """Apply the rules in ``rules_path`` to ``texts``: (L, report) where the report holds the
    per-rule analysis, the rules that raised (with their first row) and the slowest rules.
    With an ``engine``, blocks of rows are voted on its workers."""
    from .signals import analyze, apply_rules, load_rules

    cb = (lambda d, n: progress("rules", d, n)) if progress else None
    if engine is not None:
        from .signals.blocks import apply_rules_blocks

        res = apply_rules_blocks(engine, texts, rules_path, classes, strict=strict, progress=cb)
    else:
        res = apply_rules(texts, load_rules(rules_path), classes, strict=strict, progress=cb)
    report = analyze(res.L, res.rule_names, classes, y)
    report.update({"file": str(rules_path), "errors": res.errors,
                   "slowest": [{"rule": r, "seconds": round(t, 4)} for r, t in res.slowest(3)]})
    return res.L, report


def load_encoder(encoder_path=None):
    """The encoder for ``encoder_path`` (default: packaged MiniLM) on the current backend
    (:func:`fewlabels.embed.use_backend`), loaded once per process."""
    from .embed import current_backend

    return _cached_encoder(None if encoder_path is None else str(Path(encoder_path).resolve()), current_backend())


def _pool_vectors(table, path, *, texts, vectors, vectors_column, encoder, cache, progress, engine=None):
    """Item vectors: from a .npy file, a list column, or the encoder (cached)."""
    from .embed import embed_texts
    from .io import read_vectors
    from .io import vectors_column as read_vectors_column

    if vectors is not None and vectors_column is not None:
        raise ConfigError("give either --vectors or --vectors-column, not both")
    if vectors is not None:
        X = read_vectors(vectors)
        if X.shape[0] != table.num_rows:
            raise InputError(f"{vectors}: {X.shape[0]} vectors for {table.num_rows} rows of {path}; "
                             "give one vector per row, in the table's order")
        return check_X(X, name="vectors", path=vectors)
    if vectors_column is not None:
        return check_X(read_vectors_column(table, vectors_column, path), name="vectors", path=path)
    cb = (lambda done, total: progress("embed", done, total)) if progress else None
    return embed_texts(texts, encoder, cache, progress=cb, engine=engine)


def _given_labels(table, input_path, label_column: str | None, classes: ClassSpec | None, given=None, *,
                  fold_case: bool = False, notes: list | None = None):
    """(label column used, y codes with -1 for unlabeled, classes) from a table.

    Classes come from ``classes`` or, when not given, from the labels seen. ``given`` (one
    label or None per row) replaces the label column's values when not None. Labels are
    normalised as :func:`fewlabels.io.read_labels` says (``fold_case`` merges labels that
    differ only by case); its notes are appended to ``notes``."""
    from .io import read_labels

    if label_column is None and "label" in table.column_names:
        label_column = "label"
    raw = [None] * table.num_rows
    if label_column:
        raw, label_notes = read_labels(table, label_column, input_path, keep=classes.names if classes else (),
                                       fold_case=fold_case)
        if notes is not None:
            notes.extend(label_notes)
    if given is not None:
        raw = list(given)
    if classes is None:
        if label_column is None and given is None:
            from .io import delimiter_hint

            raise InputError(f"{input_path}: no label column (no column 'label'; the table has "
                             f"{', '.join(map(repr, table.column_names))}{delimiter_hint(table, input_path)}) and "
                             "no classes named. Pass --label-column NAME, or name the classes with --classes / "
                             "--classes-file")
        seen = sorted({v for v in raw if v is not None})
        if len(seen) < 2:
            raise InputError(f"{input_path}, column {label_column!r}: found {len(seen)} distinct label(s) "
                             f"{seen}; need at least two classes. Label rows of another class, or name the "
                             "classes with --classes / --classes-file")
        classes = ClassSpec(seen, {})
    code = {c: i for i, c in enumerate(classes.names)}
    y = np.full(table.num_rows, -1, dtype=np.int64)
    for i, v in enumerate(raw):
        if v is None:
            continue
        if v not in code:
            twin = [c for c in classes.names if c.casefold() == v.casefold()]
            hint = (f"; it differs only by case from class {twin[0]!r}: fix the label or pass --fold-case"
                    if twin else "; fix the label or add the class")
            raise InputError(f"{where(input_path, label_column, i)}label {v!r} is not one of the classes "
                             f"({', '.join(classes.names[:20])}){hint}")
        y[i] = code[v]
    return label_column, y, classes


def rules_table(input_path, rules, *, text_column: str = "text", label_column: str | None = None,
                classes: ClassSpec | None = None, strict: bool = False, progress: Progress | None = None,
                fold_case: bool = False) -> dict:
    """Apply rules to a table's texts; return the analysis report (see :func:`rule_votes`)."""
    from .io import read_table, text_column as read_texts

    table = read_table(input_path)
    notes: list[str] = []
    label_column, y, classes = _given_labels(table, input_path, label_column, classes, fold_case=fold_case,
                                             notes=notes)
    texts = read_texts(table, text_column, input_path)
    _, report = rule_votes(texts, rules, classes.names, y, strict=strict, progress=progress)
    if notes:
        report["warnings"] = notes
    return report


def synthesize_table(input_path, rules_path, *, text_column: str = "text", label_column: str | None = None,
                     classes: ClassSpec | None = None, force: bool = False, report_path=None,
                     progress: Progress | None = None, fold_case: bool = False, **options) -> dict:
    """Mine keyword rules from a table's given labels, write them as a rules ``.toml``, and
    return the analysis of those rules on the table (see :func:`rule_votes`).

    The file is written atomically and read back through :func:`~fewlabels.signals.load_rules`.
    It is never the input, and an existing file is replaced only with ``force``.

    Parameters
    ----------
    input_path : table with a text column and a column of given labels (empty = unlabeled)
    rules_path : the ``.toml`` to write
    report_path : optional JSON file for the returned report
    options : passed to :func:`~fewlabels.signals.synthesize_rules` (``min_support``,
        ``min_precision``, ...)

    Returns
    -------
    dict
        The rule analysis, plus ``synthesis``: the mined keywords with their numbers
        (``rules``), the held-out quality of the mining step (``cv``) and ``options``.
        The per-rule accuracy on the given labels is optimistic: the rules were mined from
        those labels; ``cv`` is the out-of-sample figure.
    """
    from .io import atomic_path, read_labels, read_table, text_column as read_texts, write_json
    from .signals import synthesize_rules

    rules_path = Path(rules_path)
    check_outputs(input_path, synthesize=rules_path, report_path=report_path)
    if rules_path.suffix.lower() != ".toml":
        raise InputError(f"{rules_path}: --synthesize writes a TOML rules file; give a path ending in .toml")
    if rules_path.exists() and not force:
        raise InputError(f"{rules_path}: --synthesize file already exists; choose another path, or pass --force "
                         "to replace it")
    table = read_table(input_path)
    if label_column is None:
        if "label" not in table.column_names:
            raise InputError(f"{input_path}: --synthesize mines rules from the given labels, but there is no label "
                             f"column (no column 'label'; the table has {', '.join(map(repr, table.column_names))}). "
                             "Pass --label-column NAME")
        label_column = "label"
    raw = [v for v in read_labels(table, label_column, input_path, keep=classes.names if classes else (),
                                  fold_case=fold_case)[0] if v is not None]
    if len(set(raw)) < 2:
        raise InputError(f"{where(input_path, label_column)}--synthesize needs given labels of at least two classes; "
                         f"found {len(raw)} labeled row(s) of {len(set(raw))} class(es). Label more rows")
    label_column, y, classes = _given_labels(table, input_path, label_column, classes, fold_case=fold_case)
    texts = read_texts(table, text_column, input_path)
    try:
        result = synthesize_rules(texts, y, classes.names, **options)
    except InputError as exc:
        raise InputError(f"{where(input_path, label_column)}{exc}") from None
    with atomic_path(rules_path) as tmp:
        tmp.write_text(result.toml, encoding="utf-8")
    _, report = rule_votes(texts, rules_path, classes.names, y, progress=progress)
    report["synthesis"] = {"rules": result.rules, "cv": result.cv, "options": options}
    if report_path is not None:
        write_json(report, report_path)
    return report


def _read_input(input_path, classes, votes, votes_column, rules):
    """(table, classes, votes column) of the input: a table, or a WRENCH ``.json`` split
    (:func:`fewlabels.io.votes.read_wrench`), whose classes come from its label.json and
    whose ``weak_labels`` are the votes unless rules or other votes are given."""
    from .io import read_table
    from .io.votes import WRENCH_VOTES_COLUMN, is_wrench, read_wrench

    if not is_wrench(input_path):
        return read_table(input_path), classes, votes_column
    table, names = read_wrench(input_path)  # (read_table reads it too, for callers that need no classes)
    if classes is None:
        classes = ClassSpec(names, {})
    elif list(classes.names) != names:
        raise InputError(f"{input_path}: its label.json names the classes {names}; --classes must list the same "
                         "names in the same order (the weak labels are codes into that list), or be left out")
    if votes is None and votes_column is None and rules is None:
        votes_column = WRENCH_VOTES_COLUMN
    return table, classes, votes_column


def _user_votes(table, input_path, votes, votes_column, k: int, rule_L):
    """The label matrix: the rules' votes, then the user's own (``--votes`` / ``--votes-column``)."""
    from .io.votes import read_votes, votes_from_column

    if votes is not None and votes_column is not None:
        raise ConfigError("give either --votes or --votes-column, not both")
    L = None
    if votes is not None:
        L = read_votes(votes, table.num_rows, k)
    elif votes_column is not None:
        L = votes_from_column(table, votes_column, input_path, k)
    if L is None:
        return rule_L
    return L if rule_L is None else np.hstack([np.asarray(rule_L, dtype=np.int16), L.astype(np.int16)])


def label_table(input_path, out_path, options: LabelOptions | None = None, *, progress: Progress | None = None,
                engine=None, outputs=None) -> LabelResult:
    """Read a table, label every row, write the table with three new columns.

    The output keeps every input column untouched and in order, and adds
    ``fewlabels_label``, ``fewlabels_confidence`` and ``fewlabels_source``. Outputs are
    written atomically; the input is never overwritten. ``options``
    (:class:`~fewlabels.options.LabelOptions`) holds the run's settings.

    ``options.inputs.given`` (one label or None per row) replaces the label column's values
    (e.g. labels merged from a label store). ``options.outputs.extra_columns(result, y)`` may
    return more output columns ({name: pyarrow array}), added after the three, and may add to
    ``result.report`` before it is written.

    Every path is checked against every other before any work (:func:`check_outputs`), and
    the table, the report and the model folder are committed together at the end: a run
    that fails changes none of them. ``outputs`` (a :class:`fewlabels.outputs.Outputs`)
    stages them into a caller's commit instead, for a caller that writes more files.
    Warnings of the libraries used are recorded in the report's ``warnings``, one line each.
    ``fold_case`` merges given labels that differ only by case (see
    :func:`fewlabels.io.read_labels`).
    ``finetune`` ("auto", the default as in the CLI, | "off" | "on" | "always"), ``time_budget`` (seconds, for "auto"),
    ``finetune_params`` (:class:`~fewlabels.embed.finetune.FineTuneParams`) and ``model_cache``
    (folder of fine-tuned encoders) add the fine-tuned encoder as a candidate: see
    :mod:`fewlabels.finetuned`; with it chosen, ``save_model`` stores its encoder too.
    ``unknown_options`` ({"rate" | "false_reject" | "precision" | "recall": value}, implies
    ``unknown``): the operating point of :func:`fewlabels.groups.mark_unknown`.
    ``engine`` (:mod:`fewlabels.engine`, default: one pass in this process): encoding, rule
    votes and the k-NN graph's search run in blocks of rows on it; the rest runs here.
    """
    options = options or LabelOptions()
    inp, opts, outo = options.inputs, options.methods, options.outputs
    text_column, label_column, classes, given, fold_case = (inp.text_column, inp.label_column, inp.classes, inp.given,
                                                            inp.fold_case)
    vectors, vectors_column, encoder_path, cache = inp.vectors, inp.vectors_column, inp.encoder_path, inp.cache
    rules, strict_rules, votes, votes_column = inp.rules, inp.strict_rules, inp.votes, inp.votes_column
    bag_column, proportions, bag_label_column, negative_class = (inp.bag_column, inp.proportions, inp.bag_label_column,
                                                                 inp.negative_class)
    method, n_splits, random_state = opts.method, opts.n_splits, opts.random_state
    finetune, time_budget, finetune_params, model_cache = (opts.finetune, opts.time_budget, opts.finetune_params,
                                                           opts.model_cache)
    unknown, unknown_options = opts.unknown, opts.unknown_options
    report_path, save_model, extra_columns = outo.report_path, outo.save_model, outo.extra_columns
    import pyarrow as pa

    from .embed import EmbeddingCache
    from .errors import captured_warnings
    from .honesty import fill_table_name
    from .io import text_column as read_texts
    from .outputs import Outputs
    from .validation import check_random_state

    timings: dict[str, float] = {}
    check_random_state(random_state)
    unknown = unknown or bool(unknown_options)  # an operating point (e.g. {"rate": 0.1}) implies --unknown
    check_outputs(input_path, out_path=out_path, report_path=report_path, save_model=save_model,
                  reads={"--rules": rules, "--vectors": vectors, "--encoder": encoder_path, "--votes": votes,
                         "--proportions": proportions},
                  stores={"--cache": getattr(cache, "path", None)})
    notes: list[str] = []
    t = _timer()
    table, classes, votes_column = _read_input(input_path, classes, votes, votes_column, rules)
    clash = [c for c in OUTPUT_COLUMNS if c in table.column_names]
    if clash:
        raise InputError(f"{input_path}: already has column(s) {', '.join(clash)}; rename or drop them first")
    labels_from, unknown_rows = table, None
    if unknown:  # rows labeled 'unknown' are given examples of no named class
        from .groups import strip_unknown_labels

        labels_from, unknown_rows = strip_unknown_labels(table, label_column, input_path, classes)
    label_column, y, classes = _given_labels(labels_from, input_path, label_column, classes, given,
                                             fold_case=fold_case, notes=notes)
    texts = None
    if text_column is not None or (vectors is None and vectors_column is None) or "text" in table.column_names:
        texts = read_texts(table, text_column or "text", input_path)
    timings["load"] = t()

    t = _timer()
    cache = cache if cache is not None else EmbeddingCache()  # opened only if something is embedded
    need_encoder = (vectors is None and vectors_column is None) or encoder_path is not None
    encoder = load_encoder(encoder_path) if need_encoder else None
    X = _pool_vectors(table, input_path, texts=texts, vectors=vectors, vectors_column=vectors_column,
                      encoder=encoder, cache=cache, progress=progress, engine=engine)
    C = embed_classes(classes.names, classes.descriptions, encoder, cache) if encoder is not None else None
    if C is not None and C.shape[1] != X.shape[1]:
        raise InputError(f"{vectors or input_path}: vectors have dimension {X.shape[1]} but the encoder makes "
                         f"{C.shape[1]}; use the encoder that made the vectors, or drop --encoder")
    timings["embed"] = t()

    rules_report = None
    if rules is not None:
        if texts is None:
            texts = read_texts(table, text_column or "text", input_path)
        t = _timer()
        votes_L, rules_report = rule_votes(texts, rules, classes.names, y, strict=strict_rules, progress=progress,
                                           engine=engine)
        timings["rules"] = t()
    else:
        votes_L = None
    votes = _user_votes(table, input_path, votes, votes_column, len(classes.names), votes_L)

    with captured_warnings(notes), one_blas_thread():  # warnings into the report, one line each; threads.py
        if bag_column is not None or proportions is not None or bag_label_column is not None:
            from .groups import label_groups_table  # supervision on bags of rows: their shares or labels

            if unknown:
                raise ConfigError("--unknown goes with given row labels, not with --bag-column; drop one")
            result = label_groups_table(table, input_path, X, y, classes.names, bag_column=bag_column,
                                        proportions=proportions, bag_label_column=bag_label_column,
                                        negative_class=negative_class, random_state=random_state)
        else:
            result = label_arrays(Pool(X=X, y=y, classes=classes.names, class_embeddings=C, votes=votes), options,
                                  progress=progress, timings=timings, engine=engine)
            if finetune != "off":  # the fine-tuned encoder as a candidate (fewlabels.finetuned)
                from .finetuned import maybe_finetune

                result = maybe_finetune(result, X, y, classes, texts, class_embeddings=C, mode=finetune,
                                        time_budget=time_budget, encoder=encoder, cache=cache, votes=votes,
                                        method=method, random_state=random_state, params=finetune_params,
                                        cache_dir=model_cache, progress=progress, timings=timings)
        if unknown:
            from .groups import mark_unknown

            mark_unknown(result, X, y, unknown=unknown_rows, **(unknown_options or {}))
    result.warnings[:0] = notes  # label notes first, then library warnings (the report's list)
    fill_table_name(result.report, result.warnings, input_path)  # an abstained estimate's next step
    if rules_report is not None:
        result.report["rules"] = rules_report
        from .signals.synthesis import is_synthesized

        if is_synthesized(rules) and (y >= 0).any():
            note = (f"{rules} was mined from given labels by `fewlabels rules --synthesize`; if from these same "
                    "labels, the cross-validated accuracy of the rule-based candidates is optimistic (each fold's "
                    "held-out labels helped pick the keywords)")
            result.warnings.append(note)  # the report's "warnings" is this same list

    t = _timer()
    names = np.asarray(classes.names + (["unknown"] if unknown else []), dtype=object)
    out = table
    out = out.append_column(OUTPUT_COLUMNS[0], pa.array(names[result.labels].tolist(), pa.string()))
    out = out.append_column(OUTPUT_COLUMNS[1], pa.array(np.round(result.confidence, 6), pa.float64()))
    out = out.append_column(OUTPUT_COLUMNS[2], pa.array(result.source.tolist(), pa.string()))
    for name, values in (extra_columns(result, y) if extra_columns else {}).items():
        if name in table.column_names:
            raise InputError(f"{input_path}: already has column {name}; rename or drop it first")
        out = out.append_column(name, values)
    outs = outputs if outputs is not None else Outputs()
    try:
        if save_model is not None and result.end_model is not None:
            meta = {"encoder": None if encoder is None else str(encoder.path),
                    "encoder_id": None if encoder is None else encoder.id,
                    "trained_on": str(input_path),
                    "method": result.method}
            outs.folder(save_model, "--save-model", lambda tmp: result.end_model.save_files(tmp, meta))
        outs.table(out, out_path, "--out")
    except BaseException:
        outs.discard()
        raise
    timings["write"] = t()
    result.report.update({
        "input": str(input_path),
        "output": str(out_path),
        "text_column": (text_column or "text") if texts is not None else None,
        "label_column": label_column,
        "encoder": None if encoder is None else encoder.id,
        "classes": classes.names,
    })
    result.report["timings_s"] = timings
    with outs if outputs is None else _staged_only(outs):  # the commit: all outputs, or none
        if report_path is not None:
            outs.json(result.report, report_path, "--report")
    return result


class _staged_only:
    """Stage into a caller's :class:`~fewlabels.outputs.Outputs` without committing it."""

    def __init__(self, outs):
        self.outs = outs

    def __enter__(self):
        return self.outs

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.outs.discard()
        return False


def check_outputs(input_path, *, reads: dict | None = None, stores: dict | None = None, **outputs) -> None:
    """Fail before any work if a run would change a file it must not (the output guard,
    :func:`fewlabels.outputs.check_paths`): an output is the input or another file read
    (``reads``: option → path, e.g. ``{"--rules": path}``), a store (``stores``:
    ``{"--cache": path}``) or another output, an output format is unknown, or an output
    cannot be written. ``outputs``: keyword → path (``out_path`` is ``--out``,
    ``save_model`` is ``--save-model``)."""
    from .io import table_format
    from .outputs import check_paths

    if not isinstance(input_path, (str, PathLike)):  # e.g. a DataFrame: fewlabels.label takes those
        raise InputError(f"the input must be the path of a table file; got a {type(input_path).__name__}. For a pandas "
                         "DataFrame or a pyarrow Table, call fewlabels.label(data, ...), which returns a DataFrame")
    given = {"--" + k.replace("_path", "").replace("_", "-"): v for k, v in outputs.items() if v is not None}
    check_paths({"input": input_path, **(reads or {})}, given, stores)
    if "--out" in given:
        table_format(given["--out"])


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
