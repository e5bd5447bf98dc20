"""Review tables: one reader and one writer for CSV, TSV, JSONL and Parquet, whole or in chunks.

Every command that reads or writes a table of reviews goes through this module, so one file
behaves the same in ``classify``, ``evaluate``, training and corpus preparation.

**Schema rule** (the same for every format and every chunk size):

* The columns are fixed by the first record: a CSV/TSV header, a Parquet file's schema, the
  keys of a JSONL file's first object, in that order.
* A later JSONL record with the same keys in another order is aligned to them; a missing key is
  a missing value (``None``); a key the first record lacks is a :class:`ValueError` naming the
  line (``null`` in the first record declares an optional key).
* A CSV/TSV row with more or fewer fields than the header is a :class:`ValueError` naming the line.

**Values:** CSV/TSV cells are strings exactly as written: ``NA``, ``None``, ``null`` and ``N/A``
are reviews, not missing values, ids keep their leading zeros, and an empty cell is ``""``.
JSONL values keep their JSON types (``null`` and missing keys are ``None``); Parquet keeps its
schema's types.

**Errors** name the file and where in it: a quoted field that is never closed, a malformed row
or line (line number), undecodable bytes (byte offset, line, and how to fix the encoding), a
missing column (the columns found). A missing file is a :class:`FileNotFoundError`.

Example::

    >>> from fakereview_nlp.data.tables import TableReader, TableWriter
    >>> reader = TableReader("reviews.jsonl")  # doctest: +SKIP
    >>> writer = TableWriter("scored.csv", "csv")  # doctest: +SKIP
    >>> for chunk in reader.chunks(chunk_rows=8192):  # doctest: +SKIP
    ...     writer.write(chunk.frame)
    >>> writer.close()  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

TableFormat = Literal["csv", "tsv", "jsonl", "parquet"]
FORMATS: tuple[TableFormat, ...] = ("csv", "tsv", "jsonl", "parquet")
#: The path meaning standard input (reading) or standard output (writing).
STDIO = "-"
#: Rows per chunk when none is given: bounds memory, large enough to keep model batches full.
DEFAULT_CHUNK_ROWS = 8192

EXTENSIONS: dict[str, TableFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: How to fix undecodable bytes; appended to the error message.
ENCODING_HINT = (
    "re-encode the file as UTF-8 (for example `iconv -f cp1252 -t utf-8 IN > OUT`), or name its encoding "
    "(`--encoding cp1252` for fakereview classify, encoding='cp1252' in Python)"
)

#: Byte-order marks, longest first (UTF-32 LE starts with UTF-16 LE's), and the codec that reads past each.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def guess_encoding(sample: bytes) -> str:
    """A plausible encoding for ``sample``, bytes that did not decode as expected (for the error hint).

    NUL bytes every second or fourth byte are UTF-16 or UTF-32 text (the NULs' position gives the
    byte order); otherwise stray high bytes in ASCII are most often Windows-1252 (``latin-1`` when
    they include bytes cp1252 leaves undefined).
    """
    for bom, codec in BOMS:
        if sample.startswith(bom):
            return codec
    if sample.count(0) * 5 >= len(sample) > 0:  # text with many NULs: UTF-16/32 code units
        nuls = [sample[i::4].count(0) for i in range(4)]  # NULs at each position mod 4
        quarter = max(1, len(sample) // 4)
        if min(nuls[1], nuls[2]) >= 0.8 * quarter:  # ASCII as UTF-32: three NULs in every four bytes
            return "utf-32-le" if nuls[3] > nuls[0] else "utf-32-be"
        return "utf-16-le" if nuls[1] + nuls[3] >= nuls[0] + nuls[2] else "utf-16-be"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def encoding_hint(sample: bytes) -> str:
    """How to fix undecodable bytes, naming the encoding :func:`guess_encoding` finds in ``sample``."""
    guess = guess_encoding(sample)
    return ENCODING_HINT.replace("cp1252", guess)


# Reviews can be long; the csv module's default limit (128 KiB per field) would reject some.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def infer_format(
    path: str | os.PathLike[str],
    file_format: str | None = None,
    *,
    hint: str = "or pass the format (csv|tsv|jsonl|parquet)",
) -> TableFormat:
    """``file_format`` if given (checked), else the format from ``path``'s extension (``hint`` ends the error).

    Raises:
        `ValueError`: an unknown ``file_format``, or an extension that names no format; the
        message lists the supported ones.
    """
    if file_format is not None:
        if file_format not in FORMATS:
            raise ValueError(f"file format {file_format!r} is not supported; expected one of {list(FORMATS)}")
        return file_format  # type: ignore[return-value]
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ValueError(
            f"cannot tell the format of {str(path)!r} from its extension {suffix!r}; expected one of "
            f"{sorted(EXTENSIONS)}, {hint}"
        )
    return EXTENSIONS[suffix]


def require_columns(found: Sequence[str], wanted: Mapping[str, str | None], where: str) -> None:
    """Raise :class:`ValueError` for the first ``wanted`` column (``{option: name}``) not in ``found``.

    The message names the option, the column, the table and the columns it does have, e.g.
    ``--text-column 'body' is not a column of 'in.csv'; its columns are ['id', 'text']``.
    """
    for option, column in wanted.items():
        if column is not None and column not in found:
            raise ValueError(f"{option} {column!r} is not a column of {where}; its columns are {list(found)}")


def missing_text(values: Iterable[Any]) -> np.ndarray:
    """Boolean mask: ``True`` where a text is missing (``None``, NaN) or empty after stripping whitespace.

    A text that is not a string (a number in a JSONL file, say) is not missing.
    """
    import numpy as np

    def missing(value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, str):
            return not value.strip()
        if isinstance(value, float):
            return math.isnan(value)
        try:
            import pandas as pd

            return bool(pd.isna(value))
        except (TypeError, ValueError):  # arrays and other containers are values, not missing
            return False

    return np.fromiter((missing(v) for v in values), dtype=bool)


def check_text_values(values: Sequence[Any], *, column: str, where: str, first_row: int = 0) -> None:
    """The API's text policy for a column read from a file: a text that is neither missing nor a string
    (a JSON number, boolean or list, a Parquet int column) is a ``TypeError`` naming its row, the column
    and the type (never a silent score of ``str(101)``). Missing values are the caller's to handle.

    ``first_row`` is the 0-based row in the file of ``values[0]``; rows are named 1-based.
    """
    missing = missing_text(values)
    for i, value in enumerate(values):
        if not missing[i] and not isinstance(value, str):
            raise TypeError(
                f"{where} row {first_row + i + 1} (1-based, header not counted): {column!r} is "
                f"{type(value).__name__} {str(value)[:40]!r}, not str; write the column as text (quoted in JSON, "
                "a string column in Parquet), or null to leave the row unscored"
            )


@dataclass(frozen=True)
class TableChunk:
    """One chunk of a table: rows ``first_row .. first_row + n_rows - 1`` (0-based, header not counted)."""

    index: int
    first_row: int
    n_rows: int
    #: The rows, or ``None`` for a chunk that ``select`` skipped (counted, not parsed).
    frame: pd.DataFrame | None
    #: CSV/TSV/JSONL: byte offset and line number (from 1) where the chunk's first record starts,
    #: so that :meth:`TableReader.chunks` can start there (``start=``) without reading what comes before.
    offset: int | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        if self.frame is not None:  # so that an error about a row can give its number in the file
            self.frame.attrs["first_row"] = self.first_row


@dataclass(frozen=True)
class TableIndex:
    """What :meth:`TableReader.index` learns from one full pass: columns, chunk positions, JSON types."""

    columns: list[str] | None
    chunks: list[TableChunk]
    #: JSONL: the Python type names seen in each column (``NoneType`` for null or a missing key).
    json_types: dict[str, list[str]]
    #: JSONL: the line of the first record (named in schema errors).
    first_line: int = 1

    @property
    def n_rows(self) -> int:
        return sum(c.n_rows for c in self.chunks)


class _Lines:
    """Decoded lines of a binary stream, counting line numbers and the byte offset of the next line."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.next_offset: int | None = 0  # None where offsets are unknown (UTF-16/32)
        self.next_number = 1
        self.line_offset: int | None = 0  # of the line yielded last
        self.line_number = 0

    def __iter__(self) -> Iterator[str]:
        return self._lines


def _peek(stream: IO[bytes], n: int) -> bytes:
    """The first ``n`` bytes of ``stream`` without consuming them (``b""`` when it cannot tell)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return bytes(peek(n)[:n])
    if stream.seekable():
        where = stream.tell()
        head = stream.read(n)
        stream.seek(where)
        return head
    return b""


class TableReader:
    """Reads a CSV/TSV/JSONL/Parquet file (or JSONL/CSV/TSV on stdin, ``"-"``) under the schema rule.

    Args:
        source (`str` or `os.PathLike`): a file path, ``"-"`` for standard input, or (with ``opener``)
            any name for messages.
        file_format (`str`, *optional*): ``csv``, ``tsv``, ``jsonl`` or ``parquet``; default from the
            extension (``jsonl`` for stdin).
        encoding (`str`, defaults to `"utf-8"`): text encoding of CSV/TSV/JSONL; a UTF-8 byte-order
            mark is skipped.
        columns (`Sequence[str]`, *optional*): read only these columns (Parquet reads nothing else;
            the other formats drop the rest after parsing). The schema rule still applies to all keys.
        opener (`Callable[[], BinaryIO]`, *optional*): opens the file as a seekable binary stream,
            for files that are not local paths (``fsspec.open(uri, "rb").open``, say).

    After reading starts, :attr:`columns` holds the table's columns (``None`` for an empty JSONL file).
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        file_format: str | None = None,
        *,
        encoding: str = "utf-8",
        columns: Sequence[str] | None = None,
        opener: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        self.source = os.fspath(source)
        self.stdin = self.source == STDIO and opener is None
        self.format: TableFormat = (
            infer_format(self.source, file_format) if not (self.stdin and file_format is None) else "jsonl"
        )
        if self.stdin and self.format == "parquet":
            raise ValueError("Parquet cannot be read from stdin (it needs seeking); pass a file path")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding {encoding!r}; expected a Python codec name such as 'utf-8' or 'cp1252'"
            ) from None
        self.encoding = encoding
        self.wanted = None if columns is None else list(dict.fromkeys(columns))
        self.where = "<stdin>" if self.stdin else repr(self.source)
        self.columns: list[str] | None = None
        self._first_line = 1
        self._opener = opener
        if not self.stdin and opener is None:
            path = Path(self.source)
            if path.is_dir():
                raise ValueError(
                    f"input {self.source!r} is a folder; pass a file (the Ray engine reads folders)"
                )
            if not path.is_file():
                raise FileNotFoundError(
                    f"input file {self.source!r} does not exist (resolved to {path.resolve()})"
                )

    # -- public ---------------------------------------------------------------------------------

    def chunks(
        self,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        *,
        select: Callable[[int], bool] | None = None,
        start: TableChunk | None = None,
        index: TableIndex | None = None,
    ) -> Iterator[TableChunk]:
        """Every chunk of ``chunk_rows`` rows, in order (the last may be shorter).

        ``select(index)`` returning ``False`` skips a chunk: it is still counted (its
        :attr:`TableChunk.frame` is ``None``) but not decoded into a DataFrame, and a Parquet row
        group holding only skipped chunks is not read at all.

        ``start`` (a chunk of ``index``, from :meth:`index` with the same ``chunk_rows``) begins
        at that chunk: CSV/TSV/JSONL seek to its byte offset instead of reading what comes before.
        """
        if not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
        if self.format == "parquet":
            skip_before = -1 if start is None else start.index
            yield from self._parquet_chunks(
                chunk_rows, lambda i: i >= skip_before and (select is None or select(i))
            )
            return
        if start is not None:
            if index is None or start.offset is None or start.line is None:
                raise ValueError("start= needs the TableIndex it comes from (index=) with byte offsets")
            self.columns, self._first_line = index.columns, index.first_line
        with self._text_lines(None if start is None else start.offset) as lines:
            if start is not None:
                lines.next_offset, lines.next_number = start.offset, start.line  # type: ignore[assignment]
            if self.format == "jsonl":
                yield from self._jsonl_chunks(lines, chunk_rows, select, start)
            else:
                yield from self._csv_chunks(lines, chunk_rows, select, start)

    def index(self, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> TableIndex:
        """One pass that checks every row (as reading would) and records where each chunk starts.

        No DataFrame is built; JSONL records are parsed (and held to the schema rule) one by one.
        """
        if self.format == "parquet":
            chunks = list(self.chunks(chunk_rows, select=lambda i: False))
            return TableIndex(self.columns, chunks, {})
        self._json_types: dict[str, set[str]] | None = {}
        try:
            chunks = list(self.chunks(chunk_rows, select=lambda i: False))
            types = {k: sorted(v) for k, v in (self._json_types or {}).items()}
        finally:
            self._json_types = None
        return TableIndex(self.columns, chunks, types, self._first_line)

    def read(self) -> pd.DataFrame:
        """The whole table as one DataFrame (its columns as the schema rule fixes them)."""
        import pandas as pd

        frames = [c.frame for c in self.chunks(chunk_rows=1 << 30) if c.frame is not None]
        if frames:
            return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return pd.DataFrame({c: pd.Series(dtype=object) for c in self._kept(self.columns or [])})

    def num_rows(self) -> int | None:
        """The row count when it is free (Parquet metadata), else ``None``."""
        if self.format == "parquet":
            return int(self._parquet_file().metadata.num_rows)
        return None

    # -- text formats ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _text_lines(self, offset: int | None = None) -> Iterator[_Lines]:
        """Decoded lines (with their line endings); undecodable bytes raise ValueError with the offset."""
        with contextlib.ExitStack() as stack:
            if self.stdin:
                stream: Any = getattr(sys.stdin, "buffer", None)
                if stream is None:  # already text (a StringIO in tests, say)
                    yield _Lines(iter(sys.stdin))
                    return
            elif self._opener is not None:
                stream = stack.enter_context(self._opener())
            else:
                stream = stack.enter_context(open(self.source, "rb"))  # noqa: SIM115
            if offset:
                stream.seek(offset)
            lines = _Lines(iter(()))
            lines._lines = self._decode_lines(stream, lines, bom=not offset)
            yield lines

    def _decode_lines(self, stream: IO[bytes], state: _Lines, *, bom: bool) -> Iterator[str]:
        if bom and codecs.lookup(self.encoding).name == "utf-8":
            head = _peek(stream, 4)
            codec = next((c for mark, c in BOMS if head.startswith(mark)), None)
            if codec in ("utf-16", "utf-32"):  # a UTF-16/32 byte-order mark: read it so, without --encoding
                self.encoding = codec
        ascii_compatible = (
            "\n".encode(self.encoding, errors="ignore") == b"\n"
            and "a".encode(self.encoding, errors="ignore") == b"a"
        )
        if not ascii_compatible:  # UTF-16/32: decode as a stream; offsets are then unknown
            text = io.TextIOWrapper(stream, encoding=self.encoding, newline="")
            try:
                for line in text:
                    state.line_offset, state.line_number = None, state.next_number
                    state.next_offset, state.next_number = None, state.next_number + 1
                    yield line
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{self.where} is not valid {self.encoding} near line {state.next_number} ({err.reason}); "
                    f"{encoding_hint(err.object[max(0, err.start - 64) : err.start + 64])}"
                ) from None
            return
        utf8 = codecs.lookup(self.encoding).name == "utf-8"
        for raw in stream:
            number, offset = state.next_number, state.next_offset
            start = 0
            if bom and number == 1 and utf8 and raw.startswith(codecs.BOM_UTF8):
                start = len(codecs.BOM_UTF8)
            try:
                line = raw[start:].decode(self.encoding)
            except UnicodeDecodeError as err:
                bad = offset + start + err.start
                raise ValueError(
                    f"{self.where} is not valid {self.encoding}: byte {bad} (line {number}, "
                    f"{raw[start + err.start : start + err.start + 4]!r}...) cannot be decoded; "
                    f"{encoding_hint(raw[:4096])}"
                ) from None
            if number == 1 and utf8 and b"\x00" in raw:  # UTF-16/32 without a byte-order mark
                guess = guess_encoding(raw[:4096])
                raise ValueError(
                    f"{self.where} line 1 holds NUL bytes, so it is not {self.encoding} text; it looks like "
                    f"{guess}: {encoding_hint(raw[:4096])}"
                )
            state.line_offset, state.line_number = offset, number
            state.next_offset, state.next_number = offset + len(raw), number + 1
            yield line

    def _kept(self, columns: Sequence[str]) -> list[str]:
        return list(columns) if self.wanted is None else [c for c in columns if c in self.wanted]

    def _frame(self, columns: Sequence[str], data: Mapping[str, list[Any]], dtype: Any) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({c: pd.Series(data[c], dtype=dtype) for c in self._kept(columns)})

    def _csv_chunks(
        self, lines: _Lines, chunk_rows: int, select: Callable[[int], bool] | None, start: TableChunk | None
    ) -> Iterator[TableChunk]:
        sep = "\t" if self.format == "tsv" else ","
        # strict: a quote that is never closed is an error, not a field that swallows the rest of the file.
        reader = csv.reader(lines, delimiter=sep, strict=True)
        if start is None:
            header = self._next_csv_row(reader, lines)
            while header == []:  # leading blank lines
                header = self._next_csv_row(reader, lines)
            if header is None:
                raise ValueError(f"{self.where} is empty; expected a header line naming the columns")
            duplicates = sorted({c for c in header if header.count(c) > 1})
            if duplicates:
                raise ValueError(
                    f"{self.where} header (line {reader.line_num}) names columns {duplicates} more than once"
                )
            self.columns = list(header)
            index = first_row = 0
        else:
            header = list(self.columns or [])
            index, first_row = start.index, start.first_row
        width = len(header)
        rows: list[list[str]] = []
        n_rows = 0
        chunk_offset, chunk_line = lines.next_offset, lines.next_number
        wanted = select is None or select(index)
        while True:
            record_offset, record_line = lines.next_offset, lines.next_number
            row = self._next_csv_row(reader, lines)
            if row is None:
                break
            if not row:  # a blank line, skipped as pandas does
                continue
            if len(row) != width:
                raise ValueError(
                    f"{self.where} line {record_line} has {len(row)} fields but the header has {width} "
                    f"({header}); quote fields that contain {sep!r} or a line break"
                )
            if n_rows == 0:
                chunk_offset, chunk_line = record_offset, record_line
            n_rows += 1
            if wanted:
                rows.append(row)
            if n_rows == chunk_rows:
                yield self._csv_chunk(
                    index, first_row, n_rows, rows if wanted else None, chunk_offset, chunk_line
                )
                index, first_row, n_rows, rows = index + 1, first_row + n_rows, 0, []
                wanted = select is None or select(index)
                chunk_offset, chunk_line = lines.next_offset, lines.next_number
        if n_rows or (index == 0 and start is None):
            yield self._csv_chunk(
                index, first_row, n_rows, rows if wanted else None, chunk_offset, chunk_line
            )

    def _next_csv_row(self, reader: Any, lines: _Lines) -> list[str] | None:
        start_line = lines.next_number
        try:
            return next(reader)
        except StopIteration:
            return None
        except csv.Error as err:
            if "unexpected end of data" in str(err):
                raise ValueError(
                    f"{self.where} line {start_line}: a quoted field starting on this line is never closed "
                    f"(the file ends inside it); check for a stray '\"'"
                ) from None
            raise ValueError(
                f"{self.where} line {lines.next_number - 1} is malformed CSV ({err}); a field that contains "
                'quotes must be quoted as a whole, with inner quotes doubled ("")'
            ) from None

    def _csv_chunk(
        self, index: int, first_row: int, n_rows: int, rows: list[list[str]] | None, offset: int, line: int
    ) -> TableChunk:
        if rows is None:
            return TableChunk(index, first_row, n_rows, None, offset, line)
        assert self.columns is not None
        data = {c: [r[i] for r in rows] for i, c in enumerate(self.columns)}
        return TableChunk(index, first_row, n_rows, self._frame(self.columns, data, str), offset, line)

    def _jsonl_chunks(
        self, lines: _Lines, chunk_rows: int, select: Callable[[int], bool] | None, start: TableChunk | None
    ) -> Iterator[TableChunk]:
        columns = None if start is None else self.columns
        known: set[str] = set(columns or [])
        first_line = self._first_line
        index, first_row = (0, 0) if start is None else (start.index, start.first_row)
        n_rows = 0
        records: list[dict[str, Any]] = []
        types = getattr(self, "_json_types", None)
        wanted = select is None or select(index)
        chunk_offset, chunk_line = lines.next_offset, lines.next_number
        for line in lines:
            number, offset = lines.line_number, lines.line_offset
            if not line.strip():
                continue
            if wanted or columns is None or types is not None:
                record = self._json_record(line, number)
                if columns is None:
                    columns, known, first_line = list(record), set(record), number
                    self.columns, self._first_line = columns, number
                elif not known.issuperset(record):
                    new = [k for k in record if k not in known]
                    raise ValueError(
                        f"{self.where} line {number} has key(s) {new} that the first record (line {first_line}) "
                        f"does not; its keys {columns} fix the columns. Add the key(s) to the first record "
                        "(null is fine) or drop them from this one"
                    )
                if types is not None:
                    for key in columns:
                        types.setdefault(key, set()).add(type(record.get(key)).__name__)
                if wanted:
                    records.append(record)
            if n_rows == 0:
                chunk_offset, chunk_line = offset, number
            n_rows += 1
            if n_rows == chunk_rows:
                yield self._jsonl_chunk(
                    index, first_row, n_rows, records if wanted else None, chunk_offset, chunk_line
                )
                index, first_row, n_rows, records = index + 1, first_row + n_rows, 0, []
                wanted = select is None or select(index)
        if n_rows or (index == 0 and start is None):
            yield self._jsonl_chunk(
                index, first_row, n_rows, records if wanted else None, chunk_offset, chunk_line
            )

    def _json_record(self, line: str, number: int) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{self.where} line {number} is not valid JSON ({err})") from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{self.where} line {number} is a JSON {type(record).__name__}; expected one object per line"
            )
        return record

    def _jsonl_chunk(
        self,
        index: int,
        first_row: int,
        n_rows: int,
        records: list[dict[str, Any]] | None,
        offset: Any,
        line: int,
    ) -> TableChunk:
        if records is None:
            return TableChunk(index, first_row, n_rows, None, offset, line)
        columns = self.columns or []
        # object dtype: JSON ints stay ints next to a null, strings stay strings.
        data = {c: [r.get(c) for r in records] for c in columns}
        return TableChunk(index, first_row, n_rows, self._frame(columns, data, object), offset, line)

    # -- Parquet --------------------------------------------------------------------------------

    def _parquet_file(self) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(self._opener() if self._opener is not None else self.source)
        except (pa.ArrowInvalid, OSError) as err:
            raise ValueError(f"{self.where} is not a readable Parquet file ({err})") from None

    def _parquet_chunks(self, chunk_rows: int, select: Callable[[int], bool] | None) -> Iterator[TableChunk]:
        import pyarrow as pa

        pf = self._parquet_file()
        self.columns = list(pf.schema_arrow.names)
        read_columns = self._kept(self.columns)
        n_total = int(pf.metadata.num_rows)
        n_chunks = max(1, math.ceil(n_total / chunk_rows))
        chosen = [select is None or select(i) for i in range(n_chunks)]
        # Row groups overlapping a selected chunk; the others are never read.
        starts, groups, position = [], [], 0
        for g in range(pf.metadata.num_row_groups):
            size = pf.metadata.row_group(g).num_rows
            if size and any(chosen[position // chunk_rows : (position + size - 1) // chunk_rows + 1]):
                groups.append(g)
                starts.append(position)
            position += size

        def batches() -> Iterator[tuple[int, pa.RecordBatch]]:
            for g, start in zip(groups, starts, strict=True):
                for batch in pf.iter_batches(batch_size=chunk_rows, row_groups=[g], columns=read_columns):
                    yield start, batch
                    start += batch.num_rows

        stream = batches()
        buffer: list[tuple[int, pa.RecordBatch]] = []  # (first row, batch), in row order
        try:
            for index in range(n_chunks):
                a, b = index * chunk_rows, min(n_total, (index + 1) * chunk_rows)
                if not chosen[index]:
                    yield TableChunk(index, a, b - a, None)
                    continue
                while not buffer or buffer[-1][0] + buffer[-1][1].num_rows < b:
                    following = next(stream, None)
                    if following is None:
                        break
                    buffer.append(following)
                buffer = [(s, x) for s, x in buffer if s + x.num_rows > a]
                parts = [
                    x.slice(max(a, s) - s, min(b, s + x.num_rows) - max(a, s))
                    for s, x in buffer
                    if max(a, s) < min(b, s + x.num_rows)
                ]
                if parts:
                    table = pa.Table.from_batches(parts)
                else:  # an empty file: one empty chunk with the file's columns
                    table = pf.schema_arrow.empty_table().select(read_columns)
                yield TableChunk(index, a, b - a, table.to_pandas())
        except (pa.ArrowInvalid, OSError) as err:
            raise ValueError(f"{self.where} could not be read as Parquet ({err})") from None


def read_table(
    source: str | os.PathLike[str],
    file_format: str | None = None,
    *,
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The whole table at ``source`` as a DataFrame, under the module's schema rule (see :class:`TableReader`)."""
    return TableReader(source, file_format, encoding=encoding, columns=columns).read()


def iter_table(
    source: str | os.PathLike[str],
    file_format: str | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    encoding: str = "utf-8",
    columns: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The table at ``source`` as DataFrames of at most ``chunk_rows`` rows, in order (streamed)."""
    for chunk in TableReader(source, file_format, encoding=encoding, columns=columns).chunks(chunk_rows):
        if chunk.frame is not None and (chunk.n_rows or chunk.index == 0):
            yield chunk.frame


class TableWriter:
    """Appends DataFrame chunks to one CSV/TSV/JSONL/Parquet file, or to stdout (not Parquet).

    The columns are fixed by ``columns`` or else by the first chunk written: a later chunk
    with its columns in another order is aligned to them, a missing column is written as
    missing, and a column the header lacks is a :class:`ValueError` (never a row wider than
    its header). For Parquet, ``schema`` fixes the types (otherwise the first chunk's).

    Args:
        target (`str` or `os.PathLike`): the file to write (created or truncated), or ``"-"``.
        file_format (`str`): ``csv``, ``tsv``, ``jsonl`` or ``parquet``.
        columns (`Sequence[str]`, *optional*): the header, when known before the first chunk.
        header (`bool`, defaults to `True`): write the CSV/TSV header line (``False`` for a part
            file that is concatenated after another).
        schema (`pyarrow.Schema`, *optional*): Parquet only: the file's schema.
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        file_format: str,
        *,
        columns: Sequence[str] | None = None,
        header: bool = True,
        schema: pa.Schema | None = None,
    ) -> None:
        self.format = infer_format(target, file_format)
        if os.fspath(target) == STDIO and self.format == "parquet":
            raise ValueError(
                "Parquet cannot be written to stdout; pass -o FILE.parquet, or use JSONL with -o -"
            )
        self.target = os.fspath(target)
        self.header = header
        self.schema = schema
        self.columns: list[str] | None = list(schema.names) if schema is not None else None
        if columns is not None:
            self.columns = list(columns)
        self.n_chunks = 0
        self.n_rows = 0
        self._parquet: Any = None
        self._handle: IO[str] | None = None
        if self.format != "parquet":
            self._handle = (
                sys.stdout if self.target == STDIO else open(self.target, "w", encoding="utf-8", newline="")  # noqa: SIM115
            )

    def _align(self, frame: pd.DataFrame) -> pd.DataFrame:
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"chunk {self.n_chunks} has duplicate column names {names}")
        if self.columns is None:
            self.columns = names
            return frame
        new = [c for c in names if c not in self.columns]
        if new:
            raise ValueError(
                f"chunk {self.n_chunks} of {self.target!r} has column(s) {new} that the header lacks; the header "
                f"is fixed by the first chunk: {self.columns}"
            )
        if names == self.columns:
            return frame
        # Reorder; a column this chunk lacks is written as missing.
        return frame.reindex(columns=self.columns)

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (aligned to the header; see the class docstring)."""
        frame = self._align(frame)
        if self.format in ("csv", "tsv"):
            frame.to_csv(
                self._handle, index=False, header=self.header, sep="\t" if self.format == "tsv" else ","
            )
            self.header = False
        elif self.format == "jsonl":
            if len(frame):
                text = frame.to_json(orient="records", lines=True, force_ascii=False, double_precision=15)
                self._handle.write(text if text.endswith("\n") else text + "\n")  # type: ignore[union-attr]
        else:
            self._write_parquet(frame)
        self.n_chunks += 1
        self.n_rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False, schema=None)
        if self.schema is None:
            self.schema = table.schema
        if not table.schema.equals(self.schema):
            try:
                table = table.select(self.schema.names).cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, KeyError) as err:
                raise ValueError(
                    f"chunk {self.n_chunks} of {self.target!r} does not fit the Parquet schema fixed by the first "
                    f"chunk ({err}); write CSV or JSONL, or make the column's type the same in every row"
                ) from None
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.target, self.schema)
        self._parquet.write_table(table)

    def close(self, empty_columns: Sequence[str] = ()) -> None:
        """Finish the file; with no chunk written, still leave a valid file with the header (or ``empty_columns``)."""
        if self.n_chunks == 0:
            columns = self.columns or list(empty_columns)
            if self.format == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                schema = self.schema or pa.schema([(c, pa.string()) for c in columns])
                self._parquet = pq.ParquetWriter(self.target, schema)
            elif self.format in ("csv", "tsv") and self.header and columns:
                csv.writer(self._handle, delimiter="\t" if self.format == "tsv" else ",").writerow(columns)
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._handle is sys.stdout:
            self._handle.flush()
        elif self._handle is not None:
            self._handle.close()
        self._handle = None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "check_text_values",
    "encoding_hint",
    "guess_encoding",
    "DEFAULT_CHUNK_ROWS",
    "BOMS",
    "ENCODING_HINT",
    "EXTENSIONS",
    "FORMATS",
    "STDIO",
    "TableChunk",
    "TableIndex",
    "TableFormat",
    "TableReader",
    "TableWriter",
    "infer_format",
    "iter_table",
    "missing_text",
    "read_table",
    "require_columns",
]
