"""What a run may write, checked before any work; and its outputs committed all together.

:func:`check_paths` is the one output guard. Every path a run writes (``--out``,
``--report``, ``--save-model``, ...) is checked against every path it reads (the table,
``--rules``, ``--classes-file``, ``--vectors``, ``--encoder``, the model folder), against
the stores it reads and writes (``--cache``) and against the other outputs, so a failed or
refused run never changes a user's file:

* an output may not be an input or a store, lie inside an input folder, or contain one;
* two outputs may not be the same path or nest;
* an existing output file must be a file with a write permission bit (a file the user made
  read-only is not replaced), and ``--save-model`` may replace only an empty folder or a
  fewlabels model folder (never a file or another folder).

:class:`Outputs` stages each output beside its target (a hidden temporary file or folder)
and :meth:`Outputs.commit` renames them all into place at the end. A failure while staging
leaves every target as it was; a failure while renaming puts back the ones already
renamed, so a run changes all of its outputs or none.

Cost: a few ``stat`` calls per pair of paths; the commit is one rename per output (plus a
hard link per existing file, kept until the commit succeeds).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

#: files ``EndModel.save`` writes; a folder holding only these (or a model.json of a
#: fewlabels model) is a model folder that ``--save-model`` may replace
MODEL_FILES = ("model.json", "model.npz")
MODEL_KIND = "fewlabels.EndModel"

#: options whose path is a folder written as a whole
FOLDER_OUTPUTS = frozenset({"--save-model"})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _resolve(p) -> Path:
    try:
        return Path(p).expanduser().resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(p))


def same_path(a, b) -> bool:
    """True when ``a`` and ``b`` name the same file or folder (links and ``..`` resolved)."""
    ra, rb = _resolve(a), _resolve(b)
    if ra == rb:
        return True
    try:
        return Path(a).exists() and Path(b).exists() and os.path.samefile(a, b)
    except OSError:
        return False


def inside(a, folder) -> bool:
    """True when ``a`` lies strictly inside ``folder``."""
    ra, rf = _resolve(a), _resolve(folder)
    return ra != rf and rf in ra.parents


def _what(option: str) -> str:
    if option == "input":
        return "the input file"
    if option == "model":
        return "the model folder"
    return f"the {option} " + ("folder" if option in ("--encoder",) else "file")


def is_model_folder(path) -> bool:
    """A folder ``--save-model`` may replace: empty, holding only model files, or with a
    ``model.json`` of a fewlabels model."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return False
    names = {p.name for p in path.iterdir()}
    if not names or names <= set(MODEL_FILES):
        return True
    try:
        meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("kind") == MODEL_KIND


def _check_file_target(path: Path, option: str) -> None:
    if path.is_dir():
        raise InputError(f"{path}: {option} is a folder; give a file path")
    if path.exists() or path.is_symlink():
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise InputError(f"{path}: {option} cannot be replaced ({exc.strerror or exc}); "
                             "choose another path") from exc
        if not stat.S_ISREG(mode):
            raise InputError(f"{path}: {option} exists and is not a regular file; choose another path")
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise InputError(f"{path}: {option} exists and is read-only; make it writable (chmod u+w) "
                             "or choose another path")
    _check_parent(path, option)


def _check_parent(path: Path, option: str) -> None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InputError(f"{path}: cannot write {option} there ({parent} is not a writable folder); "
                         "choose another path")


def _check_folder_target(path: Path, option: str) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise InputError(f"{path}: {option} is an existing file, and a model is saved as a folder; "
                         "give the path of a new folder or of a model folder to replace")
    if path.is_dir() and not is_model_folder(path):
        raise InputError(f"{path}: {option} is a folder that is not a fewlabels model (it holds other files); "
                         "give the path of a new folder or of a model folder to replace")
    _check_parent(path, option)


def check_paths(reads: Mapping[str, object], writes: Mapping[str, object],
                stores: Mapping[str, object] | None = None) -> None:
    """Raise :class:`InputError` before any work if a run would change a file it must not.

    Parameters
    ----------
    reads : option name → path read (``"input"`` for the table, ``"model"`` for a model
        folder, else the option, e.g. ``"--rules"``); None values are skipped
    writes : option name → path written (``"--out"``, ``"--report"``, ``"--save-model"``,
        ...); options in :data:`FOLDER_OUTPUTS` are folders
    stores : option name → path read and written in place (``"--cache"``): it may not be an
        input or an output
    """
    reads = {k: Path(v) for k, v in reads.items() if v is not None}
    writes = {k: Path(v) for k, v in writes.items() if v is not None}
    stores = {k: Path(v) for k, v in (stores or {}).items() if v is not None}
    for opt, w in writes.items():
        for ropt, r in {**reads, **stores}.items():
            if same_path(w, r):
                raise InputError(f"{w}: {opt} is {_what(ropt)}; choose another path (inputs are never "
                                 "overwritten)")
            if inside(w, r):
                raise InputError(f"{w}: {opt} is inside {_what(ropt)} {r}; choose a path outside it")
            if opt in FOLDER_OUTPUTS and inside(r, w):
                raise InputError(f"{w}: {opt} holds {_what(ropt)} {r}, and saving replaces the folder; "
                                 "choose another folder")
    for sopt, s in stores.items():
        for ropt, r in reads.items():
            if same_path(s, r) or inside(s, r):
                raise InputError(f"{s}: {sopt} is {_what(ropt)}" + ("" if same_path(s, r) else f" {r}")
                                 + f"; give {sopt} its own path")
    opts = list(writes)
    for i, a in enumerate(opts):
        for b in opts[i + 1:]:
            if same_path(writes[a], writes[b]):
                raise InputError(f"{writes[a]}: {a} and {b} name the same path; give each its own")
            for x, y in ((a, b), (b, a)):
                if inside(writes[y], writes[x]):
                    raise InputError(f"{writes[y]}: {y} is inside the {x} folder {writes[x]}; "
                                     "give each output its own path")
    for opt, w in writes.items():
        (_check_folder_target if opt in FOLDER_OUTPUTS else _check_file_target)(w, opt)


# ---------------------------------------------------------------------------------------
# Staging and the all-or-nothing commit
# ---------------------------------------------------------------------------------------


def _oserror(target: Path, option: str, exc: OSError) -> InputError:
    return InputError(f"{target}: cannot write {option} ({exc.strerror or exc}); no output was changed. "
                      "Check the folder's permissions and free space, or choose another path")


class Outputs:
    """A run's outputs, staged beside their targets and renamed into place together.

    Use as a context manager: on a normal exit :meth:`commit` runs, on an exception every
    staged file is removed and no target changes::

        with Outputs() as outs:
            outs.table(table, out_path, "--out")
            outs.json(report, report_path, "--report")
            outs.folder(model_dir, "--save-model", lambda tmp: model.save_files(tmp, meta))
    """

    def __init__(self):
        self._staged: list[tuple[Path, Path, str, bool]] = []  # (tmp, target, option, is_folder)
        self.committed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False

    @property
    def targets(self) -> list[Path]:
        return [t for _, t, _, _ in self._staged]

    @contextmanager
    def file(self, target, option: str = "output"):
        """Yield a temporary path beside ``target`` to write; staged for the commit."""
        target = Path(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
        except OSError as exc:
            raise _oserror(target, option, exc) from exc
        tmp = Path(tmp)
        try:
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _oserror(target, option, exc) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._staged.append((tmp, target, option, False))

    def folder(self, target, option: str, write: Callable[[Path], None]) -> None:
        """Stage a folder: ``write(tmp_folder)`` fills a new hidden folder beside ``target``."""
        target = Path(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
            os.chmod(tmp, 0o777 & ~_umask())
        except OSError as exc:
            raise _oserror(target, option, exc) from exc
        try:
            write(tmp)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _oserror(target, option, exc) from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._staged.append((tmp, target, option, True))

    def table(self, table, target, option: str = "--out") -> None:
        """Stage a pyarrow table in the format of ``target``'s extension."""
        from .io import write_table_to

        with self.file(target, option) as tmp:
            write_table_to(table, tmp, target)

    def json(self, obj, target, option: str = "--report") -> None:
        """Stage a JSON document."""
        from .io import json_text

        with self.file(target, option) as tmp:
            tmp.write_text(json_text(obj), encoding="utf-8")

    def discard(self) -> None:
        """Remove every staged file; no target changes."""
        for tmp, _, _, is_folder in self._staged:
            if is_folder:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        self._staged.clear()

    def commit(self) -> None:
        """Rename every staged output onto its target; all or none.

        An existing file is first hard-linked to a hidden backup (copied where links are not
        supported) and replaced atomically; an existing folder is moved aside, then replaced.
        If any rename fails, the outputs already renamed are put back from their backups."""
        done: list[tuple[Path, Path, bool, Path | None]] = []  # (target, tmp, is_folder, backup)
        try:
            for tmp, target, option, is_folder in self._staged:
                backup = None
                try:
                    if is_folder:
                        if target.exists():
                            backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                                           dir=target.parent))
                            backup.rmdir()
                            os.replace(target, backup)
                        done.append((target, tmp, True, backup))
                        os.replace(tmp, target)
                    else:
                        if target.exists():
                            backup = target.with_name(f".{target.name}.{os.getpid()}.old")
                            backup.unlink(missing_ok=True)
                            try:
                                os.link(target, backup)
                            except OSError:
                                shutil.copy2(target, backup)
                        done.append((target, tmp, False, backup))
                        os.replace(tmp, target)
                except OSError as exc:
                    raise _oserror(target, option, exc) from exc
        except BaseException:
            self._rollback(done)
            self.discard()
            raise
        for _, _, is_folder, backup in done:
            if backup is not None:
                if is_folder:
                    shutil.rmtree(backup, ignore_errors=True)
                else:
                    backup.unlink(missing_ok=True)
        self._staged.clear()
        self.committed = True

    @staticmethod
    def _rollback(done) -> None:
        for target, tmp, is_folder, backup in reversed(done):
            try:
                if is_folder:
                    if not tmp.exists() and target.exists():  # the new folder was moved in
                        shutil.rmtree(target, ignore_errors=True)
                    if backup is not None:
                        os.replace(backup, target)
                elif tmp.exists():  # never renamed: the target is unchanged, the backup a spare link
                    if backup is not None:
                        backup.unlink(missing_ok=True)
                elif backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink(missing_ok=True)
            except OSError:  # pragma: no cover - best effort; the backup keeps the old content
                pass
