"""Would a stronger n-gram model make a better partner for the transformer? Measured on CV folds.

Refits an n-gram model on each fold of a committed CV report (same rows, same folds) and prints
its accuracy alone and averaged with the report's transformer scores, as ``combine`` does:

    python benchmarks/ngram_partner.py reports/opspam_cv ../shared/data/op_spam/op_spam.csv
    python benchmarks/ngram_partner.py reports/fake_reviews_cg_cv_len256_ep2 \\
        ../shared/data/fake_reviews_cg/fake_reviews_cg.csv

Variants: ``word`` is the package's :class:`~fakereview_nlp.model.baseline.TfidfBaseline` (word
1–2-grams); ``word+char`` adds character 2–5-grams (``char_wb``, case kept), the usual next step
for stylistic cues such as punctuation. Both use C = 10, fixed in advance, not tuned on these folds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakereview_nlp.data.tables import read_table  # noqa: E402
from fakereview_nlp.metrics import average_precision, threshold_metrics  # noqa: E402
from fakereview_nlp.model.baseline import combined_score, tfidf_scores  # noqa: E402
from fakereview_nlp.text import normalize_text  # noqa: E402

Variant = Literal["word", "word+char"]
VARIANTS: tuple[Variant, ...] = ("word", "word+char")


def _word_char_scores(
    train_texts: Sequence[str], train_labels: Any, test_texts: Sequence[str]
) -> NDArray[np.float64]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    model = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            # case kept: capitalisation is part of the style the word features lower-case away
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False),
        ),
        LogisticRegression(C=10.0, solver="liblinear", max_iter=1000),
    )
    model.fit([normalize_text(t) for t in train_texts], np.asarray(train_labels))
    classes = list(model.classes_)
    return np.asarray(model.predict_proba([normalize_text(t) for t in test_texts])[:, classes.index(1)])


_SCORERS: dict[Variant, Callable[..., NDArray[np.float64]]] = {
    "word": tfidf_scores,
    "word+char": _word_char_scores,
}


def oof_scores(rows: pd.DataFrame, variant: Variant) -> NDArray[np.float64]:
    """Out-of-fold P(fake) of ``variant`` for ``rows`` (columns ``text``, ``label``, ``fold``)."""
    if variant not in _SCORERS:
        raise ValueError(f"unknown n-gram variant {variant!r}; expected one of {list(VARIANTS)}")
    missing = {"text", "label", "fold"} - set(rows.columns)
    if missing:
        raise ValueError(
            f"rows lack column(s) {sorted(missing)}; join the OOF predictions with the corpus on 'id'"
        )
    scores = np.zeros(len(rows), dtype=np.float64)
    fold = rows["fold"].to_numpy()
    for k in pd.unique(fold):
        test = fold == k
        train = ~test
        scores[test] = _SCORERS[variant](
            rows["text"][train].tolist(), rows["label"][train].to_numpy(), rows["text"][test].tolist()
        )
    return scores


def _accuracy(labels: NDArray[Any], scores: NDArray[np.float64]) -> float:
    return threshold_metrics(labels, scores, threshold=0.5).accuracy


def partner_lines(rows: pd.DataFrame, variants: Sequence[Variant] = VARIANTS) -> list[str]:
    """One line per variant: accuracy alone and combined (pooled, per fold) and average precision."""
    labels = rows["label"].to_numpy()
    transformer = rows["transformer_score"].to_numpy(dtype=np.float64)
    folds = rows["fold"].to_numpy()
    lines = [
        f"transformer alone: accuracy {_accuracy(labels, transformer):.4f}, "
        f"AP {average_precision(labels, transformer):.4f} ({len(rows)} reviews, {len(pd.unique(folds))} folds)"
    ]
    for variant in variants:
        start = time.perf_counter()
        ngram = oof_scores(rows, variant)
        both = combined_score(transformer, ngram)
        per_fold = [_accuracy(labels[folds == k], both[folds == k]) for k in pd.unique(folds)]
        lines.append(
            f"{variant:10s} alone {_accuracy(labels, ngram):.4f} (AP {average_precision(labels, ngram):.4f}); "
            f"with transformer {_accuracy(labels, both):.4f} (AP {average_precision(labels, both):.4f}), "
            f"per fold {' '.join(f'{a:.4f}' for a in per_fold)}; {time.perf_counter() - start:.0f} s"
        )
    return lines


def load_rows(report_dir: Path, data_path: Path) -> pd.DataFrame:
    """The report's out-of-fold predictions joined with the corpus texts on ``id``."""
    oof = pd.read_csv(report_dir / "oof_predictions.csv", dtype={"id": str, "fold": str})
    corpus = read_table(data_path, columns=["id", "text"])  # as training read it (strings for CSV)
    corpus["id"] = corpus["id"].astype(str)
    rows = oof.merge(corpus[["id", "text"]], on="id", how="left")
    if rows["text"].isna().any():
        lost = rows.loc[rows["text"].isna(), "id"].iloc[0]
        raise ValueError(
            f"id {lost!r} of {report_dir}/oof_predictions.csv is not in {data_path}; pass the CV's corpus"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, help="a CV report folder with oof_predictions.csv")
    parser.add_argument("data", type=Path, help="the corpus CSV the report was made from (columns id, text)")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, from {list(VARIANTS)}"
    )
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for line in partner_lines(load_rows(args.report_dir, args.data), variants):  # type: ignore[arg-type]
        print(line, flush=True)


if __name__ == "__main__":
    main()
