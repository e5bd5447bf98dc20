"""Issue 20 item 3: long reviews have bounded cost; chunk mode scores every window as a full pass would."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

from fakereview_nlp.explanations.occlusion import DEFAULT_MAX_CHARS, explain_texts
from fakereview_nlp.inference import FakeReviewClassifier

SENTENCE = "The room was clean and the staff were friendly. Breakfast was slow! "


class CountingScorer:
    """Scores by a fixed rule and counts the characters it was asked to score."""

    threshold = 0.5

    def __init__(self) -> None:
        self.chars = 0

    def predict_proba(self, texts, batch_size=None):  # type: ignore[no-untyped-def]
        self.chars += sum(len(t) for t in texts)
        return np.array([min(1.0, t.count("!") / 50) for t in texts])


def test_explaining_a_1mb_review_scores_a_bounded_amount_of_text_and_says_so() -> None:
    review = SENTENCE * (1_000_000 // len(SENTENCE))
    scorer = CountingScorer()
    (result,) = explain_texts(scorer, [review], top_k=3)
    # the part searched (10,000 characters) is scored once per sentence and window in it, the review once
    assert scorer.chars < 400 * DEFAULT_MAX_CHARS + 2 * len(review)
    assert result.note is not None and result.note.startswith("spans searched in the first 9,")
    assert f"of {len(review):,} characters" in result.note
    assert result.fake_score == pytest.approx(min(1.0, review.count("!") / 50))  # the whole review's score
    assert all(review[s.start : s.end] == s.text and s.end <= DEFAULT_MAX_CHARS for s in result.spans)
    (short,) = explain_texts(scorer, [SENTENCE * 3])
    assert short.note is None


def test_explain_page_says_a_long_review_was_cut(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import main as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text(f"id,text\nlong1,{SENTENCE * 200}\nshort,{SENTENCE}\n")
    assert cli.main(["explain", "in.csv", "-o", "page.html", "--model", str(tiny_model_dir), "--id-column", "id"]) == 0
    page = (tmp_path / "page.html").read_text()
    assert "Reviews long1 are longer than 10,000 characters" in page
    assert "1 reviews longer than 10,000 characters were explained" in capsys.readouterr().err


def test_chunk_mode_equals_a_full_pass_over_each_window(tiny_model_dir: Path) -> None:
    clf = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")
    text = " ".join(f"word{i % 97} is here." for i in range(600))  # several windows
    seqs, owner = clf._tokenize([text], "chunk")
    assert len(seqs) > 3 and set(owner.tolist()) == {0}
    one_by_one = [clf._score_sequences([s], 1)[0] for s in seqs]  # each window alone, no batching
    (score,) = clf.predict_proba([text], long_text="chunk")
    assert score == pytest.approx(max(one_by_one), abs=1e-6)
    medium = " ".join(f"word{i % 97} is here." for i in range(40))  # fits in one window
    assert clf.predict_proba([medium], long_text="chunk") == pytest.approx(clf.predict_proba([medium]), abs=1e-6)


def test_chunk_mode_logs_progress_for_many_windows(tiny_model_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    clf = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")
    with caplog.at_level(logging.INFO, logger="fakereview_nlp.inference"):
        clf.predict_proba([" ".join(f"w{i}" for i in range(20_000))], long_text="chunk")
    assert re.search(r"long_text='chunk': scoring \d+ windows of 1 reviews", caplog.text), caplog.text


def test_classify_command_says_when_it_scores_many_windows(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fakereview_nlp.cli import main as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("id,text\n1," + " ".join(f"w{i}" for i in range(20_000)) + "\n")
    # "w0 w1 ..." is no language the model reads: score it anyway, this test is about the windows
    argv = ["classify", "in.csv", "-o", "out.csv", "--model", str(tiny_model_dir), "--long-text", "chunk",
            "--out-of-scope", "score"]  # fmt: skip
    monkeypatch.setattr(logging.getLogger("fakereview_nlp.inference"), "level", logging.NOTSET)
    assert cli.main(argv) == 0  # the command turns the INFO line on (not the test)
    assert re.search(r"long_text='chunk': scoring \d+ windows of 1 reviews", caplog.text), caplog.text
