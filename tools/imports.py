"""Count the import circles and the arrows that run up in ``src/fewlabels``.

Run from the repository root (standard library only, nothing of the project is imported)::

    python tools/imports.py            # counts, then every circle and every upward arrow
    python tools/imports.py --quiet    # counts only
    python tools/imports.py --check    # exit 1 if there is a circle or an upward arrow

Every ``import`` counts, also one inside a function: it still ties the two files together.
A *room* is a top-level module (``graph.py``) or a subpackage folder taken whole
(``labelers/``); a *circle* is a set of rooms, or of files, that import each other in a loop.
Each room has a *layer* from :data:`LAYERS` (bottom first, as in ARCHITECTURE.md); an *upward
arrow* is an import from a room to a room on a higher layer. A room missing from
:data:`LAYERS` is reported, so a new file has to be placed on purpose.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = "fewlabels"

#: the layers, bottom first (ARCHITECTURE.md); a room may import its own layer and the ones below
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("_version.py", "errors.py", "validation.py", "classes.py", "calibrate.py", "pool.py", "options.py", "ann.py", "threads.py",
                "engine/")),
    ("files", ("io/", "outputs.py", "bags.py")),
    ("vectors", ("embed/", "graph.py")),
    ("methods", ("labelers/",)),
    ("steps", ("steps/", "select.py", "endmodel.py", "pool_core.py", "learning_curve.py", "zero_label_estimate.py",
               "text_vectors.py", "signals/", "result.py", "result_view.py", "report/", "plan.py", "audit.py", "honesty.py")),
    ("candidates", ("groups.py", "finetuned.py")),
    ("pipeline", ("pipeline.py",)),
    ("faces", ("__init__.py", "__main__.py", "api.py", "estimator.py", "cli_help.py", "demo.py", "discover.py", "loop/", "cli.py")),
]


def module_files(src: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``src/<PACKAGE>``."""
    out = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_modules(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that the file at ``path`` (module ``name``) imports anywhere."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import sub`` imports the submodule when one exists, else a name of pkg
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def room_of(module: str) -> str:
    """``fewlabels.labelers.base`` -> ``labelers/``; ``fewlabels.graph`` -> ``graph.py``."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    return parts[0] + "/" if len(parts) > 1 or parts[0] in PACKAGES else parts[0] + ".py"


PACKAGES: set[str] = set()


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected parts with more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        part.append(member)
                        if member == node:
                            break
                    if len(part) > 1:
                        out.append(sorted(part))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default="src", help="the folder that holds the package (default: src)")
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    parser.add_argument("--check", action="store_true", help="exit 1 on a circle or an upward arrow")
    args = parser.parse_args(argv)
    src = Path(args.src)
    modules = module_files(src)
    PACKAGES.update(m.split(".")[1] for m, p in modules.items() if p.name == "__init__.py" and m.count(".") == 1)
    files = {m: imported_modules(p, m, modules) for m, p in modules.items()}
    rooms: dict[str, set[str]] = {}
    for module, targets in files.items():
        rooms.setdefault(room_of(module), set()).update(
            room_of(t) for t in targets if room_of(t) != room_of(module))
    layer = {room: i for i, (_, members) in enumerate(LAYERS) for room in members}
    unplaced = sorted(room for room in rooms if room not in layer)
    upward = sorted((a, b) for a, targets in rooms.items() for b in targets
                    if a in layer and b in layer and layer[b] > layer[a])
    file_circles = circles(files)
    room_circles = circles(rooms)
    print(f"rooms: {len(rooms)}  files: {len(files)}  file circles: {len(file_circles)}  "
          f"room circles: {len(room_circles)}  upward arrows: {len(upward)}  unplaced rooms: {len(unplaced)}")
    if not args.quiet:
        for part in file_circles:
            print(f"file circle of {len(part)}: " + ", ".join(m.removeprefix(PACKAGE + ".") for m in part))
        for part in room_circles:
            print(f"room circle of {len(part)}: " + ", ".join(part))
        for a, b in upward:
            print(f"upward: {a} ({LAYERS[layer[a]][0]}) -> {b} ({LAYERS[layer[b]][0]})")
        for room in unplaced:
            print(f"unplaced: {room} (add it to LAYERS in {Path(__file__).name})")
    bad = file_circles or room_circles or upward or unplaced
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
