"""What both batch engines share before scoring: the chunk-size check, the job description that
``--resume`` compares, and the refusal to resume into another job's parts."""

from __future__ import annotations

import pytest

from fakereview_nlp.jobs.options import ScoringOptions, check_chunk_rows
from fakereview_nlp.jobs.parts import check_same_job, job_identity


def test_job_identity_holds_what_changes_the_output_and_not_the_hardware() -> None:
    fast = ScoringOptions(id_column="id", batch_size=64, device="cuda", dtype="bfloat16")
    slow = ScoringOptions(id_column="id", batch_size=1, device="cpu")
    where = {"inputs": [{"path": "/data/a.csv"}], "input_format": None, "model": "m"}
    identity = job_identity("ray", fast, chunk_rows=100, encoding="utf-8", **where)
    assert identity == job_identity("ray", slow, chunk_rows=100, encoding="utf-8", **where)
    assert identity == {
        "engine": "ray", "encoding": "utf-8", "chunk_rows": 100, "text_column": "text", "id_column": "id",
        "long_text": "truncate", "explain": False, "out_of_scope": "abstain", **where,
    }  # fmt: skip
    chunked = job_identity("ray", ScoringOptions(id_column="id", long_text="chunk"), chunk_rows=100,
                           encoding="utf-8", **where)  # fmt: skip
    assert chunked != identity


def test_check_same_job_names_every_difference_and_the_fix() -> None:
    saved = {"engine": "local", "chunk_rows": 5, "long_text": "truncate"}
    check_same_job(
        saved, dict(saved), into="out.csv", parts="2 parts", fix="start over"
    )  # same job: no error
    with pytest.raises(
        ValueError,
        match=r"^cannot --resume into 'out.csv': its 2 parts come from a different job "
        r"\(chunk_rows: 5 then, 6 now; long_text: 'truncate' then, 'chunk' now\); start over$",
    ):
        check_same_job(saved, {**saved, "chunk_rows": 6, "long_text": "chunk"}, into="out.csv", parts="2 parts",
                       fix="start over")  # fmt: skip


@pytest.mark.parametrize("bad", [0, -3, "8", 2.0, None])
def test_check_chunk_rows_refuses_anything_but_a_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match=rf"^rows_per_call must be a positive int, got {bad!r}$"):
        check_chunk_rows(bad, name="rows_per_call")
    check_chunk_rows(1)
