"""Rules files, the label matrix they build, and its analysis; bad rules give clear errors."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from fewlabels.errors import InputError
from fewlabels.signals import analyze, apply_rules, load_rules

CLASSES = ["ham", "spam"]
TEXTS = ["WIN a FREE prize now", "see you at lunch", "free entry, txt STOP", "call me later", "lunch?"]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_python_rules_build_the_label_matrix(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        @rule
        def mentions_free(text):
            return "spam" if "free" in text.lower() else None

        @rule(name="lunch_is_ham")
        def lunch(text):
            return "ham" if "lunch" in text else None

        def helper(text):  # not a rule
            return "spam"
    """)
    rules = load_rules(path)
    assert [r.name for r in rules] == ["mentions_free", "lunch_is_ham"]
    res = apply_rules(TEXTS, rules, CLASSES)
    np.testing.assert_array_equal(res.L, [[1, -1], [-1, 0], [1, -1], [-1, -1], [-1, 0]])
    assert res.rule_names == ["mentions_free", "lunch_is_ham"] and res.errors == []
    assert set(res.seconds) == {"mentions_free", "lunch_is_ham"}


def test_toml_rules_are_whole_word_case_insensitive(tmp_path):
    path = write(tmp_path, "rules.toml", """
        [spam]
        keywords = ["free", "txt stop"]
        regex = ['\\bprize\\b']

        [ham]
        keywords = ["lunch"]
    """)
    res = apply_rules(TEXTS, load_rules(path), CLASSES)
    assert res.rule_names == ["spam:keyword:free", "spam:keyword:txt stop", "spam:regex:\\bprize\\b",
                              "ham:keyword:lunch"]
    np.testing.assert_array_equal(res.L[:, 0], [1, -1, 1, -1, -1])
    np.testing.assert_array_equal(res.L[:, 1], [-1, -1, 1, -1, -1])
    np.testing.assert_array_equal(res.L[:, 3], [-1, 0, -1, -1, 0])


def test_analysis_counts_coverage_overlaps_conflicts_and_accuracy():
    L = np.array([[1, 1], [0, 1], [-1, 0], [-1, -1]])
    y = np.array([1, 0, -1, -1])
    a = analyze(L, ["r0", "r1"], CLASSES, y)
    r0, r1 = a["rules"]
    assert r0["coverage"] == 0.5 and r1["coverage"] == 0.75
    assert r0["overlaps"] == 0.5 and r0["conflicts"] == 0.25
    assert r0["accuracy"] == 1.0 and r0["n_labeled"] == 2
    assert r1["accuracy"] == 0.5 and r1["polarity"] == ["ham", "spam"]
    assert a["totals"] == {"rows": 4, "rules": 2, "coverage": 0.75, "overlaps": 0.5, "conflicts": 0.25}


def test_rule_that_raises_is_reported_with_its_row_unless_strict(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        @rule
        def fragile(text):
            if text == "call me later":
                raise ValueError("boom")
            return "ham"
    """)
    res = apply_rules(TEXTS, load_rules(path), CLASSES)
    assert res.errors == [{"rule": "fragile", "row": 4, "error": "ValueError: boom", "count": 1}]
    assert res.L[3, 0] == -1 and res.L[0, 0] == 0
    with pytest.raises(InputError, match=r"rule 'fragile' raised on row 4 \(ValueError: boom\)"):
        apply_rules(TEXTS, load_rules(path), CLASSES, strict=True)


# -- bad input ---------------------------------------------------------------------------


def test_missing_rules_file(tmp_path):
    with pytest.raises(InputError, match="rules file not found"):
        load_rules(tmp_path / "nope.py")


def test_rules_file_not_importable_shows_error_and_line(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        x = 1 / 0
    """)
    with pytest.raises(InputError, match=r"rules\.py, line 4: cannot import the rules file \(ZeroDivisionError"):
        load_rules(path)
    bad = write(tmp_path, "syntax.py", "def broken(:\n    pass\n")
    with pytest.raises(InputError, match=r"syntax\.py, line 1: .*SyntaxError"):
        load_rules(bad)


def test_rule_returning_unknown_class_names_rule_row_and_value(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        @rule
        def shouty(text):
            return "SPAM" if text.isupper() or "FREE" in text else None
    """)
    with pytest.raises(InputError, match=r"rule 'shouty' returned 'SPAM' on row 1, which is not one of the classes"):
        apply_rules(TEXTS, load_rules(path), CLASSES)
    toml = write(tmp_path, "r.toml", '[junk]\nkeywords = ["free"]\n')
    with pytest.raises(InputError, match="votes 'junk', which is not one of the classes"):
        apply_rules(TEXTS, load_rules(toml), CLASSES)


def test_two_rules_with_one_name(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        @rule(name="same")
        def a(text):
            return None

        @rule(name="same")
        def b(text):
            return None
    """)
    with pytest.raises(InputError, match="two rules are named 'same'"):
        load_rules(path)


def test_no_rules_in_file(tmp_path):
    with pytest.raises(InputError, match="holds no rules"):
        load_rules(write(tmp_path, "rules.py", "x = 1\n"))
    with pytest.raises(InputError, match="holds no rules"):
        load_rules(write(tmp_path, "rules.toml", "# nothing yet\n"))


def test_all_rules_abstaining_everywhere(tmp_path):
    path = write(tmp_path, "rules.toml", '[spam]\nkeywords = ["viagra"]\n')
    with pytest.raises(InputError, match="no rule voted on any of the 5 rows"):
        apply_rules(TEXTS, load_rules(path), CLASSES)


def test_slow_rules_are_reported(tmp_path):
    path = write(tmp_path, "rules.py", """
        import time
        from fewlabels import rule

        @rule
        def slow(text):
            time.sleep(0.01)
            return "ham"

        @rule
        def quick(text):
            return None
    """)
    res = apply_rules(TEXTS, load_rules(path), CLASSES)
    assert res.slowest(1)[0][0] == "slow" and res.seconds["slow"] >= 0.05


def test_bad_toml_and_bad_regex(tmp_path):
    with pytest.raises(InputError, match="not valid TOML"):
        load_rules(write(tmp_path, "a.toml", "[spam\n"))
    with pytest.raises(InputError, match=r"regex '\(' is invalid"):
        load_rules(write(tmp_path, "b.toml", "[spam]\nregex = ['(']\n"))
    with pytest.raises(InputError, match="unknown key"):
        load_rules(write(tmp_path, "c.toml", "[spam]\nwords = ['x']\n"))
