"""The labeling loop, a layer above the pipeline: which rows to label next (:mod:`.suggest`),
suspected label errors (:mod:`.label_issues`), a SQLite label store (:mod:`.store`) and a
local review page (:mod:`.review`). It calls the library; the library never calls it."""

from .label_issues import LabelIssues, find_label_issues
from .suggest import Suggestion, suggest

__all__ = ["LabelIssues", "Suggestion", "find_label_issues", "suggest"]
