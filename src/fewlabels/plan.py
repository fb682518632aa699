"""What a run will do, and about how long and how much memory it will take, from the
sizes alone: ``fewlabels label ... --dry-run``.

The predictions come from a cost model per stage, each term the stage's own complexity
(see the modules named) times a rate from the benches on the 2-core reference machine:
selection on a 20,000-row core and the extension of the costliest method to the other
rows from BENCHMARKS.md section 11 (quiet machine), the encoder rates from the encoder
section. They
are estimates for that kind of machine, off by tens of percent; memory depends on the sizes
only and is the firmer number.

Cost: O(1); :func:`plan_table` reads the table once to count rows, labels and cached texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .pool_core import CORE_SIZE

#: texts per second on the reference machine, by encoder backend (BENCHMARKS.md)
ENCODE_RATE = {"torch": 250.0, "onnx": 330.0, "onnx-int8": 450.0}
#: multiply-adds per second of float32 BLAS on the reference machine (2 cores)
FLOPS = 3.0e10
#: seconds of the cross-validated choice on a core of 20,000 rows, 20 classes (BENCHMARKS.md
#: section 11, quiet machine: 9.7-12.9 s)
SELECT_S_AT_20K = 12.0
#: seconds per million rows to label outside the core (ensemble: five methods, one k-NN search;
#: section 11, quiet: 39.7 s for 980,000 rows)
EXTEND_S_PER_M = 40.0
#: seconds of one encoder forward pass per text on the reference machine (torch, 2 threads):
#: a fixed part plus a part per character of the text (capped where max_seq_length cuts it).
#: From the quiet runs of BENCHMARKS.md section 8: a training step of 32 texts (forward and
#: backward, about 3 forwards) took 0.41 s on TREC (50 characters a text) and 0.6-0.8 s on
#: emotion (97); the frozen embedding, about 250 short texts/s, fits the same line.
TEXT_S_FIXED, TEXT_S_PER_CHAR, MAX_CHARS = 2.2e-3, 4.5e-5, 600
#: seconds to start the process and load the encoder (torch, sentence-transformers)
STARTUP_S = 8.0
#: fixed memory of the process with numpy, scipy, sklearn and faiss loaded (GB); torch adds more,
#: and training the encoder (weights, gradients, AdamW state, a batch's activations) more again:
#: a 2,000-row run that fine-tuned peaked at 1.8-2.4 GB (BENCHMARKS.md, "What a user gets with no flags")
BASE_GB, TORCH_GB, FINETUNE_GB = 0.25, 0.6, 0.8


@dataclass
class Plan:
    """Stages with predicted seconds, and the predicted peak memory."""

    n_rows: int
    n_labels: int
    n_classes: int
    dims: int
    core_rows: int
    stages: list[tuple[str, float, str]] = field(default_factory=list)
    peak_gb: float = 0.0

    @property
    def total_s(self) -> float:
        return sum(s for _, s, _ in self.stages)

    def as_dict(self) -> dict:
        return {"rows": self.n_rows, "labels": self.n_labels, "classes": self.n_classes, "dims": self.dims,
                "core_rows": self.core_rows, "total_s": round(self.total_s, 1), "peak_gb": round(self.peak_gb, 2),
                "stages": [{"stage": a, "seconds": round(b, 1), "note": c} for a, b, c in self.stages]}


def text_seconds(mean_chars: float, backend: str = "torch") -> float:
    """Predicted seconds of one encoder forward pass per text of ``mean_chars`` characters."""
    torch_s = TEXT_S_FIXED + TEXT_S_PER_CHAR * min(max(float(mean_chars), 0.0), MAX_CHARS)
    return torch_s * ENCODE_RATE["torch"] / ENCODE_RATE.get(backend, ENCODE_RATE["torch"])


def finetune_stages(params, n_rows: int, n_labels: int, mean_chars: float) -> list[tuple[str, float, str]]:
    """Predicted stages of fine-tuning (:mod:`fewlabels.finetuned`) with ``params`` (a
    :class:`~fewlabels.embed.finetune.FineTuneParams`): the fold encoders (training, and
    re-embedding each fold's sub-pool), the final encoder, re-embedding the pool. A training
    step of B texts costs about 3 forward passes of them (forward and backward)."""
    t = text_seconds(mean_chars)
    b = params.batch_size()
    fold_steps, steps = params.capped_steps(params.fold_steps), params.capped_steps(params.steps)
    sub = min(params.sub_pool, max(n_rows - n_labels, 0)) + n_labels
    folds = params.n_splits * (fold_steps * b * 3 + sub) * t + params.n_splits * 2.0  # + loading, methods
    return [("ft-folds", folds, f"{params.n_splits} fold encoders x {fold_steps} steps of {b} texts, "
             f"each re-embedding {sub:,} rows"),
            ("finetune", steps * b * 3 * t + 2.0, f"final encoder, {steps} steps of {b} texts"),
            ("reembed", n_rows * t, f"{n_rows:,} rows with the fine-tuned encoder")]


def mean_chars(texts, sample: int = 2000) -> float:
    """Mean length in characters of (an evenly spaced sample of at most ``sample`` of) the texts."""
    if not len(texts):
        return 0.0
    step = max(1, len(texts) // sample)
    return float(sum(len(t) for t in texts[::step]) / len(texts[::step]))


def finetune_seconds(params, n_rows: int, n_labels: int, texts) -> float:
    """Predicted seconds of all of :func:`finetune_stages` for these texts: the one figure both
    ``--dry-run`` and the run's "auto" decision (:func:`fewlabels.finetuned.decide`) read."""
    return float(sum(s for _, s, _ in finetune_stages(params, n_rows, n_labels, mean_chars(texts))))


def plan(n_rows: int, *, n_labels: int, n_classes: int, dims: int = 384, encode_rows: int = 0,
         backend: str = "torch", core_size: int | None = CORE_SIZE, end_model: bool = True,
         mean_chars: float | None = None, finetune=None) -> Plan:
    """Predicted stages, seconds and peak memory of labeling ``n_rows`` rows.

    ``mean_chars``: mean length of the texts (default: a short text). ``finetune``: the
    :class:`~fewlabels.embed.finetune.FineTuneParams` of a run that fine-tunes, or None."""
    m = n_rows if core_size is None or n_rows <= core_size else core_size
    p = Plan(n_rows, n_labels, n_classes, dims, m)
    scale = max(n_classes, 2) / 20
    if encode_rows:
        p.stages.append(("start", STARTUP_S, "start, load the encoder"))
        chars = 40.0 if mean_chars is None else mean_chars
        p.stages.append(("embed", encode_rows * text_seconds(chars, backend),
                         f"{encode_rows:,} distinct texts, {backend} (cached ones are skipped)"))
    p.stages.append(("graph", m * m * dims / FLOPS + 0.5, f"exact 10-NN graph of {m:,} rows"))
    if n_labels >= 2:
        p.stages.append(("select", SELECT_S_AT_20K * (m / 20_000) * scale, "7 candidates x 5 folds"
                         + ("" if m == n_rows else f" on the core ({m:,} rows)")))
    p.stages.append(("label", SELECT_S_AT_20K / 5 * (m / 20_000) * scale, "the chosen method on "
                     + ("the pool" if m == n_rows else "the core")))
    if m < n_rows:
        p.stages.append(("extend", EXTEND_S_PER_M * (n_rows - m) / 1e6 * scale,
                         f"{n_rows - m:,} rows outside the core, in blocks"))
    if finetune is not None:
        p.stages.extend(finetune_stages(finetune, n_rows, n_labels, 40.0 if mean_chars is None else mean_chars))
    if end_model:
        p.stages.append(("end_model", 1e-4 * m * scale + n_rows * dims * n_classes / FLOPS, "logistic regression"))
    x_gb = n_rows * dims * 4 / 1e9
    p_gb = 4 * n_rows * n_classes * 8 / 1e9  # raw, calibrated and final probabilities, one spare
    core_gb = m * (dims * 4 + 2 * 11 * 12 + 6 * n_classes * 8) / 1e9
    p.peak_gb = (BASE_GB + (TORCH_GB if encode_rows else 0.0) + (FINETUNE_GB if finetune is not None else 0.0)
                 + x_gb + p_gb + core_gb + 0.2)
    return p


def plan_table(input_path, *, text_column: str | None = None, label_column: str | None = None, classes=None,
               vectors=None, vectors_column: str | None = None, backend: str = "torch",
               core_size: int | None = CORE_SIZE, finetune: str = "auto", time_budget: float = 300.0,
               finetune_params=None) -> Plan:
    """:func:`plan` for a table: reads it once to count rows, given labels, classes and the
    distinct texts to embed (an upper bound: texts already in the cache are not re-encoded).

    With ``finetune`` "on"/"always", or "auto" where the run would fine-tune (texts, at least
    ``MIN_AUTO_LABELS`` given labels and planned work within ``time_budget``: the rule of
    :func:`fewlabels.finetuned.decide`, which also skips when the frozen estimate leaves no
    room, a figure only the run knows), the fine-tuning stages are in the plan."""
    import numpy as np

    from .errors import InputError
    from .io import read_table, require_column, text_column as read_texts

    table = read_table(input_path)
    n = table.num_rows
    if label_column is None and "label" in table.column_names:
        label_column = "label"
    seen: set = set()
    n_labels = 0
    if label_column:
        require_column(table, label_column, input_path, "--label-column")
        values = [v for v in table.column(label_column).to_pylist() if v is not None and str(v).strip() != ""]
        n_labels, seen = len(values), {str(v).strip() for v in values}
    n_classes = len(classes.names) if classes is not None else len(seen)
    dims, encode_rows = 384, 0
    if vectors is not None:
        try:
            dims = int(np.load(vectors, mmap_mode="r").shape[1])
        except (OSError, ValueError, IndexError) as exc:
            raise InputError(f"{vectors}: cannot read a 2-D .npy of vectors ({exc})") from exc
    chars, ft = None, None
    if vectors is None and vectors_column is None:
        from .embed.finetune import MIN_AUTO_LABELS, FineTuneParams

        column = text_column or "text"
        require_column(table, column, input_path, "--text-column")
        texts = read_texts(table, column, input_path)
        encode_rows = len(set(texts))
        chars = mean_chars(texts)
        params = finetune_params or FineTuneParams()
        if finetune in ("on", "always") or (finetune == "auto" and n_labels >= MIN_AUTO_LABELS and len(seen) >= 2
                                             and finetune_seconds(params, n, n_labels, texts) <= time_budget):
            ft = params
    return plan(n, n_labels=n_labels, n_classes=max(n_classes, 2), dims=dims, encode_rows=encode_rows,
                backend=backend, core_size=core_size, mean_chars=chars, finetune=ft)
