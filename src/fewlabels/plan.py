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

import numpy as np

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
#: seconds of one encoder forward pass per text on the reference machine (torch, 2 threads): a
#: fixed part plus a part per token (:mod:`fewlabels.embed.token_lengths`). Fitted on the
#: per-stage timings of BENCHMARKS.md §14 (six datasets, 2,000-row pools): re-embedding 2,000
#: rows took 6 s on trec (13 tokens a text) to 15 s on ag_news (41); a training step of 32
#: texts (forward and backward, about 3 passes, padded to the batch's longest text) 0.37-0.49 s
#: on trec (longest of a batch: 25 tokens) to 1.6-2.3 s on youtube_spam (119). Characters, the
#: earlier unit, put sms_spam and youtube_spam 3x too low: a step costs the batch's longest
#: text, and an SMS holds more tokens per character than a question.
TEXT_S_FIXED, TEXT_S_PER_TOKEN = 1.0e-3, 1.5e-4
#: tokens the frozen encoder keeps per text (all-MiniLM-L6-v2's max_seq_length)
EMBED_MAX_TOKENS = 256
#: tokens of a short text, when the texts are not known
SHORT_TEXT_TOKENS = 14.0
#: the least share of the fine-tuning steps worth running: when the planned work exceeds
#: --time-budget, the steps are cut to fit it, but not below this share (then it is skipped)
MIN_STEP_SHARE = 0.5
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


def text_seconds(tokens: float, backend: str = "torch") -> float:
    """Predicted seconds of one encoder forward pass over a text of ``tokens`` tokens."""
    torch_s = TEXT_S_FIXED + TEXT_S_PER_TOKEN * max(float(tokens), 0.0)
    return torch_s * ENCODE_RATE["torch"] / ENCODE_RATE.get(backend, ENCODE_RATE["torch"])


def _counts(texts_or_counts) -> np.ndarray:
    """Token counts: given as numbers, or counted from texts; a short text when there are none."""
    if texts_or_counts is None:
        return np.array([SHORT_TEXT_TOKENS])
    if isinstance(texts_or_counts, np.ndarray) and texts_or_counts.dtype.kind in "fiu":
        return texts_or_counts
    from .embed.token_lengths import token_counts

    counts = token_counts(texts_or_counts)
    return counts if len(counts) else np.array([SHORT_TEXT_TOKENS])


def finetune_stages(params, n_rows: int, n_labels: int, texts_or_counts) -> list[tuple[str, float, str]]:
    """Predicted stages of fine-tuning (:mod:`fewlabels.finetuned`) with ``params`` (a
    :class:`~fewlabels.embed.finetune.FineTuneParams`): the fold encoders (training, and
    re-embedding each fold's sub-pool), the final encoder, re-embedding the pool.

    A training step of B texts costs about 3 forward passes of B texts as long as the
    batch's longest (:func:`~fewlabels.embed.token_lengths.expected_batch_max`); embedding
    costs the mean length. ``texts_or_counts``: the texts, or their token counts."""
    from .embed.token_lengths import expected_batch_max, mean_tokens

    counts = _counts(texts_or_counts)
    b = params.batch_size()
    t_train = text_seconds(expected_batch_max(counts, b, params.max_seq_length))
    t_embed = text_seconds(mean_tokens(counts, params.max_seq_length))
    fold_steps, steps = params.capped_steps(params.fold_steps), params.capped_steps(params.steps)
    sub = min(params.sub_pool, max(n_rows - n_labels, 0)) + n_labels
    folds = params.n_splits * (fold_steps * b * 3 * t_train + sub * t_embed + 2.0)  # + loading, methods
    return [("ft-folds", folds, f"{params.n_splits} fold encoders x {fold_steps} steps of {b} texts, "
             f"each re-embedding {sub:,} rows"),
            ("finetune", steps * b * 3 * t_train + 2.0, f"final encoder, {steps} steps of {b} texts"),
            ("reembed", n_rows * t_embed, f"{n_rows:,} rows with the fine-tuned encoder")]


def finetune_seconds(params, n_rows: int, n_labels: int, texts_or_counts) -> float:
    """Predicted seconds of all of :func:`finetune_stages`: the one figure both ``--dry-run``
    and the run's "auto" decision (:func:`fewlabels.finetuned.decide`) read."""
    return float(sum(s for _, s, _ in finetune_stages(params, n_rows, n_labels, _counts(texts_or_counts))))


def fit_to_budget(params, n_rows: int, n_labels: int, texts_or_counts, time_budget: float):
    """``params`` with its training steps cut so that the planned fine-tuning fits ``time_budget``.

    The budget caps the work: the fold encoders' and the final encoder's steps shrink by one
    share f (re-embedding does not shrink), to at least :data:`MIN_STEP_SHARE` of them.
    Returns ``(params, f)``: the same params and f = 1 when they fit, None and the share that
    would have been needed when even the least share does not fit.
    """
    from dataclasses import replace

    counts = _counts(texts_or_counts)
    planned = finetune_seconds(params, n_rows, n_labels, counts)
    if planned <= time_budget:
        return params, 1.0
    fixed = finetune_seconds(replace(params, steps=0, fold_steps=0), n_rows, n_labels, counts)
    share = (time_budget - fixed) / max(planned - fixed, 1e-9)
    if share < MIN_STEP_SHARE:
        return None, max(share, 0.0)
    return replace(params, steps=int(params.steps * share), fold_steps=int(params.fold_steps * share)), share


def plan(n_rows: int, *, n_labels: int, n_classes: int, dims: int = 384, encode_rows: int = 0,
         backend: str = "torch", core_size: int | None = CORE_SIZE, end_model: bool = True,
         token_counts=None, finetune=None) -> Plan:
    """Predicted stages, seconds and peak memory of labeling ``n_rows`` rows.

    ``token_counts``: tokens per text of (a sample of) the texts (default: a short text). ``finetune``: the
    :class:`~fewlabels.embed.finetune.FineTuneParams` of a run that fine-tunes, or None."""
    m = n_rows if core_size is None or n_rows <= core_size else core_size
    p = Plan(n_rows, n_labels, n_classes, dims, m)
    scale = max(n_classes, 2) / 20
    if encode_rows:
        p.stages.append(("start", STARTUP_S, "start, load the encoder"))
        from .embed.token_lengths import mean_tokens

        tokens = mean_tokens(_counts(token_counts), EMBED_MAX_TOKENS)
        p.stages.append(("embed", encode_rows * text_seconds(tokens, backend),
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
        p.stages.extend(finetune_stages(finetune, n_rows, n_labels, _counts(token_counts)))
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
    counts, ft = None, None
    if vectors is None and vectors_column is None:
        from .embed.finetune import MIN_AUTO_LABELS, FineTuneParams

        column = text_column or "text"
        require_column(table, column, input_path, "--text-column")
        texts = read_texts(table, column, input_path)
        encode_rows = len(set(texts))
        counts = _counts(texts)
        params = finetune_params or FineTuneParams()
        if finetune in ("on", "always"):
            ft = params
        elif finetune == "auto" and n_labels >= MIN_AUTO_LABELS and len(seen) >= 2:
            ft, _ = fit_to_budget(params, n, n_labels, counts, time_budget)
    return plan(n, n_labels=n_labels, n_classes=max(n_classes, 2), dims=dims, encode_rows=encode_rows,
                backend=backend, core_size=core_size, token_counts=counts, finetune=ft)
