"""The ONNX encoder backend (issue 14) with the real packaged all-MiniLM-L6-v2: exported once
into a temporary folder for the module, then compared with torch on real texts from the
bundled SMS sample, reused without a second export, and run end to end through the CLI."""

from __future__ import annotations

import builtins
import json
import pickle
import sqlite3
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from fewlabels.cli import app
from fewlabels.demo import demo_data_path
from fewlabels.embed import SentenceTransformerEncoder, make_encoder, model_id, use_backend
from fewlabels.embed import onnx_backend
from fewlabels.embed.onnx_backend import BackendFallbackWarning, OnnxEncoder, OnnxExport
from fewlabels.errors import ConfigError
from fewlabels.io import read_table, write_table

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def encoders(onnx_dir):
    """torch, onnx and onnx-int8 encoders of the packaged model (one export of each)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)  # a fallback here is a failure
        return {b: make_encoder(None, b, onnx_dir=onnx_dir) for b in ("torch", "onnx", "onnx-int8")}


@pytest.fixture(scope="module")
def texts():
    """20 real SMS texts the export check did not see (it uses the first 62 rows)."""
    return read_table(demo_data_path()).column("text").to_pylist()[200:220]


def test_onnx_vectors_match_torch(encoders, texts):
    T = encoders["torch"].encode(texts)
    F = encoders["onnx"].encode(texts)
    Q = encoders["onnx-int8"].encode(texts)
    assert F.shape == Q.shape == T.shape == (20, 384) and F.dtype == Q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Q, axis=1), 1.0, atol=1e-5)
    # fp32 is torch's arithmetic in another order: agreement to float rounding on every text
    assert np.sum(F * T, axis=1).min() > 0.999
    # int8 weights: the export check's bound (onnx_backend.MIN_COSINE) holds on unseen texts too
    cos = np.sum(Q * T, axis=1)
    assert cos.mean() > 0.98 and cos.min() > 0.9
    assert encoders["onnx-int8"].check["cosine_mean"] >= onnx_backend.MIN_COSINE["onnx-int8"][0]


def test_order_and_batching_do_not_change_vectors(encoders, texts):
    enc = encoders["onnx"]
    whole = enc.encode(texts)
    alone = np.stack([enc.encode([t])[0] for t in texts[:5]])
    np.testing.assert_allclose(alone, whole[:5], atol=1e-5)  # padding within a batch is masked out
    np.testing.assert_allclose(enc.encode(texts[::-1])[::-1], whole, atol=1e-6)


def test_encoder_ids_differ_per_backend(encoders):
    ids = {b: e.id for b, e in encoders.items()}
    assert len(set(ids.values())) == 3
    assert isinstance(encoders["onnx"], OnnxEncoder) and isinstance(encoders["torch"], SentenceTransformerEncoder)
    assert {model_id(i) for i in ids.values()} == {ids["torch"]}  # the same model underneath
    sha = json.loads(next(iter(encoders["onnx"].model_file.parent.glob("model.json"))).read_text())["sha256"]
    assert ids["onnx"] == f"{ids['torch']}:onnx:{sha[:8]}"  # another export, another id


def test_second_load_reuses_the_export(encoders, onnx_dir, monkeypatch, texts):
    files = sorted(p for p in onnx_dir.rglob("*") if p.is_file())
    assert {p.name for p in files} == {"model.onnx", "model.json", "model.int8.onnx", "model.int8.json"}
    before = {p: p.stat().st_mtime_ns for p in files}

    def no_export(*a, **k):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "_export_fp32", no_export)
    monkeypatch.setattr(onnx_backend, "_quantize", no_export)
    monkeypatch.setattr(onnx_backend, "_load_sentence_transformer", no_export)
    for b in ("onnx", "onnx-int8"):
        again = make_encoder(None, b, onnx_dir=onnx_dir)
        assert again.id == encoders[b].id
        np.testing.assert_allclose(again.encode(texts[:3]), encoders[b].encode(texts[:3]), atol=1e-6)
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_encoder_pickles_without_its_session(encoders, texts):
    enc = encoders["onnx"]
    enc.encode(texts[:1])
    copy = pickle.loads(pickle.dumps(enc))  # what a Ray worker receives
    assert copy._session is None
    np.testing.assert_allclose(copy.encode(texts[:3]), enc.encode(texts[:3]), atol=1e-6)


def test_incomplete_file_is_not_used(encoders, onnx_dir, tmp_path):
    """A model file without its record, or with a record of another size (an interrupted
    export), does not count: the next load exports again."""
    src = OnnxExport(encoders["torch"].path, encoders["torch"].id.rsplit(":", 1)[1], onnx_dir)
    assert src.record("onnx") is not None
    other = OnnxExport(encoders["torch"].path, encoders["torch"].id.rsplit(":", 1)[1], tmp_path)
    other.dir.mkdir(parents=True)
    other.model_file("onnx").write_bytes(b"half a model")
    assert other.record("onnx") is None
    rec = dict(src.record("onnx"))
    other.record_file("onnx").write_text(json.dumps(rec))
    assert other.record("onnx") is None  # size differs from the record's
    rec["bytes"] = len(b"half a model")
    other.record_file("onnx").write_text(json.dumps(rec))
    assert other.record("onnx") == rec


def test_failed_check_falls_back_to_torch(encoders, tmp_path):
    """An export whose check failed is recorded; loading it warns once and gives torch."""
    ex = OnnxExport(encoders["torch"].path, encoders["torch"].id.rsplit(":", 1)[1], tmp_path)
    ex.dir.mkdir(parents=True)
    ex.model_file("onnx").write_bytes(b"x")
    ex.record_file("onnx").write_text(json.dumps({"bytes": 1, "recipe": onnx_backend.RECIPE, "sha256": "0" * 64,
                                                  "passed": False, "cosine_mean": 0.5, "cosine_min": 0.1,
                                                  "n_check": 64}))
    with pytest.warns(BackendFallbackWarning, match=r"do not match torch.*cosine mean 0\.5000"):
        enc = make_encoder(None, "onnx", onnx_dir=tmp_path)
    assert isinstance(enc, SentenceTransformerEncoder) and enc.id == encoders["torch"].id


def test_falls_back_to_torch_without_onnxruntime(encoders, onnx_dir, monkeypatch):
    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.warns(BackendFallbackWarning) as rec:
        enc = make_encoder(None, "onnx-int8", onnx_dir=onnx_dir)  # even with a cached export
    assert isinstance(enc, SentenceTransformerEncoder) and enc.id == encoders["torch"].id
    (w,) = rec
    msg = str(w.message)
    assert "\n" not in msg and "onnxruntime" in msg and "pip install" in msg and "torch instead" in msg


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="'tensorrt' is not one of torch, onnx, onnx-int8"):
        make_encoder(None, "tensorrt")
    with pytest.raises(ConfigError):
        with use_backend("gpu"):
            pass


def test_cli_label_and_predict_with_onnx(encoders, onnx_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FEWLABELS_ONNX_CACHE", str(onnx_dir))
    table = read_table(demo_data_path()).slice(0, 300)
    truth = table.column("label").to_pylist()
    keep = set(range(0, 300, 10))
    given = [t if i in keep else "" for i, t in enumerate(truth)]
    table = table.set_column(table.column_names.index("label"), "label",
                             __import__("pyarrow").array(given))
    inp, out, model = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "model"
    write_table(table, inp)
    cache = tmp_path / "emb.sqlite"
    r = runner.invoke(app, ["label", str(inp), "-o", str(out), "--encoder-backend", "onnx", "--cache", str(cache),
                            "--save-model", str(model), "--finetune", "off", "--method", "logistic"])
    assert r.exit_code == 0, r.output
    labels = read_table(out).column("fewlabels_label").to_pylist()
    hidden = [i for i in range(300) if i not in keep]
    acc = np.mean([labels[i] == truth[i] for i in hidden])
    assert acc > 0.85  # ham/spam with 30 labels: far above the 0.87 ham share would be luck; see below
    assert acc > np.mean([truth[i] == "ham" for i in hidden]) - 0.02
    with sqlite3.connect(cache) as con:
        ids = {e for (e,) in con.execute("SELECT DISTINCT encoder FROM embeddings")}
    assert ids == {encoders["onnx"].id}  # only onnx vectors were cached, under their own id
    # a model trained on onnx vectors predicts from int8 ones: the same model, another backend
    pred = tmp_path / "pred.csv"
    r = runner.invoke(app, ["predict", str(model), str(inp), "-o", str(pred), "--encoder-backend", "onnx-int8",
                            "--cache", str(cache)])
    assert r.exit_code == 0, r.output
    P = read_table(pred).column("fewlabels_label").to_pylist()
    assert np.mean([p == q for p, q in zip(P, labels)]) > 0.95
    r = runner.invoke(app, ["label", str(inp), "-o", str(tmp_path / "x.csv"), "--encoder-backend", "fast"])
    assert r.exit_code == 2 and "is not one of torch, onnx, onnx-int8" in r.output
