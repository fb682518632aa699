"""Contrastive fine-tuning of the sentence encoder on the few labels (SetFit-style, and past it).

What is trained
---------------
The encoder (default: the packaged all-MiniLM-L6-v2) is trained so that texts of the same
class have cosine similarity 1 and texts of different classes 0: SetFit's
``CosineSimilarityLoss`` objective. The training items are

* the **given labels** (weight 1);
* **pseudo-labels** from the best frozen method: the most confident rows of each class
  (class-balanced: at most ``pseudo_per_class`` per class), weighted by their calibrated
  confidence (LiST / "pseudo-label pre-training": a teacher's confident labels are extra
  supervision, its confidence how much to trust them);
* **class anchors**: the class names / descriptions as texts of their class (weight
  ``anchor_weight``), so a class with no given label still has items in the training set
  and keeps a place in the fine-tuned space (SetFit collapses there: its pairs come from
  the labels only).

Loss: all pairs of a batch, not one pair per two forward passes
----------------------------------------------------------------
SetFit draws (anchor, other) pairs and runs both texts through the encoder for each pair.
Here a batch holds ``batch_classes`` classes × ``per_class`` items (class-balanced; with
fewer classes than ``batch_classes``, more items per class, so a batch keeps about B texts), and the
loss is the weighted mean squared error of *every* pair's cosine similarity to its target
(1 for same class, 0 otherwise), positives and negatives averaged separately so each half
weighs the same (SetFit balances its pair sampling the same way). A batch of B texts gives
B(B−1)/2 pairs for B forward passes, instead of B/2: the same objective as SetFit at a
fraction of its encoder passes, which is what CPU time is spent on. A pair's weight is
the product of its two items' weights.

Cost: O(steps · B · L²) transformer work (B = batch_classes × per_class texts of L
tokens), plus O(B²·d) for the pair loss; memory O(B · L · d) activations. On 2 CPU cores
about 0.5-1 s a step of 32 short texts; with CUDA (used when torch sees a GPU) far less.

The fine-tuned encoder is saved as a sentence-transformers folder (``model.safetensors``
+ JSON configs: no pickle) in an on-disk cache keyed by (base encoder id, hash of the
training items, seed, parameters), so a second run with the same labels does not train
again; :class:`~fewlabels.embed.SentenceTransformerEncoder` loads it like any encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError, EncoderError
from .finetune_params import MIN_AUTO_LABELS, ROOM, FineTuneParams  # noqa: F401 (re-exported)
from .training_set import TrainingSet, build_training_set, pseudo_labels  # noqa: F401 (build_training_set, pseudo_labels: re-exported)

TrainProgress = Callable[[int, int], None]


def device() -> str:
    """"cuda" when torch sees a GPU, else "cpu"; nothing requires a GPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_threads() -> int:
    """Cores this process may use (its CPU affinity), as torch's thread count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def torch_threads(n: int):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


_LOADED: dict = {}


def base_model(path: str | Path):
    """A fresh trainable copy of the model at ``path``; the folder is read once per process."""
    import copy

    key = str(Path(path).resolve())
    if key not in _LOADED:
        _LOADED.clear()  # one base model in memory at a time
        _LOADED[key] = load_sentence_transformer(path)
    return copy.deepcopy(_LOADED[key])


def load_sentence_transformer(path: str | Path, dev: str | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import SentenceTransformer

        from .quiet import quiet_loading

        with quiet_loading():
            return SentenceTransformer(str(path), device=dev or device())
    except Exception as exc:  # any failure inside the loader is an encoder problem
        raise EncoderError(f"{path}: could not load as a sentence-transformers model for fine-tuning "
                           f"({type(exc).__name__}); pass the folder of a saved sentence-transformers model") from exc


def train_encoder(base_path: str | Path, data: TrainingSet, params: FineTuneParams, *, steps: int,
                  random_state: int | None = 0, progress: TrainProgress | None = None):
    """Fine-tune a copy of the encoder at ``base_path`` on ``data``; returns the in-memory model.

    Same seed and data give the same weights on the CPU (torch's CPU kernels are
    deterministic for this model); on CUDA, up to GPU nondeterminism.
    """
    import torch

    k = int(data.labels.max()) + 1 if len(data.labels) else 0
    by_class = [np.flatnonzero(data.labels == c) for c in range(k)]
    usable = [c for c in range(k) if len(by_class[c]) >= 1]
    if len(usable) < 2:
        raise ConfigError("fine-tuning needs training items of at least two classes (given labels, pseudo-labels "
                          "or class names)")
    steps = params.capped_steps(steps)
    per_class = batch_per_class(params, len(usable))
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31 - 1))
    with torch_threads(cpu_threads()):
        torch.manual_seed(seed)
        model = base_model(base_path)
        model.max_seq_length = min(int(model.max_seq_length or params.max_seq_length), params.max_seq_length)
        dev = model.device
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=0.01)
        warm = max(1, int(0.1 * steps))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
        weights_all = torch.as_tensor(data.weights, dtype=torch.float32)
        for step in range(steps):
            cls = rng.choice(usable, size=min(params.batch_classes, len(usable)), replace=False)
            idx = np.concatenate([rng.choice(by_class[c], size=per_class,
                                             replace=len(by_class[c]) < per_class) for c in cls])
            feats = model.tokenize([data.texts[i] for i in idx])
            feats = {key: v.to(dev) if hasattr(v, "to") else v for key, v in feats.items()}
            emb = torch.nn.functional.normalize(model(feats)["sentence_embedding"], dim=1)
            S = emb @ emb.T
            lab = torch.as_tensor(data.labels[idx], device=dev)
            w = weights_all[idx].to(dev)
            W = w[:, None] * w[None, :]
            same = lab[:, None] == lab[None, :]
            off = ~torch.eye(len(idx), dtype=torch.bool, device=dev)
            # the same item drawn twice is no pair
            dup = torch.as_tensor(idx[:, None] == idx[None, :], device=dev)
            pos = (same & off & ~dup).float() * W
            neg = (~same).float() * W
            loss = (pos * (1 - S) ** 2).sum() / pos.sum().clamp_min(1e-8) + \
                   (neg * S ** 2).sum() / neg.sum().clamp_min(1e-8)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if progress:
                progress(step + 1, steps)
        model.eval()
    return model


class InMemoryEncoder:
    """An :class:`~fewlabels.embed.Encoder` around a loaded (e.g. just fine-tuned) model."""

    def __init__(self, model, id: str, batch_size: int = 64):
        self.model = model
        self.id = id
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with torch_threads(cpu_threads()):
            vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


def default_model_cache() -> Path:
    """``$FEWLABELS_MODEL_CACHE`` or ``~/.cache/fewlabels/finetuned``."""
    from .cache import cache_location

    return cache_location("FEWLABELS_MODEL_CACHE", "finetuned")


#: bumped when the training changes for the same parameters (2: batches filled to B texts with few classes)
TRAINING_VERSION = 2


def batch_per_class(params: FineTuneParams, n_classes: int) -> int:
    """Items per class in a batch: ``per_class``, times ``batch_classes // n_classes`` when
    there are fewer classes than ``batch_classes``, so that a batch holds about
    ``params.batch_size()`` texts whatever the number of classes (a binary task had batches of
    8 texts instead of 32, a quarter of the pairs per step; the cost estimate assumed 32)."""
    return params.per_class * max(1, params.batch_classes // max(1, n_classes))


def cache_key(base_id: str, data: TrainingSet, params: FineTuneParams, steps: int, random_state) -> str:
    blob = json.dumps({"base": base_id, "data": data.digest(), "params": asdict(params), "steps": steps,
                       "seed": random_state, "training": TRAINING_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def save_encoder(model, folder: Path) -> Path:
    """Save ``model`` as a sentence-transformers folder (safetensors + JSON), atomically."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        from .quiet import quiet_loading

        with quiet_loading():  # no "Writing model shards" bar
            model.save(str(tmp), safe_serialization=True)
        for p in tmp.rglob("*"):  # no pickled file ever ships (load must not run code)
            if p.suffix in (".bin", ".pt", ".pkl", ".pickle"):
                p.unlink()
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


@dataclass
class FineTuned:
    """A fine-tuned encoder on disk and how it was made."""

    path: Path
    key: str
    cached: bool
    seconds: float
    n_items: dict = field(default_factory=dict)


def finetune_cached(base_path: str | Path, base_id: str, data: TrainingSet, params: FineTuneParams, *,
                    steps: int, random_state: int | None = 0, cache_dir: str | Path | None = None,
                    progress: TrainProgress | None = None) -> FineTuned:
    """Fine-tune (or reuse from the cache) and return the saved encoder folder."""
    import time

    key = cache_key(base_id, data, params, steps, random_state)
    folder = Path(cache_dir) if cache_dir is not None else default_model_cache()
    folder = folder / key
    counts = {k: int((data.kind == k).sum()) for k in ("given", "pseudo", "anchor")}
    if (folder / "modules.json").is_file() and any(folder.glob("*.safetensors")):
        if progress:
            progress(1, 1)
        return FineTuned(folder, key, True, 0.0, counts)
    t0 = time.perf_counter()
    model = train_encoder(base_path, data, params, steps=steps, random_state=random_state, progress=progress)
    save_encoder(model, folder)
    return FineTuned(folder, key, False, time.perf_counter() - t0, counts)
