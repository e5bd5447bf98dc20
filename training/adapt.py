"""Adapt a trained detector to your own platform from a few hundred labelled reviews.

Usage::

    python -m training.adapt LABELS -o OUT_DIR [--base MODEL] [--text-column text] [--label-column label]
        [--label-map A=genuine,B=fake] [--group-column product] [--prevalence 0.05] [--flag-rate 0.01]
        [--section.key=value ...]

``LABELS`` is a CSV/TSV/JSONL/Parquet file of reviews your moderators labelled (read through the
package's one reader). ``OUT_DIR`` becomes a normal model folder: it loads in
``classify(model=OUT_DIR)``, ``fakereview classify --model OUT_DIR`` and
``transformers.pipeline("text-classification", model=OUT_DIR)``, with its calibration and
operating threshold refitted on your labels at your prevalence and flag rate, ``model_info.json``,
``adapt_config.yaml`` (the resolved options) and ``report.md``/``report.json`` (the base model
against the adapted one on labels neither saw, with bootstrap intervals).

How it adapts (``--adapt.method``, chosen by ``benchmarks/adapt_curve.py``; see docs/adapt.md):

* ``finetune`` (default): the whole encoder is fine-tuned from the base model with a small
  learning rate and early stopping on a grouped validation part of the labels; a TF-IDF part is
  fitted on the same training labels and averaged with it (as ``model.combine_tfidf``).
* ``tfidf``: the base transformer is kept and only the TF-IDF part is refitted on the labels
  (seconds; the fallback when there is no time to fine-tune).

Options of the fine-tune are the training config's (``--training.learning_rate=2e-5``); the
adaptation's own are the ``adapt`` section (:class:`AdaptOptions`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from fakereview_nlp.labels import LABEL2ID, LABELS, map_labels
from fakereview_nlp.model.baseline import TFIDF_FILE
from training.config import ConfigError, TrainConfig, apply_overrides, config_from_dict

logger = logging.getLogger("training.adapt")

PROG = "adapt"
MIN_PER_CLASS = 10
MODEL_INFO_FILE = "model_info.json"
ADAPT_CONFIG_FILE = "adapt_config.yaml"


class AdaptError(ValueError):
    """Bad input to the adaptation (labels, options); the message says what and how to fix it."""


# ----------------------------------------------------------------------------- options


@dataclass
class AdaptOptions:
    """The adaptation's own options: the ``adapt`` section (``--adapt.key=value``)."""

    #: finetune: the whole encoder plus a refitted TF-IDF part; tfidf: refit the TF-IDF part only.
    method: Literal["finetune", "tfidf"] = "finetune"
    #: how report.md measures the result: auto (holdout with enough labels, else cv), holdout, cv,
    #: or none (adapt on all labels, no estimate: for benchmarks that score other rows themselves).
    estimate: Literal["auto", "holdout", "cv", "none"] = "auto"
    #: a held-out part of the labels measures the result when the rarer class has at least this
    #: many labels; below it, k-fold cross-validation of the same procedure does (see docs/adapt.md).
    holdout_min_per_class: int = 100
    #: share of the labels (whole groups) held out for the report when there is a held-out part.
    holdout_fraction: float = 0.25
    #: share of the training labels (whole groups) for early stopping, the temperature and the threshold.
    val_fraction: float = 0.2
    #: folds of the cross-validated estimate when the labels are too few for a held-out part.
    cv_folds: int = 5
    #: bootstrap resamples of the report's intervals.
    n_boot: int = 1000
    #: the TF-IDF part's share of the served score, w in (1 - w) * transformer + w * TF-IDF. One
    #: value is used as it is; with several, the one whose combination ranks the validation labels
    #: best (ROC AUC) is kept, ties going to the earlier. The TF-IDF part scored there was fitted
    #: without the validation labels, so the choice is not made on its own training rows.
    tfidf_weights: list[float] = field(default_factory=lambda: [0.5])

    def __post_init__(self) -> None:
        if self.holdout_min_per_class < MIN_PER_CLASS:
            raise ConfigError(
                f"config key 'adapt.holdout_min_per_class' is {self.holdout_min_per_class!r}; "
                f"expected a value >= {MIN_PER_CLASS}"
            )
        for key in ("holdout_fraction", "val_fraction"):
            value = getattr(self, key)
            if not 0.05 <= value <= 0.5:
                raise ConfigError(f"config key 'adapt.{key}' is {value!r}; expected a value in [0.05, 0.5]")
        if not 2 <= self.cv_folds <= 10:
            raise ConfigError(
                f"config key 'adapt.cv_folds' is {self.cv_folds!r}; expected a value in [2, 10]"
            )
        if self.n_boot < 100:
            raise ConfigError(f"config key 'adapt.n_boot' is {self.n_boot!r}; expected a value >= 100")
        if not self.tfidf_weights or any(not 0 <= w <= 1 for w in self.tfidf_weights):
            raise ConfigError(
                f"config key 'adapt.tfidf_weights' is {self.tfidf_weights!r}; expected one or more values "
                "in [0, 1], e.g. [0.5] (the plain mean) or [0.5, 0.6, 0.7, 0.8] (choose on the validation labels)"
            )


#: The fine-tune's defaults, over training/config.py's. Why these (measured, see docs/adapt.md):
#: a few hundred labels make ten optimizer steps an epoch, and at 3e-5 the reference's validation
#: AUC on 200 maide_up labels rose only from 0.70 to 0.81 in four epochs, against 0.82 to 0.93 at
#: 1e-4 (the reference's own rate). 128 tokens: a third to half the cost of 256 per step, and the
#: TF-IDF part still reads the whole review. The best validation's epoch is kept, by average
#: precision (ranking is what a flag rate uses; the validation loss picked an earlier, weaker epoch).
ADAPT_DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"combine_tfidf": True, "tfidf_min_df": 1, "tfidf_max_features": 20000, "max_length": 128},
    "training": {
        "seed": 42,
        "epochs": 4,
        "batch_size": 16,
        "eval_batch_size": 64,
        "learning_rate": 1e-4,
        "warmup_ratio": 0.1,
        "weight_decay": 0.01,
        "class_weights": "auto",
        "early_stopping_metric": "average_precision",
        "early_stopping_mode": "max",
        "early_stopping_patience": 2,
        "select_best": True,
        "log_every_steps": 10,
    },
    "evaluation": {"prevalence": 0.05, "operating_flag_rate": 0.01, "calibrate": True},
}


@dataclass(frozen=True)
class ResolvedOptions:
    """Everything one adaptation runs with: the fine-tune's config and the ``adapt`` section."""

    train: TrainConfig
    adapt: AdaptOptions

    def to_yaml(self) -> str:
        raw = self.train.to_dict()
        raw["adapt"] = asdict(self.adapt)
        return yaml.safe_dump(raw, sort_keys=False)


def resolve_options(base: str | Path, overrides: Sequence[str] = ()) -> ResolvedOptions:
    """The adaptation's config: the fine-tune defaults, the base model's own model keys, then ``overrides``.

    ``overrides`` are ``--section.key=value`` (training/config.py's rules: unknown keys and wrong
    types fail naming the key); the extra section ``adapt`` holds :class:`AdaptOptions`.
    """
    from fakereview_nlp.runtime.devices import cpu_supports_bf16

    base_dir = Path(base)
    raw: dict[str, Any] = {section: dict(values) for section, values in ADAPT_DEFAULTS.items()}
    raw["model"]["name_or_path"] = str(base_dir)
    raw["model"]["max_length"] = min(raw["model"]["max_length"], _base_max_length(base_dir))
    import torch

    native_bf16 = torch.cuda.is_available() or cpu_supports_bf16()
    # bf16 autocast is ~4x float32 where the CPU runs it natively, and several times slower where not.
    raw["training"]["mixed_precision"] = "bf16" if native_bf16 else "no"
    raw["adapt"] = {}
    merged = apply_overrides(raw, list(overrides))
    adapt_raw = merged.pop("adapt")
    for key in ("data", "output"):
        if key in merged:
            raise ConfigError(
                f"--{key}.* overrides are not used by adapt: the data section comes from LABELS and the "
                "--text-column/--label-column/--label-map/--group-column options, the output from -o OUT_DIR"
            )
    train = config_from_dict(merged)
    return ResolvedOptions(train=train, adapt=_build_section(AdaptOptions, adapt_raw, "adapt"))


def _build_section(cls: type, raw: Any, name: str) -> Any:
    # training/config.py's builder, so the adapt section follows the same key and type rules.
    from training.config import build_section

    return build_section(cls, raw, prefix=f"{name}.")


def _base_max_length(base_dir: Path) -> int:
    """The base's own training max_length (its training_config.yaml), else 256, within its positions."""
    length = 256
    saved = base_dir / "training_config.yaml"
    if saved.is_file():
        raw = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
        value = (raw.get("model") or {}).get("max_length")
        if isinstance(value, int):
            length = value
    config = _read_json(base_dir / "config.json")
    positions = config.get("max_position_embeddings")
    return min(length, positions) if isinstance(positions, int) and positions > 0 else length


# ----------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelSet:
    """The user's labels after reading and checking.

    Attributes:
        ids: each row's id (the id column, else its 0-based row number in the file).
        texts: normalised texts. labels: 0 = genuine, 1 = fake.
        groups: a key per row shared by rows of one group *and* by identical texts, so that no
            internal split ever puts two copies of one text on both sides.
        source: the file, for messages. n_dropped: rows left out (empty text or missing label).
    """

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    labels: np.ndarray
    groups: tuple[str, ...]
    source: str
    n_dropped: int

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return {name: int(np.sum(self.labels == LABEL2ID[name])) for name in LABELS}

    def subset(self, rows: Sequence[int] | np.ndarray) -> LabelSet:
        rows = [int(i) for i in rows]
        return LabelSet(
            ids=tuple(self.ids[i] for i in rows),
            texts=tuple(self.texts[i] for i in rows),
            labels=self.labels[rows],
            groups=tuple(self.groups[i] for i in rows),
            source=self.source,
            n_dropped=0,
        )


def parse_label_map(text: str | None) -> dict[str, str] | None:
    """``"A=genuine,B=fake"`` as ``{"A": "genuine", "B": "fake"}``; ``None`` keeps the default."""
    if text is None:
        return None
    mapping: dict[str, str] = {}
    for item in text.split(","):
        raw, sep, target = item.partition("=")
        raw, target = raw.strip(), target.strip()
        if not sep or not raw or target not in LABEL2ID:
            raise AdaptError(
                f"--label-map item {item.strip()!r} is not RAW=genuine or RAW=fake; "
                "write it like --label-map real=genuine,generated=fake"
            )
        mapping[raw] = target
    if set(mapping.values()) != set(LABELS):
        raise AdaptError(
            f"--label-map {text!r} maps nothing to {sorted(set(LABELS) - set(mapping.values()))}; "
            "name the raw value of each class, e.g. --label-map real=genuine,generated=fake"
        )
    return mapping


def read_labels(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_map: Mapping[str, str] | None = None,
    group_column: str | None = None,
    id_column: str | None = None,
) -> LabelSet:
    """Read and check the user's labels; :class:`AdaptError` (one line) for anything unusable.

    Rules (as everywhere in the package): a missing column, an unknown label value, fewer than
    ten labels of either class, or one text (after normalisation) labelled both genuine and fake
    are errors; rows with an empty text or a missing label are dropped with a warning. Identical
    texts with one label are kept: copy-paste fakes are data.
    """
    from fakereview_nlp.data.grouping import UnionFind
    from fakereview_nlp.data.reviews import load_reviews_with_report, read_table

    file = Path(path)
    if not file.is_file():
        raise AdaptError(f"labels file {str(path)!r} does not exist (resolved to {file.resolve()})")
    raw = read_table(file)
    where = repr(str(path))
    for option, column in (
        ("--text-column", text_column),
        ("--label-column", label_column),
        ("--group-column", group_column),
        ("--id-column", id_column),
    ):
        if column is not None and column not in raw.columns:
            raise AdaptError(
                f"{option} {column!r} is not a column of {where}; its columns are {list(raw.columns)}"
            )
    try:
        map_labels(
            raw[label_column].tolist(),
            label_map,
            where=f"{where} column {label_column!r}",
            hint="Map them with --label-map RAW=genuine,RAW=fake (e.g. --label-map real=genuine,generated=fake)",
        )
    except ValueError as err:
        raise AdaptError(str(err)) from err
    ds, report = load_reviews_with_report(
        file,
        text_column=text_column,
        label_column=label_column,
        label_map=label_map,
        group_column=group_column,
        id_column=id_column,
    )
    labels = np.asarray(ds["label"], dtype=np.int64)
    texts, ids, groups = list(ds["text"]), list(ds["id"]), list(ds["group"])
    counts = {name: int(np.sum(labels == LABEL2ID[name])) for name in LABELS}
    if min(counts.values()) < MIN_PER_CLASS:
        dropped = f" after dropping {report.n_dropped} unusable rows" if report.n_dropped else ""
        raise AdaptError(
            f"{where} holds {counts['genuine']} genuine and {counts['fake']} fake labels{dropped}; adapting "
            f"needs at least {MIN_PER_CLASS} of each class. Label more reviews of the rarer class"
        )
    first_row: dict[str, int] = {}
    conflicts: list[tuple[str, str]] = []
    for i, text in enumerate(texts):
        j = first_row.setdefault(text, i)
        if labels[j] != labels[i]:
            conflicts.append((ids[j], ids[i]))
    if conflicts:
        row_word = "ids" if id_column else "rows (0-based, header not counted)"
        examples = ", ".join(f"{a} and {b}" for a, b in conflicts[:3])
        raise AdaptError(
            f"{len(conflicts)} texts in {where} carry both labels (after whitespace/Unicode normalisation), "
            f"e.g. {row_word} {examples}; give each text one label, or remove the copies you are unsure of"
        )
    # One key per group and per text: copies of a text stay on one side of every split.
    sets: UnionFind[int] = UnionFind()
    first_of: dict[tuple[str, str], int] = {}
    for i, (group, text) in enumerate(zip(groups, texts, strict=True)):
        for key in (("t", text), ("g", group)) if group else (("t", text),):
            if key in first_of:
                sets.union(i, first_of[key])
            else:
                first_of[key] = i
    keys = tuple(str(sets.find(i)) for i in range(len(texts)))
    return LabelSet(tuple(ids), tuple(texts), labels, keys, str(path), report.n_dropped)


# ----------------------------------------------------------------------------- splits


def grouped_folds(labels: LabelSet, n_folds: int, seed: int) -> np.ndarray:
    """A fold number 0..n_folds-1 per row: stratified by label, whole groups (and copies) together."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(labels.groups))
    if n_groups < n_folds:
        raise AdaptError(
            f"the {len(labels)} labels of {labels.source!r} fall into {n_groups} groups (--group-column values, "
            f"identical texts merged), too few for a split into {n_folds} parts; use a finer --group-column, or none"
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.full(len(labels), -1, dtype=np.int64)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels.labels, labels.groups)):
        fold[test] = k
    return fold


def grouped_holdout(labels: LabelSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, held_rows)``: about ``fraction`` of the rows held out, stratified, groups whole."""
    n_folds = max(2, round(1.0 / fraction))
    fold = grouped_folds(labels, n_folds, seed)
    held = np.flatnonzero(fold == 0)
    train = np.flatnonzero(fold != 0)
    for name, part in (("held-out", held), ("training", train)):
        if len(set(labels.labels[part].tolist())) < 2:
            raise AdaptError(
                f"the {name} part of {labels.source!r} has one class only; its groups are too large to split "
                "(use a finer --group-column, or none)"
            )
    return train, held


# ----------------------------------------------------------------------------- adapting


@dataclass(frozen=True)
class FittedModel:
    """An adapted model folder (complete, loadable) and what fitting it took."""

    folder: Path
    wall_seconds: float
    #: the optimizer step whose model was kept (0 for the tfidf method), and it in epochs.
    best_step: int
    best_epoch: float
    #: the TF-IDF part's share of the served score (``adapt.tfidf_weights``).
    tfidf_weight: float = 0.5


def fit_adapted(train: LabelSet, opts: ResolvedOptions, folder: Path, *, work: Path) -> FittedModel:
    """Adapt the base model on ``train`` into ``folder`` (a complete model folder).

    ``finetune``: ``training.train.run`` on a grouped train/validation split of ``train`` (early
    stopping, temperature and operating threshold on the validation part, TF-IDF part on the
    training part). ``tfidf``: the base transformer copied as it is, its TF-IDF part refitted on
    all of ``train``; temperature and threshold on out-of-fold scores.
    """
    started = time.perf_counter()
    if opts.adapt.method == "tfidf":
        weight = _fit_tfidf_only(train, opts, folder)
        return FittedModel(folder, time.perf_counter() - started, 0, 0.0, weight)
    from training.train import run

    rows, val = grouped_holdout(train, opts.adapt.val_fraction, opts.train.training.seed)
    data_file = work / "adapt_rows.jsonl"
    _write_rows(data_file, train, {int(i): "train" for i in rows} | {int(i): "val" for i in val})
    raw = opts.train.to_dict()
    raw["data"] = {
        "path": str(data_file),
        "file_format": "jsonl",
        "text_column": "text",
        "label_column": "label",
        "group_column": "group",
        "split_column": "split",
        "eval_splits": ["val"],
        "id_column": "id",
        "bad_rows": "error",
    }
    raw["output"] = {"dir": str(folder), "overwrite": True, "checkpoint_dir": str(work / "checkpoints")}
    cfg = config_from_dict(raw)
    result = run(cfg)
    weight = 0.5
    if cfg.model.combine_tfidf:
        # run() fitted the TF-IDF part on the training rows only, which is what the validation
        # rows' scores (and so the threshold) need; the part that ships sees the validation rows
        # too. A few hundred labels are too few to leave a fifth of them out of a bag of words.
        from fakereview_nlp.model.baseline import TfidfBaseline

        weight = _reweight_validation(folder, opts)
        m = cfg.model
        part = TfidfBaseline(min_df=m.tfidf_min_df, max_features=m.tfidf_max_features, weight=weight)
        part.fit(list(train.texts), train.labels).save(folder)
    steps_per_epoch = max(1, -(-len(rows) // cfg.training.batch_size))
    best_step = int(result.best_metrics.get("step", 0))
    return FittedModel(folder, time.perf_counter() - started, best_step, best_step / steps_per_epoch, weight)


def choose_tfidf_weight(
    labels: np.ndarray, transformer: np.ndarray, tfidf: np.ndarray, candidates: Sequence[float]
) -> float:
    """The candidate weight whose combination ranks ``labels`` best (ROC AUC); ties go to the earlier."""
    from sklearn.metrics import roc_auc_score

    from fakereview_nlp.model.baseline import combined_score

    if len(candidates) == 1 or len(np.unique(labels)) < 2:
        return float(candidates[0])
    aucs = [roc_auc_score(labels, combined_score(transformer, tfidf, w)) for w in candidates]
    return float(candidates[int(np.argmax(aucs))])  # argmax: the first of equal maxima


def _reweight_validation(folder: Path, opts: ResolvedOptions) -> float:
    """Choose ``adapt.tfidf_weights`` on the fine-tune's validation rows; refit the threshold to it.

    ``run()`` set the operating points on the plain mean; with another weight they are set again on
    the weighted scores of the same rows, so the threshold matches what the folder serves.
    """
    import pandas as pd

    from fakereview_nlp.model.baseline import combined_score
    from fakereview_nlp.model.operating_points import compute_operating_points, save_operating_points

    candidates = opts.adapt.tfidf_weights
    if candidates == [0.5]:
        return 0.5
    pred = pd.read_csv(folder / "val_predictions.csv", dtype={"id": str})
    labels = pred["label"].to_numpy()
    transformer, tfidf = pred["transformer_score"].to_numpy(), pred["tfidf_score"].to_numpy()
    weight = choose_tfidf_weight(labels, transformer, tfidf, candidates)
    logger.info(
        "TF-IDF part's weight %.2f, chosen of %s on %d validation labels", weight, candidates, len(pred)
    )
    if weight != 0.5:
        e = opts.train.evaluation
        pred["fake_score"] = combined_score(transformer, tfidf, weight)
        pred["fake_score_uncalibrated"] = combined_score(
            pred["transformer_score_uncalibrated"], tfidf, weight
        )
        points = compute_operating_points(
            labels,
            pred["fake_score"].to_numpy(),
            flag_rates=e.flag_rates,
            prevalence=e.prevalence,
            operating_flag_rate=e.operating_flag_rate,
        )
        save_operating_points(folder, points)
        pred.to_csv(folder / "val_predictions.csv", index=False)
    return weight


def _write_rows(path: Path, labels: LabelSet, split_of: Mapping[int, str]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in sorted(split_of):
            record = {
                "id": labels.ids[i],
                "text": labels.texts[i],
                "label": LABELS[int(labels.labels[i])],
                "group": labels.groups[i],
                "split": split_of[i],
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


_BASE_FILES_KEPT = ("config.json", "model.safetensors", "special_tokens_map.json", "calibration.json")


def _fit_tfidf_only(train: LabelSet, opts: ResolvedOptions, folder: Path) -> float:
    """The base transformer unchanged, a TF-IDF part refitted on ``train``, threshold on out-of-fold scores.

    Returns the part's weight (``adapt.tfidf_weights``, chosen on the out-of-fold scores)."""
    from fakereview_nlp.model.baseline import TfidfBaseline, combined_score
    from fakereview_nlp.model.operating_points import compute_operating_points, save_operating_points

    base = Path(opts.train.model.name_or_path)
    folder.mkdir(parents=True, exist_ok=True)
    for item in base.iterdir():
        # The weights, their config, the tokenizer and the temperature; not the base's card, report,
        # metrics or TF-IDF part, which describe the base and would mislabel this folder.
        if item.is_file() and (item.name in _BASE_FILES_KEPT or item.name.startswith(("tokenizer", "vocab"))):
            shutil.copy2(item, folder / item.name)
    m = opts.train.model
    texts = list(train.texts)
    fold = grouped_folds(train, min(opts.adapt.cv_folds, MIN_PER_CLASS), opts.train.training.seed)
    oof = np.zeros(len(train))
    for k in np.unique(fold):
        fit_rows, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        part = TfidfBaseline(min_df=m.tfidf_min_df, max_features=m.tfidf_max_features)
        part.fit([texts[i] for i in fit_rows], train.labels[fit_rows])
        oof[held] = part.predict_proba([texts[i] for i in held])
    transformer = _transformer_scores(folder, texts)
    weight = choose_tfidf_weight(train.labels, transformer, oof, opts.adapt.tfidf_weights)
    part = TfidfBaseline(min_df=m.tfidf_min_df, max_features=m.tfidf_max_features, weight=weight)
    part.fit(texts, train.labels).save(folder)
    e = opts.train.evaluation
    points = compute_operating_points(
        train.labels,
        combined_score(transformer, oof, weight),
        flag_rates=e.flag_rates,
        prevalence=e.prevalence,
        operating_flag_rate=e.operating_flag_rate,
    )
    save_operating_points(folder, points)
    (folder / "training_config.yaml").write_text(opts.train.to_yaml(), encoding="utf-8")
    return weight


def _transformer_scores(folder: Path, texts: list[str]) -> np.ndarray:
    """The calibrated transformer P(fake) alone (no TF-IDF part) of the model in ``folder``."""
    from fakereview_nlp import FakeReviewClassifier

    clf = FakeReviewClassifier.from_pretrained(folder, backend="torch")
    clf.tfidf = None
    return clf.predict_proba(texts)


def score_model(folder: str | Path, texts: Sequence[str]) -> np.ndarray:
    """P(fake) of ``texts`` as ``classify(model=folder)`` gives it (TF-IDF part included)."""
    from fakereview_nlp import FakeReviewClassifier

    return FakeReviewClassifier.from_pretrained(folder, backend="torch").predict_proba(list(texts))


# ----------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class ModelEstimate:
    """One model's scores on the labels neither it nor the base was adapted on, with 95 % bootstrap bounds."""

    roc_auc: float
    roc_auc_ci: tuple[float, float]
    average_precision: float
    average_precision_ci: tuple[float, float]
    precision_at_flag_rate: float
    precision_at_flag_rate_ci: tuple[float, float]
    recall_at_flag_rate: float
    recall_at_flag_rate_ci: tuple[float, float]


@dataclass(frozen=True)
class Estimate:
    """Before (base) against after (adapted) on the same held-out rows or out-of-fold predictions.

    Attributes:
        mode: ``"holdout"`` (a held-out part of the labels) or ``"cv"`` (k-fold cross-validation).
        n_rows, n_fake: the rows the estimate rests on. auc_gain_ci: paired bootstrap bounds of
        AUC(adapted) - AUC(base) (the same resamples for both).
    """

    mode: Literal["holdout", "cv"]
    n_rows: int
    n_fake: int
    flag_rate: float
    prevalence: float
    base: ModelEstimate
    adapted: ModelEstimate
    auc_gain: float
    auc_gain_ci: tuple[float, float]


def estimate(
    labels: np.ndarray,
    base_scores: np.ndarray,
    adapted_scores: np.ndarray,
    *,
    groups: Sequence[str],
    mode: Literal["holdout", "cv"],
    flag_rate: float,
    prevalence: float,
    n_boot: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Point values and paired cluster-bootstrap intervals (whole groups and copies resampled together)."""
    from fakereview_nlp.metrics import (
        average_precision,
        bootstrap_samples,
        flag_rate_metrics,
        percentile_interval,
        roc_auc,
    )

    y = np.asarray(labels, dtype=np.int64)
    both = (np.asarray(base_scores, dtype=np.float64), np.asarray(adapted_scores, dtype=np.float64))

    def stats(yb: np.ndarray, rows: np.ndarray) -> np.ndarray:
        out: list[float] = []
        for scores in both:
            s = scores[rows.astype(np.int64)]
            (point,) = flag_rate_metrics(yb, s, [flag_rate], prevalence)
            out += [roc_auc(yb, s), average_precision(yb, s, prevalence), point.precision, point.recall]
        return np.asarray([*out, out[4] - out[0]])

    point = stats(y, np.arange(len(y), dtype=np.float64))
    samples = bootstrap_samples(
        y, np.arange(len(y), dtype=np.float64), stats, n_boot=n_boot, groups=list(groups), seed=seed
    )
    low, high = percentile_interval(samples)

    def model(k: int) -> ModelEstimate:
        values = [(float(point[k + j]), (float(low[k + j]), float(high[k + j]))) for j in range(4)]
        return ModelEstimate(*[v for pair in values for v in pair])

    return Estimate(
        mode=mode,
        n_rows=len(y),
        n_fake=int(y.sum()),
        flag_rate=flag_rate,
        prevalence=prevalence,
        base=model(0),
        adapted=model(4),
        auc_gain=float(point[8]),
        auc_gain_ci=(float(low[8]), float(high[8])),
    )


# ----------------------------------------------------------------------------- the whole run


def choose_estimate(a: AdaptOptions, counts: Mapping[str, int]) -> Literal["holdout", "cv", "none"]:
    """``adapt.estimate``, with ``auto`` resolved by the rarer class's count (see docs/adapt.md)."""
    if a.estimate != "auto":
        return a.estimate
    return "holdout" if min(counts.values()) >= a.holdout_min_per_class else "cv"


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt` wrote and measured."""

    output_dir: Path
    #: None with ``adapt.estimate: none``.
    estimate: Estimate | None
    counts: dict[str, int]
    wall_seconds: float
    fit_seconds: float
    #: the epoch whose model was kept (by validation average precision); 0 for the tfidf method.
    best_epoch: float = 0.0


def detect_languages(texts: Sequence[str]) -> tuple[list[str], str]:
    """The languages of ``texts`` as training records them (:func:`fakereview_nlp.language.training_languages`),
    and the library that identified them."""
    from fakereview_nlp.language import LIBRARY, training_languages

    return sorted(training_languages(texts)), LIBRARY


def adapt(
    labels_path: str | Path,
    output_dir: str | Path,
    *,
    base: str | Path | None = None,
    text_column: str = "text",
    label_column: str = "label",
    label_map: Mapping[str, str] | None = None,
    group_column: str | None = None,
    id_column: str | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
) -> AdaptResult:
    """Adapt ``base`` (default: the model ``classify()`` uses) to the labels in ``labels_path``.

    Writes ``output_dir`` atomically (a staging folder renamed at the end). See the module docstring.
    """
    from fakereview_nlp import __version__, default_model_path
    from fakereview_nlp.model.modeling import check_model_dir
    from training.output import COMPLETE_MARKER, match_umask, publish, staging_dir

    started = time.perf_counter()
    final = Path(output_dir)
    if final.exists() and not overwrite:
        raise AdaptError(
            f"output directory {str(final)!r} already exists; choose another -o or pass --overwrite"
        )
    base_dir = Path(base) if base is not None else default_model_path()
    check_model_dir(base_dir)
    opts = resolve_options(base_dir, overrides)
    labels = read_labels(
        labels_path,
        text_column=text_column,
        label_column=label_column,
        label_map=label_map,
        group_column=group_column,
        id_column=id_column,
    )
    counts = labels.counts()
    logger.info("%d labels from %s: %s", len(labels), labels_path, counts)
    staging = staging_dir(final)
    if staging.exists():
        shutil.rmtree(staging)
    with tempfile.TemporaryDirectory(
        prefix=".adapt-", dir=final.parent if final.parent.exists() else None
    ) as tmp:
        mode = choose_estimate(opts.adapt, counts)
        logger.info("estimate: %s", mode)
        fitted, result = fit_with_estimate(mode, labels, opts, base_dir, staging, work=Path(tmp))
    info = adapted_model_info(base_dir, opts, labels.texts, counts, version=__version__)
    (staging / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (staging / ADAPT_CONFIG_FILE).write_text(opts.to_yaml(), encoding="utf-8")
    wall = time.perf_counter() - started
    from training.adapt_report import write_report

    write_report(
        staging,
        result,
        labels_file=str(labels_path),
        counts=counts,
        n_dropped=labels.n_dropped,
        n_duplicate_rows=len(labels) - len(set(labels.texts)),
        opts=opts,
        info=info,
        fit_seconds=fitted.wall_seconds,
        best_epoch=fitted.best_epoch,
        wall_seconds=wall,
        tfidf_weight=fitted.tfidf_weight if (staging / TFIDF_FILE).is_file() else None,
    )
    # Written last, as training does: its presence marks the folder complete. The data section is
    # the user's file as given (the fine-tune itself read an internal copy with a split column).
    data = {"path": str(labels_path), "text_column": text_column, "label_column": label_column,
            "label_map": dict(label_map) if label_map else None, "group_column": group_column}  # fmt: skip
    (staging / COMPLETE_MARKER).write_text(completed_config(opts, data, final), encoding="utf-8")
    for leftover in ("val_predictions.csv",):
        # Validation predictions name the user's rows by id only, but a model folder travels; the
        # report holds the summary.
        (staging / leftover).unlink(missing_ok=True)
    match_umask(staging)
    publish(staging, final, overwrite=overwrite)
    logger.info("wrote %s in %.0f s (adapting %.0f s)", final, wall, fitted.wall_seconds)
    return AdaptResult(final, result, counts, wall, fitted.wall_seconds, fitted.best_epoch)


def fit_with_estimate(
    mode: Literal["holdout", "cv", "none"],
    labels: LabelSet,
    opts: ResolvedOptions,
    base_dir: Path,
    folder: Path,
    *,
    work: Path,
) -> tuple[FittedModel, Estimate | None]:
    """The adapted model in ``folder`` (fitted on every label) and, unless ``mode`` is ``none``, its
    estimated gain over ``base_dir`` on labels it did not see (a held-out part, or cross-validation)."""
    a, e, seed = opts.adapt, opts.train.evaluation, opts.train.training.seed
    if mode == "none":
        return fit_adapted(labels, opts, folder, work=work), None
    if mode == "holdout":
        train_rows, held = grouped_holdout(labels, a.holdout_fraction, seed)
        fitted = fit_adapted(labels.subset(train_rows), opts, folder, work=work)
        evaluated = labels.subset(held)
        base_scores = score_model(base_dir, evaluated.texts)
        adapted_scores = score_model(folder, evaluated.texts)
    else:
        evaluated = labels
        base_scores = score_model(base_dir, labels.texts)
        adapted_scores = out_of_fold_scores(labels, opts, work=work)
        fitted = fit_adapted(labels, opts, folder, work=work)
    result = estimate(
        evaluated.labels,
        base_scores,
        adapted_scores,
        groups=evaluated.groups,
        mode=mode,
        flag_rate=e.operating_flag_rate,
        prevalence=e.prevalence,
        n_boot=a.n_boot,
        seed=seed,
    )
    return fitted, result


def out_of_fold_scores(labels: LabelSet, opts: ResolvedOptions, *, work: Path) -> np.ndarray:
    """Each label's adapted P(fake) from a model adapted on the other folds (grouped ``adapt.cv_folds``)."""
    a = opts.adapt
    fold = grouped_folds(labels, a.cv_folds, opts.train.training.seed)
    scores = np.zeros(len(labels))
    for k in range(a.cv_folds):
        inner, out = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        logger.info("cross-validation fold %d of %d: adapting on %d labels, scoring %d",
                    k + 1, a.cv_folds, len(inner), len(out))  # fmt: skip
        member = fit_adapted(labels.subset(inner), opts, work / f"fold{k}", work=work)
        scores[out] = score_model(member.folder, [labels.texts[i] for i in out])
        shutil.rmtree(member.folder)
    return scores


def adapted_model_info(
    base_dir: Path, opts: ResolvedOptions, texts: Sequence[str], counts: Mapping[str, int], *, version: str
) -> dict[str, Any]:
    """``model_info.json`` of the adapted model: languages of its labels, its base, how it was adapted."""
    languages, language_method = detect_languages(texts)
    base_info = _read_json(base_dir / MODEL_INFO_FILE)
    return {
        "version": version,
        "languages": languages,
        "languages_method": language_method,
        "base_model": base_info.get("base_model") or _encoder_name(base_dir),
        "adapted_from": str(base_dir),
        "adapt_method": opts.adapt.method,
        "n_labels": counts,
    }


def completed_config(opts: ResolvedOptions, data: Mapping[str, Any], final: Path) -> str:
    """The training config as YAML, its data section the user's file as given and its output ``final``."""
    train_cfg = opts.train.to_dict()
    train_cfg["data"].update(data)
    train_cfg["output"]["dir"] = str(final)
    return yaml.safe_dump(train_cfg, sort_keys=False)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _encoder_name(model_dir: Path) -> str:
    """The encoder a model was fine-tuned from: its training_config's model.name_or_path, else the folder."""
    saved = model_dir / "training_config.yaml"
    if saved.is_file():
        raw = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
        name = (raw.get("model") or {}).get("name_or_path")
        if isinstance(name, str) and name:
            return name
    return str(model_dir)


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.adapt",
        description="Adapt a fake-review detector to your platform from a few hundred labelled reviews.",
        epilog="Any --section.key=value overrides one config key, e.g. --training.learning_rate=2e-5 "
        "--adapt.method=tfidf (sections: model, training, evaluation, adapt; see training/adapt.py).",
    )
    parser.add_argument("labels", metavar="LABELS", help="CSV/TSV/JSONL/Parquet file of labelled reviews")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="the model folder to write")
    parser.add_argument("--base", default=None, metavar="MODEL",
                        help="model folder to start from (default: the model classify() uses with none named)")  # fmt: skip
    parser.add_argument(
        "--text-column", default="text", help="column holding the review text (default: text)"
    )
    parser.add_argument("--label-column", default="label", help="column holding the label (default: label)")
    parser.add_argument("--label-map", default=None, metavar="A=genuine,B=fake",
                        help="raw label values to genuine/fake (default: labels already genuine/fake or 0/1)")  # fmt: skip
    parser.add_argument("--group-column", default=None,
                        help="rows sharing a value (product, hotel, account) stay on one side of every internal split")  # fmt: skip
    parser.add_argument("--id-column", default=None, help="column of row ids, named in messages")
    parser.add_argument("--prevalence", type=float, default=None,
                        help="expected share of fakes in your traffic (evaluation.prevalence; default 0.05)")  # fmt: skip
    parser.add_argument("--flag-rate", type=float, default=None,
                        help="share of reviews you can check (evaluation.operating_flag_rate; default 0.01)")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the traceback of an error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from fakereview_nlp.errors import USER_ERROR_EXIT, is_user_error, one_line

    parser = build_parser()
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    overrides = list(extra)
    unknown = [x for x in overrides if not (x.startswith("--") and "=" in x and "." in x.partition("=")[0])]
    if unknown:
        parser.error(
            f"unrecognized arguments: {' '.join(unknown)} (config overrides look like --training.epochs=3)"
        )
    if args.prevalence is not None:
        overrides.append(f"--evaluation.prevalence={args.prevalence!r}")
    if args.flag_rate is not None:
        overrides.append(f"--evaluation.operating_flag_rate={args.flag_rate!r}")
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
    try:
        result = adapt(
            args.labels,
            args.output,
            base=args.base,
            text_column=args.text_column,
            label_column=args.label_column,
            label_map=parse_label_map(args.label_map),
            group_column=args.group_column,
            id_column=args.id_column,
            overrides=overrides,
            overwrite=args.overwrite,
        )
    except Exception as err:
        if args.verbose or not is_user_error(err):
            raise
        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return USER_ERROR_EXIT
    est = result.estimate
    if est is None:
        print(f"wrote {result.output_dir} (no estimate: adapt.estimate is none)")
        return 0
    print(
        f"wrote {result.output_dir}: AUC {est.base.roc_auc:.3f} -> {est.adapted.roc_auc:.3f} "
        f"({'held-out' if est.mode == 'holdout' else 'cross-validated'}, {est.n_rows} labels); "
        f"see {result.output_dir / 'report.md'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
