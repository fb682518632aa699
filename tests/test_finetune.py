"""Fine-tuning the encoder: pseudo-labels, training sets, the fold discipline, save and predict.

The slow tests load the real packaged MiniLM and train it for a handful of steps on a few
real SMS texts: what they check (which rows trained which encoder, what is saved and
reloaded) does not depend on the encoder getting better.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from fewlabels.classes import ClassSpec
from fewlabels.embed.finetune import FineTuneParams, build_training_set, pseudo_labels
from fewlabels.errors import ConfigError
from fewlabels.finetuned import decide, saved_encoder_path

TINY = dict(steps=2, fold_steps=2, batch_classes=2, per_class=2, sub_pool=20, pseudo_per_class=2,
            pseudo_min_confidence=0.0)


def test_pseudo_labels_are_class_balanced_confident_and_only_from_candidates():
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.45, 0.55], [0.99, 0.01]])
    rows, cls, conf = pseudo_labels(P, np.array([0, 1, 2, 3, 4]), per_class=2, min_confidence=0.6)
    # row 5 is not a candidate; class 0 keeps its two most confident (0, 1); class 1 only row 3
    # (row 4's 0.55 is under the threshold)
    assert sorted(zip(rows.tolist(), cls.tolist())) == [(0, 0), (1, 0), (3, 1)]
    assert np.allclose(sorted(conf), [0.8, 0.8, 0.9])


def test_training_set_excludes_held_out_rows_in_every_form():
    texts = [f"t{i}" for i in range(8)]
    y = np.array([0, 1, 0, 1, -1, -1, -1, -1])
    P = np.tile([0.9, 0.1], (8, 1))
    params = FineTuneParams(pseudo_per_class=10, pseudo_min_confidence=0.5, anchor_weight=0.5)
    data = build_training_set(texts, y, [["zero"], ["one", "uno"]], params, P, exclude=np.array([1, 5]))
    assert sorted(data.given_rows.tolist()) == [0, 2, 3]
    assert sorted(data.rows[data.kind == "pseudo"].tolist()) == [4, 6, 7]
    assert "t1" not in data.texts and "t5" not in data.texts
    assert data.texts[-3:] == ["zero", "one", "uno"] and data.labels[-3:].tolist() == [0, 1, 1]
    assert np.allclose(data.weights[data.kind == "pseudo"], 0.9)
    assert np.allclose(data.weights[data.kind == "anchor"], 0.5)


@pytest.mark.parametrize("bad", [dict(per_class=1), dict(lr=0.0), dict(steps=-1), dict(batch_classes=0),
                                 dict(n_splits=1), dict(n_splits=0)])
def test_bad_parameters_are_refused_by_name(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        FineTuneParams(**bad)


def test_decide_modes_without_loading_the_encoder():
    common = dict(texts=["a", "b"], encoder=None, n_rows=100, n_labeled=40, params=FineTuneParams(),
                  time_budget=300, can_cross_validate=True)
    assert decide("off", frozen_report={}, **common)[0] is False
    assert decide("auto", frozen_report={}, **common)[0] is False  # no encoder to fine-tune
    with pytest.raises(ConfigError, match="--finetune on needs the texts"):
        decide("on", frozen_report={}, **common)
    with pytest.raises(ConfigError, match="--finetune must be one of"):
        decide("sometimes", frozen_report={}, **common)

    class Enc:
        path = "/nonexistent"

    high = {"estimated_accuracy": {"value": 0.99}}
    use, why, _ = decide("auto", frozen_report=high, **{**common, "encoder": Enc()})
    assert not use and "no room" in why
    use, why, _ = decide("auto", frozen_report={"estimated_accuracy": {"value": 0.8}},
                         **{**common, "encoder": Enc(), "n_labeled": 10})
    assert not use and "too few" in why


def test_saved_encoder_path_refuses_paths_outside_the_model(tmp_path):
    assert saved_encoder_path(tmp_path, {}) is None
    with pytest.raises(ConfigError, match="inside the model folder"):
        saved_encoder_path(tmp_path, {"encoder_dir": "../elsewhere"})
    with pytest.raises(ConfigError, match="missing"):
        saved_encoder_path(tmp_path, {"encoder_dir": "enc"})


# --------------------------------------------------------------------------------------
# With the real encoder
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sms_small(tmp_path_factory):
    """60 real SMS rows (unique texts), 16 labels (8 per class), and their vectors."""
    from fewlabels.demo import demo_data_path
    from fewlabels.io import read_table

    table = read_table(demo_data_path())
    texts = table.column("text").to_pylist()
    truth = np.asarray(table.column("label").to_pylist(), dtype=object)
    seen, rows = set(), {"ham": [], "spam": []}
    for i, (t, c) in enumerate(zip(texts, truth)):
        if t not in seen and len(rows[c]) < 30:
            seen.add(t)
            rows[c].append(i)
    idx = np.array(sorted(rows["ham"] + rows["spam"]))
    texts = [texts[i] for i in idx]
    truth = truth[idx]
    y = np.full(len(idx), -1)
    for c, name in enumerate(("ham", "spam")):
        y[np.flatnonzero(truth == name)[:8]] = c
    return texts, truth, y


@pytest.mark.slow
def test_no_fine_tuned_candidate_scores_on_a_label_its_encoder_trained_on(sms_small, tmp_path, monkeypatch):
    import fewlabels.finetuned as ftmod
    from fewlabels.embed import EmbeddingCache, embed_texts
    from fewlabels.pipeline import label_arrays, load_encoder
    from fewlabels.options import LabelOptions
    from fewlabels.pool import Pool

    texts, truth, y = sms_small
    enc = load_encoder()
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    X = embed_texts(texts, enc, cache)
    classes = ClassSpec(["ham", "spam"], {})
    frozen = label_arrays(Pool(X=X, y=y, classes=classes.names), LabelOptions.of(n_splits=4, fit_end_model=False))

    trained_texts = []  # what each fold's encoder was really given, recorded at the training call
    real = ftmod.train_encoder

    def spy(base, data, params, **kw):
        trained_texts.append(set(data.texts))
        return real(base, data, params, **kw)

    monkeypatch.setattr(ftmod, "train_encoder", spy)
    anchors = ftmod.anchors_for(classes.names, None)
    oof, records, pool_proba = ftmod.fold_candidates(
        texts, y, X, anchors, frozen.selection, teacher=frozen.method,
        teacher_context={"n_classes": 2, "class_embeddings": None, "random_state": 0, "graph": None, "votes": None},
        base_path=enc.path, base_id=enc.id, params=FineTuneParams(**TINY), cache_dir=tmp_path / "models")

    lab = np.flatnonzero(y >= 0)
    n_folds = FineTuneParams(**TINY).n_splits  # the fine-tuned candidates' own folds, not the selection's 4
    assert len(records) == n_folds and len(trained_texts) == n_folds
    scored_all = np.concatenate([r.scored_rows for r in records])
    assert sorted(scored_all.tolist()) == lab.tolist()  # every given label is scored exactly once
    for r, seen in zip(records, trained_texts):
        assert len(r.scored_rows) > 0
        assert np.intersect1d(r.scored_rows, r.trained_rows).size == 0
        assert np.intersect1d(r.scored_rows, r.pseudo_rows).size == 0
        # trained on exactly the other folds' labels
        assert sorted(np.union1d(r.trained_rows, r.scored_rows).tolist()) == lab.tolist()
        assert not seen & {texts[i] for i in r.scored_rows}  # no held-out text reached the encoder
        assert {texts[i] for i in r.trained_rows} <= seen
    for name, P in oof.items():
        assert name.startswith("ft:") and P.shape == (len(lab), 2)
        assert np.allclose(P.sum(axis=1), 1)
        # the estimate's rows: unlabeled rows of each fold's sub-pool, never a given row
        assert pool_proba[name].shape == (n_folds * min(TINY["sub_pool"], int((y < 0).sum())), 2)

    # The fold results are cached: a second call trains nothing.
    trained_texts.clear()
    oof2, records2, pool_proba2 = ftmod.fold_candidates(
        texts, y, X, anchors, frozen.selection, teacher=frozen.method,
        teacher_context={"n_classes": 2, "class_embeddings": None, "random_state": 0, "graph": None, "votes": None},
        base_path=enc.path, base_id=enc.id, params=FineTuneParams(**TINY), cache_dir=tmp_path / "models")
    assert trained_texts == [] and all(r.cached for r in records2)
    for name in oof:
        assert np.array_equal(oof[name], oof2[name])
        assert np.array_equal(pool_proba[name], pool_proba2[name])


@pytest.mark.slow
def test_save_and_predict_with_a_fine_tuned_encoder(sms_small, tmp_path):
    from fewlabels.embed import EmbeddingCache, SentenceTransformerEncoder, embed_texts
    from fewlabels.endmodel import EndModel
    from fewlabels.io import read_table, write_table
    from fewlabels.options import LabelOptions
    from fewlabels.pipeline import label_table, predict_table

    texts, truth, y = sms_small
    names = np.array(["ham", "spam"], dtype=object)
    given = np.where(y >= 0, names[np.maximum(y, 0)], "")
    table = pa.table({"text": texts[:50], "label": given[:50].tolist()})
    src, out, model = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "model"
    write_table(table, src)
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    kw = dict(cache=cache, finetune="always", finetune_params=FineTuneParams(**TINY), n_splits=3,
              model_cache=tmp_path / "models")
    result = label_table(src, out, LabelOptions.of(save_model=model, **kw))
    ft = result.report["finetune"]
    assert ft["used"] and result.method.startswith("ft:") and not ft["final_cached"]
    assert result.report["estimated_accuracy"]["value"] is not None
    parts = ft["estimate_parts"]  # the figures the estimate is made of, each a probability
    assert all(0.0 <= parts[key] <= 1.0 for key in ("fold_encoders", "final_encoder", "label_gain"))
    est = result.report["estimated_accuracy"]  # made of the parts, by finetuned_estimate
    assert est["value"] == pytest.approx(min(1.0, parts["out_of_fold_corrected"] + parts["label_gain"]))
    assert est["low"] <= est["value"] <= est["high"] and "out-of-fold" in est["method"]

    meta = json.loads((model / "model.json").read_text())
    enc_dir = model / meta["encoder_dir"]
    assert (enc_dir / "model.safetensors").is_file()
    assert not [p for p in model.rglob("*") if p.suffix in (".bin", ".pt", ".pkl", ".pickle")]  # no pickle
    assert meta["encoder_id"] == ft["encoder_id"] == SentenceTransformerEncoder(enc_dir).id

    # predict embeds new texts with the saved fine-tuned encoder, not the base one
    new = tmp_path / "new.csv"
    write_table(pa.table({"text": texts[50:]}), new)
    P = predict_table(model, new, tmp_path / "pred.csv", cache=cache)
    end, _ = EndModel.load(model)
    X_ft = embed_texts(texts[50:], SentenceTransformerEncoder(enc_dir), None)
    assert np.allclose(P, end.predict_proba(X_ft), atol=1e-6)  # float32 vectors; same encoder, same model
    X_base = embed_texts(texts[50:], SentenceTransformerEncoder(), None)
    assert not np.allclose(X_ft, X_base, atol=1e-3)  # the encoder was really changed by training
    pred = read_table(tmp_path / "pred.csv").column("fewlabels_label").to_pylist()
    assert set(pred) <= {"ham", "spam"}

    # A second run reuses the cached encoder and fold results: no training
    again = label_table(src, tmp_path / "out2.csv", LabelOptions.of(**kw))
    ft2 = again.report["finetune"]
    assert ft2["final_cached"] and all(f["cached"] for f in ft2["folds"])
    assert np.array_equal(again.labels, result.labels)


def test_finetuned_estimate_is_the_corrected_out_of_fold_accuracy_plus_the_label_gain():
    from fewlabels.finetuned import finetuned_estimate
    from fewlabels.select import wilson_interval

    est = finetuned_estimate({"out_of_fold_corrected": 0.70, "label_gain": 0.05}, 100)
    low, high = wilson_interval(70, 100)
    assert est["value"] == pytest.approx(0.75)
    assert (est["low"], est["high"]) == pytest.approx((low + 0.05, high + 0.05))
    # no gain: the corrected accuracy and its Wilson interval as they are
    assert finetuned_estimate({"out_of_fold_corrected": 0.70, "label_gain": 0.0}, 100)["value"] == pytest.approx(0.70)
    # never past 1
    top = finetuned_estimate({"out_of_fold_corrected": 0.98, "label_gain": 0.06}, 100)
    assert top["value"] == top["high"] == 1.0 and top["low"] < 1.0


def test_a_batch_keeps_about_batch_size_texts_with_few_classes():
    from fewlabels.embed.finetune import batch_per_class

    p = FineTuneParams()  # 8 classes × 4 texts
    assert [batch_per_class(p, k) * min(k, p.batch_classes) for k in (2, 4, 8, 77)] == [32, 32, 32, 32]
    assert batch_per_class(p, 6) == p.per_class  # no whole multiple fits: as before (24 texts)
    assert batch_per_class(p, 3) == 2 * p.per_class


# --------------------------------------------------------------------------------------
# The decision at the defaults (issue 21): from the table and the labels, never a stopwatch
# --------------------------------------------------------------------------------------

class _Enc:
    path = "/nonexistent"  # never loaded: "auto" decides without running the encoder


def test_auto_decides_from_the_table_and_the_labels_only():
    texts = ["a short text of some forty characters ok"] * 2000
    common = dict(frozen_report={"estimated_accuracy": {"value": 0.8}}, texts=texts, encoder=_Enc(),
                  n_labeled=100, params=FineTuneParams(), time_budget=300, can_cross_validate=True)
    use, why, planned = decide("auto", n_rows=2000, **common)
    assert use and "planned" in why and 30 < planned < 300
    assert decide("auto", n_rows=2000, **common) == (use, why, planned)  # same inputs, same decision
    # a table too large for the budget: skipped, saying so; "on" still runs, with the same plan
    use, why, big = decide("auto", n_rows=200_000, **common)
    assert not use and "--time-budget" in why and big > 300
    assert decide("on", n_rows=200_000, **common)[0] is True
    # longer texts cost more to train on and to embed
    longer = decide("auto", n_rows=2000, **{**common, "texts": [t * 5 for t in texts]})[2]
    assert longer > planned
    # a little over the budget: the budget caps the work, the steps are cut to fit it
    use, why, cut = decide("auto", n_rows=2000, **{**common, "time_budget": 0.85 * planned})
    assert use and "cut to" in why and cut <= 0.85 * planned


def _selection(right_frozen: np.ndarray):
    from fewlabels.select import CandidateScore, Selection

    y = np.arange(len(right_frozen)) % 2
    P = np.eye(2)[np.where(right_frozen, y, 1 - y)]
    score = CandidateScore("logistic", P, float(right_frozen.mean()), 0.0, 1.0, len(y), 0.1)
    sel = Selection(best="logistic", scores={"logistic": score}, labeled_index=np.arange(len(y)), y_labeled=y,
                    fold_of=np.arange(len(y)) % 3, corrected_accuracy=float(right_frozen.mean()), weights={})
    return sel, y


def test_choice_keeps_the_fine_tuned_family_unless_the_frozen_one_is_clearly_better():
    from fewlabels.finetuned import choose

    right = np.ones(100, dtype=bool)
    right[:20] = False  # frozen: 0.80
    sel, y = _selection(right)
    tie = right.copy()
    tie[20:22] = False
    tie[:2] = True  # fine-tuned: also 0.80, other rows wrong
    combined, why = choose(sel, {"ft:ensemble": np.eye(2)[np.where(tie, y, 1 - y)]}, 1.0)
    assert combined.best == "ft:ensemble" and "not better by more than one standard error" in why
    worse = right.copy()
    worse[20:40] = False  # fine-tuned: 0.60, wrong wherever the frozen one is, and more
    combined, why = choose(sel, {"ft:ensemble": np.eye(2)[np.where(worse, y, 1 - y)]}, 1.0)
    assert combined.best == "logistic" and "frozen candidate is better" in why


def test_the_report_says_whether_fine_tuning_ran_why_and_what_it_would_cost():
    from fewlabels.report.html import render_report
    from fewlabels.report.text import finetune_line

    base = {"method": "logistic", "estimated_accuracy": None, "candidates": {}, "calibration": {}, "warnings": []}
    skipped = {**base, "finetune": {"mode": "auto", "used": False, "estimated_seconds": 420.0,
                                    "reason": "planned 420 s > --time-budget 300 s", "expected_gain": "gain note"}}
    line = finetune_line(skipped)
    assert line.startswith("Not fine-tuned: planned 420 s") and "--finetune on would take about 420 s" in line
    assert "gain note" in line
    ran = {**base, "finetune": {"mode": "auto", "used": True, "chosen": True, "estimated_seconds": 95.0,
                                "why_choice": "fine-tuned: within noise"}}
    assert "Fine-tuned the encoder (planned 95 s" in finetune_line(ran) and "its labels are used" in finetune_line(ran)
    for report, text in ((skipped, "Not fine-tuned"), (ran, "Fine-tuned the encoder")):
        html = render_report(report)
        assert 'id="finetune"' in html and text in html
    assert finetune_line({**base, "finetune": {"mode": "off", "used": False, "reason": "--finetune off",
                                               "estimated_seconds": None}}) == "Not fine-tuned: --finetune off."


@pytest.mark.slow
def test_the_terminal_and_the_html_report_show_the_fine_tuning_decision(sms_small, tmp_path):
    from typer.testing import CliRunner

    from fewlabels.cli import app
    from fewlabels.io import write_table

    texts, truth, y = sms_small
    names = np.array(["ham", "spam"], dtype=object)
    write_table(pa.table({"text": texts, "label": np.where(y >= 0, names[np.maximum(y, 0)], "").tolist()}),
                tmp_path / "in.csv")
    r = CliRunner().invoke(app, ["label", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
                                 "--html", str(tmp_path / "r.html"), "--cache", str(tmp_path / "emb.sqlite")])
    assert r.exit_code == 0, r.output
    # 16 given labels: "auto" does not fine-tune, and says why and what "on" would cost
    assert "Not fine-tuned: 16 given labels < 20" in " ".join(r.output.split())
    assert "--finetune on would take about" in " ".join(r.output.split())
    html = (tmp_path / "r.html").read_text()
    assert 'id="finetune"' in html and "Not fine-tuned: 16 given labels &lt; 20" in html
