"""Text the model cannot read gets a defined result (issue #20 item 8), and batch output records the
model version (issue #18 item 4).

Texts are written for these tests (no corpus text); the model is the tiny random one of conftest.py.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fakereview_nlp.inference import FakeReviewClassifier, ReviewVerdict
from fakereview_nlp.jobs.local import classify_file
from fakereview_nlp.jobs.options import ScoringOptions
from fakereview_nlp.jobs.parts import job_mismatch, parse_parts, part_name
from fakereview_nlp.language import training_languages

EN = "The room was clean and the staff at the reception were very helpful."
DE = "Das Zimmer war sauber und das Personal an der Rezeption war sehr freundlich."
RU = "Номер был чистым, а персонал на ресепшене очень вежливым."
KO = "방이 깨끗하고 직원들이 매우 친절했습니다."
FR = "La chambre était propre et le personnel très aimable."
TEXTS = [EN, DE, RU, KO, FR, "ok", ""]


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")


@pytest.fixture()
def german_model(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """The tiny model with a model_info.json saying it reads German, version v-test."""
    folder = tmp_path / "de_model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model_info.json").write_text(json.dumps({"version": "v-test", "languages": ["de"]}))
    return folder


def test_abstain_is_the_default_and_gives_no_judgement(clf: FakeReviewClassifier) -> None:
    verdicts = clf.classify(TEXTS)
    assert [v.in_scope for v in verdicts] == [True, False, False, False, False, False, False]
    assert [v.language for v in verdicts] == ["en", "de", "ru", "ko", "fr", None, None]
    english = verdicts[0]
    assert english.fake_score == pytest.approx(clf.predict_proba([EN])[0], abs=1e-6) and english.reason is None
    assert english.label in ("genuine", "fake")
    for v in verdicts[1:]:
        assert (v.label, v.fake_score, v.flagged) == (None, None, False)
    assert verdicts[2].reason.startswith("language 'ru' (") and verdicts[2].reason.endswith("); the model reads en")
    assert verdicts[5].reason == verdicts[6].reason == "too short to identify its language"


def test_score_anyway_still_marks_them(clf: FakeReviewClassifier) -> None:
    verdicts = clf.classify(TEXTS, out_of_scope="score")
    np.testing.assert_allclose([v.fake_score for v in verdicts], clf.predict_proba(TEXTS), atol=1e-6)
    assert [v.in_scope for v in verdicts] == [True, False, False, False, False, False, False]
    assert all(v.label in ("genuine", "fake") for v in verdicts)
    assert verdicts[3] == ReviewVerdict(
        verdicts[3].label, verdicts[3].fake_score, verdicts[3].flagged, False, "ko",
        "language 'ko' (1.00); the model reads en",
    )  # fmt: skip


def test_a_bad_policy_names_the_choices(clf: FakeReviewClassifier) -> None:
    from fakereview_nlp import classify

    match = r"out_of_scope='skip' is not supported; expected 'abstain' .* or 'score'"
    with pytest.raises(ValueError, match=match):
        clf.classify([EN], out_of_scope="skip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        classify([EN], out_of_scope="skip")  # type: ignore[arg-type]  (before any model is loaded)
    with pytest.raises(ValueError, match=r"out_of_scope='skip' is not supported.*--out-of-scope"):
        ScoringOptions(out_of_scope="skip")  # type: ignore[arg-type]


def test_all_out_of_scope_still_checks_the_options(clf: FakeReviewClassifier) -> None:
    with pytest.raises(ValueError, match=r"batch_size must be a positive int"):
        clf.classify([RU], batch_size=0)


def test_the_model_folder_says_which_languages_it_reads(german_model: Path) -> None:
    german = FakeReviewClassifier.from_pretrained(german_model, device="cpu", dtype="float32")
    assert german.languages == ("de",) and german.model_version == "v-test"
    assert german.folder is not None and german.folder.languages_recorded
    en, de = german.classify([EN, DE])
    assert (de.in_scope, de.language, de.fake_score is not None) == (True, "de", True)
    assert en.in_scope is False and en.reason.endswith("; the model reads de")


def test_a_folder_without_languages_is_assumed_english_with_one_warning(
    tmp_path: Path, tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "unrecorded"
    shutil.copytree(tiny_model_dir, folder)
    with caplog.at_level(logging.WARNING, logger="fakereview_nlp.inference"):
        first = FakeReviewClassifier.from_pretrained(folder, device="cpu", dtype="float32")
        FakeReviewClassifier.from_pretrained(folder, device="cpu", dtype="float32")
    warned = [r.getMessage() for r in caplog.records if "records no languages" in r.getMessage()]
    assert len(warned) == 1 and "assuming it reads en" in warned[0]
    assert first.languages == ("en",) and first.model_version is None


def test_bad_languages_in_model_info_are_named(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model_info.json").write_text(json.dumps({"languages": "en"}))
    with pytest.raises(ValueError, match=r"model_info\.json has languages 'en'; expected a list of ISO 639-1 codes"):
        FakeReviewClassifier.from_pretrained(folder, device="cpu", dtype="float32")


def test_explain_abstains_or_explains_and_the_page_says_not_judged(clf: FakeReviewClassifier) -> None:
    from fakereview_nlp.explanations.html import render_explanations_html

    en, ru = clf.explain([EN, RU], top_k=1)
    assert en.in_scope and en.language == "en" and len(en.spans) == 1
    assert (ru.fake_score, ru.flagged, ru.spans, ru.in_scope, ru.language) == (None, False, (), False, "ru")
    _, scored = clf.explain([EN, RU], top_k=1, out_of_scope="score")
    assert scored.in_scope is False and scored.fake_score is not None and len(scored.spans) == 1
    page = render_explanations_html([EN, RU], [en, ru])
    assert "not judged" in page and "1 not judged (text the model cannot read)" in page


def _csv(path: Path, texts: list[str]) -> Path:
    pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    return path


def test_batch_columns_counts_and_model_version(
    tmp_path: Path, german_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _csv(tmp_path / "in.csv", [EN, DE, RU, "ok", ""])
    out = tmp_path / "out.csv"
    with caplog.at_level(logging.WARNING, logger="fakereview_nlp.jobs"):
        assert classify_file(str(german_model), str(source), str(out), chunk_rows=2, progress=False) == 5
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == [
        "id", "text", "fake_score", "label", "flagged", "language", "in_scope", "model_version"
    ]  # fmt: skip
    assert frame["in_scope"].tolist() == ["False", "True", "False", "False", ""]  # "" : no text at all
    assert frame["language"].tolist() == ["en", "de", "ru", "", ""]
    assert [s != "" for s in frame["fake_score"]] == [False, True, False, False, False]
    assert frame["label"].tolist()[0] == "" and frame["flagged"].tolist()[0] == ""
    assert frame["model_version"].tolist() == ["v-test"] * 5
    notes = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("3 of 5 rows are out of the model's scope") and "without a verdict" in m for m in notes)
    assert any(m.startswith("1 of 5 rows have a missing or empty 'text'") for m in notes)


def test_batch_score_anyway_and_the_cli_option(tmp_path: Path, german_model: Path) -> None:
    import argparse

    from fakereview_nlp.cli.classify import add_classify_parser

    source = _csv(tmp_path / "in.csv", [EN, DE, RU])
    out = tmp_path / "out.jsonl"
    parser = argparse.ArgumentParser(prog="fakereview")
    add_classify_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["classify", str(source), "-o", str(out), "--model", str(german_model), "--no-progress",
         "--out-of-scope", "score"]
    )  # fmt: skip
    assert args.handler(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["in_scope"] for r in rows] == [False, True, False]
    assert all(isinstance(r["fake_score"], float) and r["label"] in ("genuine", "fake") for r in rows)
    with pytest.raises(SystemExit):
        parser.parse_args(["classify", str(source), "-o", str(out), "--out-of-scope", "skip"])


def test_resume_identity_includes_the_policy() -> None:
    abstain, score = ScoringOptions().identity(), ScoringOptions(out_of_scope="score").identity()
    assert abstain["out_of_scope"] == "abstain"
    assert job_mismatch(abstain, score) == ["out_of_scope: 'abstain' then, 'score' now"]


def test_part_names_carry_the_out_of_scope_count_and_old_names_still_parse() -> None:
    new = part_name(0, 3, 10, 1, "csv", 4)
    assert new == "part-00000-000000003-n10-u1-o4.csv"
    parts = parse_parts([new, "part-00001-000000002-n5-u0.parquet"])
    assert parts[(0, 3)].n_out_of_scope == 4 and parts[(1, 2)].n_out_of_scope == 0


def test_training_languages_keeps_languages_of_at_least_two_percent() -> None:
    texts = [EN] * 97 + [DE] * 3
    assert training_languages(texts) == ["en", "de"]
    assert training_languages([EN] * 99 + [DE]) == ["en"]  # 1 %: a few odd rows add no language
    assert training_languages(["ok", ""]) == []
    many = [EN] * 3000 + [FR] * 1000
    assert training_languages(many, sample=500, seed=1) == training_languages(many, sample=500, seed=1)
    with pytest.raises(ValueError, match=r"min_share must be in \(0, 1\], got 0"):
        training_languages(texts, min_share=0)


@pytest.fixture()
def finished_run(tmp_path: Path, tiny_model_dir: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "training_config.yaml").write_text("data: {}\n")
    (run / "model_info.json").write_text(json.dumps({"languages": ["en", "de"]}))  # as training writes it
    return run


def test_package_keeps_the_languages_training_identified(finished_run: Path, tmp_path: Path) -> None:
    from training.package import main, package

    package(finished_run, tmp_path / "kept", version="1")
    assert json.loads((tmp_path / "kept" / "model_info.json").read_text())["languages"] == ["en", "de"]
    package(finished_run, tmp_path / "given", version="1", languages=["fr"])
    assert json.loads((tmp_path / "given" / "model_info.json").read_text())["languages"] == ["fr"]
    assert main([str(finished_run), str(tmp_path / "cli"), "--version", "1"]) == 0
    assert json.loads((tmp_path / "cli" / "model_info.json").read_text())["languages"] == ["en", "de"]
    (finished_run / "model_info.json").unlink()  # a run from before languages were recorded: English
    package(finished_run, tmp_path / "old", version="1")
    assert json.loads((tmp_path / "old" / "model_info.json").read_text())["languages"] == ["en"]


def test_fakereview_explain_shows_out_of_scope_reviews_as_not_judged(tmp_path: Path, german_model: Path) -> None:
    from fakereview_nlp.cli.main import main

    source = _csv(tmp_path / "in.csv", [EN, DE])
    page = tmp_path / "page.html"
    assert main(["explain", str(source), "-o", str(page), "--model", str(german_model), "--device", "cpu"]) == 0
    html = page.read_text(encoding="utf-8")
    assert html.count("not judged</span>") == 1 and "the model reads de" in html
    assert main(["explain", str(source), "-o", str(page), "--model", str(german_model), "--device", "cpu",
                 "--out-of-scope", "score"]) == 0  # fmt: skip
    assert "not judged</span>" not in page.read_text(encoding="utf-8")
