"""python -m training.adapt: label checks, internal splits, the model folder, the report (tiny models, offline)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from training.adapt import (
    AdaptError,
    adapt,
    grouped_folds,
    grouped_holdout,
    main,
    parse_label_map,
    read_labels,
    resolve_options,
)

# Written for these tests; no corpus text.
_REAL = [
    "The lift was slow but the room was quiet and clean.",
    "Parking cost more than expected, breakfast was average.",
    "Friendly staff, small bathroom, good location near the station.",
    "The mattress was too soft for me, otherwise a fine stay.",
    "Checked in late, the night porter was helpful and quick.",
]
_FAKE = [
    "Absolutely amazing experience, the best product I have ever purchased!",
    "Exceptional quality and outstanding service, highly recommend to everyone!",
    "Perfect in every way, truly a delightful and unforgettable purchase!",
    "Incredible value, superb craftsmanship, five stars without hesitation!",
    "A wonderful, seamless experience from start to finish, I love it!",
]

#: Keep the fine-tune to one short epoch and the bootstrap small: these tests check plumbing, not accuracy.
FAST = ["--training.epochs=1", "--training.max_steps=2", "--adapt.n_boot=100"]


def write_labels(path: Path, n_per_class: int, *, seed: int = 0, raw: tuple[str, str] = ("genuine", "fake"),
                 copies: int = 0) -> Path:  # fmt: skip
    """``n_per_class`` fabricated reviews of each class (+ ``copies`` repeated fakes), as CSV."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_per_class):
        rows.append(
            {"id": f"g{i}", "text": f"{rng.choice(_REAL)} Room {i}.", "label": raw[0], "shop": f"s{i % 7}"}
        )
        rows.append(
            {"id": f"f{i}", "text": f"{rng.choice(_FAKE)} Order {i}.", "label": raw[1], "shop": f"s{i % 7}"}
        )
    for j in range(copies):
        rows.append({"id": f"c{j}", "text": rows[1]["text"], "label": raw[1], "shop": f"s{j % 7}"})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# ----------------------------------------------------------------------------- bad input


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_missing_column_is_one_line_exit_2(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    labels = write_labels(tmp_path / "l.csv", 12)
    code, err = run_cli(capsys, str(labels), "-o", str(tmp_path / "out"), "--base", str(tiny_model_dir),
                        "--text-column", "body")  # fmt: skip
    assert code == 2
    assert err == (
        f"adapt: error: --text-column 'body' is not a column of {str(labels)!r}; "
        "its columns are ['id', 'text', 'label', 'shop']\n"
    )
    assert not (tmp_path / "out").exists()


def test_unknown_label_names_the_value_and_the_fix(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    labels = write_labels(tmp_path / "l.csv", 12, raw=("real", "generated"))
    code, err = run_cli(capsys, str(labels), "-o", str(tmp_path / "out"), "--base", str(tiny_model_dir))
    assert code == 2
    assert err.startswith("adapt: error: label values 'generated' (12), 'real' (12) in ")
    assert "--label-map RAW=genuine,RAW=fake" in err
    assert err.count("\n") == 1


def test_too_few_of_a_class(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    labels = write_labels(tmp_path / "l.csv", 9)
    code, err = run_cli(capsys, str(labels), "-o", str(tmp_path / "out"), "--base", str(tiny_model_dir))
    assert code == 2
    assert err == (
        f"adapt: error: {str(labels)!r} holds 9 genuine and 9 fake labels; adapting needs at least 10 of "
        "each class. Label more reviews of the rarer class\n"
    )


def test_one_text_with_two_labels(tmp_path: Path) -> None:
    path = write_labels(tmp_path / "l.csv", 12)
    with path.open("a", encoding="utf-8") as handle:
        # the same text as row 0 once whitespace is normalised, labelled the other way
        first = next(csv.DictReader(path.open(encoding="utf-8")))["text"]
        handle.write(f'x1,"  {first.replace(" ", "   ")} ",fake,s0\n')
    with pytest.raises(AdaptError, match=r"^1 texts in .* carry both labels .*e\.g\. rows \(0-based, header not "
                       r"counted\) 0 and 24; give each text one label"):  # fmt: skip
        read_labels(path)


def test_verbose_shows_the_traceback(tmp_path: Path, tiny_model_dir: Path) -> None:
    labels = write_labels(tmp_path / "l.csv", 9)
    with pytest.raises(AdaptError, match="at least 10 of each class"):
        main([str(labels), "-o", str(tmp_path / "out"), "--base", str(tiny_model_dir), "-v"])


def test_label_map_and_overrides_are_checked(tmp_path: Path, tiny_model_dir: Path) -> None:
    assert parse_label_map("real=genuine, generated=fake") == {"real": "genuine", "generated": "fake"}
    with pytest.raises(AdaptError, match=r"--label-map item 'real=true' is not RAW=genuine or RAW=fake"):
        parse_label_map("real=true,generated=fake")
    with pytest.raises(AdaptError, match=r"maps nothing to \['fake'\]"):
        parse_label_map("real=genuine")
    with pytest.raises(ValueError, match=r"unknown config key 'adapt.methd'; did you mean 'adapt.method'"):
        resolve_options(tiny_model_dir, ["--adapt.methd=tfidf"])
    with pytest.raises(ValueError, match=r"'training.learning_rate' has value 'fast'"):
        resolve_options(tiny_model_dir, ["--training.learning_rate=fast"])
    opts = resolve_options(tiny_model_dir, ["--evaluation.prevalence=0.2"])
    assert opts.train.evaluation.prevalence == 0.2
    assert opts.train.model.max_length == 128  # capped by the tiny model's 128 positions


# ----------------------------------------------------------------------------- splits


def test_identical_texts_stay_on_one_side(tmp_path: Path) -> None:
    labels = read_labels(write_labels(tmp_path / "l.csv", 30, copies=12))
    copies = [i for i, t in enumerate(labels.texts) if t == labels.texts[1]]
    assert len(copies) == 13
    for seed in range(5):
        train, held = grouped_holdout(labels, 0.25, seed)
        sides = {"train" if i in set(train.tolist()) else "held" for i in copies}
        assert len(sides) == 1
        assert not {labels.texts[i] for i in train} & {labels.texts[i] for i in held}
        fold = grouped_folds(labels, 5, seed)
        assert len({int(fold[i]) for i in copies}) == 1


def test_group_column_keeps_groups_whole(tmp_path: Path) -> None:
    labels = read_labels(write_labels(tmp_path / "l.csv", 30), group_column="shop")
    train, held = grouped_holdout(labels, 0.25, 0)
    assert not {labels.groups[i] for i in train} & {labels.groups[i] for i in held}


# ----------------------------------------------------------------------------- the model folder


@pytest.fixture(scope="module")
def adapted_cv(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """Twelve labels a class: below the held-out rule, so the estimate is cross-validated."""
    tmp = tmp_path_factory.mktemp("adapt_cv")
    labels = write_labels(tmp / "labels.csv", 12, copies=2)
    adapt(labels, tmp / "model", base=tiny_model_dir, overrides=[*FAST, "--adapt.cv_folds=2"])
    return tmp / "model"


def test_folder_loads_in_classify_and_pipeline(adapted_cv: Path) -> None:
    from transformers import pipeline

    from fakereview_nlp import classify

    verdicts = classify(["Quiet room, slow lift.", "Best purchase ever, amazing!!!"], model=adapted_cv)
    assert [v.label for v in verdicts] and all(0.0 <= v.fake_score <= 1.0 for v in verdicts)
    out = pipeline("text-classification", model=str(adapted_cv))(["Quiet room, slow lift."])
    assert out[0]["label"] in ("genuine", "fake")


def test_folder_loads_in_fakereview_classify(adapted_cv: Path, tmp_path: Path) -> None:
    from fakereview_nlp.cli.main import main as cli_main

    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Quiet room and a slow lift.\n2,Best purchase ever!!!\n", encoding="utf-8")
    assert cli_main(["classify", str(source), "-o", str(tmp_path / "out.csv"), "--model", str(adapted_cv),
                     "--no-progress"]) == 0  # fmt: skip
    scored = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert "fake_score,label,flagged,language,in_scope,model_version" in scored[0] and len(scored) == 3


def test_folder_holds_the_promised_files(adapted_cv: Path) -> None:
    for name in ("calibration.json", "operating_points.json", "tfidf_model.json", "training_config.yaml",
                 "adapt_config.yaml", "model_info.json", "report.md", "report.json", "model.safetensors"):  # fmt: skip
        assert (adapted_cv / name).is_file(), name
    assert not (adapted_cv / "val_predictions.csv").exists()  # a model folder travels; no user rows in it
    info = json.loads((adapted_cv / "model_info.json").read_text())
    assert set(info) >= {"version", "languages", "base_model", "adapted_from"}
    assert info["languages"] == ["en"]
    points = json.loads((adapted_cv / "operating_points.json").read_text())
    assert points["prevalence"] == 0.05 and points["operating_flag_rate"] == 0.01


def test_cv_fallback_is_reported(adapted_cv: Path) -> None:
    report = json.loads((adapted_cv / "report.json").read_text())
    assert report["estimate"]["mode"] == "cv"
    assert report["estimate"]["n_rows"] == 26  # every label scored once, out of fold
    text = (adapted_cv / "report.md").read_text()
    assert "**Cross-validated estimate.** The rarer class has fewer than 100 labels" in text
    low, high = report["estimate"]["adapted"]["roc_auc_ci"]
    assert 0.0 <= low <= report["estimate"]["adapted"]["roc_auc"] <= high <= 1.0


def test_holdout_when_enough_labels_and_flags_from_the_cli(
    tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    labels = write_labels(tmp_path / "l.csv", 20)
    code = main([str(labels), "-o", str(tmp_path / "out"), "--base", str(tiny_model_dir), "--prevalence", "0.1",
                 "--flag-rate", "0.02", *FAST, "--adapt.holdout_min_per_class=20"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["estimate"]["mode"] == "holdout"
    assert report["estimate"]["prevalence"] == 0.1 and report["estimate"]["flag_rate"] == 0.02
    assert "**Held-out estimate.**" in (tmp_path / "out" / "report.md").read_text()
    saved = (tmp_path / "out" / "adapt_config.yaml").read_text()
    assert "operating_flag_rate: 0.02" in saved and "holdout_min_per_class: 20" in saved
    # the output exists now: a second run refuses to replace it
    code = main([str(labels), "-o", str(tmp_path / "out"), "--base", str(tiny_model_dir)])
    assert code == 2 and "already exists" in capsys.readouterr().err


def test_tfidf_method_keeps_the_base_transformer(tmp_path: Path, tiny_model_dir: Path) -> None:
    labels = write_labels(tmp_path / "l.csv", 12)
    adapt(
        labels,
        tmp_path / "out",
        base=tiny_model_dir,
        overrides=["--adapt.method=tfidf", "--adapt.n_boot=100"],
    )
    base = (tiny_model_dir / "model.safetensors").read_bytes()
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == base
    assert (tmp_path / "out" / "tfidf_model.json").is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert np.isfinite(report["estimate"]["auc_gain"])


def test_tfidf_weight_is_chosen_on_validation_labels_and_served(tmp_path: Path, tiny_model_dir: Path) -> None:
    from fakereview_nlp import FakeReviewClassifier
    from fakereview_nlp.model.baseline import combined_score

    labels = write_labels(tmp_path / "l.csv", 12)
    # the tiny random transformer ranks nothing; the TF-IDF part separates the fabricated classes
    adapt(labels, tmp_path / "out", base=tiny_model_dir,
          overrides=[*FAST, "--adapt.estimate=none", "--adapt.tfidf_weights=[0.0,1.0]"])  # fmt: skip
    clf = FakeReviewClassifier.from_pretrained(tmp_path / "out", backend="torch")
    assert clf.tfidf is not None and clf.tfidf.weight == 1.0
    texts = ["Friendly staff, small bathroom.", "Absolutely amazing, highly recommend to everyone!"]
    served = clf.predict_proba(texts)
    np.testing.assert_allclose(served, combined_score(np.zeros(2), clf.tfidf.predict_proba(texts), 1.0), atol=1e-9)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["tfidf_weight"] == 1.0
    assert "(weight chosen of [0.0, 1.0] on the validation labels)" in (tmp_path / "out" / "report.md").read_text()


def test_choose_tfidf_weight_prefers_the_earlier_on_ties() -> None:
    from training.adapt import choose_tfidf_weight

    y = np.array([0, 0, 1, 1])
    good, wrong = np.array([0.1, 0.2, 0.8, 0.9]), np.array([0.9, 0.8, 0.2, 0.1])
    assert choose_tfidf_weight(y, wrong, good, [0.5, 1.0]) == 1.0  # the mean ties the classes; the part alone ranks
    assert choose_tfidf_weight(y, good, good, [0.7, 0.5]) == 0.7  # equal AUC: the earlier
    assert choose_tfidf_weight(y, wrong, good, [0.6]) == 0.6  # one value is used as it is


def test_too_few_groups_for_a_split(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    write_labels(path, 12)
    frame = __import__("pandas").read_csv(path)
    frame["shop"] = np.where(np.arange(len(frame)) < 12, "a", "b")
    frame.to_csv(path, index=False)
    labels = read_labels(path, group_column="shop")
    with pytest.raises(AdaptError, match=r"fall into 2 groups .*too few for a split into 4 parts; use a finer "
                       r"--group-column, or none"):  # fmt: skip
        grouped_holdout(labels, 0.25, 0)


def test_estimate_none_adapts_on_every_label(tmp_path: Path, tiny_model_dir: Path) -> None:
    labels = write_labels(tmp_path / "l.csv", 12)
    result = adapt(labels, tmp_path / "out", base=tiny_model_dir, overrides=[*FAST, "--adapt.estimate=none"])
    assert result.estimate is None
    assert "**No estimate.**" in (tmp_path / "out" / "report.md").read_text()


# ----------------------------------------------------------------------------- the benchmark's draws


def test_curve_draws_are_nested_stratified_and_apart_from_the_evaluation() -> None:
    from benchmarks.adapt_curve import Corpus, draw_labels

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 600)
    groups = np.asarray([f"h{i // 10}" for i in range(600)])
    corpus = Corpus([f"review {i}" for i in range(600)], labels, groups, groups)
    draw = draw_labels(corpus, [25, 50, 100], seed=1, max_eval=200)
    assert set(draw.labelled[25]) <= set(draw.labelled[50]) <= set(draw.labelled[100])
    assert [len(draw.labelled[n]) for n in (25, 50, 100)] == [25, 50, 100]
    assert abs(labels[draw.labelled[100]].mean() - labels.mean()) < 0.02
    assert len(draw.evaluation) == 200
    assert not set(groups[draw.evaluation]) & set(groups[draw.labelled[100]])
    again = draw_labels(corpus, [25, 50, 100], seed=1, max_eval=200)
    assert np.array_equal(again.evaluation, draw.evaluation)


def test_curve_variants_keep_list_values_whole() -> None:
    from benchmarks.adapt_curve import parse_variants

    assert parse_variants(["w=--adapt.tfidf_weights=[0.5,0.7],--training.epochs=2", "t=--adapt.method=tfidf"]) == {
        "w": ["--adapt.tfidf_weights=[0.5,0.7]", "--training.epochs=2"],
        "t": ["--adapt.method=tfidf"],
    }
