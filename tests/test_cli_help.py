"""The command line's ergonomics (issue 23): grouped options and an example in every
command's --help, ``python -m fewlabels``, plain progress lines without a terminal, and no
"Loading weights" bars from the libraries."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer import _click
from typer.main import get_command
from typer.testing import CliRunner

from fewlabels.cli import app
from fewlabels.cli_help import COMMAND_PANELS, MIN_OPTIONS_FOR_PANELS, PANELS, PlainProgress

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SRC = Path(__file__).resolve().parent.parent / "src"
GROUPS = ("Input", "Labels", "Methods", "Rules", "Outputs", "Performance")


def _commands():
    root = get_command(app)
    ctx = _click.Context(root)

    def walk(cmd, path):
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), (*path, name))
        else:
            yield path, cmd

    return dict(walk(root, ()))


COMMANDS = _commands()


def _help(*path: str) -> str:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    return ANSI.sub("", res.output)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help_and_an_example(path):
    cmd = COMMANDS[path]
    assert cmd.help and cmd.help.strip()
    assert cmd.epilog and cmd.epilog.startswith("Example: fewlabels " + " ".join(path))
    text = " ".join(_help(*path).split())
    assert "Example: fewlabels " + " ".join(path) in text


def _options(path):
    return [p for p in COMMANDS[path].params if getattr(p, "param_type_name", "") == "option" and p.name != "help"]


GROUPED = sorted(p for p in COMMANDS if len(_options(p)) >= MIN_OPTIONS_FOR_PANELS)


def test_the_commands_with_many_options_are_grouped():
    assert {("label",), ("rules",), ("suggest",), ("review",), ("predict",), ("discover",)} <= set(GROUPED)


@pytest.mark.parametrize("path", GROUPED, ids=" ".join)
def test_commands_with_many_options_group_every_option(path):
    options = _options(path)
    panels = {**PANELS, **COMMAND_PANELS.get(" ".join(path), {})}
    unmapped = [p.name for p in options if p.name not in panels]
    assert not unmapped, f"add these options to fewlabels.cli_help.PANELS: {unmapped}"
    assert all(p.rich_help_panel for p in options)


def test_label_help_shows_the_groups_in_boxes():
    text = _help("label")
    for group in GROUPS:
        assert re.search(rf"╭─ {group} ─", text), group
    assert "[default: text]" in text  # square brackets in help are text, not rich markup


def test_python_dash_m_fewlabels_runs():
    res = subprocess.run([sys.executable, "-m", "fewlabels", "--help"], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "COLUMNS": "100"}, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "python -m fewlabels" in res.stdout and "label" in res.stdout


def test_plain_progress_prints_at_most_every_few_seconds():
    lines, now = [], [0.0]
    p = PlainProgress(lines.append, {"embed": "Embedding texts"}, every=5.0, clock=lambda: now[0])
    for done in range(0, 2001, 100):  # 21 updates over 10 s
        p("embed", done, 2000)
        now[0] += 0.5
    assert lines == ["Embedding texts: 50% (1,000/2,000)", "Embedding texts: 100% (2,000/2,000) in 10.0 s"]
    p("embed", 2000, 2000)
    assert len(lines) == 2  # no second final line
    p("select", 1, 4)
    assert len(lines) == 2  # nothing before 5 s
    now[0] += 6
    p("select", 2, 4)
    assert lines[-1] == "select: 50% (2/4)"


def test_cli_without_a_terminal_prints_plain_progress_lines(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    c = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X[:, 0] += 4 * c
    np.save(tmp_path / "X.npy", X)
    labels = [("a", "b")[c[i]] if i < 20 else "" for i in range(n)]
    (tmp_path / "in.csv").write_text("text,label\n" + "".join(f"row {i},{lab}\n" for i, lab in enumerate(labels)))
    res = CliRunner().invoke(app, ["label", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
                                   "--vectors", str(tmp_path / "X.npy")])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("Cross-validating methods: ")]
    assert lines and re.fullmatch(r"Cross-validating methods: 100% \((\d+)/\1\) in \d+\.\d s", lines[-1]), lines
    assert "\r" not in res.stderr and "━" not in res.stderr  # no bar drawing


@pytest.mark.slow
def test_loading_the_encoder_draws_no_library_bars(tmp_path):
    (tmp_path / "in.csv").write_text("text,label\n" + "".join(
        f"message number {i} about {'money' if i % 2 else 'food'},{('food', 'money')[i % 2] if i < 10 else ''}\n"
        for i in range(40)))
    res = subprocess.run([sys.executable, "-m", "fewlabels", "label", str(tmp_path / "in.csv"), "--out",
                          str(tmp_path / "out.csv"), "--cache", str(tmp_path / "c.sqlite"), "--finetune", "off"],
                         capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert "Loading weights" not in res.stderr and "\r" not in res.stderr, res.stderr
    assert "Embedding texts: 100% (40/40)" in res.stderr


def test_quiet_loading_turns_the_library_bars_off_then_restores_them():
    from transformers.utils import logging as hf_logging

    from fewlabels.embed import quiet_loading

    before = hf_logging.is_progress_bar_enabled()
    with quiet_loading():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled() == before
