"""``report.md``: the Markdown rendering of a report dict (see :func:`fakereview_nlp.evaluation.report.build_report`).

Reads the dict alone (``report.json`` holds every number), so a report can be re-rendered
without the model or the data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fakereview_nlp.evaluation.format import (
    ci_text,
    jsonable,
    markdown_table,
    mean_sd_text,
    number_text,
    prevalence_label,
    prevalence_suffix,
)
from fakereview_nlp.metrics import flag_rate_key


def _bold_best(cells: list[str], values: list[float | None]) -> list[str]:
    """Bold the highest value of a row when several models are compared."""
    present = [v for v in values if v is not None]
    if len(present) < 2 or max(present) == min(present):
        return cells
    best = max(present)
    return [f"**{c}**" if v == best else c for c, v in zip(cells, values, strict=True)]


def _false_flag_markdown(block: Mapping[str, Any]) -> list[str]:
    lines = [
        "## What drives false flags",
        "",
        f"The {block['n_explained']} highest-scoring of {block['n_false_flags']} genuine reviews scoring at or above "
        f"the {block['threshold_kind']} threshold ({block['threshold']:.4g}) were explained by occlusion; these "
        "words and word pairs recur in the spans that push them towards fake (in at least 2 reviews).",
        "",
    ]
    if not block["phrases"]:
        return lines + ["No phrase recurs.", ""]
    rows = [[f"`{p['phrase']}`", str(p["n_reviews"]), f"{p['mean_delta']:+.3f}"] for p in block["phrases"]]
    return lines + markdown_table(["phrase", "reviews", "mean score change it causes"], rows)


def _dropped_rows_line(data: Mapping[str, Any]) -> list[str]:
    """The data line on rows the reader left out, when the report knows (``fakereview evaluate`` does)."""
    if data.get("n_rows_dropped") is None:
        return []
    return [
        f"- **Rows dropped when reading:** {data['n_rows_dropped']} of {data['n_rows_in_file']} in the file "
        f"({data.get('n_rows_dropped_empty_text', 0)} with empty text, "
        f"{data.get('n_rows_dropped_missing_label', 0)} with a missing label)"
    ]


@dataclass(frozen=True)
class _Report:
    """What every section reads: the report and the entries most sections need."""

    report: Mapping[str, Any]
    plot_files: Mapping[str, str] | None
    data: Mapping[str, Any]
    models: list[str]
    results: Mapping[str, Any]
    pis: list[float | None]
    share: float
    boot: Mapping[str, Any]


def render_markdown(report: Mapping[str, Any], plot_files: Mapping[str, str] | None = None) -> str:
    """``report.md``: verdict against the baseline, flag-rate tables, threshold metrics, folds, slices, plots."""
    data = report["data"]
    models: list[str] = report["models"]
    results = report["results"]
    pis = report["prevalences"]
    share = data["share_fake"]
    boot = report["bootstrap"]
    context = _Report(
        report=report, plot_files=plot_files, data=data, models=models, results=results, pis=pis, share=share, boot=boot
    )
    lines: list[str] = []
    sections = (_md_overview, _md_verdicts, _md_ranking, _md_flag_rates, _md_thresholds, _md_breakdowns, _md_appendix)
    for section in sections:
        lines += section(context)
    return "\n".join(lines)


def _md_overview(ctx: _Report) -> list[str]:
    """Title, the data and how uncertainty was estimated."""
    report = ctx.report
    data = ctx.data
    models = ctx.models
    share = ctx.share
    boot = ctx.boot
    lines = ["# Fake-review detection report", ""]
    source = data.get("path") or data.get("source") or "scores passed in"
    lines += [
        f"- **Data:** {source}; {data['n']} reviews, {data['n_fake']} fake ({100 * share:.1f}%), "
        f"{data['n_genuine']} genuine"
        + ("" if data.get("n_groups") is None else f", {data['n_groups']} groups"),
        *_dropped_rows_line(data),
        f"- **Models:** {', '.join(f'`{m}`' for m in models)}"
        + ("" if report["baseline"] is None else f"; baseline `{report['baseline']}`"),
        f"- **Fingerprint:** {data.get('rows_sha256') or data.get('file_sha256') or data['labels_sha256']}",
        "- **CIs:** "
        + (
            f"{100 * boot['confidence']:g}% percentile bootstrap, {boot['n_boot']} resamples of "
            f"{boot['unit']}s, seed {boot['seed']}"
            if boot["n_boot"]
            else "none (n_boot = 0)"
        ),
        f"- **Created:** {report['created']} by fakereview_nlp {report['package_version']}",
        "",
    ]
    if boot["n_boot"] and boot["unit"] == "group" and (data.get("n_groups") or 0) < 10:
        lines += [
            f"> Only {data['n_groups']} groups are resampled: the intervals are rough; pool more folds "
            "(out-of-fold scores) for tighter ones.",
            "",
        ]
    lines += [
        "Flag rate *r*: the top *r* share of reviews by score is flagged. Precision is the share of",
        "flagged reviews that are fake, recall the share of all fakes flagged. At an assumed",
        "prevalence π the reviews are re-weighted so that a share π is fake, as in real traffic.",
        "",
    ]
    return lines


def _md_verdicts(ctx: _Report) -> list[str]:
    """One verdict per model against the baseline, first: a loss to TF-IDF must be visible at a glance."""
    report = ctx.report
    lines: list[str] = []
    # Verdict first: a transformer that loses to TF-IDF must be visible at a glance.
    for block in report["comparison"]:
        name, base = block["model"], block["baseline"]
        worse = block["worse_on"]
        significant = [r["metric"] for r in block["rows"] if r["verdict"] == "worse"]
        lines.append(f"## Verdict: `{name}` vs baseline `{base}`")
        lines.append("")
        if significant:
            lines.append(
                f"> ❌ **`{name}` LOSES to `{base}`** on {len(significant)} of {len(block['rows'])} metrics "
                f"(the CI of the difference excludes 0): {', '.join(significant)}."
            )
        elif worse:
            lines.append(
                f"> ⚠️ **`{name}` is below `{base}`** on {len(worse)} of {len(block['rows'])} metrics, none "
                f"significantly: {', '.join(worse)}."
            )
        else:
            lines.append(f"> ✅ **`{name}` matches or beats `{base}`** on all {len(block['rows'])} metrics.")
        lines.append("")
        key_rows = [r for r in block["rows"] if _is_key_metric(r["metric"], report)]
        rows = []
        for r in key_rows:
            ci = r["difference_ci"]
            mark = {"better": "✅", "worse": "❌", "worse (not significant)": "⚠️"}.get(r["verdict"], "≈")
            rows.append(
                [
                    r["metric"],
                    number_text(r["model"]),
                    number_text(r["baseline"]),
                    f"{r['difference']:+.3f}" + ("" if ci is None else f" ({ci[0]:+.3f} to {ci[1]:+.3f})"),
                    f"{mark} {r['verdict']}",
                ]
            )
        lines += markdown_table(["metric", f"`{name}`", f"`{base}`", "difference (CI)", "verdict"], rows)
    return lines


def _md_ranking(ctx: _Report) -> list[str]:
    """## Ranking and calibration: one row per metric, one column per model."""
    report = ctx.report
    models = ctx.models
    results = ctx.results
    pis = ctx.pis
    lines: list[str] = []
    lines += ["## Ranking and calibration", ""]
    rows = []
    header = ["metric", *[f"`{m}`" for m in models]]
    metric_names = ["accuracy", "f1", "roc_auc"] + [f"average_precision{prevalence_suffix(pi)}" for pi in pis]
    for key in metric_names:
        values = [results[m]["metrics"][key] for m in models]
        cells = [ci_text(v, (results[m]["ci"] or {}).get(key)) for m, v in zip(models, values, strict=True)]
        label = key if key not in ("accuracy", "f1") else f"{key} (score ≥ {report['threshold']:g})"
        rows.append([label, *_bold_best(cells, values)])
    for key, label in (("ece", "ECE (10 bins, lower is better)"), ("brier", "Brier score (lower is better)")):
        rows.append([label, *[number_text((results[m]["calibration"] or {}).get(key)) for m in models]])
    lines += markdown_table(header, rows)
    return lines


def _md_flag_rates(ctx: _Report) -> list[str]:
    """## Precision and recall at fixed flag rates, one table per prevalence."""
    report = ctx.report
    models = ctx.models
    results = ctx.results
    pis = ctx.pis
    share = ctx.share
    lines: list[str] = []
    lines += ["## Precision and recall at fixed flag rates", ""]
    for i, pi in enumerate(pis):
        lines += [f"### At {prevalence_label(pi, share)}", ""]
        header = ["flag rate"]
        header += [f"precision `{m}`" for m in models] + [f"recall `{m}`" for m in models]
        header += [f"threshold (n flagged) `{m}`" for m in models]
        rows = []
        tables = [results[m]["flag_rates"][i]["rows"] for m in models]
        for j, rate in enumerate(report["flag_rates"]):
            entries = [t[j] for t in tables]
            precision = _bold_best(
                [ci_text(e["precision"], e["precision_ci"]) for e in entries],
                [e["precision"] for e in entries],
            )
            recall = _bold_best(
                [ci_text(e["recall"], e["recall_ci"]) for e in entries], [e["recall"] for e in entries]
            )
            thresholds = [f"{e['threshold']:.5g} ({e['n_flagged']})" for e in entries]
            rows.append([f"{100 * rate:g}%", *precision, *recall, *thresholds])
        lines += markdown_table(header, rows)
        if pi is not None:
            low, high = min(report["flag_rates"]), max(report["flag_rates"])
            note = (
                f"At π = {100 * pi:g}%, recall cannot exceed r/π ({min(1.0, low / pi):.3f} at {100 * low:g}%)"
            )
            if high > pi:
                note += f" and precision cannot exceed π/r when r > π ({pi / high:.3f} at {100 * high:g}%)"
            lines += [note + ".", ""]
    return lines


def _md_thresholds(ctx: _Report) -> list[str]:
    """## Threshold metrics at 0.5 and at the saved operating threshold."""
    models = ctx.models
    results = ctx.results
    share = ctx.share
    lines: list[str] = []
    lines += ["## Threshold metrics", ""]
    rows = []
    for m in models:
        for block in results[m]["thresholds"]:
            for tm in block["by_prevalence"]:
                rows.append(
                    [
                        f"`{m}`",
                        f"{block['name']} ({block['threshold']:.4g})",
                        prevalence_label(tm["prevalence"], share),
                        number_text(tm["accuracy"]),
                        number_text(tm["precision"]),
                        number_text(tm["recall"]),
                        number_text(tm["f1"]),
                        number_text(tm["flag_rate"]),
                    ]
                )
    lines += markdown_table(
        ["model", "threshold", "weighting", "accuracy", "precision", "recall", "F1", "flag rate"], rows
    )
    return lines


def _md_breakdowns(ctx: _Report) -> list[str]:
    """Folds, slices, review lengths and what drives false flags, where the report has them."""
    report = ctx.report
    models = ctx.models
    lines: list[str] = []
    if report.get("folds"):
        lines += _fold_markdown(report)
    for column, block in (report.get("slices") or {}).items():
        lines += [f"## By {column}", ""] + _slice_markdown(block, models, report["slice_flag_rate"])
    if report.get("length_buckets"):
        lines += ["## By review length", ""] + _slice_markdown(
            report["length_buckets"], models, report["slice_flag_rate"]
        )

    if report.get("false_flag_phrases"):
        lines += _false_flag_markdown(report["false_flag_phrases"])
    return lines


def _md_appendix(ctx: _Report) -> list[str]:
    """The plots and the configuration the report was built with."""
    report = ctx.report
    plot_files = ctx.plot_files
    lines: list[str] = []
    if plot_files:
        lines += ["## Plots", ""]
        captions = {
            "flag_rate_curves": "Precision and recall vs flag rate (bands: bootstrap CIs)",
            "pr_curve": "Precision–recall curves",
            "reliability": "Reliability diagram of P(fake)",
            "score_histograms": "Score histograms per class",
        }
        for key, file in plot_files.items():
            lines += [f"![{captions.get(key, key)}]({file})", ""]
    if report.get("config"):
        lines += [
            "## Configuration",
            "",
            "```json",
            json.dumps(jsonable(report["config"]), indent=2),
            "```",
            "",
        ]
    return lines


def _is_key_metric(metric: str, report: Mapping[str, Any]) -> bool:
    """Rows of the verdict table: accuracy, AUC, AP, and precision/recall at 1 % (or the smallest rate)."""
    if metric in ("accuracy", "roc_auc") or metric.startswith("average_precision"):
        return True
    rates = report["flag_rates"]
    key_rate = 0.01 if 0.01 in rates else min(rates)
    head = metric.split("[")[0]
    return head in (f"precision@{flag_rate_key(key_rate)}", f"recall@{flag_rate_key(key_rate)}")


def _fold_markdown(report: Mapping[str, Any]) -> list[str]:
    folds = report["folds"]
    models: list[str] = report["models"]
    rates = report["flag_rates"]
    key_rate = flag_rate_key(0.01 if 0.01 in rates else min(rates))
    pis = report["prevalences"]
    keys = ["accuracy", "average_precision", f"precision@{key_rate}", f"recall@{key_rate}"]
    keys += [f"average_precision{prevalence_suffix(pi)}" for pi in pis if pi is not None]
    keys += [f"precision@{key_rate}{prevalence_suffix(pi)}" for pi in pis if pi is not None]
    lines = ["## Per fold (paired: every model on the same folds)", ""]
    header = ["fold", "n"] + [f"{k} `{m}`" for k in keys for m in models]
    rows = []
    for fold in folds["folds"]:
        row = [fold["fold"], str(fold["n"])]
        for k in keys:
            values = [(fold["models"][m] or {}).get(k) for m in models]
            row += _bold_best([number_text(v) for v in values], values)
        rows.append(row)
    summary_row = ["mean ± sd", ""]
    for k in keys:
        for m in models:
            summary_row.append(mean_sd_text(folds["summary"][m][k]))
    rows.append(summary_row)
    lines += markdown_table(header, rows)
    for name, block in folds["paired_vs_baseline"].items():
        lines += [f"Paired per-fold difference `{name}` − `{report['baseline']}`:", ""]
        rows = [
            [
                k,
                mean_sd_text(block[k], signed=True),
                f"{block[k]['wins']} / {block[k]['losses']}",
            ]
            for k in keys
        ]
        lines += markdown_table(["metric", "mean ± sd of difference", "folds won / lost"], rows)
    return lines


def _slice_markdown(
    block: Sequence[Mapping[str, Any]], models: Sequence[str], slice_rate: float
) -> list[str]:
    lines = [
        f"Flagged, recall and false-flag rate use each model's threshold that flags {100 * slice_rate:g}% of "
        "*all* reviews; a slice flagged far above that rate is where false accusations concentrate.",
        "",
    ]
    header = ["value", "n", "fake"]
    for k in ("accuracy", "AP", "flagged", "recall", "false-flag rate"):
        header += [f"{k} `{m}`" for m in models]
    rows = []
    for row in block:
        cells = [row["value"], str(row["n"]), str(row["n_fake"])]
        for key in ("accuracy", "average_precision"):
            values = [row["models"][m][key] for m in models]
            cells += _bold_best([number_text(v) for v in values], values)
        for key in ("flagged_share", "recall_at_global_threshold", "false_flag_rate"):
            cells += [number_text(row["models"][m][key]) for m in models]
        rows.append(cells)
    return lines + markdown_table(header, rows)


__all__ = ["render_markdown"]
