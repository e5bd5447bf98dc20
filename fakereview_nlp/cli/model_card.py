"""``fakereview model-card REPORT_DIR``: a Hugging Face model card from an evaluation report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from fakereview_nlp.evaluation.model_card import build_model_card, load_report
from fakereview_nlp.files import atomic_write_text, refuse_overwriting_inputs
from fakereview_nlp.model.folder import ModelFolder


def add_model_card_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fakereview model-card`` on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "model-card",
        help="write a Hugging Face model card from an evaluation report",
        description="Write model_card.md (YAML metadata with model-index, uses, data caveats, flag-rate table, "
        "calibration, risks) from REPORT_DIR/report.json.",
    )
    parser.add_argument("report_dir", metavar="REPORT_DIR", help="directory holding report.json")
    parser.add_argument(
        "-o", "--output", default="model_card.md", help="card to write (default: model_card.md)"
    )
    parser.add_argument(
        "--model-name", default="fakereview-nlp-classifier", help="title and model-index name"
    )
    parser.add_argument(
        "--model-key", default=None, help="which model of the report (default: first non-baseline)"
    )
    parser.add_argument(
        "--model-dir",
        default=None,
        help="model directory: its calibration.json, operating_points.json and training config go into the card",
    )
    parser.add_argument("--base-model", default=None, help="pre-trained checkpoint that was fine-tuned")
    parser.add_argument("--dataset", action="append", default=[], help="training dataset name (repeatable)")
    parser.add_argument("--language", default="en", help="language code (default: en)")
    parser.add_argument("--license", default="apache-2.0", help="license id (default: apache-2.0)")
    parser.add_argument(
        "--prevalence", type=float, default=None, help="assumed prevalence of the headline table"
    )
    parser.add_argument("--repo-id", default=None, help="Hub id for the usage example")
    parser.set_defaults(handler=model_card_command)
    return parser


def model_card_command(args: argparse.Namespace) -> int:
    """Handler of ``fakereview model-card``."""
    model_dir = Path(args.model_dir) if args.model_dir else None
    model_files = [model_dir / n for n in os.listdir(model_dir)] if model_dir and model_dir.is_dir() else []
    refuse_overwriting_inputs([args.output], [Path(args.report_dir) / "report.json", *model_files])
    report = load_report(args.report_dir)
    calibration = operating = training = None
    if args.model_dir:
        folder = ModelFolder.read(args.model_dir)
        calibration, operating, training = folder.calibration, folder.operating_points, folder.training_config
        model_section = (training or {}).get("model") or {}
        if not args.base_model and model_section.get("init") != "random":
            args.base_model = model_section.get("name_or_path")
    card = build_model_card(
        report,
        model_name=args.model_name,
        model_key=args.model_key,
        base_model=args.base_model,
        datasets=args.dataset,
        language=args.language,
        license=args.license,
        prevalence=args.prevalence,
        repo_id=args.repo_id,
        training_config=training,
        calibration=calibration,
        operating_points=operating,
    )
    out = atomic_write_text(args.output, card)
    print(f"wrote {out}")
    return 0


__all__ = ["add_model_card_parser", "model_card_command"]
