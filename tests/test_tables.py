"""fakereview_nlp.data.tables: one schema rule for every format and chunk size, errors that say where."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fakereview_nlp.data.tables import (
    TableReader,
    TableWriter,
    iter_table,
    missing_text,
    read_table,
    require_columns,
)

NA_LIKE = ["NA", "None", "null", "N/A", "nan", ""]


def test_csv_cells_are_strings_as_written(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,text\n" + "".join(f"00{i},{v}\n" for i, v in enumerate(NA_LIKE)))
    frame = read_table(path)
    assert frame["id"].tolist() == [f"00{i}" for i in range(len(NA_LIKE))]  # leading zeros kept
    assert frame["text"].tolist() == NA_LIKE  # reviews, not missing values


def test_quoted_fields_with_separators_and_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "in.tsv"
    path.write_bytes(b'\xef\xbb\xbfid\ttext\r\n1\t"two\r\nlines"\r\n2\t"tab\there, ""quoted"""\r\n')
    assert read_table(path).to_dict("list") == {
        "id": ["1", "2"],
        "text": ["two\r\nlines", 'tab\there, "quoted"'],
    }


@pytest.mark.parametrize("chunk_rows", [1, 2, 100])
def test_jsonl_keys_are_aligned_to_the_first_record(tmp_path: Path, chunk_rows: int) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "text": "a", "stars": null}\n\n{"text": "b", "id": 2}\n{"stars": 4, "id": 3, "text": "c"}\n'
    )
    chunks = list(iter_table(path, chunk_rows=chunk_rows))
    frame = pd.concat(chunks, ignore_index=True)
    assert all(list(c.columns) == ["id", "text", "stars"] for c in chunks)
    assert frame.to_dict("list") == {"id": [1, 2, 3], "text": ["a", "b", "c"], "stars": [None, None, 4]}


@pytest.mark.parametrize("chunk_rows", [1, 100])
def test_jsonl_new_key_is_an_error_whatever_the_chunk_size(tmp_path: Path, chunk_rows: int) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": "b", "stars": 5}\n')
    with pytest.raises(
        ValueError, match=r"in\.jsonl' line 2 has key\(s\) \['stars'\] that the first record \(line 1\)"
    ):
        list(iter_table(path, chunk_rows=chunk_rows))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "in.csv",
            b'id,text\n1,ok\n2,"unterminated\n3,x\n',
            r"in\.csv' line 3: a quoted field starting on this line is never closed",
        ),
        ("in.csv", b'id,text\n1,ok\n2,"x"y\n', r"in\.csv' line 3 is malformed CSV"),
        ("in.csv", b"id,text\n1,ok\n2,a,b\n", r"in\.csv' line 3 has 3 fields but the header has 2"),
        ("in.csv", b"", r"in\.csv' is empty; expected a header line"),
        ("in.csv", b"id,id\n1,2\n", r"names columns \['id'\] more than once"),
        (
            "in.csv",
            b"id,text\n1,caf\xe9\n",
            r"in\.csv' is not valid utf-8: byte 13 \(line 2.*re-encode the file as UTF-8.*--encoding",
        ),
        (
            "in.jsonl",
            b'{"text": "ok"}\n{"text": "caf\xe9"}\n',
            r"in\.jsonl' is not valid utf-8: byte 28 \(line 2",
        ),
        ("in.jsonl", b'{"text": "ok"}\n{"text": \n', r"in\.jsonl' line 2 is not valid JSON"),
        (
            "in.jsonl",
            b'{"text": "ok"}\n[1]\n',
            r"in\.jsonl' line 2 is a JSON list; expected one object per line",
        ),
        ("in.parquet", b"not parquet", r"in\.parquet' is not a readable Parquet file"),
    ],
)
def test_bad_input_names_the_file_and_where(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_table(path)


def test_other_encodings_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("id,text\n1,café\n".encode("cp1252"))
    assert read_table(path, encoding="cp1252")["text"].tolist() == ["café"]
    path.write_bytes("id,text\n1,café\n".encode("utf-16"))
    assert read_table(path, encoding="utf-16")["text"].tolist() == ["café"]
    with pytest.raises(FileNotFoundError, match=r"input file .*nothere\.csv' does not exist"):
        read_table(tmp_path / "nothere.csv")
    with pytest.raises(ValueError, match=r"cannot tell the format of .*x\.xlsx"):
        read_table(tmp_path / "x.xlsx")


def test_require_columns_names_the_columns_found() -> None:
    with pytest.raises(
        ValueError,
        match=r"--text-column 'body' is not a column of 'f\.csv'; its columns are \['id', 'text'\]",
    ):
        require_columns(["id", "text"], {"--id-column": "id", "--text-column": "body"}, "'f.csv'")


def test_missing_text() -> None:
    assert missing_text([None, float("nan"), "", "  ", "NA", "x", 5, pd.NA]).tolist() == [
        True, True, True, True, False, False, False, True,
    ]  # fmt: skip


def test_parquet_chunks_skip_row_groups_of_unselected_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(10)], "text": ["t"] * 10}), path, row_group_size=4)
    read_groups: list[int] = []
    original = pq.ParquetFile.iter_batches

    def spy(self, *args, row_groups=None, **kwargs):  # type: ignore[no-untyped-def]
        read_groups.extend(row_groups)
        return original(self, *args, row_groups=row_groups, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    chunks = list(TableReader(path, columns=["id"]).chunks(3, select=lambda i: i == 3))
    assert [(c.index, c.first_row, c.n_rows) for c in chunks] == [(0, 0, 3), (1, 3, 3), (2, 6, 3), (3, 9, 1)]
    assert [c.frame is None for c in chunks] == [True, True, True, False]
    assert chunks[3].frame.to_dict("list") == {"id": ["r9"]}
    assert read_groups == [2]  # rows 8-9 only


def test_stdin_is_jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"text": "a"}\n{"text": "b"}\n')))
    assert read_table("-")["text"].tolist() == ["a", "b"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_writer_header_is_fixed_by_the_first_chunk(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    writer = TableWriter(path, fmt)
    writer.write(pd.DataFrame({"id": ["a"], "text": ["x"], "stars": ["1"]}))
    writer.write(pd.DataFrame({"text": ["y"], "id": ["b"]}))  # other order, one column missing
    with pytest.raises(ValueError, match=r"chunk 2 of .* has column\(s\) \['extra'\] that the header lacks"):
        writer.write(pd.DataFrame({"id": ["c"], "text": ["z"], "stars": ["2"], "extra": ["!"]}))
    writer.close()
    back = read_table(path)
    assert list(back.columns) == ["id", "text", "stars"]
    assert back["id"].tolist() == ["a", "b"] and back["text"].tolist() == ["x", "y"]
    assert back["stars"].tolist()[0] == "1" and missing_text(back["stars"].tolist()[1:]).all()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_writer_without_rows_leaves_a_header(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    TableWriter(path, fmt).close(empty_columns=["id", "fake_score"])
    assert list(read_table(path).columns) == ["id", "fake_score"]
