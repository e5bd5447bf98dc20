"""``fakereview runtime [MODEL]``: build the ONNX copies and measure which runtime ``"auto"`` uses here."""

from __future__ import annotations

import argparse
from typing import Any

from fakereview_nlp.model.default_model import resolve_model
from fakereview_nlp.model.folder import ModelFolder
from fakereview_nlp.runtime.choice import RuntimeChoice, choice_path
from fakereview_nlp.runtime.measure import prepare_runtime


def add_runtime_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fakereview runtime`` on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "runtime",
        help="measure the fastest runtime for a model on this machine (what backend='auto' uses)",
        description="Build the model's ONNX Runtime copies (float32 and int8), time torch and both on this CPU "
        "with made-up probe reviews, check their verdicts against float32 torch, and cache the pick that "
        "backend='auto' then uses. classify() starts this in the background by itself; run it in the "
        "foreground when building an image, or after changing the CPU or libraries.",
    )
    parser.add_argument(
        "model", nargs="?", default=None, metavar="MODEL",
        help="model directory or Hub id (default: $FAKEREVIEW_MODEL, then the reference model)",
    )  # fmt: skip
    parser.set_defaults(handler=runtime_command)
    return parser


def runtime_command(args: argparse.Namespace) -> int:
    """Handler of ``fakereview runtime``."""
    folder = ModelFolder.from_pretrained(resolve_model(args.model)).path
    choice = prepare_runtime(folder)
    print(choice_markdown(choice))
    print(
        f"\nbackend='auto' uses {choice.backend!r} for {folder} on this machine (cached in {choice_path(folder)})"
    )
    return 0


def choice_markdown(choice: RuntimeChoice) -> str:
    """The measurement as a Markdown table; the runtime picked in bold."""
    machine = choice.machine
    lines = [
        f"CPU: {machine.get('cpu', '?')}, flags {', '.join(machine.get('flags', [])) or 'none of note'}, "
        f"{machine.get('threads', '?')} threads; {choice.probe_reviews} probe reviews.",
        "",
        "| runtime | reviews/s | labels as float32 torch | flags as float32 torch | may be picked |",
        "|---|---:|---:|---:|---|",
    ]
    for t in choice.timings:
        name = f"**{t.backend}**" if t.backend == choice.backend else t.backend
        ok = "yes" if t.eligible else f"no: {t.why}"
        lines.append(
            f"| {name} | {t.reviews_per_s:.1f} | {t.label_agreement:.1%} | {t.flag_agreement:.1%} | {ok} |"
        )
    return "\n".join(lines)
