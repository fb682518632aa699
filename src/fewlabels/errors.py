"""Error types. Every user-facing mistake raises a :class:`FewLabelsError` subclass
whose message names the file, column and row where it can, and what to do.
The CLI prints the message on one line and exits non-zero; it never shows a traceback
for these."""

from __future__ import annotations


class FewLabelsError(Exception):
    """Base class of every error fewlabels raises on purpose."""


class InputError(FewLabelsError, ValueError):
    """The data given (table, labels, vectors, classes) cannot be used as it is."""


class ConfigError(FewLabelsError, ValueError):
    """An option or parameter has a value that cannot work."""


class EncoderError(FewLabelsError):
    """An encoder could not be loaded or run."""


class NotFittedError(FewLabelsError, AttributeError):
    """A labeler or model was used before ``fit``."""


def where(path=None, column=None, row=None) -> str:
    """Format a location prefix such as ``tickets.csv, column 'text', row 12: ``.

    ``row`` is 0-based internally and shown 1-based as the data row number
    (the header, if any, is not counted).
    """
    parts = []
    if path is not None:
        parts.append(str(path))
    if column is not None:
        parts.append(f"column {column!r}")
    if row is not None:
        parts.append(f"row {int(row) + 1}")
    return (", ".join(parts) + ": ") if parts else ""


# -- library warnings ---------------------------------------------------------------------

#: warnings that tell a developer, not a user, something (left to Python's own filters)
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def warning_lines(records) -> list[str]:
    """One line per distinct warning in ``records`` (from ``warnings.catch_warnings(record=True)``):
    ``"ConvergenceWarning (sklearn): lbfgs failed to converge ... (3 times)"``. Developer
    warnings (deprecations) are left out."""
    counts: dict[str, int] = {}
    for r in records:
        if issubclass(r.category, _DEVELOPER_WARNINGS):
            continue
        text = " ".join(str(r.message).split())
        origin = (getattr(r.category, "__module__", "") or "").split(".")[0]
        origin = f" ({origin})" if origin and origin != "builtins" else ""
        line = f"{r.category.__name__}{origin}: {text[:300]}{'...' if len(text) > 300 else ''}"
        counts[line] = counts.get(line, 0) + 1
    return [line + (f" ({n} times)" if n > 1 else "") for line, n in counts.items()]


class captured_warnings:
    """Context manager that records the warnings raised inside it (libraries such as
    scikit-learn warn instead of failing) and, on a normal exit, appends one line per
    distinct warning to ``into`` (a report's ``warnings`` list) instead of printing them."""

    def __init__(self, into: list):
        import warnings

        self.into = into
        self._cm = warnings.catch_warnings(record=True)

    def __enter__(self):
        import warnings

        self._records = self._cm.__enter__()
        warnings.simplefilter("always")
        for category in _DEVELOPER_WARNINGS:
            warnings.simplefilter("ignore", category)
        return self._records

    def __exit__(self, exc_type, exc, tb):
        self._cm.__exit__(exc_type, exc, tb)
        if exc_type is None:
            self.into.extend(warning_lines(self._records))
        return False
