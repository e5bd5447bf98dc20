"""Issue 20 item 5: byte-order marks are read without options; the hint names a plausible encoding."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from fakereview_nlp.data.tables import TableReader, guess_encoding, read_table

TEXT = "id,text\n1,Café was lovely. Naïve staff?\n2,Room 12 faced the road.\n"
JSONL = '{"id": "1", "text": "Café was lovely."}\n{"id": "2", "text": "Room 12 faced the road."}\n'


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_byte_order_marks_are_read_without_options(bom: bytes, codec: str, suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"in{suffix}"
    path.write_bytes(bom + (TEXT if suffix == ".csv" else JSONL).encode(codec))
    table = read_table(path)
    assert list(table.columns) == ["id", "text"]
    assert list(table["id"]) == ["1", "2"] and table["text"][0].startswith("Café was lovely.")


@pytest.mark.parametrize(
    ("data", "guess"),
    [
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32-le"), "utf-32-le"),
        (TEXT.encode("utf-32-be"), "utf-32-be"),
        (TEXT.encode("cp1252"), "cp1252"),
        ("id,text\n1,caf\xe9 \x81\n".encode("latin-1"), "latin-1"),  # 0x81: undefined in cp1252
    ],
)
def test_guess_encoding_names_what_the_bytes_look_like(data: bytes, guess: str) -> None:
    assert guess_encoding(data) == guess


@pytest.mark.parametrize(
    ("data", "match"),
    [
        # no byte-order mark: NUL bytes alternate
        (TEXT.encode("utf-16-le"), r"in.csv' line 1 holds NUL bytes, so it is not utf-8 text; it looks like utf-16-le: "
         r"re-encode the file as UTF-8 \(for example `iconv -f utf-16-le -t utf-8 IN > OUT`\), or name its encoding "
         r"\(`--encoding utf-16-le` for fakereview classify"),
        (TEXT.encode("cp1252"), r"is not valid utf-8: byte \d+ \(line 2, .*`--encoding cp1252`"),
    ],
)  # fmt: skip
def test_undecodable_bytes_get_a_plausible_encoding_hint(data: bytes, match: str, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes(data)
    with pytest.raises(ValueError, match=match):
        TableReader(tmp_path / "in.csv").read()


def test_utf16_with_bom_at_the_cli_scores_without_encoding(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import main as cli

    (tmp_path / "in.csv").write_bytes(TEXT.encode("utf-16"))  # Python writes the BOM
    monkeypatch.chdir(tmp_path)
    argv = ["classify", "in.csv", "-o", "out.csv", "--model", str(tiny_model_dir), "--no-progress"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert len(read_table(tmp_path / "out.csv")) == 2
