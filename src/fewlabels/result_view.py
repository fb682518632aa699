"""Short views of a :class:`~fewlabels.pipeline.LabelResult`: ``repr`` for a console and
``_repr_html_`` for a notebook. Both show the method, the estimate with its interval, the
class counts and a few rows; never the full arrays (a result of 100,000 rows prints in a
few hundred characters). Cost: O(n) for the class counts, O(1) otherwise."""

from __future__ import annotations

import html

import numpy as np

#: rows shown, classes listed
HEAD_ROWS = 5
MAX_CLASSES = 10


def class_names(result) -> list[str]:
    """The class names of ``result.labels``' codes: the names given to
    :func:`~fewlabels.pipeline.label_arrays`, else the report's; ``"unknown"`` last when
    ``--unknown`` flagged rows with the extra code k."""
    names = list(result.classes or result.report.get("classes") or
                 (result.report.get("class_counts") or {}).get("labeled") or [])
    n_codes = int(result.labels.max()) + 1 if len(result.labels) else 0
    if n_codes > len(names):
        names += ["unknown"] if n_codes == len(names) + 1 else [str(c) for c in range(len(names), n_codes)]
    return names


def label_names(result) -> np.ndarray:
    """(n,) object array: the class name of each row's label."""
    return np.asarray(class_names(result), dtype=object)[np.asarray(result.labels, dtype=np.int64)]


def estimate_text(est) -> str:
    """One line for the report's ``estimated_accuracy``."""
    if not est:
        return "n/a (too few labels)"
    if "share_error" in est:
        return f"{est['value']:.3f} (held-out bags; share error {est['share_error']:.3f})"
    text = f"{est['value']:.3f}"
    if "low" in est and "high" in est:
        text += f" (95% {est['low']:.3f}-{est['high']:.3f}"
        text += f", {est['n_labels']} labels)" if "n_labels" in est else ")"
    if est.get("verified_by_labels") is False:
        text += " unverified: no labels"
    return text


def _counts(result) -> list[tuple[str, int]]:
    names = class_names(result)
    counts = np.bincount(np.asarray(result.labels, dtype=np.int64), minlength=len(names)) if len(result.labels) \
        else np.zeros(len(names), dtype=np.int64)
    return [(names[c], int(counts[c])) for c in range(len(names))]


def _head(result) -> list[tuple[int, str, float, str]]:
    names = np.asarray(class_names(result), dtype=object)[np.asarray(result.labels[:HEAD_ROWS], dtype=np.int64)]
    return [(i, str(names[i]), float(result.confidence[i]), str(result.source[i])) for i in range(len(names))]


def _summary(result) -> dict:
    n = len(result.labels)
    n_given = int(np.sum(np.asarray(result.source) == "given"))
    counts = _counts(result)
    shown = ", ".join(f"{name} {c:,}" for name, c in counts[:MAX_CLASSES])
    if len(counts) > MAX_CLASSES:
        shown += f", ... ({len(counts)} classes)"
    return {"n": n, "n_given": n_given, "estimate": estimate_text(result.report.get("estimated_accuracy")),
            "classes": shown, "head": _head(result)}


def text(result) -> str:
    """``repr(result)``: a few lines, whatever the number of rows."""
    s = _summary(result)
    lines = [f"LabelResult: {s['n']:,} rows, method {result.method!r}, {s['n_given']:,} given labels",
             f"  estimated accuracy: {s['estimate']}",
             f"  labels per class: {s['classes']}"]
    if s["head"]:
        lines.append("  first rows (row, label, confidence, source): " + "; ".join(
            f"{i} {name} {conf:.3f} {src}" for i, name, conf, src in s["head"]))
    if result.warnings:
        lines.append(f"  {len(result.warnings)} warning(s): see .warnings")
    lines.append("  fields: labels (codes), label_names, confidence, proba, source, report, end_model")
    return "\n".join(lines)


def to_html(result) -> str:
    """``result._repr_html_()``: the same summary as a small HTML table (escaped)."""
    s = _summary(result)
    e = html.escape
    rows = "".join(f"<tr><td>{i}</td><td>{e(name)}</td><td>{conf:.3f}</td><td>{e(src)}</td></tr>"
                   for i, name, conf, src in s["head"])
    warn = f"<p>{len(result.warnings)} warning(s): see <code>.warnings</code></p>" if result.warnings else ""
    return ("<div class='fewlabels-result'>"
            f"<p><b>LabelResult</b>: {s['n']:,} rows, method <code>{e(result.method)}</code>, "
            f"{s['n_given']:,} given labels</p>"
            f"<p>estimated accuracy: {e(s['estimate'])}</p>"
            f"<p>labels per class: {e(s['classes'])}</p>"
            "<table><thead><tr><th>row</th><th>label</th><th>confidence</th><th>source</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{warn}</div>")
