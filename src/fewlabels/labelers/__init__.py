"""Labeling methods: one interface (:mod:`.base`), one registry (:mod:`.registry`)."""

from .base import BaseLabeler, TransductiveLabeler
from .registry import REGISTRY, get_labeler_class, make_labeler

__all__ = ["BaseLabeler", "TransductiveLabeler", "REGISTRY", "get_labeler_class", "make_labeler"]
