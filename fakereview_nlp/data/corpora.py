"""Importers for the public fake-review corpora, in their published forms, into one CSV schema.

Each importer reads a corpus as its authors (or this project's ``../shared/data`` copy) publish
it and returns a ``pandas.DataFrame`` in the *canonical corpus schema*, every column a string:

==============  ==================================================================
column          meaning
==============  ==================================================================
``id``          the corpus's own id (op_spam: ``<polarity>/<label>/fold<k>/<stem>``)
``text``        the review, through :func:`fakereview_nlp.text.normalize_text`
``label``       ``genuine`` or ``fake``
``group``       rows that must stay on one side of any split share a value
``fold``        op_spam only: the published cross-validation fold ``1``..``5``
metadata        per corpus (see :data:`CORPORA`), for slicing and leakage checks
==============  ==================================================================

The texts are normalised here (NFC, whitespace collapsed, ends stripped) so that a prepared
file never carries the op_spam trailing-space cue, even for a reader that skips
:func:`fakereview_nlp.data.reviews.load_reviews`.

Example::

    >>> from fakereview_nlp.data.corpora import import_corpus, canonical_load_kwargs
    >>> frame = import_corpus("op_spam", "op_spam_v1.4.zip")  # doctest: +SKIP
    >>> frame.to_csv("op_spam.csv", index=False)  # doctest: +SKIP
    >>> from fakereview_nlp.data.reviews import load_reviews
    >>> ds = load_reviews("op_spam.csv", **canonical_load_kwargs("op_spam"))  # doctest: +SKIP

or, from a shell, ``fakereview prepare op_spam -o op_spam.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fakereview_nlp.data.grouping import UnionFind
from fakereview_nlp.files import atomic_path, atomic_write_bytes
from fakereview_nlp.labels import CANONICAL_COLUMNS, ID2LABEL, LABELS, LabelName, map_labels
from fakereview_nlp.text import normalize_text, text_prefix_key

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


# Where this checkout keeps the shared data: <repo>/../shared/data.
_REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusSpec:
    """What this package knows about one public corpus.

    Args:
        name (`str`): registry key, also the ``fakereview prepare NAME`` argument.
        title (`str`): human-readable name and citation key.
        importer (`Callable[[PathLike], pd.DataFrame]`): reads any published form into the
            canonical schema.
        label_map (`Mapping[str, str]`): raw label in the published file → ``genuine``/``fake``.
        split_column (`str`, *optional*): the published cross-validation column kept in the
            canonical file (``"fold"``), or ``None`` when the corpus has no usable split.
        metadata_columns (`tuple[str, ...]`): extra canonical columns, after ``split_column``.
        local_path (`str`): this project's copy, relative to the repository root.
        urls (`tuple[str, ...]`): verified direct download URLs, tried in order.
        download_filename (`str`, *optional*): the file name the download is saved under.
        sha256 (`str`, *optional*): a third-party record of the download's SHA-256; a mismatch
            is logged, not fatal, because the authors publish no checksum.
        manual_download (`str`): where to get the file by hand when ``urls`` is empty or fails.
        license (`str`): the license as the authors state it.
        notes (`tuple[str, ...]`): caveats a user of the corpus must know.

    No Hub dataset id is listed: none of the Hub copies found holds a corpus in its published
    form (the one copy of fake_reviews_cg there adds 94 rows), so downloads use the authors' URLs.
    """

    name: str
    title: str
    importer: Callable[[PathLike], pd.DataFrame]
    label_map: Mapping[str, LabelName]
    split_column: str | None
    metadata_columns: tuple[str, ...]
    local_path: str
    urls: tuple[str, ...] = ()
    download_filename: str | None = None
    sha256: str | None = None
    manual_download: str = ""
    license: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> tuple[str, ...]:
        """The canonical file's columns, in order."""
        split = (self.split_column,) if self.split_column else ()
        return CANONICAL_COLUMNS + split + self.metadata_columns

    def default_source(self) -> Path | None:
        """This checkout's local copy (``../shared/data/...``) when it exists, else ``None``."""
        for base in (Path.cwd(), _REPO_ROOT):
            candidate = (base / self.local_path).resolve()
            if candidate.exists():
                return candidate
        return None


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _require_exists(path: Path, corpus: str) -> None:
    if not path.exists():
        raise FileNotFoundError(
            f"{corpus} source {str(path)!r} does not exist (resolved to {path.resolve()}); pass the "
            f"published file or folder, or run `fakereview prepare {corpus} -o OUT.csv` to download it"
        )


def _layout_error(path: PathLike, found: str, expected: str, fix: str = "") -> ValueError:
    message = f"{str(path)!r} is not a recognised layout: found {found}; expected {expected}"
    return ValueError(f"{message}. {fix}" if fix else message)


def _decode(raw: bytes, where: str) -> str:
    """UTF-8 (BOM tolerated), falling back to Windows-1252 with a warning rather than failing."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        logger.warning("%s is not valid UTF-8; decoding it as Windows-1252", where)
        return raw.decode("cp1252", errors="replace")


def _read_csv_text(content: str, where: str) -> pd.DataFrame:
    """CSV text (a file, or a zip member, already decoded) read by :mod:`fakereview_nlp.data.tables`.

    The same CSV rule as training and ``fakereview classify``: every cell a string (ids such as
    ISBNs keep leading zeros, "NA" stays a string), and a malformed row is an error naming its line.
    """
    from fakereview_nlp.data.tables import read_table

    # tables reads files; the content may come out of a zip or need a cp1252 fallback first.
    with tempfile.TemporaryDirectory(prefix="fakereview-corpus-") as folder:
        path = Path(folder) / "source.csv"
        path.write_text(content, encoding="utf-8")
        try:
            return read_table(path, "csv")
        except ValueError as err:  # name the real source, not the temporary copy
            raise ValueError(str(err).replace(repr(str(path)), repr(where))) from None


def _header_of(content: str) -> list[str]:
    first = content.split("\n", 1)[0].rstrip("\r")
    return next(csv.reader([first]), [])


def _read_member(
    path: Path, wanted: Callable[[str], bool], description: str, preferred: str | None = None
) -> tuple[str, str]:
    """The text of ``path``, or of the one member of zip ``path`` that ``wanted`` accepts.

    When several members are accepted, the one whose file name is ``preferred`` wins.
    """
    if not zipfile.is_zipfile(path):
        return _decode(path.read_bytes(), str(path)), str(path)
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not _is_junk(n) and not n.endswith("/")]
        hits = [n for n in names if wanted(n.rsplit("/", 1)[-1])]
        if len(hits) > 1 and preferred is not None:
            hits = [n for n in hits if n.rsplit("/", 1)[-1] == preferred] or hits
        if len(hits) != 1:
            raise _layout_error(
                path,
                f"{len(hits)} matching member(s) among {names[:10]}",
                f"a zip holding exactly one {description}",
                "Unzip it and pass the file itself with --source",
            )
        return _decode(archive.read(hits[0]), f"{path}:{hits[0]}"), f"{path}:{hits[0]}"


def _is_junk(name: str) -> bool:
    """macOS archive debris (``__MACOSX/``, ``._*`` resource forks, ``.DS_Store``)."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return (
        name.startswith("__MACOSX/") or "/__MACOSX/" in name or base.startswith("._") or base == ".DS_Store"
    )


def _label_names(values: Iterable[str], label_map: Mapping[str, str], where: str) -> list[str]:
    """Raw labels as ``genuine``/``fake`` through :func:`fakereview_nlp.labels.map_labels`; none may be missing."""
    ids = map_labels(values, label_map, where=where, hint="Is this the right corpus for this importer?")
    missing = sum(i is None for i in ids)
    if missing:
        raise ValueError(
            f"{missing} rows in {where} have an empty label; expected one of {sorted(label_map)}. "
            "Is this the right corpus for this importer?"
        )
    return [ID2LABEL[i] for i in ids]  # type: ignore[index]


def _finish(frame: pd.DataFrame, columns: Sequence[str], where: str) -> pd.DataFrame:
    """Normalise texts, drop rows left empty (with a warning), check ids, order the columns."""
    frame = frame.copy()
    frame["text"] = [normalize_text(t) for t in frame["text"]]
    empty = frame["text"] == ""
    if empty.any():
        logger.warning("dropping %d of %d rows with empty text in %s", int(empty.sum()), len(frame), where)
        frame = frame[~empty]
    duplicated = frame["id"][frame["id"].duplicated()]
    if len(duplicated):
        raise ValueError(
            f"{len(duplicated)} duplicate ids in {where}, e.g. {duplicated.iloc[:3].tolist()}; "
            "ids must be unique. Does the source hold two copies of the corpus?"
        )
    frame = frame.reset_index(drop=True)[list(columns)]
    return frame.astype(str)


def _union_groups(keys_per_row: Sequence[Sequence[str]]) -> list[str]:
    """Rows sharing any key end up in one group, named by its smallest first key (union-find)."""
    sets: UnionFind[str] = UnionFind()
    for keys in keys_per_row:
        for other in keys[1:]:
            a, b = sets.find(keys[0]), sets.find(other)
            sets.union(max(a, b), min(a, b))
    names: dict[str, str] = {}
    for keys in keys_per_row:
        root = sets.find(keys[0])
        names[root] = min(names.get(root, keys[0]), keys[0])
    return [names[sets.find(keys[0])] for keys in keys_per_row]


# --------------------------------------------------------------------------------------------
# Deceptive Opinion Spam v1.4 (op_spam)
# --------------------------------------------------------------------------------------------

OP_SPAM_LABEL_MAP: dict[str, LabelName] = {"deceptive": "fake", "truthful": "genuine"}

# op_spam_v1.4/{positive,negative}_polarity/{truthful,deceptive}_from_<Source>/fold<k>/<c>_<hotel>_<i>.txt
# Sources in v1.4: MTurk (both deceptive), TripAdvisor (truthful positive), Web (truthful negative).
_OP_SPAM_FILE = re.compile(
    r"(?:^|/)(?P<polarity>positive|negative)_polarity/(?P<label>truthful|deceptive)_from_(?P<source>[^/]+)"
    r"/fold(?P<fold>\d+)/(?P<stem>(?P<cls>[td])_(?P<hotel>[a-z]+)_(?P<number>\d+))\.txt$"
)
_OP_SPAM_POLARITY_DIR = re.compile(r"(?:^|/)(?:positive|negative)_polarity/")
_OP_SPAM_EXPECTED = (
    "op_spam_v1.4/{positive,negative}_polarity/{truthful,deceptive}_from_<Source>/fold<k>/"
    "<t|d>_<hotel>_<n>.txt (the myleott.com zip or its unzipped folder), or the CSV with columns "
    "id,text,label,polarity,hotel,fold,source"
)
_OP_SPAM_CSV_COLUMNS = ("id", "text", "label", "polarity", "hotel", "fold", "source")
_OP_SPAM_COLUMNS = CANONICAL_COLUMNS + ("fold", "polarity", "source")


def _op_spam_files(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(relative posix path, reader) for every file of a folder or zip, junk skipped."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            rel = file.relative_to(path).as_posix()
            if file.is_file() and not _is_junk(rel):
                yield rel, file.read_bytes
        return
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith("/") and not _is_junk(name):
                yield name, (lambda name=name: archive.read(name))


def _op_spam_from_files(path: Path) -> pd.DataFrame:
    rows: list[dict[str, str]] = []
    seen: list[str] = []
    for rel, read in _op_spam_files(path):
        seen.append(rel)
        match = _OP_SPAM_FILE.search(rel)
        if match is None:
            if rel.endswith(".txt") and _OP_SPAM_POLARITY_DIR.search(rel):
                raise _layout_error(
                    path,
                    f"the review file {rel!r}, whose path or name does not fit the pattern",
                    _OP_SPAM_EXPECTED,
                    "Rename or remove the file",
                )
            continue  # README, LICENSE, LIWC tables: not reviews
        label = match["label"]
        if (match["cls"] == "t") != (label == "truthful"):
            raise _layout_error(
                path,
                f"{rel!r}: a {match['cls']!r}-prefixed file in a {label} folder",
                "t_* files under truthful_from_* and d_* files under deceptive_from_*",
                "The file was probably moved between folders; put it back",
            )
        rows.append(
            {
                "id": f"{match['polarity']}/{label}/fold{int(match['fold'])}/{match['stem']}",
                "text": _decode(read(), f"{path}:{rel}"),
                "label": label,
                "polarity": match["polarity"],
                "hotel": match["hotel"],
                "fold": str(int(match["fold"])),
                "source": match["source"].lower(),
            }
        )
    if not rows:
        raise _layout_error(
            path,
            f"no review files among {len(seen)} file(s) (first: {seen[:5]})",
            _OP_SPAM_EXPECTED,
            "Pass the folder that contains positive_polarity/ and negative_polarity/, or the zip",
        )
    return pd.DataFrame(rows)


def _op_spam_sort_key(frame: pd.DataFrame) -> pd.DataFrame:
    # The published order: positive first, truthful first, then fold, hotel and file number.
    number = frame["id"].str.extract(r"(\d+)$")[0].fillna("0").astype(int)
    return frame.assign(
        _p=frame["polarity"].map({"positive": 0, "negative": 1}).fillna(2),
        _l=frame["label"].map({"truthful": 0, "deceptive": 1}).fillna(2),
        _f=pd.to_numeric(frame["fold"], errors="coerce"),
        _n=number,
    ).sort_values(["_p", "_l", "_f", "hotel", "_n", "id"], kind="stable")


def import_op_spam(source: PathLike) -> pd.DataFrame:
    """Import the Deceptive Opinion Spam corpus v1.4 (Ott et al. 2011; 2013).

    Args:
        source (`str` or `os.PathLike`): any of its published forms, detected automatically:

            - the unzipped ``op_spam_v1.4`` folder (or any folder above
              ``{positive,negative}_polarity/``);
            - ``op_spam_v1.4.zip`` as downloaded from myleott.com;
            - the CSV ``id,text,label,polarity,hotel,fold,source`` in ``../shared/data/op_spam``.

    Returns:
        `pd.DataFrame` with columns ``id, text, label, group, fold, polarity, source``: 1,600 rows
        for the full corpus. ``group`` is the hotel and ``fold`` the published fold (1–5, grouped
        by hotel); ``label`` maps ``deceptive`` → ``fake``, ``truthful`` → ``genuine``. Rows are
        in the published order and the ids (``positive/deceptive/fold1/d_hilton_1``) agree
        between the three forms.

    Raises:
        ValueError: the source is none of these forms; the message names what was found.

    Example::

        >>> frame = import_op_spam("op_spam_v1.4.zip")  # doctest: +SKIP
        >>> frame.groupby(["fold", "label"]).size()  # doctest: +SKIP
    """
    path = Path(source)
    _require_exists(path, "op_spam")
    if path.is_dir() or zipfile.is_zipfile(path):
        raw = _op_spam_from_files(path)
    else:
        content = _decode(path.read_bytes(), str(path))
        raw = _read_csv_text(content, str(path))
        missing = [c for c in _OP_SPAM_CSV_COLUMNS if c not in raw.columns]
        if missing:
            raise _layout_error(
                path,
                f"a file with columns {list(raw.columns)} (missing {missing})",
                _OP_SPAM_EXPECTED,
            )
        raw = raw[list(_OP_SPAM_CSV_COLUMNS)].copy()
        bad_folds = sorted({f for f in raw["fold"] if not re.fullmatch(r"\s*\d+(\.0)?\s*", f)})
        if bad_folds:
            raise _layout_error(path, f"fold values {bad_folds[:5]}", "fold numbers 1..5")
        raw["fold"] = [str(int(float(f))) for f in raw["fold"]]
    raw = _op_spam_sort_key(raw)
    raw["label"] = _label_names(raw["label"], OP_SPAM_LABEL_MAP, str(path))
    raw["group"] = raw["hotel"]
    frame = _finish(raw, _OP_SPAM_COLUMNS, str(path))
    logger.info(
        "op_spam: %d reviews, %d hotels, folds %s",
        len(frame),
        frame["group"].nunique(),
        sorted(frame["fold"].unique()),
    )
    return frame


# --------------------------------------------------------------------------------------------
# Salminen et al. (2022) fake reviews dataset (fake_reviews_cg)
# --------------------------------------------------------------------------------------------

FAKE_REVIEWS_CG_LABEL_MAP: dict[str, LabelName] = {"CG": "fake", "OR": "genuine"}
_CG_ORIGINAL_COLUMNS = ("category", "rating", "label", "text_")
_CG_SHARED_COLUMNS = ("id", "text", "label", "split", "category", "rating")
_CG_COLUMNS = CANONICAL_COLUMNS + ("category", "rating", "source_split")
_CG_EXPECTED = (
    "the published 'fake reviews dataset.csv' with columns category,rating,label,text_ (labels CG/OR), "
    "or the CSV with columns id,text,label,split,category,rating (labels fake/genuine)"
)


def import_fake_reviews_cg(source: PathLike, *, prefix_chars: int = 80) -> pd.DataFrame:
    """Import the Salminen et al. (2022) fake reviews dataset: Amazon reviews vs GPT-2 fakes.

    Args:
        source (`str` or `os.PathLike`): any of its published forms, detected from the header:

            - ``fake reviews dataset.csv`` from OSF (``category,rating,label,text_``, labels
              ``CG`` = computer-generated = fake, ``OR`` = original = genuine), or a zip of it;
            - the CSV ``id,text,label,split,category,rating`` in ``../shared/data/fake_reviews_cg``.
        prefix_chars (`int`, defaults to `80`): length of the near-duplicate key
            (:func:`text_prefix_key`) used as ``group``.

    Returns:
        `pd.DataFrame` with columns ``id, text, label, group, category, rating, source_split``.
        There is no training split in either form, so there is no ``fold`` column: make grouped
        folds with :func:`fakereview_nlp.data.reviews.grouped_folds`. ``group`` is the text prefix key,
        so GPT-2 fakes sharing an opening share a group. ``id`` is the row number (0-based) in
        the OSF file, or the shared CSV's id; ``source_split`` is the shared CSV's ``split``
        (the partial copy a row came from, not a training split) and empty for the OSF file.

    Raises:
        ValueError: the header fits neither form, or a label is not ``CG``/``OR``.
    """
    path = Path(source)
    _require_exists(path, "fake_reviews_cg")
    content, where = _read_member(
        path, lambda name: name.lower().endswith(".csv"), "CSV file", preferred="fake reviews dataset.csv"
    )
    raw = _read_csv_text(content, where)
    columns = set(raw.columns)
    if set(_CG_ORIGINAL_COLUMNS) <= columns:
        frame = pd.DataFrame(
            {
                "id": [str(i) for i in range(len(raw))],
                "text": raw["text_"],
                "label": _label_names(raw["label"], FAKE_REVIEWS_CG_LABEL_MAP, where),
                "category": raw["category"],
                "rating": raw["rating"],
                "source_split": "",
            }
        )
    elif set(_CG_SHARED_COLUMNS) <= columns:
        canonical = {name: name for name in LABELS}
        frame = pd.DataFrame(
            {
                "id": raw["id"],
                "text": raw["text"],
                "label": _label_names(raw["label"], {**FAKE_REVIEWS_CG_LABEL_MAP, **canonical}, where),
                "category": raw["category"],
                "rating": raw["rating"],
                "source_split": raw["split"],
            }
        )
    else:
        raise _layout_error(where, f"columns {list(raw.columns)}", _CG_EXPECTED)
    # Group on the normalised text, exactly as the model will see it.
    frame["group"] = [text_prefix_key(normalize_text(t), prefix_chars) for t in frame["text"]]
    frame.loc[frame["group"] == "", "group"] = "id:" + frame["id"]
    frame = _finish(frame, _CG_COLUMNS, where)
    logger.info("fake_reviews_cg: %d reviews in %d prefix groups", len(frame), frame["group"].nunique())
    return frame


# --------------------------------------------------------------------------------------------
# Labelled Amazon reviews, amazon_reviews.txt (amazon_labeled)
# --------------------------------------------------------------------------------------------

# __label1__ = fake: see ../shared/data/amazon_labeled/README.md (non-verified purchases, shorter
# texts, more promotion links, and the DIFrauD conversion script's FAKE_LABEL = '__label1__').
AMAZON_LABELED_LABEL_MAP: dict[str, LabelName] = {"__label1__": "fake", "__label2__": "genuine"}
_AMAZON_TSV_COLUMNS = (
    "DOC_ID",
    "LABEL",
    "RATING",
    "VERIFIED_PURCHASE",
    "PRODUCT_CATEGORY",
    "PRODUCT_ID",
    "PRODUCT_TITLE",
    "REVIEW_TITLE",
    "REVIEW_TEXT",
)
_AMAZON_SHARED_COLUMNS = (
    "id",
    "text",
    "label",
    "rating",
    "verified_purchase",
    "category",
    "product_id",
    "product_title",
    "review_title",
)
_AMAZON_META = ("rating", "verified_purchase", "category", "product_id", "product_title", "review_title")
_AMAZON_COLUMNS = CANONICAL_COLUMNS + _AMAZON_META
_AMAZON_EXPECTED = (
    "the tab-separated amazon_reviews.txt with header "
    + "\\t".join(_AMAZON_TSV_COLUMNS)
    + ", or the CSV with columns "
    + ",".join(_AMAZON_SHARED_COLUMNS)
)


def _parse_amazon_tsv(content: str, where: str) -> pd.DataFrame:
    """Split lines on tabs with no quote handling.

    Why not ``pd.read_csv(sep="\\t")``: its quote handling strips the quotes from fields that
    begin with ``"`` (``"Ulysses" Errata …``), and it turns ISBN product ids into integers.
    """
    # split("\n"), not splitlines(): the latter also breaks on \x0c, \x1c, U+2028 inside reviews.
    lines = [line.rstrip("\r") for line in content.split("\n")]
    width = len(_AMAZON_TSV_COLUMNS)
    rows: list[list[str]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) > width:  # a tab inside the review text: it is the last field
            fields = fields[: width - 1] + [" ".join(fields[width - 1 :])]
        if len(fields) < width:
            raise ValueError(
                f"line {number} of {where} has {len(fields)} tab-separated fields, expected {width} "
                f"({', '.join(_AMAZON_TSV_COLUMNS)}); the file may have been re-saved with line breaks "
                "inside reviews. Use the file as published"
            )
        rows.append([f.strip() for f in fields])
    return pd.DataFrame(rows, columns=list(_AMAZON_TSV_COLUMNS), dtype=str)


def import_amazon_labeled(source: PathLike, *, prefix_chars: int = 80) -> pd.DataFrame:
    """Import the labelled Amazon reviews file ``amazon_reviews.txt`` (21,000 rows, 30 categories).

    Args:
        source (`str` or `os.PathLike`): any of its published forms, detected from the header:

            - ``amazon_reviews.txt``, tab-separated, header ``DOC_ID LABEL RATING
              VERIFIED_PURCHASE PRODUCT_CATEGORY PRODUCT_ID PRODUCT_TITLE REVIEW_TITLE
              REVIEW_TEXT`` (or a zip holding it, as Kaggle serves it);
            - the CSV ``id,text,label,rating,verified_purchase,category,product_id,...`` in
              ``../shared/data/amazon_labeled``.
        prefix_chars (`int`, defaults to `80`): length of the near-duplicate key merged into
            the product groups.

    Returns:
        `pd.DataFrame` with columns ``id, text, label, group, rating, verified_purchase,
        category, product_id, product_title, review_title``. ``label`` maps ``__label1__`` →
        ``fake`` and ``__label2__`` → ``genuine`` (the README of the shared copy gives the
        evidence). ``group`` is the product id, with products joined when their reviews share a
        text prefix (campaign-style near-duplicates); it is named by the smallest product id in
        the merged group. ``verified_purchase`` and ``rating`` leak the label (``N`` alone is
        78 % accurate): keep them out of a text classifier.

    Raises:
        ValueError: the header fits neither form, a line has too few fields, or a label is unknown.
    """
    path = Path(source)
    _require_exists(path, "amazon_labeled")
    content, where = _read_member(
        path,
        lambda name: name.lower().endswith((".txt", ".tsv", ".csv")),
        "amazon_reviews.txt",
        preferred="amazon_reviews.txt",
    )
    first_line = content.split("\n", 1)[0].rstrip("\r")
    if first_line.split("\t")[: len(_AMAZON_TSV_COLUMNS)] == list(_AMAZON_TSV_COLUMNS):
        raw = _parse_amazon_tsv(content, where)
        frame = pd.DataFrame(
            {
                "id": raw["DOC_ID"],
                "text": raw["REVIEW_TEXT"],
                "label": _label_names(raw["LABEL"], AMAZON_LABELED_LABEL_MAP, where),
                "rating": raw["RATING"],
                "verified_purchase": raw["VERIFIED_PURCHASE"],
                "category": raw["PRODUCT_CATEGORY"],
                "product_id": raw["PRODUCT_ID"],
                "product_title": raw["PRODUCT_TITLE"],
                "review_title": raw["REVIEW_TITLE"],
            }
        )
    elif "\t" not in first_line and set(_AMAZON_SHARED_COLUMNS) <= set(_header_of(content)):
        raw = _read_csv_text(content, where)
        canonical = {name: name for name in LABELS}
        frame = raw[list(_AMAZON_SHARED_COLUMNS)].copy()
        frame["label"] = _label_names(raw["label"], {**AMAZON_LABELED_LABEL_MAP, **canonical}, where)
    else:
        raise _layout_error(where, f"the header line {first_line[:200]!r}", _AMAZON_EXPECTED)
    keys = [
        [
            f"product:{pid}" if pid else f"id:{rid}",
            f"prefix:{text_prefix_key(normalize_text(t), prefix_chars)}",
        ]
        for rid, pid, t in zip(frame["id"], frame["product_id"], frame["text"], strict=True)
    ]
    keys = [k if k[1] != "prefix:" else k[:1] for k in keys]  # an empty prefix joins nothing
    # Named by the smallest product id in the merged group; rows without one keep "id:<id>".
    frame["group"] = [g.removeprefix("product:") for g in _union_groups(keys)]
    frame = _finish(frame, _AMAZON_COLUMNS, where)
    logger.info("amazon_labeled: %d reviews in %d product groups", len(frame), frame["group"].nunique())
    return frame


# --------------------------------------------------------------------------------------------
# The registry, download and prepare
# --------------------------------------------------------------------------------------------

CORPORA: dict[str, CorpusSpec] = {
    "op_spam": CorpusSpec(
        name="op_spam",
        title="Deceptive Opinion Spam Corpus v1.4 (Ott et al., ACL 2011; NAACL 2013)",
        importer=import_op_spam,
        label_map=OP_SPAM_LABEL_MAP,
        split_column="fold",
        metadata_columns=("polarity", "source"),
        local_path="../shared/data/op_spam/op_spam.csv",
        # The author-hosted zip, used by many public loaders; the landing page is
        # https://myleott.com/op-spam.html.
        urls=("https://myleott.com/op_spam_v1.4.zip",),
        download_filename="op_spam_v1.4.zip",
        # Recorded by a third party on download (1,172,634 bytes); the author publishes no checksum.
        sha256="e3a61b3709ccaca842aeec7f525e273988cf3b1bab35151712cf89759a6724fa",
        # Kaggle's rtatman/deceptive-opinion-spam-corpus is a lossy CSV (quotes changed, a text cut
        # short), so it is not offered.
        manual_download="the zip linked from https://myleott.com/op-spam.html",
        license="CC BY-NC-SA 3.0",
        notes=(
            "The folds are hotel-grouped: use `fold` as the cross-validation split.",
            "All truthful-positive files end in ' \\n': normalisation removes that label cue.",
        ),
    ),
    "fake_reviews_cg": CorpusSpec(
        name="fake_reviews_cg",
        title="Fake Reviews Dataset (Salminen et al., J. Retailing and Consumer Services 2022)",
        importer=import_fake_reviews_cg,
        label_map=FAKE_REVIEWS_CG_LABEL_MAP,
        split_column=None,
        metadata_columns=("category", "rating", "source_split"),
        local_path="../shared/data/fake_reviews_cg/fake_reviews_cg.csv",
        # OSF project tyue9, file 3vds7 ("fake reviews dataset.csv").
        urls=("https://osf.io/download/3vds7/",),
        download_filename="fake reviews dataset.csv",
        # As recorded in PurplexyFlower/Fake-review DATA_PROVENANCE.md; the authors publish none.
        sha256="d2581f5436ae92a8106885988fd5381ea562cc366a57dcffb942c1090761282a",
        # The Hub copy theArijitDas/Fake-Reviews-Dataset adds 94 rows to the published 40,432,
        # so it is deliberately not the default.
        manual_download="https://osf.io/tyue9/ (Kaggle mirror: mexwell/fake-reviews-dataset)",
        license="not stated by the authors",
        notes=(
            "fake = GPT-2 text, not human-written deception.",
            "No training split: group near-duplicate openings (the `group` column) when splitting.",
        ),
    ),
    "amazon_labeled": CorpusSpec(
        name="amazon_labeled",
        title="Labelled Amazon reviews, amazon_reviews.txt (provenance undocumented)",
        importer=import_amazon_labeled,
        label_map=AMAZON_LABELED_LABEL_MAP,
        split_column=None,
        metadata_columns=_AMAZON_META,
        local_path="../shared/data/amazon_labeled/amazon_labeled.csv",
        # No direct URL could be verified: the file is distributed through Kaggle (an account is
        # needed) and through GitHub copies whose paths were not checked. Hence no `urls`.
        urls=(),
        download_filename="amazon_reviews.txt",
        manual_download="Kaggle dataset lievgarcia/amazon-reviews (needs a Kaggle account); "
        "the file is amazon_reviews.txt",
        license="not stated",
        notes=("verified_purchase and rating leak the label; the text-only model must not see them.",),
    ),
}


def get_corpus(name: str) -> CorpusSpec:
    """The :class:`CorpusSpec` called ``name``; ``ValueError`` lists the known names."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; expected one of {sorted(CORPORA)}")
    return CORPORA[name]


def import_corpus(name: str, source: PathLike) -> pd.DataFrame:
    """Import corpus ``name`` from ``source`` (any of its published forms) into the canonical schema."""
    return get_corpus(name).importer(source)


def canonical_load_kwargs(name: str) -> dict[str, Any]:
    """Keyword arguments for :func:`fakereview_nlp.data.reviews.load_reviews` on a prepared corpus file.

    Example::

        >>> canonical_load_kwargs("op_spam")["split_column"]
        'fold'
        >>> ds = load_reviews("op_spam.csv", **canonical_load_kwargs("op_spam"))  # doctest: +SKIP
    """
    spec = get_corpus(name)
    return {
        "text_column": "text",
        "label_column": "label",
        "label_map": {label: label for label in LABELS},
        "group_column": "group",
        "split_column": spec.split_column,
        "id_column": "id",
        "keep_columns": list(spec.metadata_columns),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _offline_hint(spec: CorpusSpec) -> str:
    local = spec.default_source()
    hint = f"fakereview prepare {spec.name} --source LOCAL_PATH -o OUT.csv"
    if local is not None:
        hint += f" (a local copy exists: --source {local})"
    return hint


def download_corpus(name: str, dest_dir: PathLike, *, timeout: float = 60.0) -> Path:
    """Download corpus ``name``'s published file into ``dest_dir`` (kept there as a cache).

    Args:
        name (`str`): a key of :data:`CORPORA`.
        dest_dir (`str` or `os.PathLike`): folder for the download; created if missing. A file
            already there under the published name is reused, not fetched again.
        timeout (`float`, defaults to `60.0`): seconds to wait for the server.

    Returns:
        `Path` of the downloaded file, ready for :func:`import_corpus`.

    Raises:
        ConnectionError: every URL failed (offline, blocked, server error); the message names the
            URLs and the offline alternative ``fakereview prepare NAME --source LOCAL_PATH``.
        ValueError: the corpus has no verified download URL; the message says where to get it.
    """
    spec = get_corpus(name)
    if not spec.urls or spec.download_filename is None:
        raise ValueError(
            f"{name} has no verified direct download URL; get it from {spec.manual_download}, then run "
            f"{_offline_hint(spec)}"
        )
    target = Path(dest_dir) / spec.download_filename
    if target.is_file() and target.stat().st_size > 0:
        logger.info("using the cached download %s", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in spec.urls:
        request = urllib.request.Request(url, headers={"User-Agent": "fakereview_nlp (corpus download)"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except (urllib.error.URLError, OSError) as exc:  # URLError, HTTPError, timeouts, DNS
            failures.append(f"{url}: {exc}")
            continue
        atomic_write_bytes(target, payload)  # mode as open() gives it, not mkstemp's 0600
        if spec.sha256 and _sha256(target) != spec.sha256:
            logger.warning(
                "%s has SHA-256 %s, not the recorded %s; the published file may have changed",
                target,
                _sha256(target),
                spec.sha256,
            )
        logger.info("downloaded %s (%d bytes) to %s", url, len(payload), target)
        return target
    raise ConnectionError(
        f"could not download {name}: {'; '.join(failures)}. Without network access, fetch the file "
        f"elsewhere ({spec.manual_download}) and run {_offline_hint(spec)}"
    )


def write_canonical_csv(frame: pd.DataFrame, output: PathLike) -> Path:
    """Write ``frame`` as UTF-8 CSV atomically: a temporary file in the same folder, then ``os.replace``.

    A crash half-way leaves either the old file or none, never a truncated corpus; the file gets
    the mode ``open()`` would give it (others can read it under the usual umask).
    """
    out = Path(output)
    with atomic_path(out) as partial, partial.open("w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    return out


def prepare_corpus(
    name: str,
    output: PathLike,
    *,
    source: PathLike | None = None,
    download_dir: PathLike | None = None,
) -> pd.DataFrame:
    """Import corpus ``name`` and write it as a canonical CSV; download it when ``source`` is ``None``.

    Args:
        name (`str`): a key of :data:`CORPORA`.
        output (`str` or `os.PathLike`): the CSV to write (atomically).
        source (`str` or `os.PathLike`, *optional*): a local copy in any published form; when
            given nothing is downloaded.
        download_dir (`str` or `os.PathLike`, *optional*): where downloads are cached; defaults to
            the output file's folder.

    Returns:
        `pd.DataFrame`, the rows written.
    """
    spec = get_corpus(name)
    if source is None:
        source = download_corpus(name, download_dir if download_dir is not None else Path(output).parent)
    frame = spec.importer(source)
    write_canonical_csv(frame, output)
    return frame


def summarize(frame: pd.DataFrame) -> str:
    """One line: rows, class balance and group count of a canonical frame."""
    counts = frame["label"].value_counts()
    balance = ", ".join(f"{label} {int(counts.get(label, 0))}" for label in LABELS)
    return f"{len(frame)} reviews ({balance}), {frame['group'].nunique()} groups"
