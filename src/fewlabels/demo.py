"""The bundled demo: label the SMS Spam sample from a few labels and compare the
estimate with the truth (the demo knows every label; the pipeline sees only ``n_labels``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from .io import read_table, write_table
from .options import LabelOptions
from .pipeline import Progress, label_table


def demo_data_path() -> Path:
    return Path(str(resources.files("fewlabels") / "data" / "sms_spam.csv"))


def run_demo(out_dir, *, n_labels: int = 50, random_state: int = 0, cache=None,
             progress: Progress | None = None) -> dict:
    """Write ``input.csv`` (labels hidden but ``n_labels``), ``labeled.csv`` and ``report.json``
    into ``out_dir``; return a summary with the estimate and the true accuracy."""
    out_dir = Path(out_dir)
    table = read_table(demo_data_path())
    truth = np.asarray(table.column("label").to_pylist(), dtype=object)
    rng = np.random.default_rng(random_state)
    keep = np.zeros(len(truth), dtype=bool)
    keep[rng.choice(len(truth), size=min(n_labels, len(truth)), replace=False)] = True
    given = np.where(keep, truth, "")
    inp = table.set_column(table.column_names.index("label"), "label", pa.array(given.tolist(), pa.string()))
    write_table(inp, out_dir / "input.csv")
    options = LabelOptions.of(text_column="text", label_column="label", report_path=out_dir / "report.json",
                              cache=cache, random_state=random_state,
                              finetune="off")  # the demo stays a quick frozen-encoder run
    result = label_table(out_dir / "input.csv", out_dir / "labeled.csv", options, progress=progress)
    names = np.asarray(result.report["classes"], dtype=object)
    predicted = names[result.labels]
    unl = ~keep
    est = result.report["estimated_accuracy"]
    return {
        "rows": int(len(truth)),
        "given_labels": int(keep.sum()),
        "method": result.method,
        "estimated_accuracy": est,
        "true_accuracy": float((predicted[unl] == truth[unl]).mean()),
        "mean_confidence": float(result.confidence[unl].mean()),
        "out_dir": str(out_dir),
        "report": result.report,
    }
