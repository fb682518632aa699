"""fewlabels: a calibrated label for every item from a few labels.

Library first: :func:`label` labels a pandas DataFrame, a pyarrow Table or a file and returns
a DataFrame; :func:`label_arrays` works on numpy arrays; :class:`FewLabelsClassifier` is the
scikit-learn estimator; :func:`fewlabels.pipeline.label_table` works
on files.
"""

__version__ = "0.1.0"

from .errors import FewLabelsError  # noqa: E402
from .labelers import REGISTRY, make_labeler  # noqa: E402
from .pipeline import LabelResult, label_arrays  # noqa: E402
from .signals import rule  # noqa: E402
from .api import label  # noqa: E402
from .estimator import FewLabelsClassifier  # noqa: E402

__all__ = ["FewLabelsClassifier", "FewLabelsError", "LabelResult", "REGISTRY", "label", "label_arrays", "make_labeler",
           "rule", "__version__"]

