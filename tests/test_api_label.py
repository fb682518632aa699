"""fewlabels.label(data): a DataFrame, a pyarrow Table or a path in, a DataFrame out, with the
labels the CLI gives on the same table (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import fewlabels
from fewlabels.cli import app
from fewlabels.errors import InputError
from fewlabels.io import read_table, write_table
from fewlabels.options import LabelOptions
from fewlabels.pipeline import label_table

INPUTS = Path(__file__).parent / "golden" / "inputs"
VECTORS = INPUTS / "sms300.npy"
NEW_COLUMNS = ["fewlabels_label", "fewlabels_confidence", "fewlabels_source", "fewlabels_suspect"]


@pytest.fixture(scope="module")
def frame():
    """300 real SMS rows; 15 given labels per class, None elsewhere; an index of its own."""
    data = json.loads((INPUTS / "sms300_truth.json").read_text())
    truth = np.array(data["label"], dtype=object)
    rng = np.random.default_rng(1)
    label = np.full(len(truth), None, dtype=object)
    for c in ("ham", "spam"):
        label[rng.choice(np.flatnonzero(truth == c), 15, replace=False)] = c
    return pd.DataFrame({"id": [f"m{i}" for i in range(len(truth))], "text": data["text"], "label": label},
                        index=pd.RangeIndex(1000, 1000 + len(truth), name="row"))


@pytest.fixture(scope="module")
def cli_output(frame, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    write_table(pa.Table.from_pandas(frame.fillna(""), preserve_index=False), tmp / "in.csv")
    res = CliRunner().invoke(app, ["label", str(tmp / "in.csv"), "--out", str(tmp / "out.parquet"), "--vectors",
                                   str(VECTORS), "--report", str(tmp / "report.json")])
    assert res.exit_code == 0, res.output
    return read_table(tmp / "out.parquet").to_pandas(), json.loads((tmp / "report.json").read_text())


def test_dataframe_gives_the_cli_labels(frame, cli_output):
    cli, cli_report = cli_output
    df = fewlabels.label(frame, vectors=VECTORS)
    assert list(df.columns) == list(frame.columns) + NEW_COLUMNS == list(cli.columns)
    assert df["fewlabels_label"].tolist() == cli["fewlabels_label"].tolist()
    assert set(df["fewlabels_label"]) == {"ham", "spam"}  # names, not codes
    assert df["fewlabels_source"].tolist() == cli["fewlabels_source"].tolist()
    assert df["fewlabels_suspect"].tolist() == cli["fewlabels_suspect"].tolist()
    np.testing.assert_allclose(df["fewlabels_confidence"], cli["fewlabels_confidence"], atol=1e-9)
    pd.testing.assert_frame_equal(df[list(frame.columns)], frame)  # input columns and index kept
    report = df.attrs["fewlabels"]
    assert report["method"] == cli_report["method"]
    assert report["estimated_accuracy"] == cli_report["estimated_accuracy"]
    assert report["input"] == "DataFrame" and report["output"] is None


def test_table_path_and_vector_array_give_the_same_labels(frame, cli_output, tmp_path):
    cli, _ = cli_output
    table = pa.Table.from_pandas(frame, preserve_index=False)
    by_table = fewlabels.label(table, vectors=np.load(VECTORS))
    assert by_table["fewlabels_label"].tolist() == cli["fewlabels_label"].tolist()
    assert by_table.attrs["fewlabels"]["input"] == "Table"
    write_table(table, tmp_path / "in.parquet")
    by_path, result = fewlabels.label(tmp_path / "in.parquet", vectors=VECTORS, out=tmp_path / "out.parquet",
                                      return_result=True)
    assert by_path["fewlabels_label"].tolist() == cli["fewlabels_label"].tolist()
    assert result.label_names.tolist() == cli["fewlabels_label"].tolist()
    assert read_table(tmp_path / "out.parquet").column("fewlabels_label").to_pylist() == by_path[
        "fewlabels_label"].tolist()


def test_errors_name_the_dataframe_and_label_table_refuses_one(frame, tmp_path):
    bad = frame.copy()
    bad.loc[bad.index[20], "label"] = "eggs"
    with pytest.raises(InputError, match=r"^DataFrame, column 'label', row 21: label 'eggs'") as info:
        fewlabels.label(bad, vectors=VECTORS, classes=["ham", "spam"])
    assert "parquet" not in str(info.value)
    with pytest.raises(InputError, match=r"fewlabels\.label\(data"):
        label_table(frame, tmp_path / "out.csv", LabelOptions.of(vectors=VECTORS))
    with pytest.raises(InputError, match="reads a pandas DataFrame"):
        fewlabels.label([1, 2, 3])
    with pytest.raises(InputError, match="not strings"):
        fewlabels.label(pd.DataFrame({0: ["a"], "label": ["x"]}))
    assert not list(tmp_path.iterdir())
