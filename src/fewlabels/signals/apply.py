"""Apply rules to texts: the label matrix L of shape (n, m), -1 = abstain.

``L[i, j]`` is the code (index in ``classes``) of the class rule j votes for on text i, or
-1 where it abstains. The texts are taken in chunks of rows; within a chunk every
keyword/regex rule is one vectorised pattern match (:mod:`fewlabels.signals.match`) and
every Python rule is called row by row.

Cost: O(n · characters) per keyword/regex rule in C++, plus one Python call per row per
Python rule. Memory: L itself, n · m bytes (int8; int16 beyond 127 classes), e.g. 200 MB
for 1M rows × 200 rules, plus one chunk of texts.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .match import TextChunk
from .rules import InterruptGuard, Rule, check_rules, describe_exit

#: ``progress(rows_done, rows_total)``, called after each chunk
Progress = Callable[[int, int], None]


@dataclass
class ApplyResult:
    """L and what happened while building it.

    Attributes
    ----------
    L : ndarray of shape (n, m), int8 (int16 beyond 127 classes)
        Class codes, -1 = abstain.
    rule_names : list of str, length m, the column order of L
    classes : list of str, length k
    errors : list of dict
        One per rule that raised on some rows (it abstains there): ``rule``, ``row``
        (1-based, the first failing row), ``error`` (type and message), ``line`` (where in
        the rules file, or None) and ``count`` (rows it raised on).
    seconds : dict, rule name → seconds spent running it
    """

    L: np.ndarray
    rule_names: list[str]
    classes: list[str]
    errors: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def slowest(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` slowest rules as (name, seconds), slowest first."""
        return sorted(self.seconds.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def timings(self, n: int | None = None) -> list[dict]:
        """Per-rule timings, slowest first: ``rule``, ``seconds``, ``us_per_row``."""
        rows = max(self.L.shape[0], 1)
        return [{"rule": r, "seconds": s, "us_per_row": 1e6 * s / rows}
                for r, s in self.slowest(len(self.seconds) if n is None else n)]


def _codes_dtype(k: int):
    if k <= np.iinfo(np.int8).max:
        return np.int8
    if k <= np.iinfo(np.int16).max:
        return np.int16
    raise InputError(f"{k} classes is more than a label matrix holds (32767)")


def _line_in(exc: BaseException, source: str) -> int | None:
    """The line of the user's rules file where ``exc`` was raised, if it was."""
    path = source.split(", line")[0]
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else None


def _run_python_rule(r: Rule, chunk: TextChunk, start: int, code: dict, strict: bool, errors: dict,
                     classes: Sequence[str], guard: InterruptGuard | None = None) -> np.ndarray:
    """One Python rule over one chunk → int codes (b,), -1 where it abstains or raised.

    A rule that calls ``sys.exit()`` or raises ``KeyboardInterrupt`` itself is an error of the
    rules file (a real Ctrl-C, told apart by ``guard``, still interrupts)."""
    texts = chunk.python
    try:  # fast path: no row raises
        out = [r.func(s) for s in texts]
    except BaseException as first:  # noqa: BLE001 - some row raised: redo the chunk row by row
        if not isinstance(first, Exception) and not (guard is not None and guard.from_user(first)):
            raise  # a real Ctrl-C
        out = []
        for i, s in enumerate(texts):
            try:
                out.append(r.func(s))
            except Exception as exc:  # a user's rule: record it with its row, keep going
                line = _line_in(exc, r.source)
                if strict:
                    at = f" (line {line} of the rules file)" if line else ""
                    raise InputError(f"rule {r.name!r} raised on row {start + i + 1}{at}: "
                                     f"{type(exc).__name__}: {exc}; fix the rule, or run without strict to "
                                     "let it abstain on such rows") from exc
                e = errors.setdefault(r.name, {"rule": r.name, "row": start + i + 1,
                                               "error": f"{type(exc).__name__}: {exc}", "line": line, "count": 0})
                e["count"] += 1
                out.append(None)
            except BaseException as exc:
                if guard is None or not guard.from_user(exc):
                    raise
                line = _line_in(exc, r.source)
                at = f" (line {line} of the rules file)" if line else ""
                raise InputError(f"{r.source or r.name}: rule {r.name!r} {describe_exit(exc)} on row "
                                 f"{start + i + 1}{at}; a rule must return a class name or None, never end the "
                                 "program") from None
    col = np.fromiter((-1 if v is None else code.get(v, -2) if isinstance(v, str) else -2 for v in out),
                      np.int16, len(out))
    bad = np.flatnonzero(col == -2)
    if len(bad):
        v = out[bad[0]]
        raise InputError(f"{r.source or r.name}: rule {r.name!r} returned {v!r} on row {start + bad[0] + 1}, "
                         f"which is not one of the classes ({', '.join(list(classes)[:20])}); return a class "
                         "name or None to abstain")
    return col


def apply_rules(texts: Sequence[str], rules: Sequence[Rule], classes: Sequence[str], *, strict: bool = False,
                chunk_size: int = 50_000, progress: Progress | None = None) -> ApplyResult:
    """Run every rule on every text, in chunks of rows: the label matrix L.

    Parameters
    ----------
    texts : sequence of str, length n
        Missing texts (None) are read as "".
    rules : sequence of Rule, length m (from :func:`~fewlabels.signals.load_rules`)
    classes : sequence of str, length k
        The class names; ``L`` holds their indices.
    strict : bool, default=False
        A rule that raises on a row is an error. Otherwise it abstains on that row and is
        listed in ``errors`` with the first such row.
    chunk_size : int, default=50_000
        Rows per chunk: memory for one chunk of texts, and how often ``progress`` is called.
    progress : callable(rows_done, rows_total), optional

    Returns
    -------
    ApplyResult
        ``L`` of shape (n, m), ``rule_names``, ``errors`` and per-rule ``seconds``.

    Raises
    ------
    InputError
        A rule votes for a name not in ``classes`` (naming the rule, row and value), a text
        is not a string, two rules share a name, or no rule votes on any row.
    """
    classes = list(classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise InputError(f"classes must be at least two distinct names; got {classes[:20]}")
    if chunk_size < 1:
        raise InputError(f"chunk_size={chunk_size!r}; it must be >= 1")
    check_rules(rules, classes)
    code = {c: i for i, c in enumerate(classes)}
    n, m = len(texts), len(rules)
    L = np.full((n, m), -1, dtype=_codes_dtype(len(classes)))
    seconds = {r.name: 0.0 for r in rules}
    errors: dict[str, dict] = {}
    with InterruptGuard() as guard:
        _apply_chunks(texts, rules, classes, L, code, strict, errors, seconds, chunk_size, progress, guard)
    return finish_votes(L, rules, classes, list(errors.values()), seconds)


def finish_votes(L: np.ndarray, rules: Sequence[Rule], classes: Sequence[str], errors: list[dict],
                 seconds: dict[str, float]) -> ApplyResult:
    """The :class:`ApplyResult` of a whole label matrix (also put together from blocks of
    rows, :mod:`fewlabels.engine.ops`), or an :class:`InputError` if no rule voted on any row."""
    n, m = L.shape
    any_vote = bool((L >= 0).any())
    if n and m and not any_vote and errors:
        e = errors[0]
        at = f", line {e['line']} of the rules file" if e.get("line") else ""
        others = f"; {len(errors) - 1} other rule(s) raised too" if len(errors) > 1 else ""
        raise InputError(f"no rule voted on any of the {n} rows: rule {e['rule']!r} raised on {e['count']} row(s), "
                         f"first on row {e['row']}{at}: {e['error']}{others}; fix the rule (see `fewlabels rules` "
                         "for each rule's errors)")
    if n and m and not any_vote:
        raise InputError(f"none of the {m} rules voted on any of the {n} rows; check that they fit these texts "
                         "(keywords match whole words, case-insensitively) and the text column is the right one")
    return ApplyResult(L, [r.name for r in rules], list(classes), errors, seconds)


def _apply_chunks(texts, rules, classes, L, code, strict, errors, seconds, chunk_size, progress, guard,
                  row_offset: int = 0) -> None:
    """Fill ``L`` (len(texts), m) chunk by chunk; ``row_offset``: the table row of ``texts[0]``
    (0-based), for the row numbers in messages and ``errors``."""
    n = len(texts)
    for start in range(0, n, chunk_size):
        chunk = TextChunk(list(texts[start:start + chunk_size]))
        bad = next((i for i, s in enumerate(chunk.texts) if s is not None and not isinstance(s, str)), None)
        if bad is not None:
            raise InputError(f"text on row {row_offset + start + bad + 1} is {type(chunk.texts[bad]).__name__} "
                             f"{chunk.texts[bad]!r}, not a string; rules read text")
        block = L[start:start + len(chunk)]
        for j, r in enumerate(rules):
            t = time.perf_counter()
            if r.vectorised:
                block[r.matches(chunk), j] = code[r.label]
            else:
                block[:, j] = _run_python_rule(r, chunk, row_offset + start, code, strict, errors, classes,
                                                guard)
            seconds[r.name] += time.perf_counter() - t
        if progress is not None:
            progress(start + len(chunk), n)

