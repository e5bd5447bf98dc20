"""Scoring reviews: :class:`FakeReviewClassifier`, the module-level :func:`classify`, :class:`ReviewVerdict`.

How a call runs (the speed comes from the first three points):

1. every text goes through :func:`fakereview_nlp.text.normalize_text`, as in training, and is
   tokenised once, without padding;
2. token sequences are sorted by length, longest first, and cut into batches by a *token
   budget* (rows x padded length), so short reviews travel in large batches and long ones in
   small batches, and almost no compute is spent on padding; ``batch_size`` only caps the rows;
3. each batch runs under ``torch.inference_mode()`` (with autocast when the dtype is not
   float32), its scores are moved to the CPU at once, and the input order is restored at the end;
4. ``P(fake) = softmax(logits / T)[:, fake]`` with the temperature ``T`` from the model's
   ``calibration.json`` (1.0 without one), and ``flagged = P(fake) >= threshold`` with the
   threshold from ``operating_points.json`` (0.5 without one);
5. when the model directory also holds ``tfidf_model.json`` (trained with
   ``model.combine_tfidf: true``), the score is the mean of that P(fake) and the TF-IDF model's
   P(fake) of the whole text (:func:`fakereview_nlp.model.baseline.combined_score`), weighted by
   the part's stored ``weight`` (0.5 unless ``training.adapt`` chose another on its labels).

Defined results for awkward input:

* an empty list returns ``[]`` (``predict_proba``: an empty array);
* an empty or whitespace-only text (any text under 3 letters) is out of scope, "too short"
  (below); with ``out_of_scope="score"``, or through :meth:`FakeReviewClassifier.predict_proba`,
  it is scored as the model sees it after normalisation, i.e. the special tokens only
  (``[CLS] [SEP]``): defined and deterministic, but no evidence either way;
* text longer than the model's maximum (``min(tokenizer.model_max_length,
  config.max_position_embeddings)`` tokens) is truncated from the end by default; with
  ``long_text="chunk"`` it is cut into windows of that length overlapping by a quarter, every
  window is scored, and the review's ``fake_score`` is the **maximum** over its windows (a
  review is as suspicious as its most suspicious part).

Text the model cannot read (:mod:`fakereview_nlp.language`): every text's language is identified,
and a text that is not in one of the model's languages (``model_info.json``; ``("en",)`` when the
folder records none), whose language is uncertain, or that has fewer than 3 letters is *out of
scope*. Its verdict says so (``in_scope=False``, ``language``, ``reason``) and, with the default
``out_of_scope="abstain"``, carries no judgement: ``label=None``, ``fake_score=None``,
``flagged=False``. ``out_of_scope="score"`` scores it anyway, still marked ``in_scope=False``.
:meth:`FakeReviewClassifier.predict_proba` stays the raw score of every text (for evaluation).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fakereview_nlp.explanations.occlusion import ExplainUnit, ReviewExplanation, explain_texts
from fakereview_nlp.labels import LabelName, output_columns, verdict
from fakereview_nlp.language import DEFAULT_MODEL_LANGUAGES, detect_languages, out_of_scope_reason
from fakereview_nlp.model.baseline import TfidfBaseline, combined_score
from fakereview_nlp.model.calibration import apply_temperature
from fakereview_nlp.model.default_model import MODEL_ENV_VAR, resolve_model_location
from fakereview_nlp.model.folder import ModelFolder, files_stamp
from fakereview_nlp.model.modeling import two_way_logits
from fakereview_nlp.runtime.backends import BackendName
from fakereview_nlp.text import check_texts, normalize_text

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


LongTextMode = Literal["truncate", "chunk"]
#: What :meth:`FakeReviewClassifier.classify` does with a text out of the model's scope.
OutOfScope = Literal["abstain", "score"]
OUT_OF_SCOPE_POLICIES: tuple[str, ...] = ("abstain", "score")
#: From this many windows in one call, ``long_text="chunk"`` logs a line (INFO) before scoring them.
LONG_TEXT_LOG_WINDOWS = 64

#: Rows x padded tokens per forward pass. On the CPU a few thousand tokens already keep the
#: matrix units busy while staying in cache; a GPU needs far larger batches to fill it.
DEFAULT_TOKEN_BUDGET = {"cpu": 4096, "mps": 16384, "cuda": 65536}
#: Cap on rows per batch when ``batch_size`` is not given.
DEFAULT_MAX_BATCH = {"cpu": 64, "mps": 256, "cuda": 512}
#: Texts tokenised and sorted together; bounds memory for very long input lists.
SORT_WINDOW = 16384


@dataclass(frozen=True)
class ReviewVerdict:
    """The classifier's verdict on one review.

    Attributes:
        label (`"genuine"`, `"fake"` or `None`): ``"fake"`` when ``fake_score >= 0.5``; ``None``
            when the model abstained (an out-of-scope text under ``out_of_scope="abstain"``).
        fake_score (`float` or `None`): calibrated P(fake), in [0, 1]; ``None`` when it abstained.
        flagged (`bool`): ``fake_score >= threshold``, the operating threshold saved with the
            model (``operating_points.json``; 0.5 when the model has none). Flag for review on
            this, not on ``label``: the threshold is chosen for a flag rate. Always ``False``
            when the model abstained.
        in_scope (`bool`, defaults to `True`): whether the text is one the model can read: in one
            of its languages, identified with confidence, at least 3 letters long. A verdict
            with ``in_scope=False`` is never a judgement to act on, even when scored.
        language (`str`, *optional*): the text's language (ISO 639-1, :mod:`fakereview_nlp.language`);
            ``None`` when too short or none was found.
        reason (`str`, *optional*): why the text is out of scope (``"too short to identify its
            language"``, ``"language 'ru' (0.99); the model reads en"``); ``None`` when in scope.
    """

    label: LabelName | None
    fake_score: float | None
    flagged: bool
    in_scope: bool = True
    language: str | None = None
    reason: str | None = None


class FakeReviewClassifier:
    """A genuine/fake review classifier with length-sorted, token-budget batching.

    Build it with :meth:`from_pretrained`; the device and dtype are fixed at load time and a
    call never moves the model.

    Args:
        model (`PreTrainedModel`): a sequence classifier whose labels are ``genuine``/``fake``.
        tokenizer (`PreTrainedTokenizerBase`): its tokenizer (a fast one for ``long_text="chunk"``).
        device (`str` or `torch.device`, *optional*): see :func:`fakereview_nlp.runtime.devices.resolve_device`.
        dtype (`str` or `torch.dtype`, *optional*): see :func:`fakereview_nlp.runtime.devices.resolve_dtype`.
        temperature (`float`, defaults to `1.0`): logits are divided by it before the softmax.
        threshold (`float`, defaults to `0.5`): ``flagged = fake_score >= threshold``.
        token_budget (`int`, *optional*): rows x padded length per forward pass; defaults by
            device (4,096 on the CPU, 65,536 on CUDA).
        source (`str`, *optional*): where the model came from, for messages.
        tfidf (`TfidfBaseline`, *optional*): a fitted TF-IDF model; the score becomes the mean
            of both models' P(fake). ``from_pretrained`` passes the one saved with the model.
        backend (`str`, defaults to `"torch"`): the runtime for the logits, see
            :mod:`fakereview_nlp.runtime.backends`; anything but ``"torch"`` needs ``model_dir``.
        model_dir (path, *optional*): the folder the model was loaded from (keys the runtime cache).

    Example::

        >>> clf = FakeReviewClassifier.from_pretrained("outputs/distilbert_opspam")  # doctest: +SKIP
        >>> clf.classify(["Best hotel ever!!!", "Clean room, slow lift."])  # doctest: +SKIP
        [ReviewVerdict(label='fake', fake_score=0.97, flagged=True), ReviewVerdict(label='genuine', ...)]
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        temperature: float = 1.0,
        threshold: float = 0.5,
        token_budget: int | None = None,
        source: str | None = None,
        tfidf: TfidfBaseline | None = None,
        backend: BackendName = "torch",
        model_dir: str | os.PathLike[str] | None = None,
        languages: tuple[str, ...] = DEFAULT_MODEL_LANGUAGES,
    ) -> None:
        from fakereview_nlp.runtime.choice import logits_fn_for, select_backend
        from fakereview_nlp.runtime.devices import resolve_device, resolve_dtype

        if not (isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}; 1.0 means none")
        if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
            raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}; 0.5 is the default")
        if token_budget is not None and (not isinstance(token_budget, int) or token_budget < 1):
            raise ValueError(f"token_budget must be a positive int, got {token_budget!r}")
        self.source = source or getattr(model, "name_or_path", "") or "<in-memory model>"
        self.genuine_id, self.fake_ids = _label_ids(model.config, self.source)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.temperature = float(temperature)
        self.threshold = float(threshold)
        self.token_budget = token_budget or DEFAULT_TOKEN_BUDGET.get(self.device.type, 4096)
        self.max_length = _max_length(model.config, tokenizer)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_token_id = 0 if pad is None else int(pad)
        self.tfidf = tfidf
        if isinstance(languages, str) or not languages or not all(isinstance(x, str) for x in languages):
            raise ValueError(
                f"languages must be a non-empty tuple of ISO 639-1 codes such as ('en',), got {languages!r}"
            )
        #: The languages the model reads; text in any other is out of scope (see the module docstring).
        self.languages = tuple(languages)
        #: The model folder's side files as read by :meth:`from_pretrained`; None for an in-memory model.
        self.folder: ModelFolder | None = None
        selected = select_backend(
            backend,
            device_type=self.device.type,
            dtype_forced=dtype not in (None, "auto"),
            model_dir=model_dir,
            default_dtype=str(self.dtype).removeprefix("torch."),
        )
        import torch

        if selected == "torch-float32":  # "auto": the default half precision is not accepted for this model
            selected = "torch"
            self.dtype = torch.float32
        elif selected in ("onnx", "onnx-int8"):  # ONNX Runtime computes in float32 (int8 matmuls inside)
            self.dtype = torch.float32
        self.backend = selected
        # None: the torch model computes the logits; else a runtime fed the same padded batches.
        self._logits_fn = None
        if self.backend != "torch":
            self._logits_fn = logits_fn_for(
                self.backend, model_dir, self.model, bf16=self.dtype == torch.bfloat16
            )

    def __repr__(self) -> str:
        return (
            f"FakeReviewClassifier(source={self.source!r}, device={str(self.device)!r}, "
            f"dtype={str(self.dtype).removeprefix('torch.')!r}, max_length={self.max_length}, "
            f"temperature={self.temperature:g}, threshold={self.threshold:g}, backend={self.backend!r}"
            f"{', tfidf=True' if self.tfidf is not None else ''})"
        )

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike[str],
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        *,
        token_budget: int | None = None,
        backend: BackendName = "auto",
    ) -> FakeReviewClassifier:
        """Load a model directory written by training (or a Hub repo with the same files).

        Reads ``config.json`` (labels ``0 = genuine``, ``1 = fake``), ``model.safetensors``
        (pickle weights are refused), the tokenizer files, and, when present,
        ``calibration.json`` (temperature) and ``operating_points.json`` (threshold).
        Remote code is never run.

        Args:
            path_or_hub_id (`str` or `os.PathLike`): a local directory, or a Hub id of a repo
                holding the same files (``org/name``).
            device (`str`, *optional*): ``None`` picks CUDA, then MPS, then CPU.
            dtype (`str`, *optional*): ``None`` picks bf16 where the hardware runs it natively,
                else float32; ``"float32"`` forces full precision.
            token_budget (`int`, *optional*): rows x padded tokens per forward pass.
            backend (`str`, defaults to `"auto"`): ``"torch"``, ``"onnx"``, ``"onnx-int8"``,
                ``"openvino"``, ``"openvino-int8"`` or ``"auto"`` (on the CPU, the runtime measured
                fastest on this machine among those that keep agreement; torch until measured);
                see :mod:`fakereview_nlp.runtime.choice`.

        Raises:
            `FileNotFoundError` / `ValueError`: a missing or corrupt file, named in the message.
            `OSError`: a Hub id that cannot be fetched (e.g. offline).
        """
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification

        from fakereview_nlp.model.modeling import load_tokenizer

        model_folder = ModelFolder.from_pretrained(path_or_hub_id)
        folder = model_folder.path
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        _label_ids(config, str(folder / "config.json"))
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                folder, config=config, use_safetensors=True, trust_remote_code=False, dtype=torch.float32
            )
        except (OSError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"could not load the weights in {model_folder.weights} ({err}); "
                "re-save the model with save_pretrained(..., safe_serialization=True)"
            ) from err
        try:
            tokenizer = load_tokenizer(str(folder))
        except Exception as err:  # tokenizers raises its own exception types for broken files
            raise ValueError(
                f"could not load the tokenizer files in {folder} ({err}); "
                "re-save them with tokenizer.save_pretrained(model_dir)"
            ) from err
        classifier = cls(
            model,
            tokenizer,
            device=device,
            dtype=dtype,
            temperature=model_folder.temperature,
            threshold=model_folder.threshold,
            token_budget=token_budget,
            source=model_folder.source,
            tfidf=model_folder.tfidf,
            backend=backend,
            model_dir=folder,
            languages=model_folder.scope_languages,
        )
        classifier.folder = model_folder
        if not model_folder.languages_recorded:
            _warn_languages_assumed(folder, model_folder.scope_languages)
        return classifier

    @property
    def model_version(self) -> str | None:
        """The model's version from ``model_info.json`` (batch output records it); ``None`` when not recorded."""
        return None if self.folder is None else self.folder.version

    def scope(self, texts: Iterable[str]) -> list[tuple[str | None, str | None]]:
        """``(language, reason)`` for each text: ``reason`` is ``None`` when the model may judge it,
        else why it is out of scope (see :func:`fakereview_nlp.language.out_of_scope_reason`)."""
        items = check_texts(texts, "scope")
        return [
            (guess.language, out_of_scope_reason(guess, self.languages)) for guess in detect_languages(items)
        ]

    def classify(
        self,
        texts: Iterable[str],
        batch_size: int | None = None,
        *,
        long_text: LongTextMode = "truncate",
        out_of_scope: OutOfScope = "abstain",
    ) -> list[ReviewVerdict]:
        """Verdicts for ``texts``, in the same order.

        Args:
            texts (`list[str]`): the reviews. A bare ``str`` is refused (wrap it as ``[text]``).
            batch_size (`int`, *optional*): the most reviews per forward pass; batches are
                otherwise sized by the token budget, so this only needs setting to limit memory.
            long_text (`"truncate"` or `"chunk"`, defaults to `"truncate"`): what to do with
                reviews longer than the model's maximum length (see the module docstring).
            out_of_scope (`"abstain"` or `"score"`, defaults to `"abstain"`): for a text the
                model cannot read (another language, uncertain, under 3 letters): no judgement
                (``label=None``, ``fake_score=None``, ``flagged=False``), or a score anyway; both
                say ``in_scope=False`` with the ``reason``.

        Returns:
            `list[ReviewVerdict]` of length ``len(texts)``.

        Example::

            >>> clf.classify(["Amazing amazing amazing!!!", "Отличный отель, чистые номера."])  # doctest: +SKIP
            [ReviewVerdict(label='fake', fake_score=0.91, flagged=True, in_scope=True, language='en', reason=None),
             ReviewVerdict(label=None, fake_score=None, flagged=False, in_scope=False, language='ru',
                           reason="language 'ru' (1.00); the model reads en")]
        """
        items = check_texts(texts, "classify")
        check_out_of_scope(out_of_scope)
        scopes = self.scope(items)
        judged = [i for i, (_, reason) in enumerate(scopes) if reason is None or out_of_scope == "score"]
        # _scores runs even when nothing is judged, so a bad batch_size or long_text is never ignored.
        scores = dict(
            zip(judged, self._scores([items[i] for i in judged], batch_size, long_text).tolist(), strict=True)
        )
        verdicts = []
        for i, (language, reason) in enumerate(scopes):
            if i not in scores:
                verdicts.append(
                    ReviewVerdict(None, None, False, in_scope=False, language=language, reason=reason)
                )
                continue
            label, flagged = verdict(scores[i], self.threshold)
            verdicts.append(ReviewVerdict(label, float(scores[i]), flagged, reason is None, language, reason))
        return verdicts

    def explain(
        self, texts: Iterable[str], top_k: int = 3, *, out_of_scope: OutOfScope = "abstain", **kwargs: Any
    ) -> list[ReviewExplanation]:
        """Scores and the spans that drive them: :func:`fakereview_nlp.explanations.occlusion.explain_texts` with this model.

        ``out_of_scope`` as :meth:`classify`: with ``"abstain"`` a text the model cannot read is not
        explained (``fake_score=None``, ``flagged=False``, no spans, ``in_scope=False`` and the
        ``reason``); with ``"score"`` it is explained and marked ``in_scope=False``.

        Returns:
            `list[ReviewExplanation]` of length ``len(texts)``: ``fake_score``, ``flagged`` and up to
            ``top_k`` spans (offsets into each text as passed) with their measured score change.
        """
        import dataclasses

        items = check_texts(texts, "explain")
        check_out_of_scope(out_of_scope)
        scopes = self.scope(items)
        judged = [i for i, (_, reason) in enumerate(scopes) if reason is None or out_of_scope == "score"]
        # Called even with nothing to judge, so that bad options are reported the same way.
        explained = dict(
            zip(judged, explain_texts(self, [items[i] for i in judged], top_k, **kwargs), strict=True)
        )
        out = []
        for i, (language, reason) in enumerate(scopes):
            if i in explained:
                out.append(
                    dataclasses.replace(
                        explained[i], in_scope=reason is None, language=language, reason=reason
                    )
                )
            else:
                out.append(
                    ReviewExplanation(None, False, (), in_scope=False, language=language, reason=reason)
                )
        return out

    def predict_proba(
        self,
        texts: Iterable[str],
        batch_size: int | None = None,
        *,
        long_text: LongTextMode = "truncate",
    ) -> np.ndarray:
        """Calibrated P(fake) for each text (averaged with the TF-IDF part's when the model has one).

        Args: as :meth:`classify`.

        Returns:
            `np.ndarray` of shape ``(len(texts),)``, dtype float64, values in [0, 1].
        """
        return self._scores(check_texts(texts, "predict_proba"), batch_size, long_text)

    def _scores(self, items: list[str], batch_size: int | None, long_text: LongTextMode) -> np.ndarray:
        """:meth:`predict_proba` on texts already checked (so errors name the public method called)."""
        if long_text not in ("truncate", "chunk"):
            raise ValueError(f"long_text={long_text!r} is not supported; expected 'truncate' or 'chunk'")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        cap = batch_size or DEFAULT_MAX_BATCH.get(self.device.type, 64)
        out = np.empty(len(items), dtype=np.float64)
        for start in range(0, len(items), SORT_WINDOW):
            window = [normalize_text(t) for t in items[start : start + SORT_WINDOW]]
            scores = self._score_window(window, cap, long_text)
            if self.tfidf is not None:
                scores = combined_score(scores, self.tfidf.predict_proba(window), self.tfidf.weight)
            out[start : start + len(window)] = scores
        return out

    # -- internals -------------------------------------------------------------------------

    def _tokenize(self, texts: list[str], long_text: LongTextMode) -> tuple[list[list[int]], np.ndarray]:
        """Token ids per sequence, and which text each sequence belongs to."""
        if long_text == "truncate":
            ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
            return ids, np.arange(len(texts))
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(
                f"long_text='chunk' needs a fast (Rust) tokenizer; {type(self.tokenizer).__name__} is not one. "
                "Use long_text='truncate', or save a tokenizer.json with the model"
            )
        # Windows of max_length tokens (specials included) overlapping by a quarter, so a phrase
        # cut at one window's edge is whole in the next.
        stride = max(0, (self.max_length - self.tokenizer.num_special_tokens_to_add()) // 4)
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            stride=stride,
            return_overflowing_tokens=True,
        )
        return encoded["input_ids"], np.asarray(encoded["overflow_to_sample_mapping"])

    def _score_window(self, texts: list[str], cap: int, long_text: LongTextMode) -> np.ndarray:
        seqs, owner = self._tokenize(texts, long_text)
        if long_text == "chunk" and len(seqs) >= LONG_TEXT_LOG_WINDOWS:  # a long job: say what it is doing
            logger.info(
                "long_text='chunk': scoring %d windows of %d reviews (%d tokens each, overlapping by a quarter)",
                len(seqs), len(texts), self.max_length,
            )  # fmt: skip
        seq_scores = self._score_sequences(seqs, cap)
        if long_text == "truncate":
            return seq_scores
        scores = np.full(len(texts), -np.inf)
        np.maximum.at(scores, owner, seq_scores)
        return scores

    def _score_sequences(self, seqs: list[list[int]], cap: int) -> np.ndarray:
        """P(fake) per token sequence: length-sorted, token-budget batches, original order back."""
        import torch

        from fakereview_nlp.runtime.devices import autocast_context

        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        order = np.argsort(-lengths, kind="stable")
        on_cuda = self.device.type == "cuda"
        # Tensor cores want sequence lengths in multiples of 8 under half precision.
        multiple = 8 if on_cuda and self.dtype != torch.float32 else 1
        if self._logits_fn is not None:
            multiple = 8  # fewer distinct shapes for the runtime to prepare kernels for
        sorted_logits: list[torch.Tensor] = []
        with torch.inference_mode(), autocast_context(self.device, self.dtype):
            start = 0
            while start < len(order):
                width = int(lengths[order[start]])  # the longest in this batch: sorted descending
                width = -(-width // multiple) * multiple
                rows = max(1, min(cap, self.token_budget // width))
                batch = order[start : start + rows]
                start += rows
                input_ids = np.full((len(batch), width), self.pad_token_id, dtype=np.int64)
                attention = np.zeros((len(batch), width), dtype=np.int64)
                for row, index in enumerate(batch):
                    seq = seqs[index]
                    input_ids[row, : len(seq)] = seq
                    attention[row, : len(seq)] = 1
                ids_t, mask_t = torch.from_numpy(input_ids), torch.from_numpy(attention)
                if on_cuda:  # pinned memory lets the copy overlap with the previous batch's compute
                    ids_t = ids_t.pin_memory().to(self.device, non_blocking=True)
                    mask_t = mask_t.pin_memory().to(self.device, non_blocking=True)
                elif self.device.type != "cpu":
                    ids_t, mask_t = ids_t.to(self.device), mask_t.to(self.device)
                if self._logits_fn is not None:
                    logits = torch.from_numpy(self._logits_fn(input_ids, attention)).float()
                else:
                    logits = self.model(input_ids=ids_t, attention_mask=mask_t).logits.float()
                # (genuine, fake) columns to the host at once: bounded GPU memory
                sorted_logits.append(two_way_logits(logits, self.genuine_id, self.fake_ids).cpu())
        flat = torch.cat(sorted_logits).numpy() if sorted_logits else np.empty((0, 2))
        scores = np.empty(len(seqs), dtype=np.float64)
        # The package's one softmax, rounded to float32: the logits are float32, and the digits
        # past that resolution change with batch composition (matrix-product blocking), not
        # with the review.
        scores[order] = apply_temperature(flat, self.temperature).astype(np.float32)
        return scores


def classify(
    texts: Iterable[str],
    model: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    long_text: LongTextMode = "truncate",
    backend: BackendName = "auto",
    out_of_scope: OutOfScope = "abstain",
) -> list[ReviewVerdict]:
    """Classify reviews with a cached :class:`FakeReviewClassifier`.

    Args:
        texts (`list[str]`): the reviews.
        model (`str`, *optional*): a trained model directory or Hub id. ``None`` uses
            ``$FAKEREVIEW_MODEL``, else the installed reference model
            (:func:`fakereview_nlp.default_model_path`), else raises ``FileNotFoundError``
            saying how to get one.
        device, dtype, backend: as :meth:`FakeReviewClassifier.from_pretrained`. One classifier
            is loaded and kept per ``(model, device, dtype, backend)``, and loaded again when the
            model directory's files change; :func:`clear_cache` forgets them all.
        batch_size, long_text, out_of_scope: as :meth:`FakeReviewClassifier.classify` (by default a
            text the model cannot read gets ``in_scope=False`` and no judgement).

    Returns:
        `list[ReviewVerdict]`, same order as ``texts``.

    Example::

        >>> from fakereview_nlp import classify
        >>> classify(["Best stay ever!!! Amazing!!!"])  # the installed reference model  # doctest: +SKIP
        [ReviewVerdict(label='fake', fake_score=0.93, flagged=True)]
    """
    items = check_texts(texts, "classify")  # before loading anything: a bad call fails fast
    check_out_of_scope(out_of_scope)
    if not items:
        return []
    name = resolve_model_location(model)  # one cache entry per folder, however it is spelled
    classifier = cached_classifier(name, device, dtype, backend)
    return classifier.classify(items, batch_size, long_text=long_text, out_of_scope=out_of_scope)


#: Classifiers loaded by :func:`classify`, most recently used last: key -> (files stamp, classifier).
_CACHE: OrderedDict[tuple[str, str | None, str | None, str], tuple[object, FakeReviewClassifier]] = (
    OrderedDict()
)
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget the classifiers :func:`classify` has loaded (and free their memory).

    Not needed after retraining into the same directory: a cached classifier is reloaded when
    its weights, config, calibration, operating points or TF-IDF file change (modification time
    or size). Call it to release the models, or after replacing files in a way that keeps both.
    """
    with _CACHE_LOCK:
        _CACHE.clear()


def cached_classifier(
    name: str, device: str | None, dtype: str | None, backend: BackendName = "auto"
) -> FakeReviewClassifier:
    key = (name, device, dtype, backend)
    # Taken before loading: a file rewritten while the model loads is seen on the next call.
    stamp = files_stamp(name)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == stamp:
            _CACHE.move_to_end(key)
            return hit[1]
        _CACHE.pop(key, None)  # a stale model is not kept alive beside its replacement
    classifier = FakeReviewClassifier.from_pretrained(name, device=device, dtype=dtype, backend=backend)
    with _CACHE_LOCK:
        _CACHE[key] = (stamp, classifier)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return classifier


def explain(
    texts: Iterable[str],
    model: str | os.PathLike[str] | None = None,
    top_k: int = 3,
    *,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    unit: ExplainUnit = "phrase",
    out_of_scope: OutOfScope = "abstain",
) -> list[ReviewExplanation]:
    """Explain reviews with the same cached classifier (and default model) as :func:`classify`.

    Args:
        texts (`list[str]`): the reviews.
        model (`str`, *optional*): as :func:`classify` (``None``: ``$FAKEREVIEW_MODEL``, then
            the installed reference model).
        top_k (`int`, defaults to `3`): spans per review.
        device, dtype: as :meth:`FakeReviewClassifier.from_pretrained`.
        batch_size, unit: as :func:`fakereview_nlp.explanations.occlusion.explain_texts`.
        out_of_scope (`"abstain"` or `"score"`, defaults to `"abstain"`): as :meth:`FakeReviewClassifier.explain`.

    Returns:
        `list[ReviewExplanation]`, same order as ``texts``.

    Example::

        >>> from fakereview_nlp import explain
        >>> explain(["Best stay ever!!! Amazing!!!"], top_k=1)  # doctest: +SKIP
        [ReviewExplanation(fake_score=0.93, flagged=True, spans=(ExplainedSpan(...),))]
    """
    items = check_texts(texts, "explain")  # before loading anything: a bad call fails fast
    check_out_of_scope(out_of_scope)
    if not items:
        return []
    name = resolve_model_location(model)  # one cache entry per folder, however it is spelled
    return cached_classifier(name, device, dtype).explain(
        items, top_k, unit=unit, batch_size=batch_size, out_of_scope=out_of_scope
    )


def check_out_of_scope(out_of_scope: object) -> None:
    """Raise ``ValueError`` naming the value and the choices for an unknown ``out_of_scope`` policy."""
    if out_of_scope not in OUT_OF_SCOPE_POLICIES:
        raise ValueError(
            f"out_of_scope={out_of_scope!r} is not supported; expected 'abstain' (no verdict on text the model "
            "cannot read) or 'score' (score it anyway, marked in_scope=False)"
        )


#: Model folders already warned about: the warning is once per folder and process, not per load.
_WARNED_LANGUAGES: set[str] = set()


def _warn_languages_assumed(folder: os.PathLike[str], languages: tuple[str, ...]) -> None:
    key = os.fspath(folder)
    if key in _WARNED_LANGUAGES:
        return
    _WARNED_LANGUAGES.add(key)
    logger.warning(
        "%s records no languages (no model_info.json); assuming it reads %s, so text in other languages is "
        "out of scope. Record its languages in model_info.json, e.g. {\"languages\": [\"en\"]} "
        "(python -m training.package writes it)",
        key, ", ".join(languages),
    )  # fmt: skip


def _label_ids(config: Any, where: str) -> tuple[int, tuple[int, ...]]:
    """``(genuine column, fake columns)`` of the logits, from the config's ``id2label``.

    One fake column, or one per kind of fake (``fake:<kind>``, ``model.fake_kinds: per_source``),
    whose logits combine by log-sum-exp into P(fake) = 1 - P(genuine).
    """
    return output_columns(getattr(config, "id2label", None), where)


def _max_length(config: Any, tokenizer: Any) -> int:
    """min(tokenizer.model_max_length, config.max_position_embeddings), ignoring 'unset' sentinels."""
    candidates = [
        v
        for v in (
            getattr(tokenizer, "model_max_length", None),
            getattr(config, "max_position_embeddings", None),
        )
        if isinstance(v, int) and 0 < v < 1_000_000  # HF uses int(1e30) for "no limit"
    ]
    return min(candidates) if candidates else 512


__all__ = [
    "MODEL_ENV_VAR",
    "FakeReviewClassifier",
    "LongTextMode",
    "OUT_OF_SCOPE_POLICIES",
    "OutOfScope",
    "ReviewVerdict",
    "check_out_of_scope",
    "check_texts",
    "classify",
    "cached_classifier",
    "clear_cache",
    "explain",
]
