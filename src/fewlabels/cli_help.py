"""The command line's help layout and its progress lines without a terminal.

:func:`apply_help` puts every option of the commands with many options into a named group
of ``--help`` (typer's ``rich_help_panel``: Input, Labels, Methods, Rules, Outputs,
Performance) and gives each command an example (its epilog). The groups are one table here,
by option name, so a command keeps its option list as it is; an option added to a command
gets its group by adding its name to :data:`PANELS` (the tests check that every option of a
grouped command has one).

:class:`PlainProgress` is the ``progress(stage, done, total)`` callback used when stderr is
not a terminal (a log file, CI, a pipe): one plain line per stage at most every few
seconds and one when it ends, e.g. ``Embedding texts: 50% (1,000/2,000)``, instead of rich's bars.
"""

from __future__ import annotations

import inspect
import time
from typing import Callable

#: option (parameter name) → group in ``--help``
PANELS: dict[str, str] = {
    **dict.fromkeys(("text_column", "vectors", "vectors_column", "encoder", "id_column", "table", "id_field"),
                    "Input"),
    **dict.fromkeys(("label_column", "classes", "classes_", "classes_file", "labels_db", "fold_case", "unknown",
                     "bag_column", "proportions", "bag_label_column", "negative_class", "unknown_value", "audit",
                     "unknown_rate", "unknown_false_reject", "unknown_precision", "unknown_recall", "suggestions",
                     "as_audit"), "Labels"),
    **dict.fromkeys(("method", "folds", "seed", "finetune", "time_budget", "min_classes", "max_classes"), "Methods"),
    **dict.fromkeys(("rules", "strict", "votes", "votes_column", "synthesize", "force", "min_support",
                     "min_precision"), "Rules"),
    **dict.fromkeys(("out_path", "n", "report", "save_model", "html", "out_dir", "config_out"), "Outputs"),
    **dict.fromkeys(("encoder_backend", "cache", "engine", "ray_address", "dry_run"), "Performance"),
}

#: per command: groups that differ from :data:`PANELS`
COMMAND_PANELS: dict[str, dict[str, str]] = {
    "review": dict.fromkeys(("n", "suspects", "port", "open_browser", "serve_page"), "Review page"),
}

#: commands with at least this many options get groups; shorter lists stay flat
MIN_OPTIONS_FOR_PANELS = 6

#: command path → example(s) shown under its ``--help`` (rich markup: no square brackets)
EXAMPLES: dict[str, str] = {
    "label": "Example: fewlabels label tickets.csv --out labeled.csv --report report.json --html report.html\n\n"
             "With rules and named classes: fewlabels label tickets.csv --out labeled.csv --rules rules.toml "
             "--classes billing,bug,other",
    "rules": "Example: fewlabels rules tickets.csv --rules rules.toml --report rules.json\n\n"
             "Mine keyword rules from the given labels: fewlabels rules tickets.csv --synthesize rules.toml",
    "suggest": "Example: fewlabels suggest tickets.csv --out to_label.csv --n 50 --id-column id",
    "review": "Example: fewlabels review tickets.csv --labels-db labels.sqlite --id-column id --classes billing,bug",
    "predict": "Example: fewlabels predict model/ new_tickets.csv --out new_labeled.csv",
    "demo": "Example: fewlabels demo --out-dir fewlabels-demo --labels 50",
    "discover": "Example: fewlabels discover labeled.csv --out new_classes.txt",
    "methods": "Example: fewlabels methods",
    "labels import": "Example: fewlabels labels import export.json --labels-db labels.sqlite --id-field id",
    "labels export": "Example: fewlabels labels export --labels-db labels.sqlite --out labels.csv",
    "audit": "Example: fewlabels audit tickets.csv --n 50 --out audit.csv --id-column id, then fill its label "
             "column and run fewlabels label tickets.csv --out labeled.csv --id-column id --audit audit.csv",
}


def _command_name(info) -> str:
    return info.name or info.callback.__name__.replace("_", "-")


def _commands(app, prefix: tuple[str, ...] = ()):
    """(path, CommandInfo) of every command of ``app`` and its sub-apps (typer's registry)."""
    for info in app.registered_commands:
        yield " ".join((*prefix, _command_name(info))), info
    for group in app.registered_groups:
        sub = group.typer_instance
        yield from _commands(sub, (*prefix, group.name or sub.info.name))


def apply_help(app) -> None:
    """Set each command's example (epilog, unless it has one), reflow its docstring into
    paragraphs, escape square brackets in help texts (typer reads them as rich markup, and
    "[default: text]" vanished), and, on commands with at least
    :data:`MIN_OPTIONS_FOR_PANELS` options, each option's ``rich_help_panel`` from
    :data:`PANELS` (an option that sets its own panel keeps it). Call once, after every
    command is registered and before the app runs."""
    from rich.markup import escape
    from typer.models import ArgumentInfo, OptionInfo

    if getattr(app, "_fewlabels_help", False):  # once: escaping twice would show the backslashes
        return
    app._fewlabels_help = True
    for path, info in _commands(app):
        if info.epilog is None and path in EXAMPLES:
            info.epilog = EXAMPLES[path]
        if info.help is None and info.callback.__doc__:  # paragraphs reflowed to the terminal's width
            paragraphs = inspect.getdoc(info.callback).split("\n\n")
            info.help = "\n\n".join(escape(" ".join(par.split())) for par in paragraphs)
        for p in inspect.signature(info.callback).parameters.values():
            if isinstance(p.default, (ArgumentInfo, OptionInfo)) and p.default.help:
                p.default.help = escape(p.default.help)  # "[default: text]" is text, not rich markup
        params = [p for p in inspect.signature(info.callback).parameters.values() if isinstance(p.default, OptionInfo)]
        if len(params) < MIN_OPTIONS_FOR_PANELS:
            continue
        panels = {**PANELS, **COMMAND_PANELS.get(path, {})}
        for p in params:
            if p.default.rich_help_panel is None and p.name in panels:
                p.default.rich_help_panel = panels[p.name]

class PlainProgress:
    """``progress(stage, done, total)`` as plain lines: at most one line every ``every``
    seconds of a stage, and its last (done == total) with the time taken; a stage shorter
    than ``every`` prints that one line.

    Parameters
    ----------
    write : called with each line
    titles : stage → title (default: the stage's name)
    every : seconds between two lines of one stage
    clock : seconds, monotonic (for tests)
    """

    def __init__(self, write: Callable[[str], None], titles: dict | None = None, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.write = write
        self.titles = titles or {}
        self.every = every
        self.clock = clock
        self._state: dict[str, list] = {}  # stage → [start, last line time, last done, finished]

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        st = self._state.get(stage)
        if st is None or done < st[2]:  # a new stage, or the stage started again
            st = self._state[stage] = [now, None, done, False]
        st[2] = done
        finished = total > 0 and done >= total
        if st[3] and finished:
            return
        if not finished and now - (st[0] if st[1] is None else st[1]) < self.every:
            return
        st[1], st[3] = now, finished
        pct = 100.0 * done / total if total > 0 else 100.0
        line = f"{self.titles.get(stage, stage)}: {pct:.0f}% ({done:,}/{total:,})"
        if finished:
            line += f" in {now - st[0]:.1f} s"
        self.write(line)
