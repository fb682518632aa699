"""Weak signals: labeling rules, the label matrix L they produce, and its analysis.

Layers that never leak (as in Snorkel): a rule (text → class name or None) → the applier
that builds L (n × m, -1 = abstain) → :func:`analyze` (statistics on L and the given
labels) → label models (:mod:`fewlabels.labelers.label_models`), which see only L.
:func:`synthesize_rules` proposes keyword rules from a few labeled texts.
"""

from .analysis import analyze
from .apply import ApplyResult, apply_rules
from .rules import Rule, load_rules, rule
from .synthesis import SynthesisResult, synthesize_rules

__all__ = ["ApplyResult", "Rule", "SynthesisResult", "analyze", "apply_rules", "load_rules", "rule",
           "synthesize_rules"]
