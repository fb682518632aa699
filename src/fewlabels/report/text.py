"""One-line texts of a report's sections, shared by the terminal summary and the HTML report."""

from __future__ import annotations


def finetune_line(report: dict) -> str | None:
    """Whether the encoder was fine-tuned, why (or why not), and for a run that did not,
    what ``--finetune on`` would cost (planned seconds) and might gain. None when the report
    has no fine-tuning section (a run on bags of rows, say)."""
    ft = report.get("finetune")
    if not ft:
        return None
    planned = ft.get("estimated_seconds")
    cost = "" if planned is None else f" (planned {planned:.0f} s on a 2-core laptop)"
    if ft.get("used"):
        kept = "its labels are used" if ft.get("chosen") else "the frozen labels were kept"
        return f"Fine-tuned the encoder{cost}; {kept}: {ft.get('why_choice', '')}"
    line = f"Not fine-tuned: {ft.get('reason', 'off')}."
    if ft.get("mode") != "off" and planned is not None:
        line += f" --finetune on would take about {planned:.0f} s more (planned on a 2-core laptop)"
        if ft.get("expected_gain"):
            line += f"; {ft['expected_gain']}"
        line += "."
    return line
