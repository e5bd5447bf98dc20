"""Building an int8 model for the ``openvino-int8`` backend, accepted only with its agreement measured.

Kept apart from :mod:`fakereview_nlp.runtime.backends` because it drives a whole
:class:`~fakereview_nlp.inference.FakeReviewClassifier` (the float32 reference and the candidate),
while the classifier itself imports the backends: this way neither imports the other.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from fakereview_nlp.model.folder import weights_hash
from fakereview_nlp.runtime.backends import (
    ACCEPT_FILE,
    INT8_DIR,
    MIN_AGREEMENT,
    Agreement,
    agreement,
    cache_dir,
    compiled_fn,
    float_ir,
    replace_dir,
)
from fakereview_nlp.text import check_texts, normalize_text


def build_int8(
    model_dir: str | os.PathLike[str],
    calibration_texts: Sequence[str],
    heldout_texts: Sequence[str],
    *,
    min_agreement: float = MIN_AGREEMENT,
    into_model_dir: bool = False,
) -> Agreement:
    """Quantise a model to int8 with NNCF, measure it against float32 torch, and keep it if it agrees.

    The int8 model is calibrated on ``calibration_texts`` (a few hundred in-domain reviews) and
    scored against float32 torch on ``heldout_texts`` (reviews the model was not trained on),
    through the classifier's own batching, temperature and threshold. It is saved, with its
    agreement, only when both label and flag agreement reach ``min_agreement``.

    Args:
        model_dir (path): a model folder written by training.
        calibration_texts (`Sequence[str]`): reviews for the activation ranges.
        heldout_texts (`Sequence[str]`): held-out reviews for the agreement check.
        min_agreement (`float`, defaults to `0.995`): the acceptance bar for labels and flags.
        into_model_dir (`bool`, defaults to `False`): save into ``model_dir/openvino_int8`` (so it
            travels with the model) instead of the cache.

    Returns:
        :class:`Agreement` of int8 with float32 torch on ``heldout_texts``.

    Raises:
        `ValueError`: no OpenVINO/NNCF, empty text lists, or agreement below ``min_agreement``
            (nothing is saved then).
    """
    from fakereview_nlp.inference import FakeReviewClassifier

    calibration = check_texts(calibration_texts, "build_int8")
    heldout = check_texts(heldout_texts, "build_int8")
    if not calibration or not heldout:
        raise ValueError(
            f"build_int8() needs calibration and held-out reviews, got {len(calibration)} and {len(heldout)}; "
            "pass a few hundred of each"
        )
    if not 0.0 <= min_agreement <= 1.0:
        raise ValueError(f"min_agreement must be in [0, 1], got {min_agreement!r}")
    try:
        import nncf
        import openvino as ov
    except ImportError as err:
        raise ValueError(
            f"build_int8() needs OpenVINO and NNCF ({err}); pip install 'fakereview-nlp[openvino]'"
        ) from err
    reference = FakeReviewClassifier.from_pretrained(
        model_dir, device="cpu", dtype="float32", backend="torch"
    )
    float_model = float_ir(model_dir, reference.model)
    # One review per calibration item, padded to itself: the statistics see real lengths, no padding.
    seqs, _ = reference._tokenize([normalize_text(t) for t in calibration], "truncate")
    items = [
        {"input_ids": np.array([s], np.int64), "attention_mask": np.ones((1, len(s)), np.int64)} for s in seqs
    ]
    quantized = nncf.quantize(
        float_model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(items)
    )
    sha = weights_hash(model_dir)
    folder = Path(model_dir) / INT8_DIR if into_model_dir else cache_dir() / sha[:16] / "int8"
    with tempfile.TemporaryDirectory() as tmp:
        ov.save_model(quantized, Path(tmp) / "model.xml", compress_to_fp16=False)
        reference_scores = reference.predict_proba(heldout)
        candidate = FakeReviewClassifier.from_pretrained(model_dir, device="cpu", backend="torch")
        candidate._logits_fn = compiled_fn(quantized, bf16=False)
        measured = agreement(reference_scores, candidate.predict_proba(heldout), reference.threshold)
        if not measured.accepted(min_agreement):
            raise ValueError(
                f"int8 agreement with float32 on {measured.n} held-out reviews is {measured.label:.2%} of labels "
                f"and {measured.flagged:.2%} of flags (threshold {measured.threshold:.3f}), below "
                f"{min_agreement:.1%}; nothing was saved. Keep backend='openvino', or calibrate on more in-domain reviews"
            )
        meta = {"weights_sha256": sha, "accepted": True, "min_agreement": min_agreement,
                "calibration_reviews": len(calibration), **asdict(measured)}  # fmt: skip
        (Path(tmp) / ACCEPT_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        replace_dir(Path(tmp), folder)
    return measured


# -- internals -------------------------------------------------------------------------------


__all__ = ["build_int8"]
