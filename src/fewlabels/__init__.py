"""fewlabels: a calibrated label for every item from a few labels.

Library first: :func:`label_arrays` works on numpy arrays, :func:`label_table` on files.
"""

__version__ = "0.1.0"

from .errors import FewLabelsError  # noqa: E402
from .labelers import REGISTRY, make_labeler  # noqa: E402
from .pipeline import LabelResult, label_arrays  # noqa: E402
from .signals import rule  # noqa: E402

__all__ = ["FewLabelsError", "LabelResult", "REGISTRY", "label_arrays", "make_labeler", "rule", "__version__"]
