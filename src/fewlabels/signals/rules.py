"""Labeling rules: the ``@rule`` decorator, and loading ``rules.py`` / ``rules.toml`` files.

A rule is called with one row's text and returns a class name, or None to abstain.

``rules.toml`` serves users who do not write Python: one table per class, with keyword
and/or regex lists; each list entry becomes one rule::

    [spam]
    keywords = ["free entry", "txt stop", "claim your prize"]
    regex = ['\\bwww\\.', '\\b\\d{5}\\b']

Keywords match case-insensitively on word boundaries; regexes are Python ``re`` patterns,
also case-insensitive. Keyword and regex rules are applied vectorised (one compiled
pattern over all texts), Python rules row by row.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError


@dataclass
class Rule:
    """A named rule. ``pattern`` is set for keyword/regex rules (vectorised path)."""

    name: str
    func: Callable[[str], str | None] | None = None
    pattern: re.Pattern | None = None
    label: str | None = None  # the class a pattern rule votes for

    def __call__(self, text: str) -> str | None:
        if self.pattern is not None:
            return self.label if self.pattern.search(text) else None
        return self.func(text)


def rule(func: Callable[[str], str | None] | None = None, *, name: str | None = None):
    """Mark a function as a labeling rule: ``@rule`` or ``@rule(name="...")``."""

    def mark(f):
        f.__fewlabels_rule__ = name or f.__name__
        return f

    return mark(func) if func is not None else mark


def _load_python(path: Path) -> list[Rule]:
    spec = importlib.util.spec_from_file_location(f"fewlabels_rules_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: show its error and line, not our traceback
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else getattr(exc, "lineno", None)
        where = f", line {line}" if line else ""
        raise InputError(f"{path}{where}: cannot import the rules file ({type(exc).__name__}: {exc}); "
                         "fix the Python error") from exc
    finally:
        sys.modules.pop(spec.name, None)
    rules = [Rule(obj.__fewlabels_rule__, func=obj) for obj in vars(module).values()
             if callable(obj) and hasattr(obj, "__fewlabels_rule__")]
    return rules


def _load_toml(path: Path) -> list[Rule]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc}); see `fewlabels rules --help` for the format") from exc
    rules = []
    for label, spec in data.items():
        if not isinstance(spec, dict):
            raise InputError(f"{path}: [{label}] must be a table with 'keywords' and/or 'regex' lists")
        unknown = set(spec) - {"keywords", "regex"}
        if unknown:
            raise InputError(f"{path}: [{label}] has unknown key(s) {sorted(unknown)}; use 'keywords' and 'regex'")
        for kw in spec.get("keywords", []):
            pattern = re.compile(r"(?<!\w)" + re.escape(kw) + r"(?!\w)", re.IGNORECASE)
            rules.append(Rule(f"{label}:keyword:{kw}", pattern=pattern, label=label))
        for rx in spec.get("regex", []):
            try:
                pattern = re.compile(rx, re.IGNORECASE)
            except re.error as exc:
                raise InputError(f"{path}: [{label}] regex {rx!r} is invalid ({exc}); fix the pattern") from exc
            rules.append(Rule(f"{label}:regex:{rx}", pattern=pattern, label=label))
    return rules


def load_rules(path) -> list[Rule]:
    """Rules from a ``.py`` file (functions marked ``@rule``) or a ``.toml`` file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: rules file not found; check the path")
    if path.suffix == ".py":
        rules = _load_python(path)
    elif path.suffix == ".toml":
        rules = _load_toml(path)
    else:
        raise InputError(f"{path}: rules must be a .py file (functions marked @fewlabels.rule) or a .toml file")
    if not rules:
        raise InputError(f"{path}: holds no rules; mark functions with @fewlabels.rule, or list keywords per class")
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            raise InputError(f"{path}: two rules are named {r.name!r}; give each rule its own name")
        seen.add(r.name)
    return rules
