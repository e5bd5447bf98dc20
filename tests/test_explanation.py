"""Occlusion explanations: offsets into the caller's text, deltas that are real rescorings, awkward input."""

from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import make_reviews

from fakereview_nlp import ExplainedSpan, FakeReviewClassifier, ReviewExplanation, explain
from fakereview_nlp.baseline import TfidfBaseline
from fakereview_nlp.explanation import explain_texts, segment_spans, window_spans, word_spans

# Extra whitespace of every kind, a decomposed accent (not NFC) and a character NFC composes.
MESSY = (
    "  Best   hotel\u00a0ever!!!  \n\n Amazing staff,\tamazing cafe\u0301 and a\u030a lovely view.  "
    "The lift was slow. \u201cWould stay again.\u201d  "
)
assert unicodedata.normalize("NFC", MESSY) != MESSY


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def clf_tfidf(tiny_model_dir: Path) -> FakeReviewClassifier:
    """The tiny model with a TF-IDF part that learned 'amazing' = fake: the cue the explanation must find."""
    rows = make_reviews(60)
    texts = [str(r["text"]) for r in rows]
    labels = [int(r["label"] == "fake") for r in rows]
    texts += ["amazing amazing amazing"] * 20 + ["the lift was slow"] * 20
    labels += [1] * 20 + [0] * 20
    tfidf = TfidfBaseline(C=100.0).fit(texts, labels)
    base = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")
    return FakeReviewClassifier(base.model, base.tokenizer, device="cpu", dtype="float32", tfidf=tfidf)


def _rescored_delta(classifier: FakeReviewClassifier, text: str, span: ExplainedSpan) -> float:
    full, without = classifier.predict_proba([text, text[: span.start] + text[span.end :]])
    return float(full - without)


@pytest.mark.parametrize("unit", ["phrase", "sentence"])
def test_offsets_point_into_the_original_unnormalised_text(clf: FakeReviewClassifier, unit: str) -> None:
    (result,) = clf.explain([MESSY], top_k=3, unit=unit)
    assert len(result.spans) == 3
    for span in result.spans:
        assert span.text == MESSY[span.start : span.end]
        assert span.text == span.text.strip() and span.text
    combining = [s for s in word_spans(MESSY) if "\u0301" in MESSY[s[0] : s[1]]]
    assert (
        combining and MESSY[combining[0][0] : combining[0][1]] == "cafe\u0301"
    )  # the accent stays with its word


def test_deltas_reproduce_a_rescoring_without_the_span(clf: FakeReviewClassifier) -> None:
    (result,) = clf.explain([MESSY], top_k=3)
    for span in result.spans:
        assert span.delta == pytest.approx(_rescored_delta(clf, MESSY, span), abs=1e-6)
    assert result.fake_score == pytest.approx(clf.classify([MESSY])[0].fake_score, abs=1e-9)


def test_spans_sorted_by_delta_and_do_not_overlap(clf: FakeReviewClassifier) -> None:
    texts = [MESSY, "Clean room. Slow lift. Friendly staff at the desk. Parking was pricey but close."]
    for result in clf.explain(texts, top_k=4):
        deltas = [s.delta for s in result.spans]
        assert deltas == sorted(deltas, reverse=True)
        ranges = sorted((s.start, s.end) for s in result.spans)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ranges, ranges[1:], strict=False))


def test_the_combined_tfidf_score_is_explained_and_its_cue_found(clf_tfidf: FakeReviewClassifier) -> None:
    text = "The lift was slow and the room was small. Staff were amazing amazing. Parking was far away."
    (result,) = clf_tfidf.explain([text], top_k=2)
    assert "amazing" in result.spans[0].text
    assert result.spans[0].delta > 1e-3  # the random transformer half moves by ~1e-6
    for span in result.spans:  # the served score includes the TF-IDF half
        assert span.delta == pytest.approx(_rescored_delta(clf_tfidf, text, span), abs=1e-6)
    (sentence,) = clf_tfidf.explain([text], top_k=1, unit="sentence")
    assert sentence.spans[0].text == "Staff were amazing amazing."


def test_flagged_follows_the_operating_threshold(clf: FakeReviewClassifier) -> None:
    strict = FakeReviewClassifier(clf.model, clf.tokenizer, device="cpu", dtype="float32", threshold=1.0)
    lax = FakeReviewClassifier(clf.model, clf.tokenizer, device="cpu", dtype="float32", threshold=0.0)
    assert strict.explain(["Nice room."])[0].flagged is False
    assert lax.explain(["Nice room."])[0].flagged is True


def test_empty_and_whitespace_texts_have_a_score_but_no_spans(clf: FakeReviewClassifier) -> None:
    results = clf.explain(["", "   \n\t ", "Great."])
    assert [r.spans for r in results[:2]] == [(), ()]
    assert results[0].fake_score == pytest.approx(clf.predict_proba([""])[0])
    (only,) = results[2].spans  # one word: the span is the whole review
    assert (only.start, only.end, only.text) == (0, 6, "Great.")


def test_empty_list_bare_string_and_bad_options(clf: FakeReviewClassifier) -> None:
    assert clf.explain([]) == []
    with pytest.raises(
        TypeError, match=r"explain\(\) expects a list of texts; wrap a single review as \[text\]"
    ):
        clf.explain("Best hotel ever")
    with pytest.raises(TypeError, match=r"explain\(\) expects a list of texts; wrap"):
        explain("Best hotel ever")  # refused before any model is looked up
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType, not str"):
        clf.explain(["ok", None])
    with pytest.raises(ValueError, match=r"top_k must be an int >= 1, got 0"):
        clf.explain(["ok"], top_k=0)
    with pytest.raises(ValueError, match=r"unit='word' is not supported; expected 'phrase' or 'sentence'"):
        clf.explain(["ok"], unit="word")


def test_results_are_frozen_dataclasses(clf: FakeReviewClassifier) -> None:
    (result,) = clf.explain(["Best hotel ever. Slow lift."], top_k=1)
    assert isinstance(result, ReviewExplanation) and isinstance(result.spans, tuple)
    assert isinstance(result.spans[0], ExplainedSpan) and isinstance(result.spans[0].delta, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.spans[0].delta = 1.0  # type: ignore[misc]


def test_module_explain_uses_the_default_model_like_classify(
    clf: FakeReviewClassifier, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKEREVIEW_MODEL", str(tiny_model_dir))
    texts = [MESSY, "Clean room. Slow lift."]
    from_env = explain(texts, device="cpu", dtype="float32")
    assert from_env == explain(texts, model=tiny_model_dir, device="cpu", dtype="float32")
    direct = explain_texts(clf, texts)
    assert [r.spans for r in from_env] == [r.spans for r in direct]
    assert np.allclose([r.fake_score for r in from_env], [r.fake_score for r in direct])


def test_segments_words_and_windows_on_the_original_string() -> None:
    text = 'He said "Great  stay!" Then left.\nNo  punctuation here'
    assert [text[a:b] for a, b in segment_spans(text)] == [
        'He said "Great  stay!"',
        "Then left.",
        "No  punctuation here",
    ]
    long = " ".join(f"w{i}" for i in range(7))
    assert [long[a:b] for a, b in segment_spans(long, max_words=3)] == ["w0 w1 w2", "w3 w4 w5", "w6"]
    words = word_spans(long)
    assert [long[a:b] for a, b in window_spans(words, 4)] == ["w0 w1 w2 w3", "w2 w3 w4 w5", "w3 w4 w5 w6"]
    assert [long[a:b] for a, b in window_spans(words[:2], 4)] == ["w0 w1"]
    assert window_spans([], 4) == [] and segment_spans("   ") == []
