"""How the verified estimate of ``fewlabels.audit`` was chosen: a simulation with known truth.

Synthetic pools only (no dataset, no test split): N rows, each with a model confidence c and
a correct/wrong bit drawn from a chosen link between the two; the truth is the pool's own
accuracy (finite population). A random audit of n rows is drawn many times and each
candidate design gives a point estimate and a 95% interval:

* ``wilson``: the audit's accuracy alone, Wilson interval;
* ``ppi``: prediction-powered (Angelopoulos et al. 2023): mean confidence over the pool +
  mean of (correct - confidence) over the audit, normal interval, finite-population
  correction;
* ``ppi_hull``: ``ppi``'s point, the hull of its interval and ``wilson``'s;
* ``ppi_ac``: ``ppi``'s point; the interval from the rectifier with z²/2 pseudo-rows right
  and z²/2 wrong at the audit's mean confidence (the Agresti-Coull idea: an audit that saw
  no error still leaves room for some);
* ``ppi_ac_t``: ``ppi_ac`` with Student's t quantile (n - 1 degrees of freedom);
* ``pp2_ac_t``: as ``ppi_ac_t`` with the confidences' weight tuned on the audit (PPI++:
  lambda = cov(r, c) / var(c), clipped to [0, 1]);
* ``chosen``: ``fewlabels.audit.verified_estimate`` (``ppi_ac_t``, its small-sample shift
  scaled by the finite-population factor);
* ``strat_ac``: as ``ppi_ac_t`` within strata of confidence (quantiles of the pool's
  confidences, about 20 audit rows per stratum expected), weighted by the strata's shares
  of the pool, the z² pseudo-rows shared out by those shares.

Links (confidence → chance of being right): calibrated, overconfident (right with chance
c - 0.1), underconfident and uninformative (c near 0.45 whatever the truth: a label model's
uncalibrated scores), monotone but miscalibrated (c²), rare errors at low confidence.

    python bench/audit_design.py [--n 50] [--draws 400]
"""

from __future__ import annotations

import argparse
import zlib

import numpy as np
from scipy.stats import norm

Z = float(norm.ppf(0.975))


def population(link: str, acc: float, N: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) of N rows whose accuracy is near ``acc``."""
    if link == "uninformative":
        c = rng.uniform(0.3, 0.6, N)
        return c, rng.random(N) < acc
    conc = 6.0
    c = rng.beta(acc * conc, (1 - acc) * conc, N)
    c = np.clip(c, 0.5 if acc > 0.55 else 0.2, 1.0)
    p = {"calibrated": c, "overconfident": np.clip(c - 0.1, 0, 1), "squared": c ** 2,
         "rare_errors": np.where(c > 0.9, 0.995, c)}[link]
    return c, rng.random(N) < p


def wilson(k, n):
    p = k / n
    den = 1 + Z * Z / n
    mid = (p + Z * Z / (2 * n)) / den
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def _ac(d, c_mean, w_pseudo):
    """Weighted mean and variance of d with w_pseudo/2 rows of (1-c̄) and of (-c̄) added."""
    vals = np.concatenate([d, [1 - c_mean, -c_mean]])
    w = np.concatenate([np.ones(len(d)), [w_pseudo / 2, w_pseudo / 2]])
    m = np.sum(w * vals) / w.sum()
    v = np.sum(w * (vals - m) ** 2) / (w.sum() - 1)
    return m, v, w.sum()


def designs(conf, correct_a, conf_a, strata, N):
    n = len(correct_a)
    fpc = 1 - n / N
    a = conf.mean()
    d = correct_a - conf_a
    out = {}
    out["wilson"] = (correct_a.mean(), *wilson(correct_a.sum(), n))
    theta = a + d.mean()
    se = np.sqrt(fpc * d.var(ddof=1) / n)
    out["ppi"] = (theta, theta - Z * se, theta + Z * se)
    w = out["wilson"]
    out["ppi_hull"] = (theta, min(out["ppi"][1], w[1]), max(out["ppi"][2], w[2]))
    m, v, neff = _ac(d, conf_a.mean(), Z * Z)
    se = np.sqrt(fpc * v / neff)
    out["ppi_ac"] = (theta, a + m - Z * se, a + m + Z * se)
    from scipy.stats import t as student
    zt = float(student.ppf(0.975, n - 1))
    out["ppi_ac_t"] = (theta, a + m - zt * se, a + m + zt * se)
    cc = np.cov(conf_a, correct_a)
    lam = float(np.clip(cc[0, 1] / cc[0, 0], 0, 1)) if cc[0, 0] > 1e-12 else 0.0
    dl = correct_a - lam * conf_a
    ml, vl, nl = _ac(dl, lam * conf_a.mean(), Z * Z)
    sel = np.sqrt(fpc * vl / nl)
    out["pp2_ac_t"] = (lam * a + dl.mean(), lam * a + ml - zt * sel, lam * a + ml + zt * sel)
    # strata
    edges, W = strata
    h_all = np.searchsorted(edges, conf, side="right")
    h_a = np.searchsorted(edges, conf_a, side="right")
    H = len(W)
    point, centre, var = 0.0, 0.0, 0.0
    for h in range(H):
        sel = h_a == h
        conf_h = conf[h_all == h]
        if sel.sum() < 2:  # too few audit rows: fall back to the unstratified figures
            return out | {"strat_ac": out["ppi_ac_t"], "chosen": library(conf, correct_a, conf_a)}
        dh = d[sel]
        point += W[h] * (conf_h.mean() + dh.mean())
        mh, vh, nh = _ac(dh, conf_a[sel].mean(), Z * Z * W[h])
        centre += W[h] * (conf_h.mean() + mh)
        var += W[h] ** 2 * vh / nh
    se = np.sqrt(fpc * var)
    out["strat_ac"] = (point, centre - zt * se, centre + zt * se)
    return out | {"chosen": library(conf, correct_a, conf_a)}


def library(conf, correct_a, conf_a):
    """The design chosen, as ``fewlabels.audit.verified_estimate`` computes it."""
    from fewlabels.audit import verified_estimate

    e = verified_estimate(conf, correct_a, conf_a)
    return e["value"], e["low"], e["high"]


def make_strata(conf, n):
    H = max(1, min(5, n // 20))
    edges = np.quantile(conf, np.linspace(0, 1, H + 1)[1:-1])
    h = np.searchsorted(edges, conf, side="right")
    W = np.bincount(h, minlength=H) / len(conf)
    return edges, W


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[50])
    ap.add_argument("--N", type=int, default=3000)
    ap.add_argument("--draws", type=int, default=400)
    args = ap.parse_args()
    links = ("calibrated", "overconfident", "uninformative", "squared", "rare_errors")
    accs = (0.6, 0.75, 0.9, 0.97)
    for n in args.n:
        print(f"\n## audit n = {n}, pool N = {args.N}, {args.draws} audits per cell (5 pools x draws/5)")
        names = ("wilson", "ppi", "ppi_hull", "ppi_ac", "ppi_ac_t", "pp2_ac_t", "strat_ac", "chosen")
        print("| link | acc | " + " | ".join(f"{d} cov / mean abs err / width" for d in names) + " |")
        worst = {}
        for link in links:
            for acc in accs:
                rng = np.random.default_rng(zlib.crc32(f"{link} {acc} {n}".encode()))
                stats = {}
                for pop in range(5):
                    conf, correct = population(link, acc, args.N, rng)
                    truth = correct.mean()
                    strata = make_strata(conf, n)
                    for _ in range(args.draws // 5):
                        idx = rng.choice(args.N, n, replace=False)
                        for name, (p, lo, hi) in designs(conf, correct[idx].astype(float), conf[idx], strata,
                                                         args.N).items():
                            s = stats.setdefault(name, [])
                            s.append((lo <= truth <= hi, abs(p - truth), hi - lo))
                cells = []
                for name, s in stats.items():
                    s = np.array(s, dtype=float)
                    cov, err, wid = s[:, 0].mean(), s[:, 1].mean(), s[:, 2].mean()
                    worst[name] = min(worst.get(name, 1.0), cov)
                    cells.append(f"{cov:.3f} / {err:.3f} / {wid:.3f}")
                print(f"| {link} | {acc} | " + " | ".join(cells) + " |", flush=True)
        print("worst coverage: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
