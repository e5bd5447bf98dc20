"""One JSONL file reads the same in load_reviews (evaluate, training, CV) and the batch reader (classify)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakereview_nlp.data.reviews import load_reviews
from fakereview_nlp.data.tables import read_table
from fakereview_nlp.text import normalize_text

RECORDS = [
    {"id": 7, "text": "Clean room, friendly staff.", "label": "genuine", "tags": ["quiet", "central"]},
    {"text": "Best stay ever!!! Amazing!!!", "id": "r2", "label": 1, "tags": []},  # keys in another order
    {"id": 3.0, "text": "12345", "label": "fake", "tags": None},  # a number as text; as a JSON number it is an error
    {"id": "r4", "text": "Noisy street, decent price.", "label": 0},  # "tags" missing: None
]


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_mixed_types_and_arrays_read_the_same(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "mixed.jsonl", RECORDS)
    table = read_table(source)
    ds = load_reviews(source, id_column="id", keep_columns=["tags"])
    assert list(table.columns) == ["id", "text", "label", "tags"]
    assert len(ds) == len(table) == 4
    assert ds["id"] == [str(v) for v in table["id"]] == ["7", "r2", "3.0", "r4"]
    assert ds["text"] == [normalize_text(t) for t in table["text"]]
    assert ds["label"] == [0, 1, 1, 0]
    assert ds["tags"] == [["quiet", "central"], [], None, None]


def test_a_number_where_text_is_expected_is_the_same_type_error(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "number.jsonl", [*RECORDS[:2], {**RECORDS[2], "text": 12345}])
    from fakereview_nlp.data.tables import check_text_values

    with pytest.raises(TypeError, match=r"row 3 .*'text' is int '12345', not str") as batch_error:
        check_text_values(list(read_table(source)["text"]), column="text", where=repr(str(source)))
    with pytest.raises(TypeError, match=r"row 3 .*'text' is int '12345', not str") as load_error:
        load_reviews(source, id_column="id")
    assert str(load_error.value) == str(batch_error.value)


def test_a_key_the_first_record_lacks_is_the_same_error(tmp_path: Path) -> None:
    source = _jsonl(tmp_path / "extra.jsonl", [*RECORDS[:2], {**RECORDS[3], "stars": 5}])
    with pytest.raises(ValueError, match=r"line 3.*'stars'") as batch_error:
        read_table(source)
    with pytest.raises(ValueError, match=r"line 3.*'stars'") as load_error:
        load_reviews(source, id_column="id")
    assert str(load_error.value) == str(batch_error.value)
