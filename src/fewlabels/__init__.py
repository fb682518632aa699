"""fewlabels: a calibrated label for every item from a few labels.

Library first: :func:`label` labels a pandas DataFrame, a pyarrow Table or a file and returns
a DataFrame; :func:`label_arrays` works on numpy arrays; :class:`FewLabelsClassifier` is the
scikit-learn estimator; :func:`fewlabels.pipeline.label_table` works
on files.
"""

import os as _os

# OpenMP threads (torch's encoder, scikit-learn) sleep while they wait instead of spinning.
# On a 2-core machine busy with other work a spinning thread takes the core its partner
# needs: a training step of 32 texts took 11-13 s with 2 torch threads against 2.3-3.0 s
# with one, and 2.5 s with 2 passive threads (load average 17, BENCHMARKS.md). Set before
# the OpenMP runtimes start (they read it once); a value the user set is kept. It changes
# no result, only how idle threads wait.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._version import __version__  # noqa: E402
from .errors import FewLabelsError  # noqa: E402
from .labelers import REGISTRY, make_labeler  # noqa: E402
from .options import LabelOptions  # noqa: E402
from .pipeline import label_arrays  # noqa: E402
from .pool import Pool  # noqa: E402
from .result import LabelResult  # noqa: E402
from .signals import rule  # noqa: E402
from .api import label  # noqa: E402
from .estimator import FewLabelsClassifier  # noqa: E402

__all__ = ["FewLabelsClassifier", "FewLabelsError", "LabelOptions", "LabelResult", "Pool", "REGISTRY", "label",
           "label_arrays", "make_labeler", "rule", "__version__"]

