"""Operating points of open-set rejection: the unknown share, its interval, and the curve.

Given unknown scores (higher = more likely of no named class) of the pool rows and, scored
out of fold, of the given labels (a random sample of the known rows), everything here is
read off two empirical distributions:

* F_pool(t): share of the pool rows (no given label) scoring at or below t;
* F_given(t): the same for the given labels.

The given labels stand for the pool's known rows, so with π the share of unknown rows,
F_pool(t) = (1 − π) F_known(t) + π F_unknown(t) ≥ (1 − π) F_given(t) up to sampling noise.
Hence ``1 − F_pool(t) / F_given(t)`` estimates π from below; it is exact when no unknown row
scores under t. At the median of the given labels' scores this is the estimate of
:func:`unknown_share`.

For a threshold t, the rows above it are flagged: a share flagged(t) of the pool and a
share lost(t) of the given labels; the pool's known rows flagged are about (1 − π) lost(t),
so the flags' precision is about 1 − (1 − π) lost(t) / flagged(t) and their recall among
the unknown rows about (flagged(t) − (1 − π) lost(t)) / π. Those two are estimates (they
use π); flagged and lost are counts.

Notation: n pool rows, m given labels.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: the options that set the threshold, as the CLI names them, by parameter
OPTION = {"false_reject": "--unknown-false-reject", "rate": "--unknown-rate", "precision": "--unknown-precision",
          "recall": "--unknown-recall"}
DEFAULT_FALSE_REJECT = 0.02
CURVE_SHARES = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def check_operating_point(*, false_reject=None, rate=None, precision=None, recall=None) -> str | None:
    """Name of the one option set (None: the default), after checking its value.

    ``false_reject`` in [0, 0.5]; ``rate``, ``precision`` and ``recall`` strictly between 0
    and 1. More than one set is refused: each fixes the threshold on its own. Cost: O(1).
    """
    given = {k: v for k, v in (("false_reject", false_reject), ("rate", rate), ("precision", precision),
                               ("recall", recall)) if v is not None}
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(OPTION[k] for k in given)} each set the unknown threshold; give one of "
                          "them")
    for k, v in given.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise ConfigError(f"{OPTION[k]}={v!r}: give a number")
        if k == "false_reject" and not 0 <= v <= 0.5:
            raise ConfigError(f"{OPTION[k]}={v}: the share of given labels the threshold may reject must be from 0 "
                              "to 0.5")
        if k != "false_reject" and not 0 < v < 1:
            raise ConfigError(f"{OPTION[k]}={v}: give a share strictly between 0 and 1 (e.g. 0.1 for 10%)")
    return next(iter(given), None)


def _below(sorted_values: np.ndarray, t) -> np.ndarray:
    return np.searchsorted(sorted_values, t, side="right") / max(len(sorted_values), 1)


def unknown_share(pool: np.ndarray, given: np.ndarray, *, n_boot: int = 200, random_state=0) -> dict:
    """Estimated share of unknown rows in the pool, with a 95% bootstrap interval.

    ``1 − 2 F_pool(median of given)``, clipped to [0, 1]. The interval resamples the given
    labels (m) and draws the pool's count below the threshold as binomial, ``n_boot`` times:
    it covers sampling noise only. The estimate leans low when rows of unnamed classes score
    like known rows (they count as known). Cost: O(n log n + n_boot · m log m).
    """
    ps = np.sort(pool)
    n = len(ps)

    def est(g, below_count=None):
        med = np.median(g)
        b = _below(ps, med) if below_count is None else below_count / n
        return float(np.clip(1.0 - 2.0 * b, 0.0, 1.0))

    value = est(given)
    rng = np.random.default_rng(random_state)
    boots = []
    for _ in range(n_boot):
        g = rng.choice(given, len(given))
        boots.append(est(g, rng.binomial(n, _below(ps, np.median(g)))))
    lo, hi = np.quantile(boots, [0.025, 0.975]) if boots else (value, value)
    return {"value": value, "low": float(lo), "high": float(hi)}


def point_at(threshold: float, pool_sorted: np.ndarray, given_sorted: np.ndarray, share: float) -> dict:
    """The operating point of one threshold: flagged share of the pool, share of the given
    labels lost, estimated precision and recall of the flags. Cost: O(log n + log m)."""
    flagged = 1.0 - float(_below(pool_sorted, threshold))
    lost = 1.0 - float(_below(given_sorted, threshold)) if len(given_sorted) else 0.0
    false = (1.0 - share) * lost
    precision = None if flagged == 0 else float(np.clip(1.0 - false / flagged, 0.0, 1.0))
    recall = None if share == 0 else float(np.clip((flagged - false) / share, 0.0, 1.0))
    return {"threshold": float(threshold), "flagged_share": round(flagged, 4), "given_labels_lost": round(lost, 4),
            "est_precision": None if precision is None else round(precision, 4),
            "est_recall": None if recall is None else round(recall, 4)}


def curve(pool: np.ndarray, given: np.ndarray, share: float, shares=CURVE_SHARES) -> list[dict]:
    """Operating points at thresholds flagging each of ``shares`` of the pool, from the
    fewest flags to the most: flagged share and given labels lost never decrease along it.
    Cost: O(n log n)."""
    ps, gs = np.sort(pool), np.sort(given)
    out = []
    for s in shares:
        t = float(np.quantile(ps, 1.0 - s)) if len(ps) else 1.0
        out.append(point_at(t, ps, gs, share))
    return out


def choose_threshold(option: str, value: float, pool: np.ndarray, given: np.ndarray, share: float):
    """(threshold, rule, met) for an operating point: rows scoring above the threshold are
    flagged. ``met`` is False when no threshold reaches a precision or recall target (then
    the threshold flags nothing). Cost: O((n + m) log(n + m)).

    * ``false_reject``: rejects that share of the given labels;
    * ``rate``: flags that share of the pool (the round(value · n) highest scores, ties kept
      together);
    * ``precision``: the most flags whose estimated precision, and that of every smaller
      set of flags, is at least ``value``;
    * ``recall``: the fewest flags whose estimated recall is at least ``value``.
    """
    ps, gs = np.sort(pool), np.sort(given)
    top = float(ps[-1]) if len(ps) else 1.0
    if option == "false_reject":
        return float(np.quantile(gs, 1 - value)), f"rejects {value:.0%} of the given labels (scored out of fold)", True
    if option == "rate":
        m, n = int(round(value * len(ps))), len(ps)
        if m == 0:
            t = top
        elif m >= n:
            t = float(ps[0]) - 1.0
        else:  # midway between the last row kept and the first flagged
            t = 0.5 * float(ps[n - m - 1] + ps[n - m])
        return t, f"flags {value:.1%} of the rows without a given label (--unknown-rate)", True
    cand = np.unique(ps)[::-1]  # thresholds from the fewest flags to the most; flag > t
    cand = np.r_[cand[1:], cand[-1] - 1.0] if len(cand) else cand
    flagged = 1.0 - _below(ps, cand)
    lost = 1.0 - _below(gs, cand)
    false = (1.0 - share) * lost
    if option == "precision":
        prec = np.where(flagged > 0, 1.0 - false / np.maximum(flagged, 1e-12), 1.0)
        # from the fewest flags on, up to the first point below the target (noise past it is not trusted)
        bad = np.flatnonzero(prec < value)
        ok = np.arange(bad[0] if len(bad) else len(cand))
        rule = f"flags the most rows whose estimated precision is at least {value:.0%} (--unknown-precision)"
        return (float(cand[ok[-1]]), rule, True) if len(ok) else (top, rule + "; none reaches it: none flagged",
                                                                   False)
    rec = (flagged - false) / share if share > 0 else np.zeros(len(cand))
    ok = np.flatnonzero(rec >= value)
    rule = f"flags the fewest rows whose estimated recall of the unknown rows is at least {value:.0%} " \
           "(--unknown-recall)"
    return (float(cand[ok[0]]), rule, True) if len(ok) else (top, rule + "; none reaches it: none flagged", False)
