"""Occlusion explanations: offsets into the caller's text, deltas that are real rescorings, awkward input."""

from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import make_reviews

from fakereview_nlp import ExplainedSpan, FakeReviewClassifier, ReviewExplanation, explain
from fakereview_nlp.explanations.occlusion import (
    common_phrases,
    explain_texts,
    segment_spans,
    window_spans,
    word_spans,
)
from fakereview_nlp.model.baseline import TfidfBaseline

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
    # out_of_scope="score": "Nice room." is too short for a confident language guess
    assert strict.explain(["Nice room."], out_of_scope="score")[0].flagged is False
    assert lax.explain(["Nice room."], out_of_scope="score")[0].flagged is True


def test_empty_and_whitespace_texts_have_a_score_but_no_spans(clf: FakeReviewClassifier) -> None:
    results = clf.explain(["", "   \n\t ", "Great."], out_of_scope="score")
    assert [r.spans for r in results[:2]] == [(), ()]
    assert [r.reason for r in results[:2]] == ["too short to identify its language"] * 2
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


class _CueScorer:
    """P(fake) = a tenth of the review's count of "amazing"; records how many texts each call scores."""

    threshold = 0.5

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        self.calls.append(len(texts))
        return np.asarray([t.split().count("amazing") / 10 for t in texts], dtype=np.float64)


def test_phrase_search_takes_in_sentences_until_they_hold_top_k_windows() -> None:
    # Each two-word sentence holds one 4-word window, so refine=1 alone would give one span:
    # the search adds the next strongest sentences until top_k disjoint windows fit, and no more.
    review = "amazing stay. amazing staff. amazing view. Slow lift. Cold room."
    scorer = _CueScorer()
    (result,) = explain_texts(scorer, [review], top_k=3, refine=1, window_words=4)
    assert [s.text for s in result.spans] == ["amazing stay.", "amazing staff.", "amazing view."]
    assert [s.delta for s in result.spans] == pytest.approx([0.1, 0.1, 0.1])
    # Pass 1: the review and its 5 sentences removed; pass 2: only the 3 searched sentences' windows.
    assert scorer.calls == [6, 3]


def test_common_phrases_count_reviews_not_spans_and_skip_function_words() -> None:
    def expl(*spans: tuple[str, float]) -> ReviewExplanation:
        return ReviewExplanation(0.9, True, tuple(ExplainedSpan(0, len(t), t, d) for t, d in spans))

    explanations = [
        expl(("Amazing stay, amazing!", 0.3), ("of the", 0.2)),
        expl(("an amazing stay", 0.1)),
        expl(("Luxurious", 0.2), ("amazing", -0.4)),  # negative spans do not drive a flag
        expl(("luxurious!", 0.4)),
    ]
    counts = common_phrases(explanations)
    # By reviews (2 each), then mean delta: luxurious 0.3, amazing/amazing stay/stay 0.2.
    assert [(c.phrase, c.n_reviews) for c in counts] == [
        ("luxurious", 2),
        ("amazing", 2),
        ("amazing stay", 2),
        ("stay", 2),
    ]
    by_phrase = {c.phrase: c for c in counts}
    assert by_phrase["amazing"].mean_delta == pytest.approx(0.2) and by_phrase[
        "luxurious"
    ].mean_delta == pytest.approx(0.3)
    assert "of the" not in by_phrase and "of" not in by_phrase and "an amazing" not in by_phrase
    assert common_phrases(explanations, min_reviews=3) == []


def test_evaluate_explain_errors_aggregates_false_flag_phrases(tiny_model_dir: Path, tmp_path: Path) -> None:
    import csv
    import json

    from fakereview_nlp.cli.main import main

    rows = make_reviews(30)
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    base = ["evaluate", str(tiny_model_dir), str(data), "--n-boot", "0", "--no-plots", "--device", "cpu"]
    assert main([*base, "-o", str(tmp_path / "off")]) == 0
    assert "false_flag_phrases" not in json.loads((tmp_path / "off" / "report.json").read_text())
    assert main([*base, "-o", str(tmp_path / "on"), "--explain-errors", "5"]) == 0
    report = json.loads((tmp_path / "on" / "report.json").read_text())
    block = report["false_flag_phrases"]
    scores = report["results"]["transformer"]["thresholds"][0]["by_prevalence"][0]
    assert block["threshold"] == 0.5 and block["threshold_kind"] == "0.5"
    genuine_flagged = (
        round(scores["flag_rate"] * 30 * (1 - scores["precision"])) if scores["flag_rate"] else 0
    )
    assert block["n_false_flags"] == genuine_flagged and block["n_explained"] == min(5, genuine_flagged)
    assert all(len(p["phrase"].split()) <= 2 and p["n_reviews"] >= 2 for p in block["phrases"])
    assert "## What drives false flags" in (tmp_path / "on" / "report.md").read_text()


def test_fakereview_classify_explain_adds_top_spans(
    clf: FakeReviewClassifier, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import csv
    import json

    import pandas as pd

    from fakereview_nlp.cli.main import main

    texts = [MESSY, "Clean room. Slow lift.", "", "ok"]
    data = tmp_path / "in.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([[f"r{i}", t] for i, t in enumerate(texts)])
    out = tmp_path / "out.csv"
    args = ["classify", str(data), "-o", str(out), "--model", str(tiny_model_dir), "--dtype", "float32"]
    assert main([*args, "--explain", "--device", "cpu", "--no-progress", "--chunk-rows", "2"]) == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == [
        "id", "text", "fake_score", "label", "flagged", "language", "in_scope", "model_version", "top_spans"
    ]  # fmt: skip
    expected = clf.explain(texts)
    for row, text, explanation in zip(frame.itertuples(), texts, expected, strict=True):
        if not text:  # kept but unscored (the batch policy for missing text): no score, no spans
            assert (row.fake_score, row.label, row.flagged, row.top_spans) == ("", "", "", "")
            continue
        if explanation.fake_score is None:  # too short to read ("ok"): in scope false, no verdict, no spans
            assert (row.fake_score, row.label, row.flagged, row.top_spans, row.in_scope) == ("", "", "", "", "False")
            continue
        spans = json.loads(row.top_spans)
        assert row.text == text  # the offsets index the text column as written
        assert [(a, b) for a, b, _ in spans] == [(s.start, s.end) for s in explanation.spans]
        assert [d for _, _, d in spans] == pytest.approx([s.delta for s in explanation.spans], abs=1e-5)
        assert float(row.fake_score) == pytest.approx(explanation.fake_score, abs=1e-6)
    assert main([*args, "--no-progress"]) == 0
    assert "top_spans" not in pd.read_csv(out).columns  # off by default
