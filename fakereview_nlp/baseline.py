"""The baseline every transformer must beat: TF-IDF word 1–2-grams + logistic regression.

It is what an engineer writes in five lines of scikit-learn, and on crowd-written fakes
(op_spam) it is strong: Ott et al. (2011) report about 90 % with n-grams. The evaluation
report scores it on the same rows with the same metrics so a transformer that loses to it
is visible at a glance.

Example::

    >>> from fakereview_nlp.baseline import TfidfBaseline
    >>> baseline = TfidfBaseline().fit(train_texts, train_labels)  # doctest: +SKIP
    >>> baseline.predict_proba(test_texts)  # P(fake), shape (n,)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fakereview_nlp.metrics import check_inputs
from fakereview_nlp.text import normalize_text


@dataclass
class TfidfBaseline:
    """TF-IDF (word 1–2-grams, sublinear tf) + L2 logistic regression; deterministic.

    Args:
        ngram_range (`tuple[int, int]`, defaults to `(1, 2)`): word n-gram sizes.
        min_df (`int`, defaults to `1`): drop n-grams seen in fewer training reviews.
        max_features (`int`, *optional*): keep only the most frequent n-grams.
        C (`float`, defaults to `10.0`): inverse regularisation strength of the logistic regression.
        lowercase (`bool`, defaults to `True`).

    The liblinear solver is deterministic, so the same data gives the same scores on any machine.
    """

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 1
    max_features: int | None = None
    C: float = 10.0
    lowercase: bool = True
    _pipeline: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        low, high = self.ngram_range
        if not 1 <= low <= high:
            raise ValueError(
                f"ngram_range must satisfy 1 <= low <= high, got {self.ngram_range}; e.g. (1, 2)"
            )
        if not self.C > 0:
            raise ValueError(
                f"C must be > 0, got {self.C}; larger C means weaker regularisation (1.0 to 100)"
            )

    def _build(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            TfidfVectorizer(
                ngram_range=self.ngram_range,
                min_df=self.min_df,
                max_features=self.max_features,
                lowercase=self.lowercase,
                sublinear_tf=True,
            ),
            LogisticRegression(C=self.C, solver="liblinear", max_iter=1000),
        )

    def fit(self, texts: Sequence[str], labels: ArrayLike) -> TfidfBaseline:
        """Fit on ``texts`` with 0/1 ``labels`` (1 = fake); returns ``self``."""
        docs = _check_texts(texts)
        n_labels = len(np.asarray(labels))
        if n_labels != len(docs):
            raise ValueError(f"fit got {len(docs)} texts but {n_labels} labels; pass one 0/1 label per text")
        y, _ = check_inputs(labels, np.zeros(len(docs)))  # 0/1, both classes present
        self._pipeline = self._build().fit(docs, y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """P(fake) per text, shape ``(n,)``; an empty list gives an empty array."""
        if self._pipeline is None:
            raise RuntimeError("TfidfBaseline is not fitted; call fit(train_texts, train_labels) first")
        docs = _check_texts(texts)
        if not docs:
            return np.zeros(0, dtype=np.float64)
        classes = list(self._pipeline.classes_)
        return np.asarray(self._pipeline.predict_proba(docs)[:, classes.index(1)], dtype=np.float64)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a list of texts; wrap a single review as [text]")
    docs = list(texts)
    bad = [i for i, t in enumerate(docs) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; item {bad[0]} is {type(docs[bad[0]]).__name__}")
    # The same normalisation the transformer sees, so both models read identical inputs.
    return [normalize_text(t) for t in docs]


def tfidf_scores(
    train_texts: Sequence[str], train_labels: ArrayLike, test_texts: Sequence[str], **kwargs: Any
) -> NDArray[np.float64]:
    """Fit :class:`TfidfBaseline` (``kwargs`` are its options) and return P(fake) of ``test_texts``."""
    return TfidfBaseline(**kwargs).fit(train_texts, train_labels).predict_proba(test_texts)


__all__ = ["TfidfBaseline", "tfidf_scores"]
