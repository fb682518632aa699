"""Step: the label matrix L, from the rules and from the user's own votes (votes).

Cost: each rule runs once per text, O(n m) (in blocks on an engine); reading a label matrix is
O(n m).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..options import InputOptions, Progress
from .choose import timer
from .inputs import TableRows


def table_votes(rows: TableRows, input_path, inp: InputOptions, *, progress, engine,
                timings: dict) -> tuple[np.ndarray | None, dict | None]:
    """(the label matrix (n, m) or None, the rules' report or None): the rules' votes, then
    the user's. Reads the texts into ``rows`` when the rules need them and they were not read."""
    from ..io import text_column as read_texts

    rules_report = votes_L = None
    if inp.rules is not None:
        if rows.texts is None:
            rows.texts = read_texts(rows.table, inp.text_column or "text", input_path)
        t = timer()
        votes_L, rules_report = rule_votes(rows.texts, inp.rules, rows.classes.names, rows.y, strict=inp.strict_rules,
                                           progress=progress, engine=engine)
        timings["rules"] = t()
    votes = user_votes(rows.table, input_path, inp.votes, rows.votes_column, len(rows.classes.names), votes_L)
    return votes, rules_report


def note_rules(result, rules_report: dict | None, rules, y: np.ndarray) -> None:
    """Put the rules' report in ``result.report``; warn when the rules were mined from
    labels (by ``fewlabels rules --synthesize``) and labels are given."""
    if rules_report is None:
        return
    result.report["rules"] = rules_report
    from ..signals.synthesis import is_synthesized

    if is_synthesized(rules) and (y >= 0).any():
        note = (f"{rules} was mined from given labels by `fewlabels rules --synthesize`; if from these same "
                "labels, the cross-validated accuracy of the rule-based candidates is optimistic (each fold's "
                "held-out labels helped pick the keywords)")
        result.warnings.append(note)  # the report's "warnings" is this same list


def rule_votes(texts, rules_path, classes: Sequence[str], y=None, *, strict: bool = False,
               progress: Progress | None = None, engine=None) -> tuple[np.ndarray, dict]:
    """Apply the rules in ``rules_path`` to ``texts``: (L, report) where the report holds the
    per-rule analysis, the rules that raised (with their first row) and the slowest rules.
    With an ``engine``, blocks of rows are voted on its workers."""
    from ..signals import analyze, apply_rules, load_rules

    cb = (lambda d, n: progress("rules", d, n)) if progress else None
    if engine is not None:
        from ..signals.blocks import apply_rules_blocks

        res = apply_rules_blocks(engine, texts, rules_path, classes, strict=strict, progress=cb)
    else:
        res = apply_rules(texts, load_rules(rules_path), classes, strict=strict, progress=cb)
    report = analyze(res.L, res.rule_names, classes, y)
    report.update({"file": str(rules_path), "errors": res.errors,
                   "slowest": [{"rule": r, "seconds": round(t, 4)} for r, t in res.slowest(3)]})
    return res.L, report


def user_votes(table, input_path, votes, votes_column, k: int, rule_L):
    """The label matrix: the rules' votes, then the user's own (``--votes`` / ``--votes-column``)."""
    from ..io.votes import read_votes, votes_from_column

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
