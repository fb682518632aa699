"""Golden runs: the same inputs at a fixed seed give the same labels, confidences and report
numbers as when ``tests/golden/golden.json`` was made (``tests/golden/make_golden.py``).

Six runs through the CLI's path: plain labels, rules with 0 labels, ``--votes``,
``--unknown``, label proportions, and fine-tuning (one small case). The first five run on
stored vectors, so only numpy/scikit-learn/faiss arithmetic is involved: floats must agree
to 1e-9 (summation order on another CPU may move the last bits, nothing more). The
fine-tuning case trains the real encoder; it is compared only where the packaged encoder
reproduces the stored vectors (same numerics), and then to 1e-6.

Refresh golden.json only in a commit that says which behaviour changed on purpose.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent / "golden"
spec = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
golden = importlib.util.module_from_spec(spec)
spec.loader.exec_module(golden)

EXPECTED = json.loads((HERE / "golden.json").read_text())


def assert_same(got, want, atol: float, where: str) -> None:
    assert set(got) == set(want), f"{where}: keys differ: {sorted(set(got) ^ set(want))[:10]}"
    for key in want:
        a, b = got[key], want[key]
        if isinstance(b, list):
            assert len(a) == len(b), f"{where}.{key}: length {len(a)} != {len(b)}"
            if b and isinstance(b[0], float):
                assert np.allclose(np.asarray(a, float), np.asarray(b, float), atol=atol, rtol=0), f"{where}.{key}"
            else:
                assert a == b, f"{where}.{key}: {sum(x != y for x, y in zip(a, b))} values differ"
        elif isinstance(b, float) and not isinstance(b, bool):
            assert isinstance(a, (int, float)) and abs(a - b) <= atol, f"{where}.{key}: {a!r} != {b!r}"
        else:
            assert a == b, f"{where}.{key}: {a!r} != {b!r}"


@pytest.mark.parametrize("case", [c for c in golden.CASES if c != "finetune"])
def test_golden_run_on_stored_vectors(case, tmp_path):
    got = golden.run_case(case, tmp_path)
    want = EXPECTED[case]
    assert_same(got["columns"], want["columns"], 1e-9, f"{case}.columns")
    assert_same(got["report"], want["report"], 1e-9, f"{case}.report")


@pytest.mark.slow
def test_golden_run_with_fine_tuning(tmp_path):
    from fewlabels.embed import embed_texts
    from fewlabels.pipeline import load_encoder

    texts = json.loads((HERE / "inputs" / "sms300_truth.json").read_text())["text"][:8]
    stored = np.load(HERE / "inputs" / "sms300.npy")[:8]
    if not np.allclose(embed_texts(texts, load_encoder(), None), stored, atol=1e-6, rtol=0):
        pytest.skip("the packaged encoder's numerics differ on this CPU from the machine that made golden.json")
    got = golden.run_case("finetune", tmp_path)
    want = EXPECTED["finetune"]
    assert_same(got["columns"], want["columns"], 1e-6, "finetune.columns")
    assert_same(got["report"], want["report"], 1e-6, "finetune.report")
