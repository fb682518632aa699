"""Novel-class discovery: group the rows no named class fits, guess how many new classes
they hold, and describe each one so a person can name it.

Seeds: ProtoGCD (generalized category discovery, with a criterion for the number of new
classes) and Lowis3D (naming classes nobody annotated from text that goes with them). Here:

1. the rows (typically those ``fewlabels label --unknown`` marked ``unknown``) are
   clustered with k-means on their unit embeddings for every k in [k_min, k_max];
2. the number of classes is the smallest k whose clusters are as tight as the known
   classes are (from rows with given labels, ``reference``), or without those the k with the
   best cosine silhouette computed on a sample (``sample_size`` rows);
3. each cluster gets its top distinguishing keywords by class-based TF-IDF (c-TF-IDF:
   a word's frequency in the cluster times log(1 + mean words per cluster / its frequency
   over all clusters)), its most typical rows (nearest the centroid) and a suggested name
   made of its two top keywords;
4. :func:`write_classes_file` writes them, after the known classes, in the format of
   ``--classes-file`` (``name: description``, ``#`` comments), for the user to edit.

Cost: O(Σ_k n_init · iter · m · k · d) for m rows; silhouette O(sample_size² · d) per k;
c-TF-IDF O(total tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError
from .graph import normalize_rows
from .validation import check_in_range, check_X


@dataclass
class NewClass:
    name: str
    keywords: list[str]
    typical: list[str]
    size: int


@dataclass
class Discovery:
    """What :func:`discover` returns.

    n_classes : the estimated number of new classes
    labels : (m,) cluster code of each row
    classes : one :class:`NewClass` per cluster, largest first (codes follow that order)
    scores : {k: silhouette} for every k tried
    """

    n_classes: int
    labels: np.ndarray
    classes: list[NewClass]
    scores: dict[int, float] = field(default_factory=dict)


_TOKEN = re.compile(r"[a-z][a-z0-9']+")
_STOP = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now
of off on once only or other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves i'm it's don't can't what's
i've i'd you're get got""".split())


def ctfidf_keywords(texts: Sequence[str], labels: np.ndarray, n_clusters: int, top: int = 5) -> list[list[str]]:
    """Top ``top`` distinguishing words of each cluster by class-based TF-IDF."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        for w in _TOKEN.findall(str(t).lower()):
            if w in _STOP:
                continue
            rows.append(labels[i])
            cols.append(vocab.setdefault(w, len(vocab)))
    if not vocab:
        return [[] for _ in range(n_clusters)]
    tf = np.zeros((n_clusters, len(vocab)))
    np.add.at(tf, (np.asarray(rows), np.asarray(cols)), 1.0)
    words = np.array(list(vocab))
    freq = tf.sum(axis=0)
    avg = tf.sum() / n_clusters
    score = tf / np.maximum(tf.sum(axis=1, keepdims=True), 1) * np.log1p(avg / np.maximum(freq, 1))
    score[tf < 2] = 0  # a word seen once in a cluster says little about it
    out = []
    for c in range(n_clusters):
        order = np.argsort(-score[c], kind="stable")[:top]
        out.append([str(words[j]) for j in order if score[c, j] > 0])
    return out


def class_spread(X, y) -> float:
    """Mean cosine distance of rows to their class's mean direction, over classes with >= 2 rows."""
    Xn = normalize_rows(np.asarray(X, dtype=np.float32)).astype(np.float64)
    y = np.asarray(y)
    d = []
    for c in np.unique(y):
        rows = Xn[y == c]
        if len(rows) >= 2:
            centre = rows.mean(axis=0)
            d.append(1.0 - rows @ (centre / max(np.linalg.norm(centre), 1e-12)))
    return float(np.concatenate(d).mean()) if d else float("nan")


def discover(X, texts: Sequence[str] | None = None, *, k_min: int = 2, k_max: int | None = None,
             reference=None, sample_size: int = 2000, n_init: int = 3, n_typical: int = 3,
             random_state: int | None = 0, progress=None) -> Discovery:
    """Cluster ``X`` (m, d) into an estimated number of new classes and describe them.

    Parameters
    ----------
    X : (m, d) embeddings of the rows to explore
    texts : m texts (for keywords and typical rows), optional
    k_min, k_max : range of class counts tried (k_max default: min(30, m // 10))
    reference : (X_known, y_known), optional: rows with given labels of the known classes.
        The number of classes is then the smallest k whose clusters are as tight as the
        known classes (mean cosine distance to the cluster's mean direction at most 1.05 x
        the known classes' :func:`class_spread`): new classes are assumed to be as broad as the
        named ones, so classes that are not topics (question types) are not cut into topics.
        Without it, the k with the best cosine silhouette.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X = check_X(X, name="vectors of the rows to explore")
    m = X.shape[0]
    k_max = min(30, m // 10) if k_max is None else k_max
    check_in_range("k_min", k_min, 2)
    if m < 2 * k_min or k_max < k_min:
        raise InputError(f"only {m} row(s) to explore: need at least {max(2 * k_min, 10 * k_min)} rows to find "
                         f"{k_min}+ new classes; run `fewlabels label --unknown` on more rows")
    Xn = normalize_rows(X).astype(np.float64)
    rng = np.random.default_rng(random_state)
    sample = rng.choice(m, size=min(sample_size, m), replace=False)
    scores, fits = {}, {}
    ks = list(range(k_min, min(k_max, m - 1) + 1))
    for i, k in enumerate(ks):
        km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(Xn)
        scores[k] = float(silhouette_score(Xn[sample], km.labels_[sample], metric="cosine"))
        fits[k] = km
        if progress:
            progress("discover", i + 1, len(ks))
    best = max(scores, key=lambda k: (scores[k], -k))
    if reference is not None:
        target = class_spread(*reference)
        spread = {k: float((1.0 - np.einsum("ij,ij->i", Xn, normalize_rows(
            fits[k].cluster_centers_.astype(np.float32))[fits[k].labels_])).mean()) for k in fits}
        tight = [k for k in ks if spread[k] <= 1.05 * target]  # 5%: sampling noise of both means
        best = tight[0] if tight else ks[-1]
    km = fits[best]
    # codes by size, largest first
    sizes = np.bincount(km.labels_, minlength=best)
    order = np.argsort(-sizes, kind="stable")
    recode = np.empty(best, dtype=np.int64)
    recode[order] = np.arange(best)
    labels = recode[km.labels_]
    centres = normalize_rows(km.cluster_centers_[order].astype(np.float32))
    keywords = ctfidf_keywords(texts, labels, best) if texts is not None else [[] for _ in range(best)]
    classes, used = [], set()
    for c in range(best):
        rows = np.flatnonzero(labels == c)
        near = rows[np.argsort(-(Xn[rows] @ centres[c]))[:n_typical]]
        name = "_".join(keywords[c][:2]) or f"new_{c + 1}"
        while name in used:
            name += f"_{c + 1}"
        used.add(name)
        typical = [str(texts[j]) for j in near] if texts is not None else [f"row {j + 1}" for j in near]
        classes.append(NewClass(name, keywords[c], typical, int(len(rows))))
    return Discovery(best, labels, classes, scores)


def write_classes_file(path, known: Sequence[str], result: Discovery, descriptions: dict | None = None) -> None:
    """Write the known classes, then the new ones as ``name: keywords``, with each new class's
    size and typical rows in ``#`` comments; atomic. Feed it back with ``--classes-file``."""
    from .io import atomic_path

    descriptions = descriptions or {}
    lines = ["# classes for fewlabels --classes-file: one per line, 'name: description'.",
             "# New classes were proposed by `fewlabels discover`: rename them, merge or drop lines, then",
             "# re-run `fewlabels label --classes-file THIS_FILE`.", ""]
    for name in known:
        lines.append(f"{name}: {descriptions[name]}" if descriptions.get(name) else name)
    if known:
        lines.append("")
    for c in result.classes:
        lines.append(f"# new class, {c.size} rows; typical rows:")
        lines += [f"#   {' '.join(t.split())[:100]}" for t in c.typical]
        desc = ", ".join(c.keywords)
        lines.append(f"{c.name}: {desc}" if desc else c.name)
        lines.append("")
    with atomic_path(Path(path)) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")


def discover_table(input_path, classes_out, *, label_column: str = "fewlabels_label", unknown_value: str = "unknown",
                   text_column: str = "text", vectors=None, vectors_column: str | None = None, encoder_path=None,
                   cache=None, k_min: int = 2, k_max: int | None = None, random_state: int | None = 0,
                   report_path=None, progress=None) -> Discovery:
    """Read a labeled table (e.g. the output of ``fewlabels label --unknown``), discover new
    classes among its ``unknown`` rows and write an editable classes file.

    The known classes are the other values of ``label_column``, in order of first appearance.
    With a ``fewlabels_source`` column, the rows it marks ``given`` are the ``reference`` of
    :func:`discover` (new classes as broad as the known ones); otherwise the silhouette counts.
    """
    from .embed import EmbeddingCache
    from .io import read_table, require_column, text_column as read_texts, write_json
    from .pipeline import _pool_vectors, check_outputs, load_encoder

    check_outputs(input_path, classes_out=classes_out, report_path=report_path)
    table = read_table(input_path)
    require_column(table, label_column, input_path, "--label-column")
    values = [None if v is None else str(v) for v in table.column(label_column).to_pylist()]
    rows = np.array([v == unknown_value for v in values])
    if not rows.any():
        raise InputError(f"{input_path}, column {label_column!r}: no row is {unknown_value!r}; run `fewlabels label "
                         "--unknown` first, or name the value with --unknown-value")
    known = list(dict.fromkeys(v for v in values if v and v != unknown_value))
    texts = read_texts(table, text_column, input_path) if text_column in table.column_names or vectors is None \
        and vectors_column is None else None
    encoder = load_encoder(encoder_path) if vectors is None and vectors_column is None else None
    X = _pool_vectors(table, input_path, texts=texts, vectors=vectors, vectors_column=vectors_column,
                      encoder=encoder, cache=cache if cache is not None else EmbeddingCache(), progress=progress)
    sub_texts = [texts[i] for i in np.flatnonzero(rows)] if texts is not None else None
    reference = None  # the given labels of a `label --unknown` output: how broad a class is
    if "fewlabels_source" in table.column_names:
        src = table.column("fewlabels_source").to_pylist()
        given = np.array([s == "given" and v not in (None, unknown_value) for s, v in zip(src, values)])
        if given.sum() >= 4:
            code = {n: i for i, n in enumerate(known)}
            reference = (X[given], np.array([code[values[i]] for i in np.flatnonzero(given)]))
    result = discover(X[rows], sub_texts, k_min=k_min, k_max=k_max, reference=reference,
                      random_state=random_state, progress=progress)
    write_classes_file(classes_out, known, result)
    if report_path is not None:
        write_json({"input": str(input_path), "n_rows": int(rows.sum()), "n_classes": result.n_classes,
                    "criterion": "spread of the given labels' classes" if reference is not None else "silhouette",
                    "silhouette": result.scores,
                    "classes": [{"name": c.name, "size": c.size, "keywords": c.keywords, "typical": c.typical}
                                for c in result.classes]}, report_path)
    return result
