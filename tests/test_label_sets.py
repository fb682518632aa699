"""Multi-label cells read into Y and written back (io/label_sets.py)."""

import numpy as np
import pytest

from fewlabels.errors import InputError
from fewlabels.io.label_sets import (check_multi_label_column, format_label_sets, infer_classes,
                                     parse_label_sets)

CLASSES = ["anger", "joy", "surprise"]


def test_round_trip_keeps_sets_unlabeled_and_none():
    cells = ["joy|surprise", None, "", "anger", "none", " joy | anger "]
    Y = parse_label_sets(cells, CLASSES, none_label="none")
    assert Y.dtype == np.int8 and Y.shape == (6, 3)
    assert Y.tolist() == [[0, 1, 1], [-1] * 3, [-1] * 3, [1, 0, 0], [0, 0, 0], [1, 1, 0]]
    assert format_label_sets(Y, CLASSES, none_label="none") == ["joy|surprise", None, None, "anger", "none", "anger|joy"]


def test_infer_classes_leaves_out_none():
    assert infer_classes(["b|a", None, "none", "c"], none_label="none") == ["a", "b", "c"]


@pytest.mark.parametrize("cell, words", [
    ("joy|fear", ["'fear'", "not one of the classes", "t.csv", "column 'labels'", "row 2"]),
    ("joy||anger", ["empty class name", "row 2"]),
    ("none|joy", ["beside a class", "row 2"]),
])
def test_bad_cells_name_file_column_row(cell, words):
    with pytest.raises(InputError) as err:
        parse_label_sets(["joy", cell], CLASSES, none_label="none", path="t.csv", column="labels")
    for word in words:
        assert word in str(err.value)


def test_separator_inside_a_class_name_is_refused():
    with pytest.raises(InputError, match="contains the separator"):
        parse_label_sets(["a/b"], ["a/b", "c"], sep="/")


def test_single_label_column_is_refused_only_with_many_rows():
    one_each = parse_label_sets(["joy", "anger"] * 30, CLASSES)
    with pytest.raises(InputError, match="single-label column"):
        check_multi_label_column(one_each, path="t.csv", column="labels")
    check_multi_label_column(one_each[:20])  # too few rows to tell: no error
    some_sets = parse_label_sets(["joy", "anger"] * 30 + ["joy|anger"], CLASSES)
    check_multi_label_column(some_sets)
