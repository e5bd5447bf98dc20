"""PNG plots of an evaluation report (matplotlib, headless ``Agg`` backend).

Every plot is drawn from the report dict alone (``report.json`` holds the curves), so a report
can be re-plotted without the model or the data. Only the score histograms need raw scores,
which the report keeps as binned counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fakereview_nlp.evaluation.format import PLOT_FILES, prevalence_label
from fakereview_nlp.files import atomic_path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def write_plots(report: Mapping[str, Any], folder: Path) -> dict[str, Path]:
    """Draw every plot into ``folder``; returns plot kind → path."""
    plt = _pyplot()
    written = {}
    for key, draw in (
        ("flag_rate_curves", _flag_rate_curves),
        ("pr_curve", _pr_curves),
        ("reliability", _reliability),
        ("score_histograms", _histograms),
    ):
        fig = draw(plt, report)
        if fig is None:
            continue
        path = folder / PLOT_FILES[key]
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        written[key] = path
    return written


def _colors(plt: Any, n: int) -> list[Any]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    return [cycle[i % len(cycle)] for i in range(n)]


def _flag_rate_curves(plt: Any, report: Mapping[str, Any]) -> Any:
    models = report["models"]
    pis = report["prevalences"]
    share = report["data"]["share_fake"]
    fig, axes = plt.subplots(2, len(pis), figsize=(5.2 * len(pis), 7.5), squeeze=False, sharex=True)
    for col, pi in enumerate(pis):
        for model, color in zip(models, _colors(plt, len(models)), strict=True):
            curve = report["curves"][model][col]
            rates = np.asarray(curve["flag_rates"])
            for row, metric in enumerate(("precision", "recall")):
                ax = axes[row][col]
                ax.plot(rates, curve[metric], color=color, label=model, lw=1.8)
                if f"{metric}_low" in curve:
                    ax.fill_between(
                        rates, curve[f"{metric}_low"], curve[f"{metric}_high"], color=color, alpha=0.18
                    )
        for row, metric in enumerate(("precision", "recall")):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(True, which="both", alpha=0.3)
            ax.set_ylabel(metric)
            for rate in report["flag_rates"]:
                ax.axvline(rate, color="grey", lw=0.6, ls=":")
            if metric == "precision":
                ax.set_title(prevalence_label(pi, share))
                base = share if pi is None else pi
                ax.axhline(base, color="black", lw=0.8, ls="--", label=f"random ({base:.3f})")
            else:
                ax.set_xlabel("flag rate (share of reviews flagged, log scale)")
        axes[0][col].legend(fontsize=8, loc="lower left")
    fig.suptitle("Precision and recall vs flag rate (bands: bootstrap CIs)")
    return fig


def _pr_curves(plt: Any, report: Mapping[str, Any]) -> Any:
    models = report["models"]
    pis = report["prevalences"]
    share = report["data"]["share_fake"]
    fig, ax = plt.subplots(figsize=(6, 5))
    styles = ["-", "--", ":", "-."]
    for model, color in zip(models, _colors(plt, len(models)), strict=True):
        for i, pi in enumerate(pis):
            curve = report["curves"][model][i]["pr_curve"]
            ap = report["results"][model]["metrics"].get(
                "average_precision" + ("" if pi is None else f"[π={100 * pi:g}%]")
            )
            ax.step(
                # Precision p_k holds between recalls r_{k-1} and r_k: a post-step from 0.
                np.r_[0.0, curve["recall"]],
                np.r_[curve["precision"], curve["precision"][-1]],
                where="post",
                color=color,
                ls=styles[i % len(styles)],
                label=f"{model}, {prevalence_label(pi, share)} (AP {ap:.3f})",
            )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("Precision–recall curves")
    return fig


def _reliability(plt: Any, report: Mapping[str, Any]) -> Any:
    models = [m for m in report["models"] if report["results"][m]["calibration"]]
    if not models:
        return None
    fig, (ax, ax_count) = plt.subplots(
        2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="perfectly calibrated")
    n_bins = report["results"][models[0]]["calibration"]["n_bins"]
    centres = (np.arange(n_bins) + 0.5) / n_bins
    width = 0.8 / (n_bins * len(models))
    for k, (model, color) in enumerate(zip(models, _colors(plt, len(models)), strict=True)):
        cal = report["results"][model]["calibration"]
        bins = cal["bins"]
        xs = [b["mean_score"] for b in bins if b["count"]]
        ys = [b["share_fake"] for b in bins if b["count"]]
        ax.plot(xs, ys, marker="o", color=color, label=f"{model} (ECE {cal['ece']:.3f})")
        offset = (k - (len(models) - 1) / 2) * width
        ax_count.bar(centres + offset, [b["count"] for b in bins], width=width, color=color, alpha=0.7)
    ax.set_ylabel("observed share of fakes")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Reliability diagram of P(fake)")
    ax_count.set_xlabel("predicted P(fake)")
    ax_count.set_ylabel("reviews")
    ax_count.set_yscale("symlog")
    return fig


def _histograms(plt: Any, report: Mapping[str, Any]) -> Any:
    models = report["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        hist = report["results"][model]["histogram"]
        edges = np.asarray(hist["edges"])
        for label, color in (("genuine", "C0"), ("fake", "C3")):
            ax.stairs(hist[label], edges, fill=True, alpha=0.45, color=color, label=label)
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")  # narrow ranges: no "1e-7+0.5" offset
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.set_xlabel("score (P(fake))" if report["results"][model]["scores_are_probabilities"] else "score")
        ax.set_ylabel("reviews")
        ax.set_title(model)
        ax.legend(fontsize=8)
    fig.suptitle("Score histograms per class")
    return fig
