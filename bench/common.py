"""Shared loading for the benchmarks: datasets from ../shared/data, embedded with the
default encoder through fewlabels' own cache."""

from __future__ import annotations

import csv
import datetime
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fewlabels.embed import EmbeddingCache, SentenceTransformerEncoder, embed_texts
from fewlabels.labelers.zeroshot import class_prompts

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FEWLABELS_DATA", ROOT.parent / "shared" / "data"))


@dataclass
class Dataset:
    name: str
    classes: list[str]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_embeddings: np.ndarray
    texts_train: list[str]


def read_split(path: Path) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["label"] for r in rows]


_ENCODER = None


def encoder() -> SentenceTransformerEncoder:
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = SentenceTransformerEncoder()
    return _ENCODER


def class_embeddings(classes: list[str], enc=None, cache=None) -> np.ndarray:
    enc = enc or encoder()
    cache = cache or EmbeddingCache()
    vecs = []
    for c in classes:
        V = embed_texts(class_prompts(c), enc, cache)
        v = V.mean(axis=0)
        vecs.append(v / np.linalg.norm(v))
    return np.stack(vecs).astype(np.float32)


def load(name: str) -> Dataset:
    enc, cache = encoder(), EmbeddingCache()
    t_tr, l_tr = read_split(DATA / name / "train.csv")
    t_te, l_te = read_split(DATA / name / "test.csv")
    classes = sorted(set(l_tr))
    code = {c: i for i, c in enumerate(classes)}
    return Dataset(
        name=name,
        classes=classes,
        X_train=embed_texts(t_tr, enc, cache),
        y_train=np.array([code[c] for c in l_tr]),
        X_test=embed_texts(t_te, enc, cache),
        y_test=np.array([code[c] for c in l_te]),
        class_embeddings=class_embeddings(classes, enc, cache),
        texts_train=t_tr,
    )


def datasets() -> list[str]:
    return sorted(p.name for p in DATA.iterdir() if (p / "train.csv").is_file())


def sample_labels(y: np.ndarray, n_labels: int, seed: int) -> np.ndarray:
    """y with all but ``n_labels`` uniformly random rows set to -1."""
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(y), size=min(n_labels, len(y)), replace=False)
    out = np.full_like(y, -1)
    out[keep] = y[keep]
    return out


def pool_rows(y: np.ndarray, n_labels: int, pool_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool rows of a train split, y of the pool): ``n_labels`` random rows keep their label
    (:func:`sample_labels`), plus random unlabeled rows up to ``pool_size`` rows (the fine-tuning
    and defaults benches draw their pools so, the same for the same seed)."""
    y_full = sample_labels(y, n_labels, seed)
    lab_rows = np.flatnonzero(y_full >= 0)
    rng = np.random.default_rng(seed)
    rest = np.flatnonzero(y_full < 0)
    extra = rng.choice(rest, size=max(0, min(pool_size - len(lab_rows), len(rest))), replace=False)
    rows = np.sort(np.concatenate([lab_rows, extra]))
    return rows, y_full[rows]


def accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of rows where ``pred`` equals ``true``; NaN when there are no rows."""
    true = np.asarray(true)
    return float(np.mean(np.asarray(pred) == true)) if len(true) else float("nan")


def mean_present(values) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def timed_fit(model, *args, **kwargs) -> tuple[float, list[str]]:
    """Fit ``model`` (scikit-learn style) with warnings caught instead of printed.

    Returns the wall time in seconds and the distinct warning messages (e.g. a
    ConvergenceWarning), so a benchmark can record them rather than silence them blindly.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        model.fit(*args, **kwargs)
        seconds = time.perf_counter() - t
    return seconds, sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught})


def run_info() -> dict:
    """Command line, date and machine of this run, for results files and printed headers."""
    import numpy
    import sklearn

    import fewlabels

    return {
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "versions": {"fewlabels": fewlabels.__version__, "numpy": numpy.__version__,
                     "scikit-learn": sklearn.__version__},
    }


def print_run_info(info: dict) -> None:
    """Print the header every benchmark starts with: command line, date, machine."""
    versions = " ".join(f"{k} {v}" for k, v in info["versions"].items())
    print(f"$ {info['command']}")
    print(f"date {info['date']} | {info['platform']} | {info['cpu_count']} CPUs "
          f"(load {info['load_average'][0]}) | python {info['python']} | {versions}", flush=True)


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, (float, np.floating)):
        return "nan" if np.isnan(v) else f"{v:.3f}"
    return str(v)


def format_table(headers: list[str], rows: list[list], markdown: bool = False) -> str:
    """Render rows as an aligned text table, or a GitHub markdown table.

    Floats are shown with 3 decimals, None as "-".
    """
    cells = [[_cell(v) for v in r] for r in rows]
    if markdown:  # a literal "|" would end the cell
        headers = [h.replace("|", "\\|") for h in headers]
        cells = [[c.replace("|", "\\|") for c in r] for r in cells]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells])
