"""The engines (fewlabels.engine): the same fixed blocks of rows, in this process or as Ray
tasks on a local 2-worker cluster, give the one-pass path's labels.

The Ray tests start one local cluster (2 CPUs, so 2 worker processes run the blocks) for the
module, about 10 s, and are marked ``ray``: ``pytest -m 'not ray'`` leaves them out. CI runs
them (``ray`` is in the ``test`` extra); they are skipped only where ray is not installed.

Tolerances. Blocks are row subsets: each output number is the same per-row computation
(a dot product of one row with the model's weights, one query against the same index), so
the results are expected to be bitwise equal, and labels (argmaxes) are asserted equal
exactly. Where a tolerance is allowed, it is the rounding of a BLAS kernel that groups a
d-term float64 sum differently for another block height: at most about d · 2^-53 ≈ 5e-14
relative for d = 384; 1e-12 leaves room for that and nothing else. Encoder vectors come
from torch on 1 thread per Ray worker (Ray's default) against 2 threads here: float32
kernels may sum in another order, so the check is 1e-5 per coordinate of unit vectors
(float32 epsilon is 1.2e-7; a transformer's ~20 reductions of ~400 terms each stay well
under 1e-5), and the nearest class is the same.
"""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from fewlabels.endmodel import EndModel
from fewlabels.engine import get_engine, open_engine, row_blocks
from fewlabels.engine import ops
from fewlabels.signals.blocks import apply_rules_blocks
from fewlabels.engine.local import LocalEngine
from fewlabels.errors import ConfigError, InputError
from fewlabels.graph import knn_graph, normalize_rows

from conftest import make_blobs

TEXTS = ["win a free prize now", "lunch at noon?", "free entry, txt stop", "see you later", "boom goes it",
         "call me maybe", "claim your free cash", "lol ok", "boom again", "meeting at 3"] * 7  # 70 rows
CLASSES = ["ham", "spam"]


def rules_file(tmp_path):
    path = tmp_path / "rules.py"
    path.write_text(textwrap.dedent("""
        from fewlabels import rule

        @rule
        def free(text):
            return "spam" if "free" in text else None

        @rule
        def chat(text):
            if "boom" in text:
                raise ValueError("no boom")
            return "ham" if ("lol" in text or "see you" in text) else None
    """))
    return path


def vectors(n=3000, d=32, seed=0):
    rng = np.random.default_rng(seed)
    return normalize_rows(rng.normal(size=(n, d)).astype(np.float32))


# ---------------------------------------------------------------------------------------
# In-process blocks: no Ray needed
# ---------------------------------------------------------------------------------------

def test_row_blocks_are_fixed_contiguous_ranges():
    assert row_blocks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert row_blocks(0, 4) == []
    with pytest.raises(ConfigError, match="block_rows"):
        row_blocks(5, 0)


def test_local_blocks_give_the_one_pass_results():
    import faiss

    X = vectors()
    y = np.arange(len(X)) % 4
    model = EndModel().fit(X, y, classes=list("abcd"))
    eng = LocalEngine(block_rows=701)
    P, P0 = ops.predict_proba(eng, model, X), model.predict_proba(X)
    np.testing.assert_array_equal(P.argmax(1), P0.argmax(1))
    np.testing.assert_allclose(P, P0, rtol=0, atol=1e-12)  # BLAS rounding at block edges (docstring)
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    D, I = ops.search_index(eng, index, X, 5)
    D0, I0 = index.search(X, 5)
    np.testing.assert_array_equal(I, I0)
    np.testing.assert_allclose(D, D0, rtol=0, atol=1e-6)  # float32 inner products of unit vectors


def test_local_rule_blocks_match_apply_rules(tmp_path):
    from fewlabels.signals import apply_rules, load_rules

    path = rules_file(tmp_path)
    one = apply_rules(TEXTS, load_rules(path), CLASSES)
    blocks = apply_rules_blocks(LocalEngine(block_rows=16), TEXTS, path, CLASSES)
    np.testing.assert_array_equal(blocks.L, one.L)
    assert blocks.rule_names == one.rule_names
    # the first failing row is the table's (row 5), the count is over all blocks (14 rows hold "boom")
    assert blocks.errors == one.errors and blocks.errors[0]["row"] == 5 and blocks.errors[0]["count"] == 14


def test_engine_options_are_checked():
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        with open_engine("spark"):
            pass
    with pytest.raises(ConfigError, match="--ray-address goes with --engine ray"):
        with open_engine("local", "auto"):
            pass
    with open_engine("local") as eng:
        assert eng is None  # one pass, as without an engine
    assert isinstance(get_engine("local"), LocalEngine)


# ---------------------------------------------------------------------------------------
# Ray: a local cluster of 2 workers
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'fewlabels[ray]')")
    saved = os.environ.pop("RAY_ADDRESS", None)  # never join a cluster the environment points at
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        assert ray.cluster_resources().get("CPU") == 2
        yield ray
    finally:
        ray.shutdown()
        if saved is not None:
            os.environ["RAY_ADDRESS"] = saved


def ray_engine(block_rows):
    from fewlabels.engine.ray_engine import RayEngine

    eng = RayEngine(block_rows=block_rows)  # joins the module's cluster, leaves it running at close
    assert eng.num_workers == 2
    return eng


@pytest.mark.ray
def test_ray_predict_and_search_equal_one_pass(ray_cluster):
    import faiss

    X = vectors(d=384)
    y = np.arange(len(X)) % 5
    model = EndModel().fit(X, y, classes=list("abcde"))
    eng = ray_engine(block_rows=700)  # 5 blocks, the last one 200 rows
    P0 = model.predict_proba(X)
    P = ops.predict_proba(eng, model, X)
    np.testing.assert_array_equal(P.argmax(1), P0.argmax(1))
    np.testing.assert_allclose(P, P0, rtol=0, atol=1e-12)
    # a built HNSW index, serialised once into the object store, searched in blocks
    index = faiss.IndexHNSWFlat(X.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.add(X)
    index.hnsw.efSearch = 48
    D0, I0 = index.search(X, 10)
    D, I = ops.search_index(eng, index, X, 10)
    np.testing.assert_array_equal(I, I0)
    np.testing.assert_allclose(D, D0, rtol=0, atol=1e-6)
    # the blocks really ran in other processes, on both workers
    def pid_after_nap(item):  # defined here, so Ray ships it by value (tests/ is not importable there)
        import time

        time.sleep(0.2)  # long enough that the next task goes to the other worker
        return os.getpid()

    pids = set(eng.map(pid_after_nap, range(4)))
    assert len(pids) == 2 and os.getpid() not in pids


@pytest.mark.ray
def test_ray_knn_graph_equals_one_pass(ray_cluster):
    import faiss

    X = make_blobs(n=600, d=16).X
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # HNSW built on one thread is the same index each time
    try:
        W0 = knn_graph(X, 10, exact_limit=100)  # above exact_limit: HNSW
        W = knn_graph(X, 10, exact_limit=100, engine=ray_engine(block_rows=128))
    finally:
        faiss.omp_set_num_threads(threads)
    assert (W != W0).nnz == 0


@pytest.mark.ray
def test_ray_rules_equal_one_pass_and_errors_name_the_table_row(ray_cluster, tmp_path):
    from fewlabels.signals import apply_rules, load_rules

    path = rules_file(tmp_path)
    eng = ray_engine(block_rows=16)
    one = apply_rules(TEXTS, load_rules(path), CLASSES)
    res = apply_rules_blocks(eng, TEXTS, path, CLASSES)
    np.testing.assert_array_equal(res.L, one.L)
    assert res.errors == one.errors
    texts = ["fine"] * 40 + ["boom"] + ["fine"] * 5
    with pytest.raises(InputError, match=r"rule 'chat' raised on row 41 .*ValueError: no boom") as info:
        apply_rules_blocks(eng, texts, path, CLASSES, strict=True)  # block 3 of a task on a worker
    assert type(info.value) is InputError and "\n" not in str(info.value)  # not Ray's wrapper with a traceback


@pytest.mark.ray
def test_ray_label_table_gives_the_same_labels(ray_cluster, tmp_path):
    from fewlabels.classes import ClassSpec
    from fewlabels.io import read_table, write_table
    from fewlabels.options import LabelOptions
    from fewlabels.pipeline import label_table

    b = make_blobs(n=240, k=2, d=16, per_class=6, seed=3)
    texts = [("free " if t == 1 else "lol ") + f"row {i}" for i, t in enumerate(b.truth)]
    labels = [CLASSES[c] if c >= 0 else None for c in b.y]
    write_table(pa.table({"text": texts, "label": labels}), tmp_path / "in.csv")
    np.save(tmp_path / "X.npy", b.X)
    rules = rules_file(tmp_path)
    common = dict(vectors=tmp_path / "X.npy", rules=rules, classes=ClassSpec(CLASSES, {}), finetune="off",
                  random_state=0)
    r0 = label_table(tmp_path / "in.csv", tmp_path / "one.csv", LabelOptions.of(**common))
    r1 = label_table(tmp_path / "in.csv", tmp_path / "ray.csv", LabelOptions.of(**common), engine=ray_engine(block_rows=50))
    assert r1.method == r0.method
    np.testing.assert_array_equal(r1.labels, r0.labels)
    np.testing.assert_allclose(r1.confidence, r0.confidence, rtol=0, atol=1e-12)
    a, c = read_table(tmp_path / "one.csv"), read_table(tmp_path / "ray.csv")
    assert a.column("fewlabels_label").to_pylist() == c.column("fewlabels_label").to_pylist()
    assert r1.report["rules"]["errors"] == r0.report["rules"]["errors"]


@pytest.mark.ray
@pytest.mark.parametrize("method", ["spreading", "auto"])
def test_ray_core_extension_gives_the_same_labels(ray_cluster, monkeypatch, method):
    """Above core_size the chosen method labels the rest of the pool in blocks: on Ray the
    same blocks, the model sent once per worker (spreading extends by k-NN over its core)."""
    from fewlabels import pool_core
    from fewlabels.pipeline import label_arrays
    from fewlabels.options import LabelOptions
    from fewlabels.pool import Pool

    monkeypatch.setattr(pool_core, "EXTEND_BLOCK", 128)  # 500 rows past the core: 4 blocks
    b = make_blobs(n=800, k=3, d=16, per_class=5, seed=4)
    common = dict(method=method, core_size=300, random_state=0, fit_end_model=False)
    r0 = label_arrays(Pool(X=b.X, y=b.y, classes=b.classes), LabelOptions.of(**common))
    r1 = label_arrays(Pool(X=b.X, y=b.y, classes=b.classes),
                      LabelOptions.of(**common), engine=ray_engine(block_rows=64))
    assert r0.report["core"]["rows"] == 300 and r1.method == r0.method
    np.testing.assert_array_equal(r1.labels, r0.labels)
    np.testing.assert_allclose(r1.proba, r0.proba, rtol=0, atol=1e-12)


@pytest.mark.ray
def test_ray_predict_command_equals_local(ray_cluster, tmp_path):
    from typer.testing import CliRunner

    from fewlabels.cli import app
    from fewlabels.io import read_table, write_table

    X = vectors(n=500, d=16, seed=1)
    EndModel().fit(X, (X[:, 0] > 0).astype(int), classes=CLASSES).save(tmp_path / "model")
    np.save(tmp_path / "X.npy", X)
    write_table(pa.table({"id": list(range(len(X)))}), tmp_path / "new.csv")
    runner = CliRunner()
    outs = {}
    for name, extra in (("local", []), ("ray", ["--engine", "ray"])):
        res = runner.invoke(app, ["predict", str(tmp_path / "model"), str(tmp_path / "new.csv"), "--vectors",
                                  str(tmp_path / "X.npy"), "-o", str(tmp_path / f"{name}.csv"), *extra])
        assert res.exit_code == 0, res.output
        outs[name] = read_table(tmp_path / f"{name}.csv")
    assert outs["ray"].equals(outs["local"])


@pytest.mark.ray
@pytest.mark.slow
def test_ray_encoding_on_two_workers_matches_one_process(ray_cluster):
    """The real packaged encoder, loaded once in each of 2 Ray actors, on the same chunks."""
    from fewlabels.embed import embed_texts
    from fewlabels.io import read_table
    from fewlabels.pipeline import load_encoder
    import fewlabels

    from pathlib import Path

    table = read_table(Path(fewlabels.__file__).parent / "data" / "sms_spam.csv")
    texts = table.column("text").to_pylist()[:48]
    encoder = load_encoder()
    X0 = embed_texts(texts, encoder, None, chunk_size=16)
    X = embed_texts(texts, encoder, None, chunk_size=16, engine=ray_engine(block_rows=16))  # 3 chunks
    assert X.shape == X0.shape == (48, 384)
    np.testing.assert_allclose(X, X0, rtol=0, atol=1e-5)
    # each text's nearest other text is the same
    S0, S = X0 @ X0.T, X @ X.T
    np.fill_diagonal(S0, -2)
    np.fill_diagonal(S, -2)
    np.testing.assert_array_equal(S.argmax(1), S0.argmax(1))
