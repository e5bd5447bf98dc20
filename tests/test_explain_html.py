"""The explanation page: structure, escaping, self-containment, and `fakereview explain` end to end."""

from __future__ import annotations

import csv
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fakereview_nlp.explanations.html import render_explanations_html
from fakereview_nlp.explanations.occlusion import ExplainedSpan, ReviewExplanation

HOSTILE = 'Great <script>alert("x")</script> & <img src=x onerror=alert(1)> stay!'


class _Collect(HTMLParser):
    """Tags, attributes and the text inside each span's <mark>, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.marks: list[str] = []
        self._in_mark = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "mark" and "data-rank" in dict(attrs):  # not the legend's
            self._in_mark = True
            self.marks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._in_mark = False

    def handle_data(self, data: str) -> None:
        if self._in_mark:
            self.marks[-1] += data


def _span(text: str, part: str, delta: float) -> ExplainedSpan:
    start = text.index(part)
    return ExplainedSpan(start=start, end=start + len(part), text=part, delta=delta)


def _page() -> tuple[list[str], list[ReviewExplanation], str]:
    texts = [HOSTILE, "Clean  room.\nSlow lift.", ""]
    explanations = [
        ReviewExplanation(
            fake_score=0.97,
            flagged=True,
            spans=(_span(HOSTILE, '<script>alert("x")</script>', 0.4), _span(HOSTILE, "stay!", -0.05)),
        ),
        ReviewExplanation(fake_score=0.10, flagged=False, spans=(_span(texts[1], "Slow lift.", 0.02),)),
        ReviewExplanation(fake_score=0.50, flagged=False, spans=()),
    ]
    return (
        texts,
        explanations,
        render_explanations_html(texts, explanations, ids=["a<1>", "b", "c"], model="m"),
    )


def test_review_text_is_escaped_and_nothing_can_run_or_load():
    _, _, page = _page()
    parser = _Collect()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "img" not in tags and "link" not in tags
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "a&lt;1&gt;" in page  # ids are escaped too
    assert all("src" not in attrs and "href" not in attrs for _, attrs in parser.tags)
    assert "http://" not in page and "https://" not in page and "@import" not in page
    (csp,) = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"] == "default-src 'none'; style-src 'unsafe-inline'"


def test_one_article_per_review_with_marks_for_each_span():
    texts, explanations, page = _page()
    parser = _Collect()
    parser.feed(page)
    articles = [a for t, a in parser.tags if t == "article"]
    assert [a["class"] for a in articles] == ["review flagged", "review not-flagged", "review not-flagged"]
    # A browser's text of each <mark> is exactly the span of the original review.
    assert parser.marks == [s.text for e in explanations for s in sorted(e.spans, key=lambda s: s.start)]
    marks = [a for t, a in parser.tags if t == "mark" and "data-rank" in a]
    assert [m["data-rank"] for m in marks] == ["1", "2", "1"]
    red, blue = marks[0]["style"], marks[1]["style"]
    assert red.startswith("background:rgba(207,34,46,") and blue.startswith("background:rgba(9,105,218,")
    assert "P(fake) = 0.970" in page and "2 reviews" not in page and "3 reviews, 1 flagged" in page
    # The whole review survives, in order, around the marks (whitespace kept for pre-wrap).
    body = html.unescape(re.sub(r"<[^>]+>", "", page.split('<p class="text">')[2].split("</p>")[0]))
    assert body == texts[1]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match=r"got 2 texts but 1 explanations; pass one per text"):
        render_explanations_html(["a", "b"], [ReviewExplanation(0.5, False, ())])


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_fakereview_explain_writes_a_page(tiny_model_dir, tmp_path, capsys):
    from fakereview_nlp.cli.main import main

    reviews = _write_csv(
        tmp_path / "in.csv",
        [
            {"review_id": "r1", "body": HOSTILE},
            {"review_id": "r2", "body": "Clean room. Slow lift. Friendly staff."},
            {"review_id": "r3", "body": "Parking was pricey."},
        ],
    )
    out = tmp_path / "page.html"
    args = ["explain", str(reviews), "-o", str(out), "--model", str(tiny_model_dir), "--text-column", "body"]
    assert main([*args, "--id-column", "review_id", "--device", "cpu"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<article ") == 3 and "&lt;script&gt;" in page and "r2" in page
    # The tiny random model scores near 0.5, under its default threshold of 0.5 or above: either way
    # --only-flagged lists exactly the reviews the full page marks as flagged.
    n_flagged = page.count('class="review flagged"')
    assert main([*args, "--only-flagged", "--limit", "2"]) == 0
    assert "fakereview: explained the first 2 of 3 rows" in capsys.readouterr().err
    only = out.read_text(encoding="utf-8")
    assert only.count('class="review not-flagged"') == 0 and only.count("<article ") <= n_flagged
    assert "Only flagged reviews are listed" in only


def test_fakereview_explain_names_a_missing_column(tiny_model_dir, tmp_path, capsys):
    from fakereview_nlp.cli.main import main

    reviews = _write_csv(tmp_path / "in.csv", [{"body": "Nice."}])
    code = main(["explain", str(reviews), "-o", str(tmp_path / "p.html"), "--model", str(tiny_model_dir)])
    assert code == 2
    assert re.search(
        r"fakereview: error: --text-column 'text' is not a column of .*\['body'\]", capsys.readouterr().err
    )
    assert not (tmp_path / "p.html").exists()
