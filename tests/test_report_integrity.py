"""Reports lose nothing silently: dropped rows counted, real errors raised, fold means say how many
folds they average, files replaced atomically, and every number equal to the metric functions'."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import make_reviews

from fakereview_nlp.evaluation import report as report_module
from fakereview_nlp.evaluation.format import prevalence_suffix
from fakereview_nlp.evaluation.report import PLOT_FILES, build_report, write_report
from fakereview_nlp.files import umask_mode
from fakereview_nlp.metrics import (
    DEFAULT_FLAG_RATES,
    average_precision,
    flag_rate_key,
    flag_rate_metrics,
    roc_auc,
    threshold_metrics,
)


def _scores(n: int = 240, seed: int = 1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    model = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.5 * (2 * labels - 1))))
    tfidf = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.0 * (2 * labels - 1))))
    folds = np.asarray([str(1 + i % 4) for i in range(n)])
    return labels, model, tfidf, folds


def _metric_functions(y, s, pis, rates) -> dict[str, float]:
    """The report's headline keys, computed straight from fakereview_nlp.metrics."""
    at = threshold_metrics(y, s, 0.5)
    out = {"accuracy": at.accuracy, "f1": at.f1, "roc_auc": roc_auc(y, s)}
    for pi in pis:
        suffix = prevalence_suffix(pi)
        out[f"average_precision{suffix}"] = average_precision(y, s, pi)
        for r in flag_rate_metrics(y, s, rates, prevalence=pi):
            out[f"precision@{flag_rate_key(r.flag_rate)}{suffix}"] = r.precision
            out[f"recall@{flag_rate_key(r.flag_rate)}{suffix}"] = r.recall
    return out


# -- rows dropped by the reader ---------------------------------------------------------------------


def test_evaluate_counts_rows_dropped_by_the_reader(tiny_model_dir: Path, tmp_path: Path) -> None:
    from fakereview_nlp.cli.main import main

    rows = [{k: str(v) for k, v in r.items()} for r in make_reviews(24)]
    rows += [
        {**rows[0], "id": "blank", "text": "   "},
        {**rows[1], "id": "nolabel", "label": ""},
        {**rows[2], "id": "both", "text": "", "label": ""},
    ]
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "report"
    args = ["evaluate", str(tiny_model_dir), str(data), "-o", str(out), "--id-column", "id"]
    assert main([*args, "--n-boot", "0", "--no-plots", "--device", "cpu"]) == 0
    info = json.loads((out / "report.json").read_text())["data"]
    assert (info["n"], info["n_rows_in_file"], info["n_rows_dropped"]) == (24, 27, 3)
    assert (info["n_rows_dropped_empty_text"], info["n_rows_dropped_missing_label"]) == (2, 2)
    text = (out / "report.md").read_text()
    assert (
        "**Rows dropped when reading:** 3 of 27 in the file (2 with empty text, 2 with a missing label)"
        in text
    )


# -- undefined metrics vs real errors ---------------------------------------------------------------


def test_a_one_class_slice_has_no_ap_but_real_errors_are_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    labels, model, _, _ = _scores()
    pure = np.where(labels == 1, "fakes_only", "mixed")
    pure[:10] = "mixed"  # "mixed" holds both classes, "fakes_only" one
    report = build_report(labels, {"transformer": model}, slices={"kind": pure.tolist()}, n_boot=0)
    by_value = {row["value"]: row["models"]["transformer"] for row in report["slices"]["kind"]}
    assert by_value["fakes_only"]["average_precision"] is None and by_value["fakes_only"]["roc_auc"] is None
    assert by_value["mixed"]["average_precision"] is not None

    real = report_module.average_precision

    def broken(y: np.ndarray, s: np.ndarray, *args: object) -> float:
        if len(y) < len(labels):  # inside a slice only: the whole-set metrics were never wrapped
            raise ValueError("metric bug")
        return real(y, s, *args)

    monkeypatch.setattr(report_module, "average_precision", broken)
    with pytest.raises(ValueError, match="metric bug"):  # used to become a silent None
        build_report(labels, {"transformer": model}, slices={"kind": pure.tolist()}, n_boot=0)


# -- fold means -------------------------------------------------------------------------------------


def test_fold_means_say_how_many_folds_they_average(tmp_path: Path) -> None:
    labels, model, tfidf, folds = _scores()
    labels = labels.copy()
    labels[folds == "4"] = 1  # fold 4 holds fakes only: no fold metrics there
    report = build_report(labels, {"transformer": model, "tfidf": tfidf}, folds=folds.tolist(), n_boot=0)
    stat = report["folds"]["summary"]["transformer"]["accuracy"]
    assert (stat["n"], stat["of"]) == (3, 4)
    defined = [f for f in report["folds"]["folds"] if f["models"]["transformer"]]
    assert stat["mean"] == pytest.approx(np.mean([f["models"]["transformer"]["accuracy"] for f in defined]))
    paired = report["folds"]["paired_vs_baseline"]["transformer"]["accuracy"]
    assert (paired["n"], paired["of"]) == (3, 4)
    write_report(report, tmp_path, plots=False)
    text = (tmp_path / "report.md").read_text()
    assert f"{stat['mean']:.3f} ± {stat['sd']:.3f} (3 of 4 folds)" in text
    assert "(4 of 4 folds)" not in text


def test_fold_means_refuse_non_finite_values() -> None:
    with pytest.raises(ValueError, match=r"fold values \[0.5, nan\] include NaN or infinity"):
        report_module._mean_sd([0.5, float("nan")], 2)


# -- atomic writes ----------------------------------------------------------------------------------


def _inodes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.iterdir()}


def test_report_files_are_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    labels, model, tfidf, _ = _scores()
    report = build_report(labels, {"transformer": model, "tfidf": tfidf}, n_boot=0)
    write_report(report, tmp_path)
    before = _inodes(tmp_path)
    assert set(before) == {"report.json", "report.md", *PLOT_FILES.values()}
    # Open handles keep the old inodes alive, so a new file cannot reuse one of their numbers.
    handles = [(tmp_path / name).open("rb") for name in before]
    try:
        write_report(report, tmp_path)
        after = _inodes(tmp_path)
    finally:
        for handle in handles:
            handle.close()
    assert set(after) == set(before)  # no temporary file left behind
    assert all(after[name] != before[name] for name in before)  # each one a new file, renamed in
    assert all((tmp_path / n).stat().st_mode & 0o777 == umask_mode() for n in after)


def test_model_card_is_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    from fakereview_nlp.cli.main import main

    labels, model, tfidf, _ = _scores()
    write_report(
        build_report(labels, {"transformer": model, "tfidf": tfidf}, n_boot=0), tmp_path / "r", plots=False
    )
    card = tmp_path / "card.md"
    card.write_text("old card\n")
    inode = card.stat().st_ino
    with card.open("rb"):
        assert main(["model-card", str(tmp_path / "r"), "-o", str(card)]) == 0
    assert card.stat().st_ino != inode and card.read_text().startswith("---\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md", "r"]
    assert card.stat().st_mode & 0o777 == umask_mode()


# -- report numbers against the metric functions ----------------------------------------------------


def test_report_and_fold_numbers_equal_the_metric_functions() -> None:
    labels, model, tfidf, folds = _scores()
    pis = [None, 0.05]
    report = build_report(labels, {"transformer": model, "tfidf": tfidf}, folds=folds.tolist(), n_boot=0)
    assert report["prevalences"] == pis
    for name, s in (("transformer", model), ("tfidf", tfidf)):
        expected = _metric_functions(labels, s, pis, DEFAULT_FLAG_RATES)
        got = report["results"][name]["metrics"]
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-12), key
        for table, pi in zip(report["results"][name]["flag_rates"], pis, strict=True):
            direct = flag_rate_metrics(labels, s, DEFAULT_FLAG_RATES, prevalence=pi)
            for row, r in zip(table["rows"], direct, strict=True):
                assert (row["threshold"], row["n_flagged"]) == (pytest.approx(r.threshold), r.n_flagged)
        per_fold = []
        for fold in report["folds"]["folds"]:
            mask = folds == fold["fold"]
            direct = _metric_functions(labels[mask], s[mask], pis, DEFAULT_FLAG_RATES)
            for key in report["headline_metrics"]:
                assert fold["models"][name][key] == pytest.approx(direct[key], abs=1e-12), (fold["fold"], key)
            per_fold.append(direct)
        for key in report["headline_metrics"]:
            stat = report["folds"]["summary"][name][key]
            values = [d[key] for d in per_fold]
            assert stat["mean"] == pytest.approx(np.mean(values), abs=1e-12)
            assert stat["sd"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
            assert (stat["n"], stat["of"]) == (4, 4)


def test_report_json_round_trips_exactly(tmp_path: Path) -> None:
    labels, model, _, _ = _scores()
    report = build_report(labels, {"transformer": model}, n_boot=0)
    write_report(report, tmp_path, plots=False)
    loaded = json.loads((tmp_path / "report.json").read_text())
    assert loaded["results"]["transformer"]["metrics"] == report["results"]["transformer"]["metrics"]
    assert os.path.getsize(tmp_path / "report.json") > 0
