"""Embed every dataset in ../shared/data with the default encoder, filling the cache.

    python bench/embed_datasets.py [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from fewlabels.embed import EmbeddingCache, SentenceTransformerEncoder, embed_texts

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    enc = SentenceTransformerEncoder()
    cache = EmbeddingCache()
    for d in sorted(Path(args.data).iterdir()):
        for split in ("train", "test"):
            f = d / f"{split}.csv"
            if not f.is_file():
                continue
            with open(f, newline="", encoding="utf-8") as fh:
                texts = [r["text"] for r in csv.DictReader(fh)]
            t = time.perf_counter()
            X = embed_texts(texts, enc, cache)
            print(f"{d.name}/{split}: {X.shape} in {time.perf_counter() - t:.1f}s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
