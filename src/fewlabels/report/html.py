"""A self-contained HTML report of one ``fewlabels label`` run: plots are inline SVG drawn
here (no plotting library, no file beside it, nothing loaded from the network).

Sections: the estimate with its interval and every candidate's; reliability before and
after calibration; given and final counts per class; the confidence histogram; the rule
analysis (with rules); the suggested next rows; the suspected label errors.

Cost: O(n) for the histogram, O(m·k) for the reliability bins (m given labels), O(k) per
class chart.
"""

from __future__ import annotations

import datetime
import html
from pathlib import Path

import numpy as np

W, H = 560, 300  # default plot size (px)
BLUE, ORANGE, GREY, GREEN, RED = "#2563eb", "#ea580c", "#9ca3af", "#16a34a", "#dc2626"


def esc(v) -> str:
    return html.escape(str(v), quote=True)


def _svg(width, height, body, label) -> str:
    return (f'<svg class="plot" role="img" aria-label="{esc(label)}" width="100%" style="max-width:{width}px" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" '
            f'font-size="11">{body}</svg>')


def _axes(x0, y0, x1, y1, yticks, xticks=()):
    """Frame and tick labels; ticks are (pixel, text)."""
    out = [f'<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="#374151"/>',
           f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#374151"/>']
    for py, t in yticks:
        out.append(f'<line x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" stroke="#e5e7eb"/>'
                   f'<text x="{x0 - 6}" y="{py + 4:.1f}" text-anchor="end" fill="#4b5563">{esc(t)}</text>')
    for px, t in xticks:
        out.append(f'<text x="{px:.1f}" y="{y1 + 16}" text-anchor="middle" fill="#4b5563">{esc(t)}</text>')
    return "".join(out)


def reliability_svg(P_before, P_after, y, n_bins: int = 10) -> str:
    """Reliability diagram: accuracy against mean confidence per confidence bin, before and
    after calibration, with the diagonal. P_* (m, k), y (m,)."""
    x0, y0, x1, y1 = 50, 15, W - 20, H - 40
    sx = lambda v: x0 + v * (x1 - x0)  # noqa: E731
    sy = lambda v: y1 - v * (y1 - y0)  # noqa: E731
    body = [_axes(x0, y0, x1, y1, [(sy(v), f"{v:.1f}") for v in np.linspace(0, 1, 6)],
                  [(sx(v), f"{v:.1f}") for v in np.linspace(0, 1, 6)]),
            f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="{GREY}" stroke-dasharray="4 3"/>']
    for P, colour, name, dy in ((P_before, ORANGE, "before", 0), (P_after, BLUE, "after", 18)):
        conf = P.max(axis=1)
        right = P.argmax(axis=1) == y
        b = np.minimum((conf * n_bins).astype(int), n_bins - 1)
        cnt = np.bincount(b, minlength=n_bins)
        mc = np.bincount(b, conf, n_bins) / np.maximum(cnt, 1)
        acc = np.bincount(b, right.astype(float), n_bins) / np.maximum(cnt, 1)
        pts = [(sx(mc[i]), sy(acc[i]), cnt[i]) for i in range(n_bins) if cnt[i]]
        body.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="'
                    + " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in pts) + '"/>')
        for px, py, c in pts:
            r = 2.5 + 4 * np.sqrt(c / max(1, len(y)))
            body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r:.1f}" fill="{colour}"><title>{name}: {c} '
                        f'labels</title></circle>')
        body.append(f'<rect x="{x0 + 12}" y="{y0 + 4 + dy}" width="12" height="12" fill="{colour}"/>'
                    f'<text x="{x0 + 30}" y="{y0 + 14 + dy}">{name} calibration</text>')
    body.append(f'<text x="{(x0 + x1) / 2}" y="{H - 6}" text-anchor="middle">confidence</text>'
                f'<text x="12" y="{(y0 + y1) / 2}" transform="rotate(-90 12 {(y0 + y1) / 2})" '
                f'text-anchor="middle">accuracy</text>')
    return _svg(W, H, "".join(body), "reliability diagram")


def histogram_svg(values, n_bins: int = 20, label: str = "confidence") -> str:
    """Histogram of values in [0, 1]."""
    values = np.asarray(values, dtype=float)
    x0, y0, x1, y1 = 50, 15, W - 20, H - 40
    cnt = np.bincount(np.minimum((values * n_bins).astype(int), n_bins - 1), minlength=n_bins)
    top = max(1, int(cnt.max()))
    bw = (x1 - x0) / n_bins
    body = [_axes(x0, y0, x1, y1, [(y1 - f * (y1 - y0), f"{int(f * top)}") for f in np.linspace(0, 1, 5)],
                  [(x0 + v * (x1 - x0), f"{v:.1f}") for v in np.linspace(0, 1, 6)])]
    for i, c in enumerate(cnt):
        h = c / top * (y1 - y0)
        body.append(f'<rect class="bar" x="{x0 + i * bw + 1:.1f}" y="{y1 - h:.1f}" width="{bw - 2:.1f}" '
                    f'height="{h:.1f}" fill="{BLUE}"><title>{i / n_bins:.2f}-{(i + 1) / n_bins:.2f}: {c}</title></rect>')
    body.append(f'<text x="{(x0 + x1) / 2}" y="{H - 6}" text-anchor="middle">{esc(label)}</text>')
    return _svg(W, H, "".join(body), f"{label} histogram")


def class_counts_svg(given: dict, final: dict) -> str:
    """Horizontal bars per class: given labels and final labels (two scales shown as shares)."""
    names = list(final)
    row = 16
    x0, x1 = 170, W - 60
    height = 30 + row * len(names)
    tg, tf = max(1, sum(given.values())), max(1, sum(final.values()))
    top = max(max((given.get(c, 0) / tg for c in names), default=0), max(final[c] / tf for c in names), 1e-9)
    body = [f'<rect x="{x0}" y="4" width="10" height="10" fill="{ORANGE}"/><text x="{x0 + 14}" y="13">given '
            f'({tg})</text><rect x="{x0 + 110}" y="4" width="10" height="10" fill="{BLUE}"/>'
            f'<text x="{x0 + 124}" y="13">final ({tf}), as shares of each total</text>']
    for i, c in enumerate(names):
        yy = 24 + i * row
        g, f = given.get(c, 0), final[c]
        body.append(f'<text x="{x0 - 6}" y="{yy + 10}" text-anchor="end">{esc(c[:26])}</text>'
                    f'<rect class="bar" x="{x0}" y="{yy + 1}" width="{(x1 - x0) * g / tg / top:.1f}" height="6" '
                    f'fill="{ORANGE}"><title>{esc(c)}: {g} given</title></rect>'
                    f'<rect class="bar" x="{x0}" y="{yy + 7}" width="{(x1 - x0) * f / tf / top:.1f}" height="6" '
                    f'fill="{BLUE}"><title>{esc(c)}: {f} final</title></rect>'
                    f'<text x="{x0 + (x1 - x0) * max(g / tg, f / tf) / top + 4:.1f}" y="{yy + 11}" fill="#4b5563">'
                    f'{g} / {f}</text>')
    return _svg(W, height, "".join(body), "class counts")


def intervals_svg(rows: list[tuple[str, float, float, float, bool]]) -> str:
    """Point and interval per row: (name, value, low, high, highlighted)."""
    row = 24
    x0, x1 = 120, W - 60
    height = 40 + row * len(rows)
    lo = max(0.0, min(r[2] for r in rows) - 0.05) if rows else 0.0
    hi = min(1.0, max(r[3] for r in rows) + 0.05) if rows else 1.0
    hi = max(hi, lo + 1e-3)
    sx = lambda v: x0 + (v - lo) / (hi - lo) * (x1 - x0)  # noqa: E731
    ticks = np.linspace(lo, hi, 5)
    body = [f'<line x1="{sx(t):.1f}" y1="10" x2="{sx(t):.1f}" y2="{height - 24}" stroke="#e5e7eb"/>'
            f'<text x="{sx(t):.1f}" y="{height - 8}" text-anchor="middle" fill="#4b5563">{t:.2f}</text>'
            for t in ticks]
    for i, (name, v, l, h, hl) in enumerate(rows):
        yy = 22 + i * row
        col = BLUE if hl else "#4b5563"
        body.append(f'<text x="{x0 - 8}" y="{yy + 4}" text-anchor="end" font-weight="{700 if hl else 400}">'
                    f'{esc(name)}</text><line x1="{sx(l):.1f}" y1="{yy}" x2="{sx(h):.1f}" y2="{yy}" stroke="{col}" '
                    f'stroke-width="2"/><circle class="point" cx="{sx(v):.1f}" cy="{yy}" r="5" fill="{col}">'
                    f'<title>{esc(name)}: {v:.3f} ({l:.3f}-{h:.3f})</title></circle>'
                    f'<text x="{sx(h) + 6:.1f}" y="{yy + 4}" fill="#4b5563">{v:.3f}</text>')
    return _svg(W, height, "".join(body), "accuracy intervals")


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f3f4f6;color:#111827}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:18px;margin:0 0 10px}
.sub{color:#6b7280;margin-bottom:18px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:16px}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:18px;margin-bottom:16px;overflow-x:auto}
.big{font-size:40px;font-weight:700;color:#1d4ed8} .muted{color:#6b7280;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#f9fafb;font-weight:600} td.text{max-width:520px}
.pill{display:inline-block;border-radius:999px;padding:1px 8px;font-size:12px;background:#e0e7ff;color:#3730a3}
.warn{background:#fef3c7;border-left:4px solid #f59e0b;padding:8px 12px;margin:6px 0;border-radius:6px;font-size:13px}
"""


def _table(headers, rows) -> str:
    return ("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f'<td class="{"text" if i == 1 else ""}">{c}</td>' for i, c in enumerate(r))
                      + "</tr>" for r in rows) + "</tbody></table>")


def render_report(report: dict, *, confidence=None, oof=None, y_labeled=None, temperature: float = 1.0,
                  texts=None, suggestions=(), title: str = "fewlabels report") -> str:
    """The report as one HTML string. ``oof`` (m, k) out-of-fold probabilities of the chosen
    method and ``y_labeled`` (m,) give the reliability diagram; ``confidence`` (n,) the histogram."""
    from ..calibrate import apply_temperature

    parts = []
    est = report.get("estimated_accuracy")
    cards = []
    if est and est.get("abstained"):
        cards.append('<div class="card"><h2>Estimated accuracy</h2><div class="big" id="estimate">no estimate</div>'
                     f'<div><b>abstained</b>: {esc(est["reason"])}</div><div>bound {est["low"]:.3f} – '
                     f'{est["high"]:.3f}: {esc(est.get("bound", ""))}</div><div>for a verified estimate: '
                     f'<code>{esc(est.get("next_step", ""))}</code></div><p class="muted">method <b>'
                     f'{esc(report["method"])}</b>; {esc(est.get("method", ""))}</p></div>')
    elif est:
        cv = est.get("cross_validated")
        basis = (f'verified by {est["n_audit"]} random audit labels' if est.get("verified_by_labels") is True
                 else f'from {est.get("n_labels", 0)} given labels')
        cards.append(f'<div class="card"><h2>Estimated accuracy</h2><div class="big" id="estimate">{est["value"]:.3f}'
                     f'</div><div>95% interval {est["low"]:.3f} – {est["high"]:.3f}, {basis}; '
                     f'method <b>{esc(report["method"])}</b></div>'
                     + (f'<div class="muted">cross-validated: {cv["value"]:.3f} ({cv["low"]:.3f} – {cv["high"]:.3f})'
                        '</div>' if cv else "")
                     + f'<p class="muted">{esc(est.get("method", ""))}</p></div>')
    else:
        cards.append(f'<div class="card"><h2>Estimated accuracy</h2><div class="big">n/a</div><div>too few labels '
                     f'to estimate; method <b>{esc(report["method"])}</b></div></div>')
    cand = report.get("candidates") or {}
    if cand:
        rows = [(n, c["accuracy"], c["low"], c["high"], n == report["method"])
                for n, c in sorted(cand.items(), key=lambda kv: -kv[1]["accuracy"])]
        cards.append('<div class="card"><h2>Candidates</h2><p class="muted">out-of-fold accuracy on the given labels, '
                     'Wilson 95% interval</p>' + intervals_svg(rows) + "</div>")
    parts.append('<div class="grid">' + "".join(cards) + "</div>")
    for w in ([report["fallback"]] if report.get("fallback") else []) + list(report.get("warnings", [])):
        parts.append(f'<div class="warn">{esc(w)}</div>')
    from .text import finetune_line

    ft = finetune_line(report)
    if ft:
        parts.append(f'<div class="card" id="finetune"><h2>Fine-tuning</h2><p>{esc(ft)}</p></div>')

    plots = []
    cal = report.get("calibration", {})
    if oof is not None and y_labeled is not None and len(y_labeled):
        P = np.asarray(oof, dtype=float)
        P = P / P.sum(axis=1, keepdims=True)
        ece = (f'ECE {cal["ece_before"]:.3f} → {cal["ece_after"]:.3f}, temperature {temperature:.2f}'
               if "ece_after" in cal else f"temperature {temperature:.2f}")
        if cal.get("applied") is False:  # scaling would not have helped: the uncalibrated probabilities kept
            ece = (f'ECE {cal["ece_before"]:.3f} uncalibrated; temperature scaling (T={cal["fitted_temperature"]:.2f})'
                   f' would give {cal["ece_after"]:.3f}, not lower, so it was <b>kept off</b> (T=1)')
        plots.append('<div class="card"><h2>Reliability before and after calibration</h2>'
                     f'<p class="muted">out-of-fold predictions on the {len(y_labeled)} given labels; {ece}</p>'
                     + reliability_svg(P, apply_temperature(P, temperature), np.asarray(y_labeled)) + "</div>")
    if confidence is not None:
        plots.append('<div class="card"><h2>Confidence of the labels</h2><p class="muted">calibrated confidence of '
                     'every row without a given label</p>' + histogram_svg(confidence) + "</div>")
    counts = report.get("class_counts")
    if counts:
        plots.append('<div class="card"><h2>Labels per class</h2>'
                     + class_counts_svg(counts["given"], counts["labeled"]) + "</div>")
    parts.append('<div class="grid">' + "".join(plots) + "</div>")

    rules = report.get("rules")
    if rules:
        rrows = [(esc(r["rule"]), esc(",".join(r["polarity"])), f'{r["coverage"]:.1%}', f'{r["overlaps"]:.1%}',
                  f'{r["conflicts"]:.1%}', "-" if r["accuracy"] is None else f'{r["accuracy"]:.2f} ({r["n_labeled"]})')
                 for r in rules["rules"]]
        t = rules["totals"]
        parts.append(f'<div class="card" id="rules"><h2>Rules</h2><p class="muted">{t["rules"]} rules on {t["rows"]} '
                     f'rows: coverage {t["coverage"]:.1%}, overlaps {t["overlaps"]:.1%}, conflicts '
                     f'{t["conflicts"]:.1%}</p>' + _table(["rule", "polarity", "coverage", "overlaps", "conflicts",
                                                          "accuracy (given labels)"], rrows) + "</div>")

    unk = report.get("unknown")
    if unk and unk.get("curve"):
        def num(v):
            return "-" if v is None else f"{v:.2f}"

        urows = [(f'{p["flagged_share"]:.1%}', f'{p["given_labels_lost"]:.1%}', num(p["est_precision"]),
                  num(p["est_recall"])) for p in unk["curve"]]
        parts.append(f'<div class="card" id="unknown"><h2>Unknown rows: {unk["flagged"]} flagged</h2><p>estimated '
                     f'share of unknown rows {unk["estimated_share"]:.1%} (95% {unk["estimated_share_low"]:.1%} – '
                     f'{unk["estimated_share_high"]:.1%}); threshold {esc(unk["threshold_rule"])}</p><p class="muted">'
                     f'{esc(unk.get("curve_note", ""))}</p>'
                     + _table(["flagged share", "given labels lost", "est. precision", "est. recall"], urows)
                     + "</div>")

    def text_of(row):
        return esc(texts[row - 1][:300]) if texts is not None else ""

    if suggestions:
        srows = [(s["rank"], esc((s.get("text") or "")[:300]), s["row"], esc(s["reason"]),
                  esc(s["guess"] or "-"), "-" if s["confidence"] is None else f'{s["confidence"]:.2f}')
                 for s in suggestions]
        parts.append('<div class="card" id="suggestions"><h2>Label these next</h2><p class="muted">'
                     '<code>fewlabels suggest</code> / <code>fewlabels review</code> pick them the same way</p>'
                     + _table(["#", "text", "row", "why", "guess", "confidence"], srows) + "</div>")
    issues = report.get("label_issues")
    if issues:
        irows = [(r["row"], text_of(r["row"]), f'<span class="pill">{esc(r["given"])}</span>',
                  esc(r["suggested"]), f'{r["p_given"]:.2f}') for r in issues["rows"][:200]]
        body = (_table(["row", "text", "given", "probably", "p(given)"], irows) if irows
                else "<p>No given label looks wrong.</p>")
        parts.append(f'<div class="card" id="label-issues"><h2>Suspected label errors ({issues["n_suspect"]} of '
                     f'{issues["n_checked"]} given)</h2><p class="muted">{esc(issues["method"])}</p>' + body + "</div>")

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (f'<h1>{esc(title)}</h1><div class="sub">{esc(report.get("input", ""))} · {report.get("n_rows", "?")} rows, '
            f'{report.get("n_given", "?")} given labels · fewlabels {esc(report.get("fewlabels_version", ""))} · '
            f'{when}</div>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
            f'<body><main>{head}{"".join(parts)}</main></body></html>\n')


def write_html_report(result, path, *, texts=None, suggestions=(), outputs=None) -> None:
    """Write :func:`render_report` for a pipeline ``LabelResult`` to ``path`` (atomically), or
    stage it in ``outputs`` (a :class:`fewlabels.outputs.Outputs`) for the caller's commit."""
    from ..io import atomic_path

    sel = result.selection
    oof = y_lab = None
    if sel is not None:
        oof, y_lab = sel.scores[result.method].oof_proba, sel.y_labeled
    given = np.asarray(result.source) == "given"
    page = render_report(result.report, confidence=result.confidence[~given] if (~given).any() else None,
                         oof=oof, y_labeled=y_lab, temperature=float(result.report["calibration"]["temperature"]),
                         texts=texts, suggestions=suggestions)
    if outputs is not None:
        with outputs.file(path, "--html") as tmp:
            Path(tmp).write_text(page, encoding="utf-8")
        return
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
