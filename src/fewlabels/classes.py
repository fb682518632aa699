"""Class names (and optional descriptions) from ``--classes`` or ``--classes-file``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, where


@dataclass(frozen=True)
class ClassSpec:
    names: list[str]
    descriptions: dict[str, str]

    def description(self, name: str) -> str | None:
        return self.descriptions.get(name)


def _check(names: list[str], source: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"{source}: class {n!r} is named twice; list each class once")
        seen.add(n)
    if len(names) < 2:
        raise InputError(f"{source}: need at least two classes; got {len(names)} ({', '.join(names) or 'none'})")


def parse_classes(spec: str) -> ClassSpec:
    """``"a,b,c"`` → ClassSpec(["a", "b", "c"])."""
    names = [s.strip() for s in spec.split(",")]
    if any(not n for n in names):
        raise InputError(f"--classes {spec!r}: empty class name; separate names with single commas")
    _check(names, "--classes")
    return ClassSpec(names, {})


def read_classes_file(path) -> ClassSpec:
    """One class per line, optionally ``name: description``; blank lines and ``#`` comments skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: classes file not found; check the path")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the classes file ({exc}); save it as UTF-8 text") from exc
    names, descriptions = [], {}
    for i, line in enumerate(lines):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, desc = line.partition(":")
        name = name.strip()
        if not name:
            raise InputError(f"{where(path)}line {i + 1}: empty class name; write 'name' or 'name: description'")
        if name in descriptions or name in names:
            raise InputError(f"{where(path)}line {i + 1}: class {name!r} is named twice; list each class once")
        names.append(name)
        if desc.strip():
            descriptions[name] = desc.strip()
    _check(names, str(path))
    return ClassSpec(names, descriptions)
