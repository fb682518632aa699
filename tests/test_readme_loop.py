"""README's "The labeling loop" commands, run as written, on a first run (no store, no label).

The code block is read from README.md, its lines joined where they end in ``\\``, comments
dropped, and each command shell-split and run through the CLI in a folder holding
``tickets.csv`` (a column ``id``) and ``classes.txt``. Two things are added, and only these:

* ``review`` serves a page until Ctrl-C, so it runs with ``--no-serve`` (it prepares the rows
  and the store, then stops); after the first ``review`` a person's answers are written to
  the store as the page would write them (the true class of each row of ``to_label.csv``).
* The fast test appends ``--vectors v.npy`` to the commands that embed (precomputed 16-D
  blob vectors); the slow one runs the commands verbatim with the packaged encoder on the
  first 300 rows of the bundled sms_spam table.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import make_blobs
from fewlabels.cli import app
from fewlabels.io import read_table
from fewlabels.loop.store import LabelStore

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def readme_loop_commands() -> list[list[str]]:
    """The commands of the first code block under "## The labeling loop", shell-split."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The labeling loop"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    joined = re.sub(r"\\\n", " ", block)
    commands = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [c for c in commands if c]


def test_readme_block_is_what_this_test_expects():
    commands = readme_loop_commands()
    assert all(c[0] == "fewlabels" for c in commands)
    assert [c[1] for c in commands] == ["suggest", "review", "label", "review", "labels"]


def run_loop(folder: Path, truth: dict[str, str], extra: dict[str, list[str]]) -> list[str]:
    """Run README's loop in ``folder``; ``truth`` maps ids to classes (the person's answers);
    ``extra`` adds arguments per command (the only change to the README's commands)."""
    outputs = []
    answered = False
    for argv in readme_loop_commands():
        args = argv[1:] + extra.get(argv[1], [])
        if argv[1] == "review":
            args.append("--no-serve")  # the page would serve until Ctrl-C
        r = runner.invoke(app, args)
        assert r.exit_code == 0, f"{shlex.join(argv)}\n{r.output}"
        outputs.append(r.output)
        if argv[1] == "review" and not answered:  # the person labels the suggested rows on the page
            keys = read_table(folder / "to_label.csv").column("fewlabels_key").to_pylist()
            with LabelStore(folder / "labels.sqlite") as store:
                for key in keys:
                    store.set(key, truth[key], "review")
            answered = True
    return outputs


def check_outputs(folder: Path, truth: dict[str, str], classes: list[str], outputs: list[str], min_accuracy: float):
    suggested = read_table(folder / "to_label.csv")
    keys = suggested.column("fewlabels_key").to_pylist()
    assert len(keys) == 30 and set(keys) <= set(truth)  # keyed by id, as the later commands
    assert "hash of their text" not in " ".join(outputs)
    assert "review 30 rows" in outputs[1]  # suggest's file, not new suggestions
    with LabelStore(folder / "labels.sqlite") as store:
        assert store.recorded_classes() == classes
        assert {k: v["label"] for k, v in store.current().items()} == {k: truth[k] for k in keys}
    labeled = read_table(folder / "labeled.csv")
    ids, labels = labeled.column("id").to_pylist(), labeled.column("fewlabels_label").to_pylist()
    assert len(ids) == len(truth) and set(labels) <= set(classes)
    assert all(lab == truth[i] for i, lab, src in zip(ids, labels, labeled.column("fewlabels_source").to_pylist())
               if src == "given")
    accuracy = np.mean([lab == truth[i] for i, lab in zip(ids, labels)])
    assert accuracy >= min_accuracy, accuracy
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    tasks = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    assert len(tasks) == 30 and all(t["data"]["text"] and t["data"]["fewlabels_key"] in truth for t in tasks)
    config = ET.fromstring((folder / "labels.xml").read_text(encoding="utf-8"))
    assert [c.get("value") for c in config.iter("Choice")] == classes


def test_readme_loop_runs_verbatim_on_precomputed_vectors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "cache.sqlite"))
    classes = ["billing", "bug", "account"]
    b = make_blobs(n=240, k=3, per_class=0, noise=0.12, seed=8)
    truth = {f"t{i}": classes[c] for i, c in enumerate(b.truth)}
    with open("tickets.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows([k, f"ticket {k}"] for k in truth)
    Path("classes.txt").write_text("billing: invoices and payments\nbug: something is broken\n"
                                   "account: login and profile\n", encoding="utf-8")
    np.save("v.npy", b.X)
    vec = ["--vectors", "v.npy"]
    outputs = run_loop(tmp_path, truth, {"suggest": vec, "review": vec, "label": vec})
    check_outputs(tmp_path, truth, classes, outputs, min_accuracy=0.9)


@pytest.mark.slow
def test_readme_loop_runs_verbatim_with_the_encoder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "cache.sqlite"))
    src = read_table(ROOT / "src" / "fewlabels" / "data" / "sms_spam.csv")
    texts, gold = src.column("text").to_pylist()[:300], src.column("label").to_pylist()[:300]
    truth = {f"m{i}": g for i, g in enumerate(gold)}
    with open("tickets.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows(zip(truth, texts))
    Path("classes.txt").write_text("ham: an ordinary personal message\nspam: an unsolicited advert or scam\n",
                                   encoding="utf-8")
    outputs = run_loop(tmp_path, truth, {})
    check_outputs(tmp_path, truth, ["ham", "spam"], outputs, min_accuracy=0.9)
