"""Reading review tables into one canonical schema, and leakage-safe splits.

Canonical schema of the ``datasets.Dataset`` returned by :func:`load_reviews`:

========  =======  ==========================================================
column    type     meaning
========  =======  ==========================================================
``id``    str      the source's id column, else the row number in the source
``text``  str      normalised review text (:func:`fakereview_nlp.text.normalize_text`)
``label`` int      0 = genuine, 1 = fake
``group`` str      the group column (hotel, product); ``""`` when not given
``split`` str      the split/fold column as a string; ``""`` when not given
========  =======  ==========================================================
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import datasets
import numpy as np
import pandas as pd

from fakereview_nlp.data.grouping import UnionFind
from fakereview_nlp.labels import LABELS, map_labels
from fakereview_nlp.text import normalize_text, text_prefix_key

logger = logging.getLogger(__name__)

FileFormat = Literal["csv", "tsv", "jsonl", "parquet"]
BadRowPolicy = Literal["drop", "error"]


def infer_format(path: str | os.PathLike[str]) -> FileFormat:
    """The file format from a path's extension; ``ValueError`` names the supported ones."""
    from fakereview_nlp.data.tables import infer_format as table_format

    return table_format(path)


def read_table(
    source: str | os.PathLike[str],
    *,
    file_format: FileFormat | None = None,
    hf_split: str = "train",
) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL or Parquet file, or a Hugging Face dataset id, into a DataFrame.

    Args:
        source (`str`): a local file path, or a Hub dataset id such as ``"user/fake-reviews"``.
        file_format (`str`, *optional*): overrides the format inferred from the extension.
        hf_split (`str`, defaults to `"train"`): the split to take from a Hub dataset.

    Local files go through :mod:`fakereview_nlp.data.tables`, the reader ``fakereview classify`` uses,
    so a file reads the same in training, evaluation and batch scoring: CSV/TSV cells are strings
    (ids such as ISBNs keep their leading zeros, labels ``0``/``1`` are matched as text), JSONL
    values keep their JSON types (arrays and mixed types included), and a JSONL key the first
    record lacks is an error naming the line.
    """
    from fakereview_nlp.data.tables import EXTENSIONS
    from fakereview_nlp.data.tables import read_table as read_local

    path = Path(source)
    if path.is_file():
        return read_local(path, file_format)
    looks_like_file = path.exists() or (
        path.suffix.lower() in EXTENSIONS or os.sep in str(source) and str(source).startswith(".")
    )
    if looks_like_file:
        raise FileNotFoundError(
            f"review file {str(source)!r} does not exist (resolved to {path.resolve()}); "
            "check the path, or override it on the command line with --data.path=..."
        )
    # Not a local file: a Hub dataset id. This is the path users with network access take.
    loaded = datasets.load_dataset(str(source), split=hf_split)
    if not isinstance(loaded, datasets.Dataset):
        raise TypeError(f"expected one split from {source!r}, got {type(loaded).__name__}; set hf_split")
    return loaded.to_pandas()


@dataclass(frozen=True)
class BadRowReport:
    """What :func:`load_reviews` found wrong and did about it.

    Attributes:
        n_rows (`int`): rows in the source. empty_text (`int`), missing_label (`int`): rows with
        each fault (a row can have both). n_dropped (`int`): rows left out (each counted once).
    """

    n_rows: int
    empty_text: int
    missing_label: int
    n_dropped: int = 0

    @property
    def n_bad(self) -> int:
        return self.empty_text + self.missing_label


def _require_columns(raw: pd.DataFrame, wanted: Mapping[str, str | None], source: str) -> None:
    for option, column in wanted.items():
        if column is not None and column not in raw.columns:
            raise ValueError(
                f"{option}={column!r} is not a column of {source}; its columns are {list(raw.columns)}"
            )


def load_reviews(
    source: str | os.PathLike[str],
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    label_map: Mapping[str, str] | None = None,
    group_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
    keep_columns: Sequence[str] = (),
    prefix_columns: Sequence[str] = (),
    bad_rows: BadRowPolicy = "drop",
    file_format: FileFormat | None = None,
    hf_split: str = "train",
) -> datasets.Dataset:
    """Read reviews into the canonical schema (see the module docstring).

    Args:
        source: a CSV/TSV/JSONL/Parquet path or a Hub dataset id.
        text_column, label_column, group_column, split_column, id_column: source column names.
            ``label_column=None`` reads unlabelled data (``label`` is then -1).
        label_map: raw label value → ``"genuine"``/``"fake"``; default accepts those names and 0/1.
        keep_columns: extra source columns to carry along (e.g. ``polarity`` for slicing).
        prefix_columns: metadata columns written in front of the text as ``"name_value ... | "``
            (e.g. ``verified_purchase``, ``rating``) so a text model can use them. Off by
            default: such columns can leak the label (see the amazon_labeled README).
        bad_rows: ``"drop"`` rows with empty text or a missing label, with a warning that counts
            them; ``"error"`` raises ``ValueError`` instead.

    Returns:
        `datasets.Dataset` with ``id, text, label, group, split`` and ``keep_columns``.

    Example::

        >>> ds = load_reviews("op_spam.csv", label_map={"truthful": "genuine", "deceptive": "fake"},
        ...                   group_column="hotel", split_column="fold")  # doctest: +SKIP
    """
    ds, _ = load_reviews_with_report(
        source,
        text_column=text_column,
        label_column=label_column,
        label_map=label_map,
        group_column=group_column,
        split_column=split_column,
        id_column=id_column,
        keep_columns=keep_columns,
        prefix_columns=prefix_columns,
        bad_rows=bad_rows,
        file_format=file_format,
        hf_split=hf_split,
    )
    return ds


def load_reviews_with_report(
    source: str | os.PathLike[str],
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    label_map: Mapping[str, str] | None = None,
    group_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
    keep_columns: Sequence[str] = (),
    prefix_columns: Sequence[str] = (),
    bad_rows: BadRowPolicy = "drop",
    file_format: FileFormat | None = None,
    hf_split: str = "train",
) -> tuple[datasets.Dataset, BadRowReport]:
    """:func:`load_reviews`, and the :class:`BadRowReport` of what it dropped (for reports that count it)."""
    raw = read_table(source, file_format=file_format, hf_split=hf_split)
    name = repr(str(source))
    _require_columns(
        raw,
        {
            "text_column": text_column,
            "label_column": label_column,
            "group_column": group_column,
            "split_column": split_column,
            "id_column": id_column,
            **{f"keep_columns[{i}]": c for i, c in enumerate(keep_columns)},
            **{f"prefix_columns[{i}]": c for i, c in enumerate(prefix_columns)},
        },
        name,
    )
    from fakereview_nlp.data.tables import check_text_values, missing_text

    # A non-string text (a number in a JSONL file) is an error, as in classify() and fakereview classify.
    check_text_values(list(raw[text_column]), column=text_column, where=name)
    texts = [t if isinstance(t, str) else "" for t in raw[text_column]]  # the others are missing: dropped below
    labels = map_labels(raw[label_column], label_map) if label_column else [-1] * len(raw)
    empty = np.flatnonzero(missing_text(raw[text_column])).tolist()
    missing = [i for i, lab in enumerate(labels) if lab is None]
    bad = set(empty) | set(missing)
    report = BadRowReport(
        n_rows=len(raw), empty_text=len(empty), missing_label=len(missing), n_dropped=len(bad)
    )
    if report.n_bad:
        detail = (
            f"{report.empty_text} with empty or missing {text_column!r}, "
            f"{report.missing_label} with a missing {label_column!r}"
        )
        if bad_rows == "error":
            first = sorted(set(empty) | set(missing))[:5]
            raise ValueError(
                f"{report.n_dropped} of {report.n_rows} rows in {name} are unusable ({detail}); first rows "
                f"{first}. Fix the file or set data.bad_rows: drop to skip them"
            )
        logger.warning("dropping %d of %d rows in %s: %s", report.n_dropped, report.n_rows, name, detail)
    keep = [i for i in range(len(raw)) if i not in bad]
    ids = raw[id_column].tolist() if id_column else [str(i) for i in range(len(raw))]
    groups = raw[group_column].tolist() if group_column else [""] * len(raw)
    splits = raw[split_column].tolist() if split_column else [""] * len(raw)
    columns: dict[str, list[object]] = {
        "id": [str(ids[i]) for i in keep],
        "text": [_prefix(raw, prefix_columns, i) + normalize_text(texts[i]) for i in keep],
        "label": [labels[i] for i in keep],
        "group": [str(groups[i]) for i in keep],
        "split": [_split_key(splits[i]) for i in keep],
    }
    for column in keep_columns:
        values = raw[column].tolist()
        columns[column] = [_plain(values[i]) for i in keep]
    return datasets.Dataset.from_dict(columns), report


def _plain(value: object) -> object:
    """A cell as a Python value: NaN (pandas' missing float) as None, numpy arrays as lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def _prefix(raw: pd.DataFrame, columns: Sequence[str], row: int) -> str:
    if not columns:
        return ""
    record = raw.iloc[row]
    # One word per column ("verified_purchase_N"), so that bag-of-words models keep one-letter
    # values such as Y/N or 5 that their tokenisers would drop on their own.
    words = [f"{c}_{normalize_text(str(record[c])).replace(' ', '_')}" for c in columns]
    return " ".join(words) + " | "


def _split_key(value: object) -> str:
    """Fold values read as ``5``, ``5.0`` or ``"5"`` all become ``"5"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def class_balance(labels: Sequence[int]) -> str:
    counts = Counter(labels)
    total = max(len(labels), 1)
    return ", ".join(
        f"{LABELS[k]} {counts.get(k, 0)} ({100 * counts.get(k, 0) / total:.1f}%)" for k in (0, 1)
    )


def group_keys(ds: datasets.Dataset, *, prefix_chars: int = 0) -> list[str]:
    """One key per row such that rows sharing a group *or* an exact text share a key.

    Rows without a group are their own group. Exact duplicate texts are merged into one
    group by union-find, so a duplicate can never sit on both sides of a split even when
    its copies carry different group values. With ``prefix_chars`` > 0, rows whose texts
    open with the same ``prefix_chars`` letters and digits (near-duplicates such as GPT-2
    fakes sharing an opening) are merged too.
    """
    sets: UnionFind[int] = UnionFind()
    first_of: dict[tuple[str, str], int] = {}
    for i, (group, text) in enumerate(zip(ds["group"], ds["text"], strict=True)):
        keys: tuple[tuple[str, str], ...] = (("t", text),)
        if group:
            keys += (("g", group),)
        if prefix_chars:
            keys += (("p", text_prefix_key(text, prefix_chars)),)
        for key in keys:
            if key in first_of:
                sets.union(i, first_of[key])
            else:
                first_of[key] = i
    return [str(sets.find(i)) for i in range(len(ds))]


def grouped_split(
    ds: datasets.Dataset, *, eval_fraction: float, seed: int, prefix_chars: int = 0
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """A seeded train/eval split in which no group and no exact duplicate text straddles.

    Whole groups are shuffled and taken into the evaluation side until it holds at least
    ``eval_fraction`` of the rows.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    keys = group_keys(ds, prefix_chars=prefix_chars)
    members: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    target = eval_fraction * len(ds)
    eval_idx: list[int] = []
    for key in order:
        if len(eval_idx) >= target:
            break
        eval_idx.extend(members[key])
    if len(members) < 2 or len(eval_idx) == len(ds):
        raise ValueError(
            f"cannot split {len(ds)} rows in {len(members)} group(s) into train and eval; "
            "use a finer group_column or more data"
        )
    eval_set = set(eval_idx)
    train_idx = [i for i in range(len(ds)) if i not in eval_set]
    return ds.select(train_idx), ds.select(sorted(eval_idx))


def grouped_folds(ds: datasets.Dataset, *, n_folds: int, seed: int, prefix_chars: int = 0) -> list[str]:
    """Assign each row a fold ``"1"``..``"n_folds"``, whole groups (and duplicate texts) together.

    Groups are shuffled with ``seed`` and dealt greedily to the currently smallest fold,
    largest groups first, so folds come out near equal in size.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    keys = group_keys(ds, prefix_chars=prefix_chars)
    members: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    if len(members) < n_folds:
        raise ValueError(f"only {len(members)} groups for {n_folds} folds; use fewer folds")
    order = sorted(members)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda k: -len(members[k]))  # stable: ties keep the seeded order
    sizes = [0] * n_folds
    fold_of = [""] * len(ds)
    for key in order:
        fold = min(range(n_folds), key=lambda f: (sizes[f], f))
        sizes[fold] += len(members[key])
        for i in members[key]:
            fold_of[i] = str(fold + 1)
    return fold_of


def split_by_column(
    ds: datasets.Dataset, *, eval_splits: Sequence[str], train_splits: Sequence[str] | None = None
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Train/eval from the split column: eval = rows whose split is in ``eval_splits``.

    Train is every other row, or only ``train_splits`` when given.
    """
    values = ds["split"]
    present = sorted(set(values))
    wanted = {str(s) for s in eval_splits}
    unknown = wanted - set(present)
    if unknown:
        raise ValueError(f"eval split(s) {sorted(unknown)} are not in the split column; it holds {present}")
    if train_splits is not None:
        missing = {str(s) for s in train_splits} - set(present)
        if missing:
            raise ValueError(
                f"train split(s) {sorted(missing)} are not in the split column; it holds {present}"
            )
    train_set = None if train_splits is None else {str(s) for s in train_splits}
    eval_idx = [i for i, v in enumerate(values) if v in wanted]
    train_idx = [i for i, v in enumerate(values) if v not in wanted and (train_set is None or v in train_set)]
    return ds.select(train_idx), ds.select(eval_idx)


def stratified_subsample(labels: Sequence[int], fraction: float, *, seed: int) -> list[int]:
    """Sorted row indices of a seeded sample holding ``fraction`` of each class (learning curves).

    Per class, ``round(fraction * n)`` rows, at least one, so a small fraction keeps both
    classes; the same labels, fraction and seed always give the same rows, which lets the
    transformer and the TF-IDF baseline of a learning curve train on identical subsets.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}; 1.0 keeps every row")
    if fraction == 1.0:
        return list(range(len(labels)))
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(i)
    keep: list[int] = []
    for label in sorted(by_class):
        rows = by_class[label]
        keep.extend(rng.sample(rows, max(1, round(fraction * len(rows)))))
    return sorted(keep)


def log_split(name: str, ds: datasets.Dataset) -> None:
    logger.info("%s: %d reviews; %s", name, len(ds), class_balance(ds["label"]))
