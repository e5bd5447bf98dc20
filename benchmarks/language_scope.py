"""Out-of-scope text, after: what the shipped reference model now returns on reviews it cannot read.

Issue #20 item 8. ``fakereview_nlp.classify`` identifies each review's language and, by default
(``out_of_scope="abstain"``), gives no verdict on text outside the model's languages. Measured here:

* ``after``: the shipped reference (``fakereview_nlp.default_model_path()``) on a seeded sample
  (seed 0, the same sample as ``benchmarks/language_id.py``'s "before" section) of MAiDE-up's *real*
  reviews per language: the share put out of scope, and the share still **labelled fake without
  notice** (``in_scope`` true and ``label == "fake"``; goal 0 % outside English). English is the
  control: the language the model reads.
* ``english``: every English corpus in ``../shared/data`` (op_spam, combat_ai, amazon_labeled, a
  3,000-row sample of fake_reviews_cg, MAiDE-up's English real and generated rows): the share of
  English reviews wrongly put out of scope (goal at most 1 %), by reason. Language ID only: no model.

Figures only, no review text. Usage::

    python benchmarks/language_scope.py --data-dir ../shared/data --out reports/language_scope
    python benchmarks/language_scope.py --sections english      # language ID only, about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SEED = 0
FCG_SAMPLE = 3000
ENGLISH_CORPORA = ("op_spam", "combat_ai", "amazon_labeled", "fake_reviews_cg")
MAIDE_LANGUAGES = (
    "Chinese", "English", "French", "German", "Italian", "Korean", "Romanian", "Russian", "Spanish", "Turkish",
)  # fmt: skip


def _rate(hits: int, n: int) -> float:
    return hits / n if n else float("nan")


def _reason_kind(reason: str | None) -> str:
    """The out-of-scope reasons of :func:`fakereview_nlp.language.out_of_scope_reason`, as a few kinds."""
    if reason is None:
        return "in scope"
    if reason.startswith("too short"):
        return "too short"
    if reason.startswith("language uncertain"):
        return "uncertain"
    if reason.startswith("no language"):
        return "no language"
    return "other language"


def section_after(maide: Any, per_language: int, before: dict[str, Any] | None) -> dict[str, Any]:
    from fakereview_nlp import classify, default_model_path
    from fakereview_nlp.model.folder import ModelFolder

    model_dir = Path(default_model_path())
    folder = ModelFolder.read(model_dir)
    out: dict[str, Any] = {
        "model": "/".join(model_dir.parts[-2:]),
        "model_languages": list(folder.scope_languages),
        "languages_recorded": folder.languages_recorded,
        "model_version": folder.version,
        "operating_threshold": folder.threshold,
        "per_language": per_language,
        "seed": SEED,
        "languages": {},
    }
    real = maide[maide["label"] == "real"]
    start = time.perf_counter()
    for lang, cell in real.groupby("language"):
        sample = cell.sample(n=min(per_language, len(cell)), random_state=SEED)
        verdicts = classify(sample["text"].astype(str).tolist())  # the default: out_of_scope="abstain"
        n = len(verdicts)
        kinds: dict[str, int] = {}
        for v in verdicts:
            kinds[_reason_kind(v.reason)] = kinds.get(_reason_kind(v.reason), 0) + 1
        row = {
            "n": n,
            "out_of_scope": _rate(sum(not v.in_scope for v in verdicts), n),
            "fake_without_notice": _rate(sum(v.in_scope and v.label == "fake" for v in verdicts), n),
            "flagged_without_notice": _rate(sum(v.in_scope and v.flagged for v in verdicts), n),
            "any_verdict_on_out_of_scope": sum(v.label is not None and not v.in_scope for v in verdicts),
            "reasons": kinds,
        }
        if before and lang in before.get("languages", {}):
            row["before_labelled_fake"] = before["languages"][lang]["labelled_fake"]
        out["languages"][lang] = row
        print(f"after: {lang} {row}", flush=True)
    out["seconds"] = time.perf_counter() - start
    return out


def section_english(data_dir: Path, maide: Any) -> dict[str, Any]:
    import pandas as pd

    from fakereview_nlp.language import DEFAULT_MODEL_LANGUAGES, detect_languages, out_of_scope_reason

    sets: dict[str, list[str]] = {}
    for corpus in ENGLISH_CORPORA:
        frame = pd.read_csv(data_dir / corpus / f"{corpus}.csv")
        if corpus == "fake_reviews_cg":
            frame = frame.sample(n=FCG_SAMPLE, random_state=SEED)
        sets[corpus] = frame["text"].astype(str).tolist()
    for label in ("real", "generated"):
        rows = maide[(maide["language"] == "English") & (maide["label"] == label)]
        sets[f"maide_up English {label}"] = rows["text"].astype(str).tolist()
    out: dict[str, Any] = {"model_languages": list(DEFAULT_MODEL_LANGUAGES), "corpora": {}}
    for name, texts in sets.items():
        start = time.perf_counter()
        reasons = [out_of_scope_reason(g, DEFAULT_MODEL_LANGUAGES) for g in detect_languages(texts)]
        kinds: dict[str, int] = {}
        for reason in reasons:
            kinds[_reason_kind(reason)] = kinds.get(_reason_kind(reason), 0) + 1
        out["corpora"][name] = {
            "n": len(texts),
            "out_of_scope": _rate(sum(r is not None for r in reasons), len(texts)),
            "reasons": kinds,
            "ms_per_review": 1000 * (time.perf_counter() - start) / max(1, len(texts)),
        }
        print(f"english: {name} {out['corpora'][name]}", flush=True)
    return out


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Out-of-scope text: the reference model after language scoping",
        "",
        f"Machine: {report['machine']}. Generated by `benchmarks/language_scope.py`; figures only, no review text.",
        "",
    ]
    after = report.get("after")
    if after:
        recorded = "recorded in model_info.json" if after["languages_recorded"] else "assumed: no model_info.json"
        lines += [
            "## MAiDE-up real reviews through `classify()` (default `out_of_scope=\"abstain\"`)",
            "",
            f"Model `{after['model']}` (languages {', '.join(after['model_languages'])}, {recorded}; version "
            f"{after['model_version'] or 'not recorded'}); a seeded sample (seed {after['seed']}) of "
            f"{after['per_language']} real reviews per language, the same sample as the 'before' figures of "
            f"`reports/language_id/report.md`. Every one of these reviews is genuine; English is the control. "
            f"{after['seconds']:.0f} s on two shared cores.",
            "",
            "| language | n | labelled fake before | put out of scope | labelled fake without notice (in scope, `label == 'fake'`) | flagged without notice | out of scope by reason |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for lang, row in after["languages"].items():
            before = row.get("before_labelled_fake")
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(row["reasons"].items()) if k != "in scope") or "-"
            lines.append(
                f"| {lang} | {row['n']} | {'-' if before is None else _pct(before)} | {_pct(row['out_of_scope'])} | "
                f"{_pct(row['fake_without_notice'])} | {_pct(row['flagged_without_notice'])} | {reasons} |"
            )
        foreign = [r for lang, r in after["languages"].items() if lang != "English"]
        n = sum(r["n"] for r in foreign)
        fake = sum(r["fake_without_notice"] * r["n"] for r in foreign)
        kept = sum(round((1 - r["out_of_scope"]) * r["n"]) for r in foreign)
        lines += [
            "",
            f"Non-English, all languages together: {round(fake)} of {n} genuine reviews labelled fake without "
            f"notice ({_pct(fake / n if n else float('nan'))}). {n - kept} have `in_scope=False`, a `reason`, and "
            f"no label or score; judged as English (identified as such with confidence): {kept}.",
            "",
        ]
    english = report.get("english")
    if english:
        lines += [
            "## English reviews wrongly put out of scope (goal: at most 1 %)",
            "",
            f"Language ID only (`fakereview_nlp.language`, model languages {', '.join(english['model_languages'])}); "
            f"fake_reviews_cg: a {FCG_SAMPLE}-row sample (seed {SEED}); the others whole.",
            "",
            "| English corpus | n | put out of scope | by reason | ms / review |",
            "|---|---:|---:|---|---:|",
        ]
        for name, row in english["corpora"].items():
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(row["reasons"].items()) if k != "in scope") or "-"
            lines.append(
                f"| {name} | {row['n']} | {_pct(row['out_of_scope'])} | {reasons} | {row['ms_per_review']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="folder with the shared CSVs")
    parser.add_argument("--out", type=Path, default=Path("reports/language_scope"), help="where report.md/json go")
    parser.add_argument("--sections", default="english,after", help="comma-separated: english, after")
    parser.add_argument("--per-language", type=int, default=200, help="real MAiDE-up reviews per language ('after')")
    parser.add_argument(
        "--before", type=Path, default=Path("reports/language_id/report.json"),
        help="the language_id report whose 'before' figures are shown beside (if present)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"english", "after"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; expected english, after")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "report.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    maide = pd.read_csv(args.data_dir / "maide_up" / "maide_up.csv")
    report["machine"] = (f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
                         f"load average {os.getloadavg()[0]:.1f} at the last run, Python {platform.python_version()}")  # fmt: skip
    if "english" in sections:
        report["english"] = section_english(args.data_dir, maide)
    if "after" in sections:
        before = None
        if args.before.is_file():
            before = json.loads(args.before.read_text(encoding="utf-8")).get("before")
        report["after"] = section_after(maide, args.per_language, before)
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    print(f"wrote {args.out / 'report.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
