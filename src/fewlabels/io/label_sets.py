"""Multi-label cells: a set of class names per row, read from and written to one column.

A cell holds class names joined by a separator (``joy|surprise``); an empty cell means the row
is unlabeled. ``none_label`` (``--none-label``) is the name a user gives to "none of these": a
row labeled with it holds the empty set. The rows become ``Y``, of shape (n, k), int8: 1 or 0
per class for a labeled row, and a row of -1 for an unlabeled one (STYLE.md, "Shapes").

Cost: O(total characters of the cells); ``Y`` takes n * k bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError, where

#: the separator of class names inside a cell when the user names none (``--label-sep``)
DEFAULT_SEP = "|"

#: labeled rows without one row of several classes (or none) above which ``--multi-label``
#: is refused as a mistake: with 7 % of rows holding two classes, 50 such rows happen by
#: chance with probability 0.93**50 = 3 %
SINGLE_LABEL_ROWS = 50


def _names(cell, sep: str) -> list[str] | None:
    """The stripped names of one cell, None for an empty (unlabeled) cell."""
    if cell is None:
        return None
    text = str(cell).strip()
    if not text:
        return None
    return [part.strip() for part in text.split(sep)]


def check_separator(classes: Sequence[str], sep: str, *, source: str = "--classes") -> None:
    """Refuse a separator that occurs inside a class name (the cells could not be read back)."""
    if not sep:
        raise InputError("--label-sep is empty; give the character that joins class names in a cell, e.g. '|'")
    clashing = [name for name in classes if sep in name]
    if clashing:
        raise InputError(f"{source}: class {clashing[0]!r} contains the separator {sep!r}, so a cell such as "
                         f"{clashing[0] + sep + 'x'!r} cannot be read back; choose another --label-sep")


def infer_classes(cells: Sequence, *, sep: str = DEFAULT_SEP, none_label: str | None = None) -> list[str]:
    """The class names the cells use, sorted (``none_label`` is no class)."""
    seen = {name for cell in cells for name in (_names(cell, sep) or ()) if name and name != none_label}
    return sorted(seen)


def parse_label_sets(cells: Sequence, classes: Sequence[str], *, sep: str = DEFAULT_SEP,
                     none_label: str | None = None, path=None, column: str | None = None) -> np.ndarray:
    """The (n, k) int8 matrix ``Y`` of the cells; unlabeled rows are -1 throughout.

    Parameters
    ----------
    cells : n cells (str or None); names joined by ``sep``; empty = unlabeled
    classes : the k class names, in the order of ``Y``'s columns
    none_label : the name that stands for the empty set, or None (then no row may be empty-set)
    path, column : where the cells come from, for messages

    Raises
    ------
    InputError
        naming the file, column and row, for a name that is no class, an empty name between
        two separators, or a row that holds ``none_label`` beside a class.
    """
    classes = list(classes)
    check_separator(classes, sep)
    if none_label is not None and none_label in classes:
        raise InputError(f"--none-label {none_label!r} is also a class name; 'none of these' must be a name of its own")
    code = {name: j for j, name in enumerate(classes)}
    Y = np.full((len(cells), len(classes)), -1, dtype=np.int8)
    for i, cell in enumerate(cells):
        names = _names(cell, sep)
        if names is None:
            continue
        Y[i] = 0
        for name in names:
            if name == none_label:
                if len(names) > 1:
                    raise InputError(f"{where(path, column, i)}{str(cell)!r} holds {none_label!r} (none of these) "
                                     f"beside a class; keep one or the other")
                continue
            if not name:
                raise InputError(f"{where(path, column, i)}{str(cell)!r} has an empty class name between two "
                                 f"{sep!r}; join names with one separator")
            if name not in code:
                hint = "" if none_label is not None else " (for 'none of these', name it with --none-label)"
                raise InputError(f"{where(path, column, i)}{name!r} in {str(cell)!r} is not one of the classes "
                                 f"({', '.join(classes)}); fix the cell or add the class{hint}")
            Y[i, code[name]] = 1
    return Y


def check_multi_label_column(Y: np.ndarray, *, path=None, column: str | None = None) -> None:
    """Refuse ``--multi-label`` on a column whose many labeled rows each hold exactly one class."""
    labeled = Y[:, 0] >= 0 if Y.shape[1] else np.zeros(len(Y), bool)
    sizes = Y[labeled].sum(axis=1)
    if labeled.sum() >= SINGLE_LABEL_ROWS and np.all(sizes == 1):
        raise InputError(f"{where(path, column)}--multi-label was given, but each of the {int(labeled.sum())} "
                         f"labeled rows holds exactly one class: this is a single-label column; drop "
                         f"--multi-label (or check --label-sep)")


def format_label_sets(Y: np.ndarray, classes: Sequence[str], *, sep: str = DEFAULT_SEP,
                      none_label: str | None = None) -> list[str | None]:
    """The cells of ``Y`` (0/1, or -1 rows for unlabeled): names joined by ``sep``.

    An unlabeled row gives None; an empty set gives ``none_label``, or "" when there is none.
    """
    classes = list(classes)
    out: list[str | None] = []
    for row in np.asarray(Y):
        if len(row) and row[0] < 0:
            out.append(None)
            continue
        names = [classes[j] for j in np.flatnonzero(row > 0)]
        out.append(sep.join(names) if names else (none_label or ""))
    return out
