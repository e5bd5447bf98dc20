"""``report.md`` and ``report.json`` of an adapted model: the base against the adapted model on unseen labels."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakereview_nlp.files import atomic_write_text

if TYPE_CHECKING:
    from training.adapt import AdaptOptions, Estimate, ModelEstimate, ResolvedOptions

REPORT_MD = "report.md"
REPORT_JSON = "report.json"


def _ci(value: float, bounds: tuple[float, float]) -> str:
    return f"{value:.3f} [{bounds[0]:.3f}, {bounds[1]:.3f}]"


def _row(name: str, m: ModelEstimate) -> str:
    return (
        f"| {name} | {_ci(m.roc_auc, m.roc_auc_ci)} | {_ci(m.average_precision, m.average_precision_ci)} | "
        f"{_ci(m.precision_at_flag_rate, m.precision_at_flag_rate_ci)} | "
        f"{_ci(m.recall_at_flag_rate, m.recall_at_flag_rate_ci)} |"
    )


def write_report(
    folder: Path,
    est: Estimate | None,
    *,
    labels_file: str,
    counts: dict[str, int],
    n_dropped: int,
    n_duplicate_rows: int,
    opts: ResolvedOptions,
    info: dict[str, Any],
    fit_seconds: float,
    wall_seconds: float,
    best_epoch: float = 0.0,
    tfidf_weight: float | None = None,
) -> None:
    """Write ``report.md`` and ``report.json`` into ``folder``."""
    a = opts.adapt
    e = opts.train.evaluation
    lines = [
        "# Adapted model report",
        "",
        _provenance(info, a, labels_file, counts, n_dropped, n_duplicate_rows),
        "",
        _how_measured(est, a, total=sum(counts.values())),
        "",
        f"Precision and recall when the top {e.operating_flag_rate:.1%} of reviews is flagged, with the labels "
        f"re-weighted to {e.prevalence:.1%} fakes (your `--flag-rate` and `--prevalence`). 95 % intervals from "
        f"{a.n_boot} bootstrap resamples of whole groups, the same resamples for both models.",
        *_before_after_table(est, e.operating_flag_rate),
        *_how_to_use(info, fit_seconds, wall_seconds, best_epoch, tfidf_weight, a.tfidf_weights),
    ]
    atomic_write_text(folder / REPORT_MD, "\n".join(lines))
    payload = {
        "estimate": None if est is None else asdict(est),
        "labels_file": labels_file,
        "counts": counts,
        "n_dropped": n_dropped,
        "n_duplicate_rows": n_duplicate_rows,
        "model_info": info,
        "fit_seconds": fit_seconds,
        "wall_seconds": wall_seconds,
        "best_epoch": best_epoch,
        "tfidf_weight": tfidf_weight,
    }
    atomic_write_text(folder / REPORT_JSON, json.dumps(payload, indent=2) + "\n")


def _provenance(
    info: dict[str, Any],
    a: AdaptOptions,
    labels_file: str,
    counts: dict[str, int],
    n_dropped: int,
    n_duplicate_rows: int,
) -> str:
    """One sentence: the base model, the method, and the labels it was adapted on."""
    return (
        f"Base model `{info['adapted_from']}` (encoder `{info['base_model']}`), adapted with method "
        f"`{a.method}` on `{labels_file}`: {counts['genuine']} genuine and {counts['fake']} fake labels"
        + (f" ({n_dropped} rows with an empty text or label dropped)" if n_dropped else "")
        + (
            f"; {n_duplicate_rows} rows repeat an earlier text (kept, always on one side of a split)"
            if n_duplicate_rows
            else ""
        )
        + "."
    )


def _how_measured(est: Estimate | None, a: AdaptOptions, *, total: int) -> str:
    """The paragraph saying which labels the figures rest on: none, a held-out part, or out-of-fold scores."""
    if est is None:
        return (
            "**No estimate.** `adapt.estimate: none` adapted on every label and set none aside, so nothing "
            "here measures the result; measure it on reviews of your own, or rerun without that option."
        )
    if est.mode == "holdout":
        return (
            f"**Held-out estimate.** {est.n_rows} of the {total} labels ({est.n_fake} fake), about "
            f"{a.holdout_fraction:.0%} in whole groups (identical texts together), were set aside before "
            "adapting; both models are scored on them only. The model in this folder was adapted on the rest."
        )
    return (
        f"**Cross-validated estimate.** The rarer class has fewer than {a.holdout_min_per_class} labels, too "
        f"few to set a held-out part aside and still adapt on enough: a held-out part of "
        f"{a.holdout_fraction:.0%} would hold fewer than {round(a.holdout_fraction * a.holdout_min_per_class)} "
        f"reviews of that class, and its AUC interval would be wider than the gain it measures. "
        f"Instead the same adaptation ran {a.cv_folds} times, each on {a.cv_folds - 1} of {a.cv_folds} "
        "grouped, stratified folds, scoring the fold it did not see; the figures pool those "
        f"out-of-fold scores ({est.n_rows} labels). The model in this folder was then adapted on all labels, "
        "so it is measured by the procedure that made it, not by itself."
    )


def _before_after_table(est: Estimate | None, flag_rate: float) -> list[str]:
    """The base and adapted model side by side with intervals, and the AUC gain; nothing without an estimate."""
    if est is None:
        return []
    return [
        "",
        f"| model | ROC AUC | average precision | precision @ {flag_rate:.1%} | recall @ {flag_rate:.1%} |",
        "|---|---|---|---|---|",
        _row("base (before)", est.base),
        _row("adapted (after)", est.adapted),
        "",
        f"AUC gain (after − before): {_ci(est.auc_gain, est.auc_gain_ci)}.",
    ]


def _how_to_use(
    info: dict[str, Any],
    fit_seconds: float,
    wall_seconds: float,
    best_epoch: float,
    tfidf_weight: float | None,
    candidates: list[float],
) -> list[str]:
    """What the folder's side files are and how to get the scores described, its languages and its timing."""
    return [
        "",
        "The calibration (`calibration.json`) and the operating threshold (`operating_points.json`) of this "
        "folder were refitted on its own validation labels at the prevalence and flag rate above. "
        "`transformers.pipeline` loads the weights but not the TF-IDF part, the temperature or the threshold: "
        "use `classify(model=...)` or `fakereview classify --model ...` for the scores this report describes.",
        "",
        f"Languages found in the labels: {', '.join(info['languages']) or 'none'} ({info['languages_method']}).",
        f"Adapting took {fit_seconds:.0f} s of {wall_seconds:.0f} s in all"
        + (f"; the model kept is that of epoch {best_epoch:.1f} (best validation)" if best_epoch else "")
        + ". Options: `adapt_config.yaml`.",
        *(
            []
            if tfidf_weight is None
            else [
                f"The served score is {1 - tfidf_weight:.2f} x the transformer's P(fake) + {tfidf_weight:.2f} x the "
                "TF-IDF part's"
                + (
                    f" (weight chosen of {candidates} on the validation labels)."
                    if len(candidates) > 1
                    else "."
                )
            ]
        ),
        "",
    ]
