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
