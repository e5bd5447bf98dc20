"""The evaluation report: build_report/write_report on given scores, and `fakereview evaluate` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fakereview_nlp.cli.evaluate import parse_flag_rates, parse_label_map
from fakereview_nlp.evaluation.report import PLOT_FILES, build_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _scores(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    strong = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.5 * (2 * labels - 1))))
    weak = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 0.3 * (2 * labels - 1))))
    return labels, strong, weak


def test_build_report_side_by_side_with_folds_slices_and_lengths(tmp_path):
    labels, strong, weak = _scores()
    n = len(labels)
    report = build_report(
        labels,
        {"transformer": weak, "tfidf": strong},
        groups=[f"h{i % 20}" for i in range(n)],
        slices={"polarity": ["pos" if i % 2 else "neg" for i in range(n)]},
        lengths=np.arange(n) % 500,
        prevalences=[0.05],
        folds=[str(1 + i % 4) for i in range(n)],
        n_boot=50,
        config={"note": "test"},
        data={"path": "synthetic"},
    )
    assert report["baseline"] == "tfidf"
    assert report["prevalences"] == [None, 0.05]
    result = report["results"]["transformer"]
    assert [r["flag_rate"] for r in result["flag_rates"][0]["rows"]] == [0.005, 0.01, 0.02, 0.05, 0.1]
    row = result["flag_rates"][1]["rows"][1]
    assert row["precision_ci"][0] <= row["precision"] <= row["precision_ci"][1]
    # The weak transformer loses to the strong baseline, significantly, and the report says so.
    (comparison,) = report["comparison"]
    assert "accuracy" in comparison["worse_on"]
    verdicts = {r["metric"]: r["verdict"] for r in comparison["rows"]}
    assert verdicts["average_precision"] == "worse"
    folds = report["folds"]
    assert [f["fold"] for f in folds["folds"]] == ["1", "2", "3", "4"]
    assert folds["paired_vs_baseline"]["transformer"]["accuracy"]["losses"] == 4
    assert [r["value"] for r in report["slices"]["polarity"]] == ["neg", "pos"]
    assert report["length_buckets"][0]["value"] == "<50 words"

    written = write_report(report, tmp_path)
    assert set(written) == {"json", "markdown", *PLOT_FILES}
    for key in PLOT_FILES:
        assert written[key].read_bytes()[:8] == PNG_MAGIC
    markdown = written["markdown"].read_text()
    assert "❌ **`transformer` LOSES to `tfidf`**" in markdown
    assert "## Per fold" in markdown and "## By polarity" in markdown and "## By review length" in markdown
    loaded = json.loads(written["json"].read_text())
    assert loaded["results"]["tfidf"]["metrics"]["accuracy"] == pytest.approx(
        report["results"]["tfidf"]["metrics"]["accuracy"]
    )


def test_build_report_is_deterministic_and_works_without_bootstrap():
    labels, strong, _ = _scores(seed=1)
    a = build_report(labels, {"m": strong}, n_boot=30, seed=4)
    b = build_report(labels, {"m": strong}, n_boot=30, seed=4)
    assert a["results"] == b["results"]
    plain = build_report(labels, {"m": strong}, n_boot=0)
    assert plain["results"]["m"]["ci"] is None
    assert plain["comparison"] == [] and plain["folds"] is None


def test_build_report_accepts_raw_scores_without_calibration(tmp_path):
    labels, strong, _ = _scores(seed=2)
    report = build_report(labels, {"svm": np.log(strong / (1 - strong))}, n_boot=0)
    assert report["results"]["svm"]["calibration"] is None
    written = write_report(report, tmp_path)
    assert "reliability" not in written  # no probabilities, no reliability diagram


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores_by_model": {}}, r"scores_by_model is empty"),
        (
            {"scores_by_model": {"m": [0.1, 0.2]}},
            r"scores of model 'm' have shape \(2,\) but there are 4 labels",
        ),
        ({"folds": ["1"]}, r"folds has 1 entries for 4 reviews"),
        ({"lengths": [10, 20]}, r"lengths has 2 entries for 4 reviews"),
        ({"slices": {"polarity": ["pos"]}}, r"slice 'polarity' has 1 entries for 4 reviews"),
        ({"baseline": "tfidf"}, r"baseline 'tfidf' is not one of the models \['m'\]"),
        ({"prevalences": [2.0]}, r"prevalence 2.0 is outside \(0, 1\)"),
    ],
)
def test_build_report_bad_inputs(kwargs, message):
    args = {"scores_by_model": {"m": [0.9, 0.1, 0.8, 0.3]}, "n_boot": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_report([1, 0, 1, 0], **args)


def test_option_parsers():
    assert parse_label_map("truthful=genuine, deceptive=fake") == {"truthful": "genuine", "deceptive": "fake"}
    assert parse_label_map(None) is None
    with pytest.raises(ValueError, match=r"--label-map entry 'truthful' is not RAW=LABEL"):
        parse_label_map("truthful")
    assert parse_flag_rates("0.005,1%,0.1") == (0.005, 0.01, 0.1)
    with pytest.raises(ValueError, match=r"flag rate 5.0 is outside \(0, 1\]"):
        parse_flag_rates("5")


def test_evaluate_command_on_tiny_model(tiny_model_dir, reviews_csv, tmp_path):
    from fakereview_nlp.cli.main import main

    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            str(tiny_model_dir),
            str(reviews_csv),
            "-o",
            str(out),
            "--group-column",
            "group",
            "--split-column",
            "fold",
            "--split",
            "1",
            "--split",
            "2",
            "--slice-column",
            "group",
            "--baseline",
            "tfidf",
            "--prevalence",
            "0.05",
            "--prevalence",
            "0.2",
            "--flag-rates",
            "0.05,0.1,0.25",
            "--n-boot",
            "20",
        ]
    )
    assert code == 0
    for name in ["report.json", "report.md", *PLOT_FILES.values()]:
        assert (out / name).is_file(), name
    for name in PLOT_FILES.values():
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    report = json.loads((out / "report.json").read_text())
    assert report["models"] == ["transformer", "tfidf"]
    assert report["prevalences"] == [None, 0.05, 0.2]
    assert report["flag_rates"] == [0.05, 0.1, 0.25]
    assert report["data"]["n"] == 32  # folds 1 and 2 of 48 rows
    assert report["config"]["baseline"]["n_train"] == 16
    assert len(report["data"]["rows_sha256"]) == 64 and len(report["data"]["file_sha256"]) == 64
    assert [f["fold"] for f in report["folds"]["folds"]] == ["1", "2"]
    assert {r["value"] for r in report["slices"]["group"]} <= {f"hotel{i}" for i in range(6)}
    assert "## Verdict: `transformer` vs baseline `tfidf`" in (out / "report.md").read_text()


def test_evaluate_command_baseline_needs_training_rows(tiny_model_dir, reviews_csv, tmp_path, capsys):
    from fakereview_nlp.cli.main import main

    # SystemExit("message") from a handler is a user error: one line, exit code 2 (fakereview_nlp.cli.main)
    assert main(["evaluate", str(tiny_model_dir), str(reviews_csv), "-o", str(tmp_path), "--baseline", "tfidf"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after evaluate's own "scoring" bar
    assert last.startswith("fakereview: error: --baseline tfidf needs training rows")


def test_presorted_bootstrap_path_matches_direct_metrics():
    """The O(n) resample path (multiplicities on pre-sorted scores) equals recomputing on the resample."""
    from fakereview_nlp.evaluation.report import _headline_keys, _Ranked, summary_metrics
    from fakereview_nlp.metrics import flag_rate_point, review_weights

    rng = np.random.default_rng(0)
    pis, rates, curve_rates = [None, 0.05, 0.3], (0.005, 0.01, 0.1, 0.5, 1.0), (0.02, 0.2)
    checked = 0
    for _ in range(100):
        n = int(rng.integers(2, 60))
        labels = rng.integers(0, 2, n)
        scores = np.round(rng.random(n), int(rng.integers(0, 3)))  # 0–2 decimals: many ties
        idx = rng.integers(0, n, n)
        if labels.sum() in (0, n) or labels[idx].sum() in (0, n):
            continue
        mult = np.bincount(idx, minlength=n).astype(np.float64)
        head, curve = _Ranked(labels, scores).stats(mult, pis, rates, curve_rates, 0.5)
        direct = summary_metrics(labels[idx], scores[idx], prevalences=pis, flag_rates=rates)
        np.testing.assert_allclose(head, [direct[k] for k in _headline_keys(pis, rates)], atol=1e-12)
        expected = []
        for pi in pis:
            pts = flag_rate_point(labels[idx], scores[idx], review_weights(labels[idx], pi), curve_rates)
            expected += list(pts[:, 1]) + list(pts[:, 2])
        np.testing.assert_allclose(curve, expected, atol=1e-12)
        checked += 1
    assert checked > 50


def test_evaluate_command_with_train_data_and_no_plots(tiny_model_dir, reviews_csv, tmp_path):
    from fakereview_nlp.cli.main import main

    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            str(tiny_model_dir),
            str(reviews_csv),
            "-o",
            str(out),
            "--baseline",
            "tfidf",
            "--train-data",
            str(reviews_csv),
            "--n-boot",
            "0",
            "--no-plots",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["baseline"]["n_train"] == 48 and report["folds"] is None


def test_evaluate_command_on_a_fake_reviews_cg_schema_file(tiny_model_dir, tmp_path):
    """A held-out file in fake_reviews_cg's schema (id,text,label,split,category,rating) scores as is."""
    import csv

    from fakereview_nlp.cli.main import main

    path = tmp_path / "heldout.csv"
    rows = []
    for i in range(40):
        fake = i % 2 == 1
        text = f'Review {i}: the kettle boils fast, café-grade, "quiet"\nand cheap' + ("" if fake else ".")
        rows.append(
            {
                "id": f"test-{i}",
                "text": text,
                "label": "fake" if fake else "genuine",
                "split": "test",
                "category": ["Books_5", "Kindle_Store_5"][i % 4 // 2],
                "rating": f"{1 + i % 5}.0",
            }
        )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "report"
    args = ["evaluate", str(tiny_model_dir), str(path), "-o", str(out), "--id-column", "id"]
    assert main([*args, "--slice-column", "category", "--n-boot", "10", "--no-plots"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["n"] == 40 and report["models"] == ["transformer"]
    assert {r["value"] for r in report["slices"]["category"]} == {"Books_5", "Kindle_Store_5"}


def test_evaluate_a_hub_model_reports_at_its_saved_threshold(tiny_model_dir, reviews_csv, tmp_path, monkeypatch):
    # A Hub id is not a local folder: evaluate once re-read the side files from the id itself,
    # found none, and reported at 0.5 while the loaded classifier flagged at the saved threshold.
    import shutil

    import huggingface_hub

    from fakereview_nlp.cli.main import main

    snapshot = tmp_path / "hub_snapshot"
    shutil.copytree(tiny_model_dir, snapshot)
    (snapshot / "operating_points.json").write_text(
        json.dumps({"threshold": 0.37, "operating_flag_rate": 0.1, "prevalence": None, "points": []})
    )
    (snapshot / "calibration.json").write_text(json.dumps({"temperature": 1.5, "ece_before": 0.1, "ece_after": 0.05}))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kwargs: str(snapshot))
    out = tmp_path / "report"
    code = main(["evaluate", "some-org/some-model", str(reviews_csv), "-o", str(out), "--no-plots", "--n-boot", "5"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["calibration"]["temperature"] == 1.5
    (model,) = report["models"]
    names = {t["name"]: t["threshold"] for t in report["results"][model]["thresholds"]}
    assert names["operating"] == pytest.approx(0.37)
