"""Labeling rules: the ``@rule`` decorator, and loading ``rules.py`` / ``rules.toml`` files.

A rule is called with one row's text (a str) and returns a class name, or None to abstain.

**rules.py**: functions marked with :func:`rule`, in the order they are defined::

    from fewlabels import rule

    @rule
    def link_and_subscribe(text):
        t = text.lower()
        return "spam" if "http" in t and "subscribe" in t else None

**rules.toml**, for users who do not write Python. A table per class whose ``keywords`` and
``regex`` lists make one rule per entry (named ``class:keyword:entry`` and
``class:regex:entry``), and ``[[rule]]`` tables for named rules that combine conditions
(every condition given must hold)::

    [spam]
    keywords = ["free entry", "txt stop", "claim your prize"]
    regex = ['\\bwww\\.', '£\\d+']

    [ham]
    keywords = ["see you", "lol"]

    [[rule]]
    name = "link_and_subscribe"
    class = "spam"
    keywords = ["subscribe", "my channel"]   # any of these ...
    require = ["http"]                       # ... and each of these
    exclude = ["unsubscribe"]                # ... and none of these
    regex = 'https?://'                      # ... and this pattern
    case_sensitive = false                   # regex only; keywords never are

How keywords and regexes match is described in :mod:`fewlabels.signals.match`. Keyword and
regex rules run vectorised over a chunk of texts; Python rules run row by row.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .match import Matcher, TextChunk, keyword_pattern

RULE_MARK = "__fewlabels_rule__"
_CLASS_KEYS = {"keywords", "regex"}
_RULE_KEYS = {"name", "class", "keywords", "require", "exclude", "regex", "case_sensitive"}


def rule(func: Callable[[str], str | None] | None = None, *, name: str | None = None):
    """Mark a function as a labeling rule: ``@rule`` or ``@rule(name="...")``.

    The function is returned unchanged (still callable as before); :func:`load_rules`
    collects the marked functions of a rules file. ``name`` defaults to the function's name.
    """

    def mark(f):
        if not callable(f):
            raise TypeError(f"@rule marks a function taking one text; got {f!r}")
        setattr(f, RULE_MARK, name or f.__name__)
        return f

    return mark(func) if func is not None else mark


@dataclass(frozen=True)
class Rule:
    """A named rule: a Python function, or keyword/regex conditions voting for ``label``.

    Attributes
    ----------
    name : str
    func : callable(str) -> str | None, or None for a pattern rule
    label : class a pattern rule votes for (None for a Python rule)
    keywords, require, exclude : any-of / all-of / none-of keyword lists
    regex : pattern that must also match, or None
    case_sensitive : bool, for ``regex``
    source : where the rule was defined, e.g. ``rules.py, line 12``, for messages
    """

    name: str
    func: Callable[[str], str | None] | None = None
    label: str | None = None
    keywords: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex: str | None = None
    case_sensitive: bool = False
    source: str = ""
    _matchers: tuple = field(default=(), repr=False, compare=False)

    def __post_init__(self):
        if self.func is not None:
            return
        ms = []
        if self.keywords:
            ms.append((True, Matcher(keyword_pattern(self.keywords), lowered=True)))
        ms += [(True, Matcher(keyword_pattern([kw]), lowered=True)) for kw in self.require]
        if self.regex is not None:
            ms.append((True, Matcher(self.regex, case_sensitive=self.case_sensitive)))
        if self.exclude:
            ms.append((False, Matcher(keyword_pattern(self.exclude), lowered=True)))
        object.__setattr__(self, "_matchers", tuple(ms))

    @property
    def vectorised(self) -> bool:
        """True for keyword/regex rules (run as patterns over a chunk), False for Python rules."""
        return self.func is None

    def matches(self, chunk: TextChunk):
        """Pattern rules only: bool mask (b,) of the texts in ``chunk`` the rule votes on."""
        mask = None
        for want, matcher in self._matchers:
            hit = matcher(chunk)
            hit = hit if want else ~hit
            mask = hit if mask is None else mask & hit
        return mask

    def __call__(self, text: str) -> str | None:
        """The rule on one text: its class name, or None to abstain."""
        if self.func is not None:
            return self.func(text)
        return self.label if self.matches(TextChunk([text]))[0] else None


# -- running user code ----------------------------------------------------------------------


class InterruptGuard:
    """While active, tells a real Ctrl-C from a ``KeyboardInterrupt`` (or ``SystemExit``) that
    a rules file raised itself.

    In the main thread, with Python's default SIGINT handler, it installs a handler that
    notes the key press before raising ``KeyboardInterrupt`` as usual. Elsewhere every
    ``KeyboardInterrupt`` counts as a real one. :meth:`from_user` says whether an exception
    came from the user's code (and so is an error of the rules file)."""

    def __enter__(self):
        self.pressed = False
        self._old = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            def on_sigint(signum, frame):
                self.pressed = True
                raise KeyboardInterrupt

            self._old = signal.signal(signal.SIGINT, on_sigint)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False

    def from_user(self, exc: BaseException) -> bool:
        if isinstance(exc, KeyboardInterrupt):
            return self._old is not None and not self.pressed
        return isinstance(exc, (SystemExit, GeneratorExit))


def describe_exit(exc: BaseException) -> str:
    """``sys.exit(1)`` / ``KeyboardInterrupt`` / ``TypeError: ...``, for messages."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({'' if exc.code is None else repr(exc.code)})"
    if isinstance(exc, KeyboardInterrupt):
        return "raised KeyboardInterrupt"
    return f"raised {type(exc).__name__}: {exc}"


# -- loading -------------------------------------------------------------------------------


def _load_python(path: Path) -> list[Rule]:
    module_name = "_fewlabels_rules_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    sys.path.insert(0, str(path.parent))  # a rules file may import helpers next to it
    guard = InterruptGuard()
    try:
        with guard:
            spec.loader.exec_module(module)
    except BaseException as exc:  # the user's file: show its error and line, not our traceback
        if not isinstance(exc, Exception) and not guard.from_user(exc):
            raise  # a real Ctrl-C
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
        line = frames[-1].lineno if frames else getattr(exc, "lineno", None)
        where = f", line {line}" if line else ""
        if isinstance(exc, Exception):
            raise InputError(f"{path}{where}: cannot import the rules file ({type(exc).__name__}: {exc}); "
                             "fix the Python error") from exc
        raise InputError(f"{path}{where}: the rules file {describe_exit(exc)} while being imported; a rules file "
                         "should only define rules (put script code under `if __name__ == '__main__':`)") from None
    finally:
        if str(path.parent) in sys.path:
            sys.path.remove(str(path.parent))
        sys.modules.pop(module_name, None)
    rules = []
    for obj in vars(module).values():
        name = getattr(obj, RULE_MARK, None) if callable(obj) else None
        if name is None:
            continue
        try:
            line = inspect.getsourcelines(obj)[1]
        except (OSError, TypeError):
            line = None
        source = f"{path}, line {line}" if line else str(path)
        try:
            inspect.signature(obj).bind("text")
        except TypeError:
            raise InputError(f"{source}: rule {name!r} must take exactly one argument, the row's text") from None
        except ValueError:  # builtins without a signature: let them run
            pass
        rules.append(Rule(name, func=obj, source=source))
    return rules


def _string_list(path: Path, where: str, key: str, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"{path}: {where} {key} must be a list of non-empty strings; got {value!r}")
    return tuple(value)


def _check_regex(path: Path, where: str, pattern) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise InputError(f"{path}: {where} regex must be a non-empty string; got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InputError(f"{path}: {where} regex {pattern!r} is invalid ({exc}); fix the pattern") from exc
    return pattern


def _load_toml(path: Path) -> list[Rule]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc}); see the rules file format in "
                         "`fewlabels rules --help`") from exc
    rules = []
    for label, spec in data.items():
        if label == "rule" and isinstance(spec, list):
            continue
        where = f"[{label}]"
        if not isinstance(spec, dict):
            raise InputError(f"{path}: {label} = ... must be a table [{label}] with 'keywords' and/or 'regex' "
                             "lists (or [[rule]] tables)")
        unknown = set(spec) - _CLASS_KEYS
        if unknown:
            raise InputError(f"{path}: {where} has unknown key(s) {sorted(unknown)}; use 'keywords' and 'regex', "
                             "or a [[rule]] table for combined conditions")
        src = f"{path}, {where}"
        for kw in _string_list(path, where, "keywords", spec.get("keywords", [])):
            rules.append(Rule(f"{label}:keyword:{kw}", label=label, keywords=(kw,), source=src))
        for rx in _string_list(path, where, "regex", spec.get("regex", [])):
            rules.append(Rule(f"{label}:regex:{rx}", label=label, regex=_check_regex(path, where, rx), source=src))
    specs = data.get("rule", [])
    for i, spec in enumerate(specs if isinstance(specs, list) else [], 1):
        where = f"[[rule]] number {i}"
        if not isinstance(spec, dict):
            raise InputError(f"{path}: {where} must be a table")
        unknown = set(spec) - _RULE_KEYS
        if unknown:
            raise InputError(f"{path}: {where} has unknown key(s) {sorted(unknown)}; "
                             f"use {', '.join(sorted(_RULE_KEYS))}")
        name, label = spec.get("name"), spec.get("class")
        if not isinstance(name, str) or not name:
            raise InputError(f"{path}: {where} needs name = \"...\"")
        where = f"[[rule]] {name!r}"
        if not isinstance(label, str) or not label:
            raise InputError(f"{path}: {where} needs class = \"...\", the class it votes for")
        keywords = _string_list(path, where, "keywords", spec.get("keywords", []))
        require = _string_list(path, where, "require", spec.get("require", []))
        exclude = _string_list(path, where, "exclude", spec.get("exclude", []))
        regex = _check_regex(path, where, spec["regex"]) if "regex" in spec else None
        if not (keywords or require or regex):
            raise InputError(f"{path}: {where} has no condition; give keywords, require and/or regex")
        rules.append(Rule(name, label=label, keywords=keywords, require=require, exclude=exclude, regex=regex,
                          case_sensitive=bool(spec.get("case_sensitive", False)), source=f"{path}, {where}"))
    return rules


def load_rules(path, classes: Sequence[str] | None = None) -> list[Rule]:
    """Rules from a ``.py`` file (functions marked ``@fewlabels.rule``) or a ``.toml`` file.

    Parameters
    ----------
    path : str or Path
    classes : class names, optional
        When given, a keyword/regex rule voting for another name is an error now rather
        than when the rules are applied.

    Returns
    -------
    list of Rule, in file order (the column order of L).

    Raises
    ------
    InputError
        The file is missing, cannot be imported (the message shows the Python error and its
        line), is not valid TOML, holds no rules, or two rules share a name.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: rules file not found; check the path")
    if path.suffix == ".py":
        rules = _load_python(path.resolve())
    elif path.suffix == ".toml":
        rules = _load_toml(path)
    else:
        raise InputError(f"{path}: rules must be a .py file (functions marked @fewlabels.rule) or a .toml file")
    if not rules:
        raise InputError(f"{path}: holds no rules; mark functions with @fewlabels.rule, or list keywords per "
                         "class in a .toml file")
    check_rules(rules, classes, path=path)
    return rules


def check_rules(rules: Sequence[Rule], classes: Sequence[str] | None = None, *, path=None) -> None:
    """Raise InputError for two rules with one name, or (with ``classes``) a pattern rule
    voting for a name that is not a class."""
    prefix = f"{path}: " if path is not None else ""
    seen: dict[str, Rule] = {}
    for r in rules:
        if r.name in seen:
            raise InputError(f"{prefix}two rules are named {r.name!r} ({seen[r.name].source or '?'} and "
                             f"{r.source or '?'}); give each rule its own name")
        seen[r.name] = r
        if classes is not None and r.label is not None and r.label not in classes:
            raise InputError(f"{r.source or prefix}: rule {r.name!r} votes {r.label!r}, which is not one of the "
                             f"classes ({', '.join(list(classes)[:20])}); rename it to one of them")
