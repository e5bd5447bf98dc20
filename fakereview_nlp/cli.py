"""The ``fakereview`` command: ``classify``, ``evaluate``, ``model-card`` and ``prepare``.

Each subcommand lives with the noun it works on (``batch``, ``report``, ``model_card``,
``corpora``) and registers itself here; this file only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: module providing each subcommand, and the name of its ``add_*_parser(subparsers)`` function.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("fakereview_nlp.batch", "add_classify_parser"),
    ("fakereview_nlp.report_cli", "add_evaluate_parser"),
    ("fakereview_nlp.model_card", "add_model_card_parser"),
    ("fakereview_nlp.corpora", "add_prepare_parser"),
    ("fakereview_nlp.explain_html", "add_explain_parser"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakereview",
        description="Score reviews as genuine or fake, evaluate detectors at fixed flag rates, prepare corpora.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name, function_name in SUBCOMMANDS:
        getattr(importlib.import_module(module_name), function_name)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s"
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"subcommand {args.command!r} registered no handler (set_defaults(handler=...))")
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
