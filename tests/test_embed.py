"""The embedding cache, with a fake encoder that counts its work (no model is loaded here)."""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest

from fewlabels.embed import EmbeddingCache, SentenceTransformerEncoder, embed_texts, text_hash
from fewlabels.errors import EncoderError


class CountingEncoder:
    """Deterministic unit vectors from a hash of each text; records every text it encodes."""

    def __init__(self, id: str = "fake:v1", dim: int = 8):
        self.id = id
        self.dim = dim
        self.calls: list[list[str]] = []

    @property
    def encoded(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def encode(self, texts):
        self.calls.append(list(texts))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256((self.id + t).encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


TEXTS = ["the cat sat", "invoice overdue", "", "naïve café ☕", "the cat sat again", "x" * 500]


@pytest.fixture
def cache(tmp_path):
    return EmbeddingCache(tmp_path / "sub" / "emb.sqlite")


def test_vectors_match_the_encoder(cache):
    enc = CountingEncoder()
    X = embed_texts(TEXTS, enc, cache)
    assert X.shape == (len(TEXTS), 8) and X.dtype == np.float32
    np.testing.assert_array_equal(X, CountingEncoder().encode(TEXTS))


def test_second_call_encodes_nothing(cache):
    enc = CountingEncoder()
    X1 = embed_texts(TEXTS, enc, cache)
    n_first = len(enc.encoded)
    X2 = embed_texts(TEXTS, enc, cache)
    assert n_first == len(TEXTS)
    assert len(enc.encoded) == n_first
    assert X1.tobytes() == X2.tobytes()


def test_cache_survives_a_new_cache_object_and_encoder_instance(tmp_path):
    path = tmp_path / "emb.sqlite"
    X1 = embed_texts(TEXTS, CountingEncoder(), EmbeddingCache(path))
    enc2 = CountingEncoder()
    X2 = embed_texts(TEXTS, enc2, EmbeddingCache(path))
    assert enc2.encoded == []
    assert X1.tobytes() == X2.tobytes()


def test_grown_list_encodes_only_new_texts(cache):
    enc = CountingEncoder()
    embed_texts(TEXTS[:3], enc, cache)
    enc.calls.clear()
    X = embed_texts(TEXTS, enc, cache)
    assert sorted(enc.encoded) == sorted(TEXTS[3:])
    np.testing.assert_array_equal(X, CountingEncoder().encode(TEXTS))


def test_duplicates_encoded_once(cache):
    enc = CountingEncoder()
    texts = ["a", "b", "a", "a", "c", "b"]
    X = embed_texts(texts, enc, cache)
    assert sorted(enc.encoded) == ["a", "b", "c"]
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_array_equal(X[1], X[5])
    # without a cache too
    enc2 = CountingEncoder()
    X2 = embed_texts(texts, enc2, None)
    assert sorted(enc2.encoded) == ["a", "b", "c"]
    np.testing.assert_array_equal(X, X2)


def test_results_identical_across_runs(tmp_path):
    runs = [embed_texts(TEXTS, CountingEncoder(), EmbeddingCache(tmp_path / f"c{i}.sqlite")) for i in range(2)]
    assert runs[0].tobytes() == runs[1].tobytes()


def test_different_encoders_do_not_share_entries(cache):
    embed_texts(TEXTS, CountingEncoder("fake:v1"), cache)
    other = CountingEncoder("fake:v2")
    X = embed_texts(TEXTS, other, cache)
    assert sorted(other.encoded) == sorted(TEXTS)
    np.testing.assert_array_equal(X, CountingEncoder("fake:v2").encode(TEXTS))


def test_chunks_are_committed_and_progress_reported(tmp_path):
    path = tmp_path / "emb.sqlite"
    enc = CountingEncoder()
    seen = []
    texts = [f"text {i}" for i in range(10)]
    embed_texts(texts, enc, EmbeddingCache(path), chunk_size=4, progress=lambda d, t: seen.append((d, t)))
    assert [len(c) for c in enc.calls] == [4, 4, 2]
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT COUNT(*), MIN(dim), MAX(dim) FROM embeddings").fetchone() == (10, 8, 8)


def test_interrupted_run_resumes(tmp_path):
    """An encoder failing on the 2nd chunk: the 1st chunk is kept and not encoded again."""
    path = tmp_path / "emb.sqlite"
    texts = [f"t{i:02d}" for i in range(8)]

    class Failing(CountingEncoder):
        def encode(self, batch):
            if len(self.calls) == 1:
                raise RuntimeError("killed")
            return super().encode(batch)

    with pytest.raises(RuntimeError, match="killed"):
        embed_texts(texts, Failing(), EmbeddingCache(path), chunk_size=4)
    enc = CountingEncoder()
    X = embed_texts(texts, enc, EmbeddingCache(path), chunk_size=4)
    assert len(enc.encoded) == 4
    np.testing.assert_array_equal(X, CountingEncoder().encode(texts))


def test_cache_get_put_directly(cache):
    hashes = [text_hash("a"), text_hash("b")]
    vecs = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    cache.put("enc", hashes, vecs)
    got = cache.get("enc", hashes + [text_hash("missing")])
    assert set(got) == set(hashes)
    np.testing.assert_array_equal(got[hashes[1]], vecs[1])
    assert cache.get("other", hashes) == {}


def test_empty_list():
    enc = CountingEncoder()
    X = embed_texts([], enc, None)
    assert X.shape[0] == 0 and enc.calls == []


def test_default_cache_path_follows_env(tmp_path, monkeypatch):
    from fewlabels.embed import default_cache_path

    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "x.sqlite"))
    assert default_cache_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("FEWLABELS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "fewlabels" / "embeddings.sqlite"


def test_encoder_on_folder_that_is_not_a_model(tmp_path):
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    (folder / "README.txt").write_text("hello")
    with pytest.raises(EncoderError, match=r"not_a_model: not a sentence-transformers model folder"):
        SentenceTransformerEncoder(folder)


def test_encoder_on_missing_folder(tmp_path):
    folder = tmp_path / "does_not_exist"
    with pytest.raises(EncoderError, match=r"does_not_exist: encoder folder not found"):
        SentenceTransformerEncoder(folder)


def test_encoder_id_is_a_fingerprint_of_the_folder(tmp_path):
    """No model is loaded in the constructor; the id changes when any file changes."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    id1 = SentenceTransformerEncoder(folder).id
    assert id1 == SentenceTransformerEncoder(folder).id
    assert id1.startswith("st:m:")
    (folder / "config.json").write_text('{"x": 1}')
    assert SentenceTransformerEncoder(folder).id != id1
