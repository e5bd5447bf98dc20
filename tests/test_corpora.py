"""Importers for the public corpora, on tiny fabricated files in each published layout.

No text here comes from a real corpus: every review below was written for these tests.
"""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fakereview_nlp.data import corpora
from fakereview_nlp.data.corpora import (
    CORPORA,
    canonical_load_kwargs,
    download_corpus,
    import_amazon_labeled,
    import_corpus,
    import_fake_reviews_cg,
    import_op_spam,
    prepare_corpus,
    text_prefix_key,
    write_canonical_csv,
)
from fakereview_nlp.data.reviews import load_reviews

# --------------------------------------------------------------------------------------------
# op_spam
# --------------------------------------------------------------------------------------------

# (relative path under op_spam_v1.4/, file content). The truthful-positive file ends in " \n",
# the layout cue of the real corpus.
OP_SPAM_FILES = {
    "positive_polarity/truthful_from_TripAdvisor/fold1/t_hilton_1.txt": "Quiet room, kind porter, slow lift. \n",
    "positive_polarity/truthful_from_TripAdvisor/fold1/t_hilton_2.txt": "Decent breakfast and  a view of the river.\n",
    "positive_polarity/deceptive_from_MTurk/fold1/d_hilton_1.txt": "Simply the most wonderful stay of my life!\n",
    "negative_polarity/truthful_from_Web/fold2/t_affinia_1.txt": "The heater rattled all night\nand nobody came.\n",
    "negative_polarity/deceptive_from_MTurk/fold2/d_affinia_1.txt": " Horrible, dirty, rude, never again!\n",
}


def make_op_spam_tree(root: Path, files: dict[str, str] = OP_SPAM_FILES) -> Path:
    top = root / "op_spam_v1.4"
    for rel, text in files.items():
        path = top / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (top / "README.md").write_text("Fabricated corpus README\n", encoding="utf-8")
    (top / "LICENSE").write_text("fabricated\n", encoding="utf-8")
    (top / "positive_polarity" / ".DS_Store").write_bytes(b"\x00\x01")
    return top


def make_op_spam_zip(root: Path) -> Path:
    path = root / "op_spam_v1.4.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for rel, text in OP_SPAM_FILES.items():
            archive.writestr(f"op_spam_v1.4/{rel}", text)
        archive.writestr("op_spam_v1.4/README.md", "readme\n")
        archive.writestr("__MACOSX/op_spam_v1.4/positive_polarity/._x.txt", b"\x00")
    return path


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def make_op_spam_csv(root: Path) -> Path:
    """The ../shared/data/op_spam layout of the same five files (text with trailing space stripped)."""
    rows = []
    for rel, text in OP_SPAM_FILES.items():
        polarity, folder, fold, name = rel.split("/")
        label, source = folder.split("_from_")
        stem = name.removesuffix(".txt")
        rows.append(
            {
                "id": f"{polarity.removesuffix('_polarity')}/{label}/{fold}/{stem}",
                "text": text.rstrip(),
                "label": label,
                "polarity": polarity.removesuffix("_polarity"),
                "hotel": stem.split("_")[1],
                "fold": fold.removeprefix("fold"),
                "source": source.lower(),
            }
        )
    return write_csv(root / "op_spam.csv", rows)


def test_op_spam_folder_schema_labels_groups(tmp_path: Path) -> None:
    frame = import_op_spam(make_op_spam_tree(tmp_path))
    assert list(frame.columns) == ["id", "text", "label", "group", "fold", "polarity", "source"]
    # Published order: positive first, truthful first, then fold, hotel, number.
    assert frame["id"].tolist() == [
        "positive/truthful/fold1/t_hilton_1",
        "positive/truthful/fold1/t_hilton_2",
        "positive/deceptive/fold1/d_hilton_1",
        "negative/truthful/fold2/t_affinia_1",
        "negative/deceptive/fold2/d_affinia_1",
    ]
    assert frame["label"].tolist() == ["genuine", "genuine", "fake", "genuine", "fake"]
    assert frame["group"].tolist() == ["hilton"] * 3 + ["affinia"] * 2
    assert frame["fold"].tolist() == ["1", "1", "1", "2", "2"]
    assert frame["source"].tolist() == ["tripadvisor", "tripadvisor", "mturk", "web", "mturk"]
    assert frame["polarity"].tolist() == ["positive"] * 3 + ["negative"] * 2


def test_op_spam_trailing_space_cue_removed(tmp_path: Path) -> None:
    frame = import_op_spam(make_op_spam_tree(tmp_path))
    assert frame.loc[0, "text"] == "Quiet room, kind porter, slow lift."
    assert frame.loc[1, "text"] == "Decent breakfast and a view of the river."
    assert frame.loc[3, "text"] == "The heater rattled all night and nobody came."
    assert not frame["text"].str.contains(r"^\s|\s$").any()


def test_op_spam_zip_and_csv_match_folder(tmp_path: Path) -> None:
    folder = import_op_spam(make_op_spam_tree(tmp_path / "tree"))
    zipped = import_op_spam(make_op_spam_zip(tmp_path))
    from_csv = import_op_spam(make_op_spam_csv(tmp_path))
    pd.testing.assert_frame_equal(folder, zipped)
    pd.testing.assert_frame_equal(folder, from_csv)


def test_op_spam_accepts_parent_folder(tmp_path: Path) -> None:
    make_op_spam_tree(tmp_path)
    assert len(import_op_spam(tmp_path)) == len(OP_SPAM_FILES)


def test_op_spam_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"found no review files .*expected op_spam_v1\.4/"):
        import_op_spam(tmp_path / "empty")

    bad_name = make_op_spam_tree(tmp_path / "bad_name")
    (bad_name / "positive_polarity/truthful_from_TripAdvisor/fold1/hilton-3.txt").write_text("x")
    with pytest.raises(ValueError, match=r"hilton-3\.txt.*does not fit the pattern"):
        import_op_spam(bad_name)

    moved = make_op_spam_tree(tmp_path / "moved")
    (moved / "positive_polarity/truthful_from_TripAdvisor/fold1/d_hilton_9.txt").write_text("x")
    with pytest.raises(ValueError, match=r"'d'-prefixed file in a truthful folder"):
        import_op_spam(moved)

    wrong_columns = write_csv(tmp_path / "wrong.csv", [{"review": "A fine stay.", "deceptive": "truthful"}])
    with pytest.raises(ValueError, match=r"missing \['id', 'text', 'label'"):
        import_op_spam(wrong_columns)

    rows = pd.read_csv(make_op_spam_csv(tmp_path), dtype=str).to_dict("records")
    rows[0]["label"] = "spam"
    with pytest.raises(ValueError, match=r"label values 'spam' \(1\).*'deceptive', 'truthful'"):
        import_op_spam(write_csv(tmp_path / "bad_label.csv", rows))

    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        import_op_spam(tmp_path / "nowhere")


def test_op_spam_duplicate_copies_rejected(tmp_path: Path) -> None:
    make_op_spam_tree(tmp_path / "a")
    make_op_spam_tree(tmp_path / "b")
    with pytest.raises(ValueError, match=r"duplicate ids .*two copies"):
        import_op_spam(tmp_path)


# --------------------------------------------------------------------------------------------
# fake_reviews_cg (Salminen et al.)
# --------------------------------------------------------------------------------------------

OPENING = (
    "This blender is great for smoothies and it is very easy to clean after every single use, "
    "and the motor is strong"
)
CG_ROWS = [
    {"category": "Home_and_Kitchen_5", "rating": "5.0", "label": "CG", "text_": OPENING + ", I love it"},
    {
        "category": "Home_and_Kitchen_5",
        "rating": "4.0",
        "label": "CG",
        "text_": OPENING + ". The lid is loose ",
    },
    {
        "category": "Books_5",
        "rating": "2.0",
        "label": "OR",
        "text_": "Slow middle chapters, but the ending\nworked.",
    },
    {
        "category": "Toys_and_Games_5",
        "rating": "5.0",
        "label": "OR",
        "text_": "My niece plays with it daily!",
    },
]


def test_fake_reviews_cg_original_layout(tmp_path: Path) -> None:
    frame = import_fake_reviews_cg(write_csv(tmp_path / "fake reviews dataset.csv", CG_ROWS))
    assert list(frame.columns) == ["id", "text", "label", "group", "category", "rating", "source_split"]
    assert frame["id"].tolist() == ["0", "1", "2", "3"]
    assert frame["label"].tolist() == ["fake", "fake", "genuine", "genuine"]
    assert frame["rating"].tolist() == ["5.0", "4.0", "2.0", "5.0"]
    assert frame.loc[1, "text"].endswith("The lid is loose")
    assert frame.loc[2, "text"] == "Slow middle chapters, but the ending worked."
    # The two GPT-2-style fakes share an 80-character opening, so they share a group.
    assert frame.loc[0, "group"] == frame.loc[1, "group"] == text_prefix_key(OPENING)
    assert frame["group"].nunique() == 3


def test_fake_reviews_cg_shared_layout_and_zip(tmp_path: Path) -> None:
    shared = [
        {"id": f"dev-{i}", "text": r["text_"], "label": {"CG": "fake", "OR": "genuine"}[r["label"]],
         "split": "dev", "category": r["category"], "rating": r["rating"]}
        for i, r in enumerate(CG_ROWS)
    ]  # fmt: skip
    frame = import_fake_reviews_cg(write_csv(tmp_path / "fake_reviews_cg.csv", shared))
    assert frame["id"].tolist() == ["dev-0", "dev-1", "dev-2", "dev-3"]
    assert frame["source_split"].tolist() == ["dev"] * 4
    original = import_fake_reviews_cg(write_csv(tmp_path / "orig.csv", CG_ROWS))
    for column in ("text", "label", "group", "category", "rating"):
        assert frame[column].tolist() == original[column].tolist()

    archive_path = tmp_path / "fake-reviews-dataset.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.write(tmp_path / "orig.csv", "fake reviews dataset.csv")
    pd.testing.assert_frame_equal(import_fake_reviews_cg(archive_path), original)


def test_fake_reviews_cg_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"found columns \['review', 'is_fake'\].*category,rating,label,text_"
    ):
        import_fake_reviews_cg(write_csv(tmp_path / "other.csv", [{"review": "Nice.", "is_fake": "0"}]))
    rows = [dict(r) for r in CG_ROWS]
    rows[3]["label"] = "HUMAN"
    with pytest.raises(ValueError, match=r"label values 'HUMAN' \(1\).*\['CG', 'OR'\]"):
        import_fake_reviews_cg(write_csv(tmp_path / "bad.csv", rows))
    archive_path = tmp_path / "two.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("a.csv", "x\n")
        archive.writestr("b.csv", "y\n")
    with pytest.raises(ValueError, match=r"2 matching member\(s\).*exactly one CSV file"):
        import_fake_reviews_cg(archive_path)


def test_text_prefix_key() -> None:
    assert text_prefix_key("Great  product!! Works, as-described.", n_chars=12) == "greatproduct"
    assert text_prefix_key(OPENING + " one") == text_prefix_key(OPENING.upper() + "  two")
    assert len(text_prefix_key(OPENING)) == 80


# --------------------------------------------------------------------------------------------
# amazon_labeled
# --------------------------------------------------------------------------------------------

AMAZON_HEADER = (
    "DOC_ID\tLABEL\tRATING\tVERIFIED_PURCHASE\tPRODUCT_CATEGORY\tPRODUCT_ID\tPRODUCT_TITLE\t"
    "REVIEW_TITLE\tREVIEW_TEXT"
)
CAMPAIGN = (
    "Buy this supplement now because it fixed my sleep in two days and my energy is back for good, "
    "trust me on this"
)
AMAZON_LINES = [
    "1\t__label1__\t5\tN\tHealth\tB000TEST01\tSleep Aid\tWow\t" + CAMPAIGN + " thanks",
    "2\t__label1__\t5\tN\tBooks\t0670026255\tA Novel\tMust read\t" + CAMPAIGN + "!! ",
    '3\t__label2__\t3\tY\tBooks\t0670026255\tA Novel\tOkay\t"Chapter One" drags, the rest is fine.',
    "4\t__label2__\t4\tY\tElectronics\tB000TEST02\tCable\tWorks\tCharges my phone at full speed.",
]


def make_amazon_tsv(root: Path, lines: list[str] = AMAZON_LINES) -> Path:
    path = root / "amazon_reviews.txt"
    path.write_bytes(("\r\n".join([AMAZON_HEADER, *lines]) + "\r\n").encode("utf-8"))
    return path


def test_amazon_tsv_schema_labels_groups(tmp_path: Path) -> None:
    frame = import_amazon_labeled(make_amazon_tsv(tmp_path))
    assert list(frame.columns) == [
        "id", "text", "label", "group", "rating", "verified_purchase", "category",
        "product_id", "product_title", "review_title",
    ]  # fmt: skip
    assert frame["id"].tolist() == ["1", "2", "3", "4"]
    assert frame["label"].tolist() == ["fake", "fake", "genuine", "genuine"]
    assert frame["verified_purchase"].tolist() == ["N", "N", "Y", "Y"]
    # ISBN product ids keep their leading zero; a leading quote in the text survives.
    assert frame.loc[1, "product_id"] == "0670026255"
    assert frame.loc[2, "text"] == '"Chapter One" drags, the rest is fine.'
    assert frame.loc[1, "text"] == CAMPAIGN + "!!"
    # Rows 1 and 2 share a campaign opening, rows 2 and 3 a product: one group, named by the
    # smallest product id; row 4 stands alone.
    assert frame["group"].tolist() == ["0670026255"] * 3 + ["B000TEST02"]


def test_amazon_shared_csv_and_zip(tmp_path: Path) -> None:
    tsv = import_amazon_labeled(make_amazon_tsv(tmp_path))
    shared = tsv.drop(columns="group")[
        ["id", "text", "label", "rating", "verified_purchase", "category", "product_id", "product_title",
         "review_title"]
    ]  # fmt: skip
    from_csv = import_amazon_labeled(write_csv(tmp_path / "amazon_labeled.csv", shared.to_dict("records")))
    pd.testing.assert_frame_equal(from_csv, tsv)

    archive_path = tmp_path / "amazon-reviews.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.write(tmp_path / "amazon_reviews.txt", "amazon_reviews.txt")
    pd.testing.assert_frame_equal(import_amazon_labeled(archive_path), tsv)


def test_amazon_errors(tmp_path: Path) -> None:
    short = make_amazon_tsv(tmp_path, AMAZON_LINES[:1] + ["5\t__label2__\t4\tY\tBooks\tonly six fields"])
    with pytest.raises(ValueError, match=r"line 3 of .* has 6 tab-separated fields, expected 9"):
        import_amazon_labeled(short)
    (tmp_path / "other.txt").write_text("id\tstars\tbody\n1\t5\tGood.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"found the header line 'id\\tstars\\tbody'.*DOC_ID"):
        import_amazon_labeled(tmp_path / "other.txt")
    bad = make_amazon_tsv(tmp_path, [AMAZON_LINES[0].replace("__label1__", "__label3__")])
    with pytest.raises(ValueError, match=r"'__label3__' \(1\).*\['__label1__', '__label2__'"):
        import_amazon_labeled(bad)


# --------------------------------------------------------------------------------------------
# Registry, load kwargs, prepare, download, CLI
# --------------------------------------------------------------------------------------------


def test_registry_and_unknown_name() -> None:
    assert set(CORPORA) == {"op_spam", "fake_reviews_cg", "amazon_labeled"}
    for name, spec in CORPORA.items():
        assert spec.name == name
        assert set(spec.label_map.values()) == {"genuine", "fake"}
        assert spec.local_path.startswith("../shared/data/")
    with pytest.raises(ValueError, match=r"unknown corpus 'yelp'; expected one of \['amazon_labeled'"):
        import_corpus("yelp", "x.csv")


@pytest.mark.parametrize(
    ("name", "builder"),
    [
        ("op_spam", make_op_spam_zip),
        ("fake_reviews_cg", lambda root: write_csv(root / "f.csv", CG_ROWS)),
        ("amazon_labeled", make_amazon_tsv),
    ],
)
def test_prepared_file_loads_with_canonical_kwargs(
    tmp_path: Path, name: str, builder: Callable[[Path], Path]
) -> None:
    out = tmp_path / "out" / f"{name}.csv"
    frame = prepare_corpus(name, out, source=builder(tmp_path))
    assert tuple(frame.columns) == CORPORA[name].columns
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left behind
    ds = load_reviews(out, **canonical_load_kwargs(name), bad_rows="error")
    assert len(ds) == len(frame)
    assert ds["label"] == [int(label == "fake") for label in frame["label"]]
    assert ds["group"] == frame["group"].tolist()
    assert ds["id"] == frame["id"].tolist()
    if name == "op_spam":
        assert ds["split"] == frame["fold"].tolist()
    else:
        assert set(ds["split"]) == {""}
    for column in CORPORA[name].metadata_columns:
        assert ds[column] == frame[column].tolist()


def test_canonical_load_kwargs() -> None:
    kwargs = canonical_load_kwargs("op_spam")
    assert kwargs == {
        "text_column": "text",
        "label_column": "label",
        "label_map": {"genuine": "genuine", "fake": "fake"},
        "group_column": "group",
        "split_column": "fold",
        "id_column": "id",
        "keep_columns": ["polarity", "source"],
    }
    assert canonical_load_kwargs("fake_reviews_cg")["split_column"] is None


def test_write_canonical_csv_replaces_atomically(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    out.write_text("old\n")
    write_canonical_csv(pd.DataFrame({"id": ["1"], "text": ["a, b"]}), out)
    assert out.read_text(encoding="utf-8") == 'id,text\n1,"a, b"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def _offline(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_download_offline_names_url_and_alternative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpora.urllib.request, "urlopen", _offline)
    with pytest.raises(
        ConnectionError, match=r"https://myleott\.com/op_spam_v1\.4\.zip.*name resolution"
    ) as info:
        download_corpus("op_spam", tmp_path)
    assert "fakereview prepare op_spam --source LOCAL_PATH -o OUT.csv" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConnectionError, match=r"https://osf\.io/download/3vds7/"):
        download_corpus("fake_reviews_cg", tmp_path)
    with pytest.raises(ValueError, match=r"amazon_labeled has no verified direct download URL.*--source"):
        download_corpus("amazon_labeled", tmp_path)


class _FakeResponse(io.BytesIO):
    def __enter__(self) -> _FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_download_then_prepare_uses_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = make_op_spam_zip(tmp_path).read_bytes()
    calls: list[str] = []

    def fake_urlopen(request: urllib.request.Request, timeout: float) -> _FakeResponse:
        calls.append(request.full_url)
        return _FakeResponse(payload)

    monkeypatch.setattr(corpora.urllib.request, "urlopen", fake_urlopen)
    frame = prepare_corpus("op_spam", tmp_path / "out" / "op_spam.csv")
    assert calls == ["https://myleott.com/op_spam_v1.4.zip"]
    assert (tmp_path / "out" / "op_spam_v1.4.zip").read_bytes() == payload
    assert len(frame) == len(OP_SPAM_FILES)
    prepare_corpus("op_spam", tmp_path / "out" / "again.csv")
    assert len(calls) == 1  # the cached zip is reused


def test_cli_prepare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import prepare as prepare_cli

    out = tmp_path / "op_spam.csv"
    source = make_op_spam_tree(tmp_path)
    assert prepare_cli.main(["prepare", "op_spam", "--source", str(source), "-o", str(out)]) == 0
    assert "5 reviews (genuine 3, fake 2), 2 groups" in capsys.readouterr().out
    assert pd.read_csv(out, dtype=str).columns.tolist()[:5] == ["id", "text", "label", "group", "fold"]

    monkeypatch.setattr(corpora.urllib.request, "urlopen", _offline)
    assert prepare_cli.main(["prepare", "fake_reviews_cg", "-o", str(tmp_path / "cg.csv")]) == 2
    message = capsys.readouterr().err
    assert "could not download fake_reviews_cg" in message and "--source LOCAL_PATH" in message
    assert not (tmp_path / "cg.csv").exists()


def test_prepare_registered_in_fakereview_cli(tmp_path: Path) -> None:
    from fakereview_nlp.cli import main as cli  # the real registry, as `fakereview` runs it
    from fakereview_nlp.cli.prepare import add_prepare_parser

    assert add_prepare_parser in cli.SUBCOMMANDS
    out = tmp_path / "amazon.csv"
    source = make_amazon_tsv(tmp_path)
    assert cli.main(["prepare", "amazon_labeled", "--source", str(source), "-o", str(out)]) == 0
    assert len(pd.read_csv(out, dtype=str)) == len(AMAZON_LINES)


def test_malformed_csv_source_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    # the CSV rule of fakereview_nlp.data.tables, as in training and classify: a row wider than the
    # header is an error, not a silently shifted row
    source = tmp_path / "fake_reviews.csv"
    source.write_text(
        "category,rating,label,text_\nHome,5.0,CG,Great product\nHome,1.0,OR,Broke, after a day,extra\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"fake_reviews\.csv.*line 3"):
        import_fake_reviews_cg(source)
