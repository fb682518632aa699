"""The rules commands on a table: apply rules and report (``fewlabels rules``), mine rules
from given labels (``--synthesize``).

Cost: reading the table, then each rule once per text, O(n m); mining is
:func:`fewlabels.signals.synthesize_rules`'s cost.
"""

from __future__ import annotations

from pathlib import Path

from ..classes import ClassSpec
from ..errors import InputError, where
from .inputs import given_labels
from ..options import Progress
from .votes import rule_votes
from .write import check_outputs


def rules_table(input_path, rules, *, text_column: str = "text", label_column: str | None = None,
                classes: ClassSpec | None = None, strict: bool = False, progress: Progress | None = None,
                fold_case: bool = False) -> dict:
    """Apply rules to a table's texts; return the analysis report (see :func:`rule_votes`)."""
    from ..io import read_table, text_column as read_texts

    table = read_table(input_path)
    notes: list[str] = []
    label_column, y, classes = given_labels(table, input_path, label_column, classes, fold_case=fold_case,
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
    from ..io import atomic_path, read_labels, read_table, text_column as read_texts, write_json
    from ..signals import synthesize_rules

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
    label_column, y, classes = given_labels(table, input_path, label_column, classes, fold_case=fold_case)
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
