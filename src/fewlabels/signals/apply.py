"""Apply rules to texts: the label matrix L (n × m, -1 = abstain).

Cost: O(n · m) rule calls; keyword/regex rules run as one compiled pattern per rule over
all texts. Memory O(n · m) as int16 (2 bytes a cell: 1M rows × 200 rules = 400 MB; the
label models only need it dense).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from .rules import Rule


@dataclass
class ApplyResult:
    """L and what happened while building it.

    Attributes
    ----------
    L : int16 array (n, m), class codes, -1 = abstain
    rule_names : m names, column order of L
    errors : per rule that raised, ``{"rule", "row" (1-based), "error", "count"}``
    seconds : time spent in each rule
    """

    L: np.ndarray
    rule_names: list[str]
    errors: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def slowest(self, n: int = 3) -> list[tuple[str, float]]:
        return sorted(self.seconds.items(), key=lambda kv: -kv[1])[:n]


def apply_rules(texts: Sequence[str], rules: Sequence[Rule], classes: Sequence[str], *, strict: bool = False,
                chunk_size: int = 10_000, progress: Callable[[int, int], None] | None = None) -> ApplyResult:
    """Run every rule on every text, in chunks of rows.

    A rule that raises is recorded with its first failing row (and abstains there); with
    ``strict`` it is an error. A rule returning a name not in ``classes`` is an error naming
    the rule, the row and the value. No rule voting on any row is an error too.
    """
    code = {c: i for i, c in enumerate(classes)}
    n, m = len(texts), len(rules)
    L = np.full((n, m), -1, dtype=np.int16)
    seconds = {r.name: 0.0 for r in rules}
    errors: dict[str, dict] = {}
    for start in range(0, n, chunk_size):
        chunk = texts[start:start + chunk_size]
        for j, r in enumerate(rules):
            t = time.perf_counter()
            if r.pattern is not None:
                if r.label not in code:
                    raise InputError(f"rule {r.name!r} votes {r.label!r}, which is not one of the classes "
                                     f"({', '.join(classes[:20])}); rename the table in the rules file")
                hits = np.fromiter((r.pattern.search(s) is not None for s in chunk), bool, len(chunk))
                L[start:start + len(chunk), j][hits] = code[r.label]
            else:
                col = L[start:start + len(chunk), j]
                for i, s in enumerate(chunk):
                    try:
                        v = r.func(s)
                    except Exception as exc:  # a user's rule: record it, keep going
                        row = start + i
                        if strict:
                            raise InputError(f"rule {r.name!r} raised on row {row + 1} "
                                             f"({type(exc).__name__}: {exc}); fix the rule") from exc
                        e = errors.setdefault(r.name, {"rule": r.name, "row": row + 1,
                                                        "error": f"{type(exc).__name__}: {exc}", "count": 0})
                        e["count"] += 1
                        continue
                    if v is None:
                        continue
                    if v not in code:
                        raise InputError(f"rule {r.name!r} returned {v!r} on row {start + i + 1}, which is not "
                                         f"one of the classes ({', '.join(classes[:20])}); return a class name "
                                         "or None")
                    col[i] = code[v]
            seconds[r.name] += time.perf_counter() - t
        if progress:
            progress(min(start + chunk_size, n), n)
    if n and m and (L < 0).all():
        raise InputError(f"no rule voted on any of the {n} rows; check the rules match these texts "
                         "(keywords are matched as whole words, case-insensitively)")
    return ApplyResult(L, [r.name for r in rules], list(errors.values()), seconds)
