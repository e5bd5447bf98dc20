"""The baseline every transformer must beat: TF-IDF word 1–2-grams + logistic regression.

It is what an engineer writes in five lines of scikit-learn, and on crowd-written fakes
(op_spam) it is strong: Ott et al. (2011) report about 90 % with n-grams. The evaluation
report scores it on the same rows with the same metrics so a transformer that loses to it
is visible at a glance.

Example::

    >>> from fakereview_nlp.model.baseline import TfidfBaseline
    >>> baseline = TfidfBaseline().fit(train_texts, train_labels)  # doctest: +SKIP
    >>> baseline.predict_proba(test_texts)  # P(fake), shape (n,)  # doctest: +SKIP
    >>> baseline.save("runs/my_model")  # tfidf_model.json, read back by TfidfBaseline.load  # doctest: +SKIP

Saved beside a transformer (``training`` with ``model.combine_tfidf: true``), it makes the
classifier score the mean of both models' P(fake) (see :mod:`fakereview_nlp.inference`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fakereview_nlp.files import atomic_write_text
from fakereview_nlp.metrics import check_inputs
from fakereview_nlp.text import normalize_text

#: the file a fitted baseline is saved to inside a model directory
TFIDF_FILE = "tfidf_model.json"
TFIDF_FORMAT = "fakereview-tfidf-logreg/1"


@dataclass
class TfidfBaseline:
    """TF-IDF (word 1–2-grams, sublinear tf) + L2 logistic regression; deterministic.

    Args:
        ngram_range (`tuple[int, int]`, defaults to `(1, 2)`): word n-gram sizes.
        min_df (`int`, defaults to `1`): drop n-grams seen in fewer training reviews.
        max_features (`int`, *optional*): keep only the most frequent n-grams.
        C (`float`, defaults to `10.0`): inverse regularisation strength of the logistic regression.
        lowercase (`bool`, defaults to `True`).
        weight (`float`, defaults to `0.5`): this part's share of the served score when it sits
            beside a transformer (:func:`combined_score`); 0.5 is the plain mean. Saved with the part.

    The liblinear solver is deterministic, so the same data gives the same scores on any machine.
    """

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 1
    max_features: int | None = None
    C: float = 10.0
    lowercase: bool = True
    weight: float = 0.5
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
        if (
            isinstance(self.weight, bool)
            or not isinstance(self.weight, (int, float))
            or not 0 <= self.weight <= 1
        ):
            raise ValueError(
                f"weight must be a number in [0, 1], got {self.weight!r}; it is the TF-IDF part's share "
                "of the served score (0.5: the plain mean with the transformer)"
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

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``folder/tfidf_model.json``; returns the file's path.

        Plain JSON (vocabulary, idf weights, coefficients), not a pickle, so loading it runs no
        code; :meth:`load` rebuilds a model that gives the same scores.
        """
        if self._pipeline is None:
            raise RuntimeError(
                "TfidfBaseline is not fitted; call fit(train_texts, train_labels) before save()"
            )
        vectorizer, logreg = self._pipeline[0], self._pipeline[-1]
        sign = 1.0 if list(logreg.classes_) == [0, 1] else -1.0  # coefficients are for classes_[1]
        payload = {
            "format": TFIDF_FORMAT,
            "params": {
                "ngram_range": list(self.ngram_range),
                "min_df": self.min_df,
                "max_features": self.max_features,
                "C": self.C,
                "lowercase": self.lowercase,
                "weight": self.weight,
            },
            "vocabulary": {term: int(i) for term, i in vectorizer.vocabulary_.items()},
            "idf": vectorizer.idf_.tolist(),
            "coef": (sign * logreg.coef_[0]).tolist(),
            "intercept": float(sign * logreg.intercept_[0]),
        }
        path = Path(folder) / TFIDF_FILE
        # atomic: a reader never sees half a file
        return atomic_write_text(path, json.dumps(payload))

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> TfidfBaseline:
        """Read ``folder/tfidf_model.json`` written by :meth:`save`."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        path = Path(folder) / TFIDF_FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no {TFIDF_FILE} in {folder}; fit a TfidfBaseline and call save({str(folder)!r}) first"
            ) from None
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path} is not valid JSON ({err}); write it again with TfidfBaseline.save"
            ) from err
        if not isinstance(payload, dict) or payload.get("format") != TFIDF_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(
                f"{path} has format {found!r}; expected {TFIDF_FORMAT!r} (written by TfidfBaseline.save)"
            )
        try:
            params = dict(payload["params"])
            params["ngram_range"] = tuple(params["ngram_range"])
            vocabulary = {str(k): int(v) for k, v in payload["vocabulary"].items()}
            idf = np.asarray(payload["idf"], dtype=np.float64)
            coef = np.asarray(payload["coef"], dtype=np.float64)
            intercept = float(payload["intercept"])
            model = cls(**params)  # older files carry no weight: the plain mean they were served with
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path} is missing or has a malformed field ({err!r}); write it again") from err
        n = len(vocabulary)
        if idf.shape != (n,) or coef.shape != (n,) or sorted(vocabulary.values()) != list(range(n)):
            raise ValueError(
                f"{path} is inconsistent: {n} vocabulary entries, {idf.size} idf weights, {coef.size} "
                "coefficients; write it again with TfidfBaseline.save"
            )
        vectorizer = TfidfVectorizer(
            ngram_range=model.ngram_range,
            lowercase=model.lowercase,
            sublinear_tf=True,
            vocabulary=vocabulary,
        )
        vectorizer.idf_ = idf  # also fits the vectorizer: transform() needs nothing else
        logreg = LogisticRegression()
        logreg.classes_ = np.array([0, 1])
        logreg.coef_ = coef[None, :]
        logreg.intercept_ = np.array([intercept])
        model._pipeline = make_pipeline(vectorizer, logreg)
        return model


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a list of texts; wrap a single review as [text]")
    docs = list(texts)
    bad = [i for i, t in enumerate(docs) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; item {bad[0]} is {type(docs[bad[0]]).__name__}")
    # The same normalisation the transformer sees, so both models read identical inputs.
    return [normalize_text(t) for t in docs]


def combined_score(
    transformer: ArrayLike, tfidf: ArrayLike, tfidf_weight: float = 0.5
) -> NDArray[np.float64]:
    """The transformer + TF-IDF combination: ``(1 - w) * transformer + w * tfidf`` P(fake).

    Training serves the plain mean (``w = 0.5``): with a few thousand training rows a weight fitted
    on validation data would be tuned on the rows that also pick the threshold. ``training.adapt``
    may choose another ``w`` on its validation labels (``adapt.tfidf_weights``); the part stores it.
    """
    if not 0 <= tfidf_weight <= 1:
        raise ValueError(f"tfidf_weight must be in [0, 1], got {tfidf_weight!r}; 0.5 is the plain mean")
    t = np.asarray(transformer, dtype=np.float64)
    f = np.asarray(tfidf, dtype=np.float64)
    if t.shape != f.shape:
        raise ValueError(f"combined_score needs scores of the same shape, got {t.shape} and {f.shape}")
    return (1.0 - tfidf_weight) * t + tfidf_weight * f


def tfidf_scores(
    train_texts: Sequence[str], train_labels: ArrayLike, test_texts: Sequence[str], **kwargs: Any
) -> NDArray[np.float64]:
    """Fit :class:`TfidfBaseline` (``kwargs`` are its options) and return P(fake) of ``test_texts``."""
    return TfidfBaseline(**kwargs).fit(train_texts, train_labels).predict_proba(test_texts)


__all__ = ["TFIDF_FILE", "TfidfBaseline", "combined_score", "tfidf_scores"]
