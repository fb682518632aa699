"""fewlabels: a calibrated label for every item from a few labels.

Library first: :func:`label_arrays` works on numpy arrays, :func:`label_table` on files.
"""

from ._version import __version__
from .errors import FewLabelsError  # noqa: E402
from .labelers import REGISTRY, make_labeler  # noqa: E402
from .pipeline import label_arrays  # noqa: E402
from .result import LabelResult  # noqa: E402
from .signals import rule  # noqa: E402

__all__ = ["FewLabelsError", "LabelResult", "REGISTRY", "label_arrays", "make_labeler", "rule", "__version__"]
