"""Rules files, the label matrix they build, and its analysis; bad rules give clear errors."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from fewlabels import rule
from fewlabels.errors import InputError
from fewlabels.signals import Rule, analyze, apply_rules, load_rules
from fewlabels.signals.match import keyword_pattern

CLASSES = ["ham", "spam"]
TEXTS = ["WIN a FREE prize now", "see you at lunch", "free entry, txt: STOP", "call me later", "lunch?"]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


# -- loading and applying ------------------------------------------------------------------


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
    assert rules[0].source.endswith("rules.py, line 4")
    res = apply_rules(TEXTS, rules, CLASSES)
    assert res.L.dtype == np.int8
    np.testing.assert_array_equal(res.L, [[1, -1], [-1, 0], [1, -1], [-1, -1], [-1, 0]])
    assert res.rule_names == ["mentions_free", "lunch_is_ham"] and res.errors == []
    assert rules[1]("lunch at 1?") == "ham"


def test_decorator_leaves_the_function_usable():
    @rule
    def f(text):
        return "spam"

    assert f("x") == "spam" and f.__fewlabels_rule__ == "f"
    assert rule(name="other")(f).__fewlabels_rule__ == "other"


def test_toml_keywords_are_whole_words_case_insensitive_and_phrases_span_punctuation(tmp_path):
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
    np.testing.assert_array_equal(res.L.T, [[1, -1, 1, -1, -1],    # "FREE", "free"
                                            [-1, -1, 1, -1, -1],   # "txt: STOP"
                                            [1, -1, -1, -1, -1],   # "prize"
                                            [-1, 0, -1, -1, 0]])   # "lunch", "lunch?"


def test_keywords_do_not_match_inside_words():
    r = Rule("r", label="spam", keywords=("caf", "win"))
    assert [r(t) for t in ["café", "a caf!", "window", "WIN", "_win", "win2", "win-win"]] == \
        [None, "spam", None, "spam", None, None, "spam"]
    assert Rule("p", label="spam", keywords=("£",))("only £5") == "spam"


def test_combined_toml_rule_needs_every_condition(tmp_path):
    path = write(tmp_path, "rules.toml", """
        [[rule]]
        name = "link_and_subscribe"
        class = "spam"
        keywords = ["subscribe", "my channel"]
        require = ["http"]
        exclude = ["unsubscribe"]
        regex = 'https?://'
    """)
    (r,) = load_rules(path)
    texts = ["subscribe http://x", "subscribe to me", "my channel: http://y", "my channel https://y", "unsubscribe subscribe http://z",
             "http://a"]
    np.testing.assert_array_equal(apply_rules(texts, [r], CLASSES).L[:, 0], [1, -1, 1, -1, -1, -1])  # "https" is not the word "http"


def test_regex_that_re2_cannot_run_falls_back_to_python_re():
    r = Rule("r", label="spam", regex=r"(?<!un)subscribe")
    assert not r._matchers[0][1].re2
    np.testing.assert_array_equal(apply_rules(["subscribe", "unsubscribe"], [r], CLASSES).L[:, 0], [1, -1])


def test_regex_case_sensitivity():
    loud = Rule("loud", label="spam", regex=r"[A-Z]{4,}", case_sensitive=True)
    assert loud("FREE cash") == "spam" and loud("free cash") is None
    assert Rule("any", label="spam", regex=r"[A-Z]{4,}")("free cash") == "spam"


def test_keyword_pattern_escapes_regex_characters():
    assert keyword_pattern(["a.b"]) == r"(?:(?:^|[^\pL\pN_])a\.b(?:$|[^\pL\pN_]))"
    assert Rule("r", label="spam", keywords=("c++",))("I love c++ and c") == "spam"
    assert Rule("r", label="spam", keywords=("c++",))("I love cxx") is None


def test_chunks_progress_and_missing_texts(tmp_path):
    calls = []
    rules = [Rule("free", label="spam", keywords=("free",)), Rule("py", func=lambda t: "ham" if t == "" else None)]
    res = apply_rules(["free", None, "x", "free x", ""], rules, CLASSES, chunk_size=2,
                      progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    np.testing.assert_array_equal(res.L, [[1, -1], [-1, 0], [-1, -1], [1, -1], [-1, 0]])


def test_timings_report_the_slowest_rules(tmp_path):
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
    top = res.timings(1)[0]
    assert top["rule"] == "slow" and top["us_per_row"] >= 1e4
    assert [t["rule"] for t in res.timings()] == ["slow", "quick"]


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
    assert res.errors == [{"rule": "fragile", "row": 4, "error": "ValueError: boom", "line": 7, "count": 1}]
    assert res.L[3, 0] == -1 and res.L[0, 0] == 0
    with pytest.raises(InputError, match=r"rule 'fragile' raised on row 4 \(line 7 of the rules file\): "
                                         r"ValueError: boom"):
        apply_rules(TEXTS, load_rules(path), CLASSES, strict=True)


# -- analysis ---------------------------------------------------------------------------------


def test_analysis_counts_coverage_overlaps_conflicts_and_accuracy():
    L = np.array([[1, 1, -1], [0, 1, -1], [-1, 0, 0], [-1, -1, -1]])
    y = np.array([1, 0, 0, -1])
    a = analyze(L, ["r0", "r1", "r2"], CLASSES, y)
    r0, r1, r2 = a["rules"]
    assert (r0["coverage"], r0["overlaps"], r0["conflicts"]) == (0.5, 0.5, 0.25)
    assert (r1["coverage"], r1["overlaps"], r1["conflicts"]) == (0.75, 0.75, 0.25)
    assert (r2["coverage"], r2["overlaps"], r2["conflicts"]) == (0.25, 0.25, 0.0)
    assert r0["polarity"] == ["ham", "spam"] and r2["polarity"] == ["ham"]
    assert (r0["accuracy"], r0["n_labeled"], r0["n_correct"]) == (1.0, 2, 2)
    assert (r1["accuracy"], r1["n_labeled"]) == (2 / 3, 3)
    assert 0.2 < r1["accuracy_low"] < 2 / 3 < r1["accuracy_high"] <= 1
    assert a["totals"] == {"rows": 4, "rules": 3, "coverage": 0.75, "overlaps": 0.75, "conflicts": 0.25,
                           "labeled": 3, "labeled_covered": 3}


def test_analysis_without_labels_and_in_blocks(monkeypatch):
    from fewlabels.signals import analysis

    rng = np.random.default_rng(0)
    L = rng.integers(-1, 3, (1000, 7))
    whole = analyze(L, list("abcdefg"), ["x", "y", "z"])
    monkeypatch.setattr(analysis, "_BLOCK_CELLS", 50)
    assert analyze(L, list("abcdefg"), ["x", "y", "z"]) == whole
    assert whole["rules"][0]["accuracy"] is None and whole["rules"][0]["n_labeled"] == 0


# -- bad input ----------------------------------------------------------------------------------


def test_missing_rules_file(tmp_path):
    with pytest.raises(InputError, match="nope.py: rules file not found"):
        load_rules(tmp_path / "nope.py")
    with pytest.raises(InputError, match="must be a .py file"):
        load_rules(write(tmp_path, "rules.txt", "free -> spam\n"))


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


def test_rule_with_wrong_signature(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        @rule
        def two(text, other):
            return None
    """)
    with pytest.raises(InputError, match=r"line 4: rule 'two' must take exactly one argument"):
        load_rules(path)


def test_rule_returning_unknown_class_names_rule_row_and_value(tmp_path):
    path = write(tmp_path, "rules.py", """
        from fewlabels import rule

        @rule
        def shouty(text):
            return "SPAM" if "FREE" in text else None
    """)
    with pytest.raises(InputError, match=r"rule 'shouty' returned 'SPAM' on row 1, which is not one of the classes "
                                         r"\(ham, spam\)"):
        apply_rules(TEXTS, load_rules(path), CLASSES)
    number = Rule("number", func=lambda t: 1)
    with pytest.raises(InputError, match="returned 1 on row 1"):
        apply_rules(TEXTS, [number], CLASSES)
    toml = write(tmp_path, "r.toml", '[junk]\nkeywords = ["free"]\n')
    with pytest.raises(InputError, match="votes 'junk', which is not one of the classes"):
        apply_rules(TEXTS, load_rules(toml), CLASSES)
    with pytest.raises(InputError, match=r"r\.toml, \[junk\]: rule 'junk:keyword:free' votes 'junk'"):
        load_rules(toml, classes=CLASSES)


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
    with pytest.raises(InputError, match=r"two rules are named 'same' \(.*line 4 and .*line 8\)"):
        load_rules(path)
    dup = write(tmp_path, "dup.toml", '[spam]\nkeywords = ["free", "free"]\n')
    with pytest.raises(InputError, match="two rules are named 'spam:keyword:free'"):
        load_rules(dup)


def test_no_rules_in_file(tmp_path):
    with pytest.raises(InputError, match="holds no rules"):
        load_rules(write(tmp_path, "rules.py", "x = 1\n"))
    with pytest.raises(InputError, match="holds no rules"):
        load_rules(write(tmp_path, "rules.toml", "# nothing yet\n"))


def test_all_rules_abstaining_everywhere(tmp_path):
    path = write(tmp_path, "rules.toml", '[spam]\nkeywords = ["viagra"]\n')
    with pytest.raises(InputError, match="none of the 1 rules voted on any of the 5 rows"):
        apply_rules(TEXTS, load_rules(path), CLASSES)


def test_bad_toml(tmp_path):
    with pytest.raises(InputError, match="not valid TOML"):
        load_rules(write(tmp_path, "a.toml", "[spam\n"))
    with pytest.raises(InputError, match=r"regex '\(' is invalid"):
        load_rules(write(tmp_path, "b.toml", "[spam]\nregex = ['(']\n"))
    with pytest.raises(InputError, match="unknown key"):
        load_rules(write(tmp_path, "c.toml", "[spam]\nwords = ['x']\n"))
    with pytest.raises(InputError, match="keywords must be a list of non-empty strings"):
        load_rules(write(tmp_path, "d.toml", "[spam]\nkeywords = ['']\n"))
    with pytest.raises(InputError, match=r"\[\[rule\]\] 'r' needs class"):
        load_rules(write(tmp_path, "e.toml", "[[rule]]\nname = 'r'\nkeywords = ['x']\n"))
    with pytest.raises(InputError, match=r"\[\[rule\]\] 'r' has no condition"):
        load_rules(write(tmp_path, "f.toml", "[[rule]]\nname = 'r'\nclass = 'spam'\nexclude = ['x']\n"))


def test_texts_must_be_strings_and_classes_distinct():
    with pytest.raises(InputError, match="text on row 2 is int 5, not a string"):
        apply_rules(["a", 5], [Rule("r", label="spam", keywords=("a",))], CLASSES)
    with pytest.raises(InputError, match="at least two distinct names"):
        apply_rules(["a"], [Rule("r", label="spam", keywords=("a",))], ["spam", "spam"])
