"""Label Studio files: the JSON export read as (key, label) pairs, and the labeling config
(XML) that fewlabels' own export imports with.

Layout (Label Studio's documented JSON export): a list of tasks, each
``{"data": {...}, "annotations": [{"result": [{"from_name", "to_name", "type": "choices",
"value": {"choices": [name]}}], "was_cancelled": bool}]}``. fewlabels labels are single-label:
one class per row.

Cost: O(size of the file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from .row_keys import text_key


def label_studio_config(classes: Sequence[str], *, from_name: str = "label", to_name: str = "text") -> str:
    """A Label Studio labeling config (XML) for single-label text classification over ``classes``:
    the task's ``data.text`` shown, one choice among the classes."""
    from xml.sax.saxutils import quoteattr

    choices = "".join(f"    <Choice value={quoteattr(c)}/>\n" for c in classes)
    return (f"<View>\n  <Text name={quoteattr(to_name)} value=\"$text\"/>\n"
            f"  <Choices name={quoteattr(from_name)} toName={quoteattr(to_name)} choice=\"single\" "
            f"showInLine=\"true\">\n{choices}  </Choices>\n</View>\n")


def read_label_studio(path, *, id_field: str | None = None) -> list[tuple[str, str]]:
    """(key, label) pairs from a Label Studio JSON export (a list of tasks).

    A task's key is ``data.fewlabels_key``, else ``data[id_field]``, else the text hash of
    ``data.text``. Its label is the choice of its latest annotation that was not cancelled
    (``value.choices``: a list of one name, or a name); tasks without one are skipped. Labels
    are single: an annotation with two or more choices is an error, not its first choice kept."""
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); save the export as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); give a Label Studio JSON export") from None
    if not isinstance(tasks, list):
        raise InputError(f"{path}: a Label Studio export is a JSON list of tasks; got {type(tasks).__name__}")
    out = []
    for i, task in enumerate(tasks):
        at = f"{path}, task {i + 1}"
        if not isinstance(task, dict) or not isinstance(task.get("data", {}), dict):
            raise InputError(f"{at}: a task must be an object with a 'data' object; got {_short(task)}")
        key = _task_key(task.get("data", {}), id_field, at)
        label = _task_label(task, at)
        if label is not None:
            out.append((key, label))
    return out


def _short(v) -> str:
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _task_key(data: dict, id_field, at) -> str:
    if data.get("fewlabels_key") is not None:
        return str(data["fewlabels_key"])
    if id_field and data.get(id_field) is not None:
        return str(data[id_field])
    if isinstance(data.get("text"), str):
        return text_key(data["text"])
    raise InputError(f"{at} has no data.fewlabels_key, no data.text" + (f" and no data.{id_field}" if id_field else "")
                     + "; cannot tell which row it is (pass --id-field NAME for the data field holding the row id)")


def _task_label(task: dict, at) -> str | None:
    """The one choice of the task's latest annotation that was not cancelled, or None."""
    anns = task.get("annotations")
    if anns is None:
        return None
    if not isinstance(anns, list):
        raise InputError(f"{at}: 'annotations' must be a list of annotations; got {_short(anns)}")
    for j, ann in enumerate(reversed(anns)):
        where_ = f"{at}, annotation {len(anns) - j}"
        if not isinstance(ann, dict):
            raise InputError(f"{where_}: must be an object with a 'result' list; got {_short(ann)}")
        if ann.get("was_cancelled"):
            continue
        results = ann.get("result") or []
        if not isinstance(results, list):
            raise InputError(f"{where_}: 'result' must be a list; got {_short(results)}")
        chosen: list[str] = []
        for res in results:
            value = res.get("value") if isinstance(res, dict) else None
            choices = value.get("choices") if isinstance(value, dict) else None
            if choices is None:
                continue
            if isinstance(choices, str):
                choices = [choices]
            if not isinstance(choices, list) or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                                                        for c in choices):
                raise InputError(f"{where_}: value.choices must be a list of class names; got {_short(choices)}")
            chosen += [str(c).strip() for c in choices if str(c).strip() and str(c).strip() not in chosen]
        if len(chosen) > 1:
            raise InputError(f"{where_}: {len(chosen)} choices {chosen}; fewlabels labels are single-label "
                             "(one class per row): keep one choice, or use choice=\"single\" in the labeling config")
        if chosen:
            return chosen[0]
    return None
