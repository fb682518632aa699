"""The run's settings, in one typed object: :class:`LabelOptions`.

:func:`fewlabels.pipeline.label_table` and :func:`fewlabels.pipeline.label_arrays` take what
the rows are (a table path, or a :class:`fewlabels.pool.Pool`) and one :class:`LabelOptions`:
where the inputs come from (:class:`InputOptions`), how the rows are labeled
(:class:`MethodOptions`) and what is written besides the table (:class:`OutputOptions`).
The CLI, the Python API and the loop build the same object.

Each setting keeps the name of the keyword it replaced, so ``LabelOptions.of(method="logistic",
rules="r.toml")`` puts each keyword in its group; a name that is no setting is an error.

Cost: building options copies nothing; O(number of settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Sequence

#: ``progress(step, done, total)``: told how far a long step is
Progress = Callable[[str, int, int], None]

#: rows above which selection, calibration and the fit run on a core of the pool
#: (:mod:`fewlabels.pool_core`)
CORE_SIZE = 20_000


@dataclass(frozen=True, eq=False)
class InputOptions:
    """Where the rows, their labels, vectors and votes come from (``label_table``).

    Attributes
    ----------
    text_column, label_column : column names (default: ``text``, and ``label`` if present)
    classes : :class:`fewlabels.classes.ClassSpec`, or None for the labels seen
    fold_case : merge given labels that differ only by case
    given : one label or None per row, replacing the label column's values (a label store)
    vectors, vectors_column : a ``.npy`` file of item vectors, or a list column
    encoder_path : the encoder's folder (default: the packaged MiniLM)
    cache : :class:`fewlabels.embed.EmbeddingCache`
    rules, strict_rules : a rules file, and whether a rule that raises stops the run
    votes, votes_column : the user's own label matrix, from a file or a column
    bag_column, proportions, bag_label_column, negative_class : supervision on bags of rows
    """

    text_column: str | None = None
    label_column: str | None = None
    classes: Any = None
    fold_case: bool = False
    given: Sequence | None = None
    vectors: Any = None
    vectors_column: str | None = None
    encoder_path: Any = None
    cache: Any = None
    rules: Any = None
    strict_rules: bool = False
    votes: Any = None
    votes_column: str | None = None
    bag_column: str | None = None
    proportions: Any = None
    bag_label_column: str | None = None
    negative_class: str | None = None

    @property
    def has_bags(self) -> bool:
        """Whether the supervision is on bags of rows rather than on rows."""
        return self.bag_column is not None or self.proportions is not None or self.bag_label_column is not None


@dataclass(frozen=True, eq=False)
class MethodOptions:
    """How the rows are labeled.

    Attributes
    ----------
    method : "auto" or a registry name
    candidates : names tried by "auto" (default: the pipeline's ``AUTO_CANDIDATES``, plus
        ``RULE_CANDIDATES`` with votes)
    n_splits, n_neighbors : folds of the selection; neighbours of the k-NN graph
    random_state : seed of every random choice
    core_size : above this many rows, the work runs on a core of the pool; None: never
    fit_end_model : fit the classifier on X that labels new rows
    finetune, time_budget, finetune_params, model_cache : the fine-tuned encoder as a
        candidate (:mod:`fewlabels.finetuned`; ``label_table`` only)
    unknown, unknown_options : mark rows of no named class (:func:`fewlabels.groups.mark_unknown`);
        an operating point in ``unknown_options`` implies ``unknown``
    """

    method: str = "auto"
    candidates: Sequence[str] | None = None
    n_splits: int = 5
    n_neighbors: int = 10
    random_state: int | None = 0
    core_size: int | None = CORE_SIZE
    fit_end_model: bool = True
    finetune: str = "auto"
    time_budget: float = 300.0
    finetune_params: Any = None
    model_cache: Any = None
    unknown: bool = False
    unknown_options: dict | None = None


@dataclass(frozen=True, eq=False)
class OutputOptions:
    """What is written besides the labeled table.

    Attributes
    ----------
    report_path : the JSON report
    save_model : the end model's folder
    extra_columns : ``extra_columns(result, y)`` returns more output columns ({name: pyarrow
        array}), added after the three, and may add to ``result.report`` before it is written
    """

    report_path: Any = None
    save_model: Any = None
    extra_columns: Callable | None = None


_GROUPS = {"inputs": InputOptions, "methods": MethodOptions, "outputs": OutputOptions}
#: setting name -> the group that holds it
_GROUP_OF = {f.name: group for group, cls in _GROUPS.items() for f in fields(cls)}


@dataclass(frozen=True, eq=False)
class LabelOptions:
    """The settings of one labeling run: inputs, methods, outputs."""

    inputs: InputOptions = field(default_factory=InputOptions)
    methods: MethodOptions = field(default_factory=MethodOptions)
    outputs: OutputOptions = field(default_factory=OutputOptions)

    @classmethod
    def of(cls, **settings) -> LabelOptions:
        """Options from flat keywords (``method=``, ``rules=``, ``report_path=``, ...)."""
        return cls().replace(**settings)

    def replace(self, **settings) -> LabelOptions:
        """A copy with the flat keywords ``settings`` changed; the options never change."""
        unknown = sorted(set(settings) - set(_GROUP_OF))
        if unknown:
            raise TypeError(f"not a labeling setting: {', '.join(unknown)}")
        changes = {}
        for group in _GROUPS:
            mine = {k: v for k, v in settings.items() if _GROUP_OF[k] == group}
            if mine:
                changes[group] = replace(getattr(self, group), **mine)
        return replace(self, **changes)


#: every setting's name, for callers that sort keywords into settings and the rest
SETTINGS: frozenset[str] = frozenset(_GROUP_OF)
