"""Weak signals: labeling rules, the label matrix L they produce, and its analysis.

Layers that never leak (as in Snorkel): a rule (text → class name or None) → the applier
that builds L (n × m, -1 = abstain) → :func:`analyze` (statistics on L and the given
labels) → label models (:mod:`fewlabels.labelers.label_models`), which see only L.
"""

from .analysis import analyze
from .apply import ApplyResult, apply_rules
from .rules import Rule, load_rules, rule

__all__ = ["ApplyResult", "Rule", "analyze", "apply_rules", "load_rules", "rule"]
