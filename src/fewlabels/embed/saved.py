"""A fine-tuned encoder saved inside an end model's folder: copying it in
(:func:`copy_encoder`), finding it again when the model is loaded (:func:`saved_encoder_path`).

Cost: a copy of the encoder folder; finding it is O(1).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import ConfigError
from . import SentenceTransformerEncoder


def copy_encoder(encoder_dir, model_folder) -> dict:
    """Copy a fine-tuned encoder folder into a model folder; return the metadata that finds it.

    The copy keeps the folder's name, so its encoder id (name + content fingerprint) is the
    one the end model was trained with. Only safetensors and JSON/text files are copied."""
    src = Path(encoder_dir)
    dst = Path(model_folder) / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.bin", "*.pt", "*.pkl", "*.pickle"))
    return {"encoder": None, "encoder_dir": src.name, "encoder_id": SentenceTransformerEncoder(dst).id,
            "encoder_finetuned": True}


def saved_encoder_path(model_dir, meta: dict) -> Path | None:
    """The fine-tuned encoder folder saved inside a model folder, or None when it has none."""
    name = meta.get("encoder_dir")
    if name is None:
        return None
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ConfigError(f"{model_dir}/model.json: 'encoder_dir' must name a folder inside the model folder; "
                          f"got {name!r}. Save the model again")
    path = Path(model_dir) / name
    if not (path / "modules.json").is_file():
        raise ConfigError(f"{path}: the model's fine-tuned encoder is missing (no modules.json); copy the whole "
                          "model folder, or save the model again")
    return path
