"""LabelOptions: flat keywords land in their group; the entry points take few parameters."""

import inspect

import pytest

from fewlabels import LabelOptions
from fewlabels.options import SETTINGS, InputOptions, MethodOptions, OutputOptions
from fewlabels.pipeline import label_arrays, label_table


def test_keywords_land_in_their_group_and_the_rest_keep_defaults():
    opts = LabelOptions.of(method="logistic", rules="r.toml", report_path="rep.json", n_splits=3)
    assert opts.methods.method == "logistic" and opts.methods.n_splits == 3
    assert opts.inputs.rules == "r.toml" and opts.outputs.report_path == "rep.json"
    assert opts.methods.random_state == 0 and opts.methods.finetune == "auto" and opts.inputs.votes is None


def test_replace_returns_a_copy_and_refuses_a_name_that_is_no_setting():
    opts = LabelOptions.of(method="logistic")
    other = opts.replace(method="prototype", votes="L.npy")
    assert opts.methods.method == "logistic" and opts.inputs.votes is None
    assert other.methods.method == "prototype" and other.inputs.votes == "L.npy"
    with pytest.raises(TypeError, match="not a labeling setting: metod"):
        LabelOptions.of(metod="logistic")
    with pytest.raises(AttributeError):
        opts.methods = MethodOptions()  # frozen


def test_every_setting_is_in_exactly_one_group():
    names = [f for cls in (InputOptions, MethodOptions, OutputOptions) for f in cls.__dataclass_fields__]
    assert len(names) == len(set(names)) == len(SETTINGS)


def test_the_entry_points_take_at_most_six_parameters():
    for fn in (label_arrays, label_table):
        assert len(inspect.signature(fn).parameters) <= 6, fn.__name__
