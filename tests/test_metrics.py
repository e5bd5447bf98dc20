"""Flag-rate metrics: hand-computed cases, ties, prevalence re-weighting, properties and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakereview_nlp.metrics import (
    average_precision,
    bootstrap_ci,
    brier_score,
    expected_calibration_error,
    flag_rate_metrics,
    reliability_bins,
    review_weights,
    roc_auc,
    threshold_metrics,
)


def test_hand_computed_no_ties():
    # Sorted: 0.9 fake, 0.8 genuine, 0.3 fake, 0.1 genuine.
    r25, r50, r100 = flag_rate_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], [0.25, 0.5, 1.0])
    assert (r25.threshold, r25.precision, r25.recall, r25.n_flagged) == (0.9, 1.0, 0.5, 1)
    assert (r50.threshold, r50.precision, r50.recall, r50.n_flagged) == (0.8, 0.5, 0.5, 2)
    assert (r100.threshold, r100.precision, r100.recall, r100.n_flagged) == (0.1, 0.5, 1.0, 4)


def test_partial_review_at_boundary_is_flagged_fractionally():
    # r·N = 0.3·4 = 1.2: the top fake fully, 0.2 of the genuine at 0.8.
    (r,) = flag_rate_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], [0.3])
    assert r.threshold == 0.8
    assert r.precision == pytest.approx(1 / 1.2)
    assert r.recall == pytest.approx(0.5)
    assert r.n_flagged == 2


def test_ties_at_boundary_share_one_fraction():
    # N = 6, r = 0.5 → budget 3. 0.9 (fake) fully; the four tied at 0.5 (2 fakes, 2 genuine)
    # share the remaining 2 → fraction 0.5 each → flagged fake weight 1 + 0.5·2 = 2.
    labels = [1, 1, 0, 0, 1, 0]
    scores = [0.9, 0.5, 0.5, 0.5, 0.5, 0.1]
    (r,) = flag_rate_metrics(labels, scores, [0.5])
    assert r.threshold == 0.5
    assert r.precision == pytest.approx(2 / 3)
    assert r.recall == pytest.approx(2 / 3)
    assert r.n_flagged == 5
    # Any order of the tied reviews gives the same answer.
    (again,) = flag_rate_metrics(labels[::-1], scores[::-1], [0.5])
    assert again == r


def test_all_scores_tied():
    (r,) = flag_rate_metrics([1, 0, 0, 0], [0.5] * 4, [0.25])
    assert r.precision == pytest.approx(0.25)  # the base rate: ties carry no information
    assert r.recall == pytest.approx(0.25)
    assert r.n_flagged == 4


def test_prevalence_reweighting_hand_computed():
    # p = 1/4, π = 1/2: a fake weighs 0.5/0.25 = 2, a genuine review 0.5/0.75 = 2/3; total 4 = N.
    labels, scores = [1, 0, 0, 0], [0.9, 0.8, 0.2, 0.1]
    np.testing.assert_allclose(review_weights(np.array(labels), 0.5), [2, 2 / 3, 2 / 3, 2 / 3])
    r50, r75 = flag_rate_metrics(labels, scores, [0.5, 0.75], prevalence=0.5)
    # budget 2: exactly the fake.
    assert (r50.threshold, r50.n_flagged) == (0.9, 1)
    assert r50.precision == pytest.approx(1.0)
    assert r50.recall == pytest.approx(1.0)
    # budget 3: fake (2) + genuine at 0.8 (2/3) + half of the genuine at 0.2 (1/3).
    assert (r75.threshold, r75.n_flagged) == (0.2, 3)
    assert r75.precision == pytest.approx(2 / 3)
    assert r75.recall == pytest.approx(1.0)
    assert r75.prevalence == 0.5


def test_low_prevalence_lowers_precision():
    labels, scores = [1, 0, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.3, 0.2, 0.1]
    (balanced,) = flag_rate_metrics(labels, scores, [0.5])
    (rare,) = flag_rate_metrics(labels, scores, [0.5], prevalence=0.05)
    assert balanced.precision == pytest.approx(2 / 3)
    # budget 3 at π = 0.05: fake weights 0.1, genuine 1.9 → 0.1 + 1.9 + 0.1 + (0.9 of the genuine at 0.3).
    assert rare.precision == pytest.approx(0.2 / 3)
    assert rare.recall == pytest.approx(2 / 3)


def test_default_flag_rates_and_result_fields():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 1000)
    results = flag_rate_metrics(labels, rng.random(1000) + labels)
    assert [r.flag_rate for r in results] == [0.005, 0.01, 0.02, 0.05, 0.10]
    assert results[0].precision_low is None
    assert set(results[0].to_dict()) >= {"flag_rate", "threshold", "precision", "recall", "n_flagged"}


def test_bootstrap_bounds_are_seeded_and_bracket_the_estimate():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    scores = rng.random(400) + 0.5 * labels
    groups = np.arange(400) // 10
    a = flag_rate_metrics(labels, scores, [0.1], n_boot=200, seed=3)
    b = flag_rate_metrics(labels, scores, [0.1], n_boot=200, seed=3)
    c = flag_rate_metrics(labels, scores, [0.1], n_boot=200, seed=3, groups=groups)
    assert a == b
    assert a != c
    r = a[0]
    assert r.precision_low <= r.precision <= r.precision_high
    assert r.recall_low <= r.recall <= r.recall_high
    assert r.confidence == 0.95


def test_bootstrap_ci_generic_statistic():
    labels = [0, 1] * 50
    scores = np.linspace(0, 1, 100)
    low, high = bootstrap_ci(labels, scores, roc_auc, n_boot=100, seed=0)
    assert low.shape == (1,)
    assert 0 <= low[0] <= roc_auc(labels, scores) <= high[0] <= 1


def test_ranking_metrics_match_hand_values():
    labels, scores = [1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]
    # Pairs (fake > genuine): (0.9>0.8), (0.9>0.1), (0.3>0.1); (0.3<0.8) → 3/4.
    assert roc_auc(labels, scores) == pytest.approx(0.75)
    # AP = 0.5·1 + 0.5·(2/3).
    assert average_precision(labels, scores) == pytest.approx(0.5 + 1 / 3)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)


def test_ranking_metrics_agree_with_scikit_learn():
    from sklearn import metrics as sklearn_metrics  # a core dependency: a failed import must fail

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * labels, 1)  # many ties
    weights = review_weights(labels, 0.05)
    assert roc_auc(labels, scores) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores))
    assert average_precision(labels, scores) == pytest.approx(
        sklearn_metrics.average_precision_score(labels, scores)
    )
    assert average_precision(labels, scores, prevalence=0.05) == pytest.approx(
        sklearn_metrics.average_precision_score(labels, scores, sample_weight=weights)
    )


def test_threshold_metrics():
    m = threshold_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], threshold=0.5)
    assert (m.accuracy, m.precision, m.recall, m.f1, m.n_flagged) == (0.5, 0.5, 0.5, 0.5, 2)
    exact = threshold_metrics([1, 0], [0.5, 0.4], threshold=0.5)  # score == threshold is flagged
    assert exact.recall == 1.0
    none = threshold_metrics([1, 0], [0.2, 0.1], threshold=0.5)
    assert (none.precision, none.f1) == (0.0, 0.0)


def test_calibration_metrics():
    labels = [1, 0, 1, 0]
    probs = [0.95, 0.05, 0.95, 0.05]
    # Bin 0: mean 0.05, share of fakes 0; bin 9: mean 0.95, share 1 → ECE 0.05.
    assert expected_calibration_error(labels, probs) == pytest.approx(0.05)
    assert brier_score(labels, probs) == pytest.approx(0.05**2)
    mean_prob, frac_fake, count = reliability_bins(labels, probs, n_bins=2)
    np.testing.assert_allclose(mean_prob, [0.05, 0.95])
    np.testing.assert_allclose(frac_fake, [0.0, 1.0])
    assert count.tolist() == [2, 2]


# ------------------------------------------------------------------------ properties

_cases = st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda ys: 0 < sum(ys) < len(ys)),
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]), min_size=n, max_size=n),
        st.randoms(use_true_random=False),
        st.one_of(st.none(), st.floats(0.01, 0.99)),
    )
)


@settings(max_examples=150, deadline=None)
@given(_cases)
def test_flag_rate_properties(case):
    labels, scores, rnd, prevalence = case
    rates = [0.01, 0.05, 0.1, 0.2, 0.33, 0.5, 0.75, 1.0]
    results = flag_rate_metrics(labels, scores, rates, prevalence)
    recalls = [r.recall for r in results]
    assert all(b >= a - 1e-12 for a, b in zip(recalls, recalls[1:], strict=False)), recalls
    assert all(0.0 <= r.precision <= 1.0 and 0.0 <= r.recall <= 1.0 for r in results)
    assert results[-1].recall == pytest.approx(1.0)
    thresholds = [r.threshold for r in results]
    assert all(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False))
    assert [r.n_flagged for r in results] == sorted(r.n_flagged for r in results)
    # Order independence: a permutation changes nothing.
    perm = list(range(len(labels)))
    rnd.shuffle(perm)
    shuffled = flag_rate_metrics([labels[i] for i in perm], [scores[i] for i in perm], rates, prevalence)
    for a, b in zip(results, shuffled, strict=True):
        assert a.threshold == b.threshold
        assert a.n_flagged == b.n_flagged
        assert a.precision == pytest.approx(b.precision, abs=1e-12)
        assert a.recall == pytest.approx(b.recall, abs=1e-12)


# ------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("labels", "scores", "kwargs", "message"),
    [
        ([1, 0], [0.5], {}, r"different lengths \(2 vs 1\)"),
        ([], [], {}, r"empty input"),
        ([1, 0, 2], [0.1, 0.2, 0.3], {}, r"labels must be 0/1 \(1 = fake\), got values \[2\]"),
        (["fake", "genuine"], [0.1, 0.2], {}, r"labels must be 0/1 numbers"),
        (
            [1, 0],
            [float("nan"), 0.2],
            {},
            r"scores must be finite: 1 NaN or infinite score\(s\), first at index 0",
        ),
        ([1, 0], [0.1, float("inf")], {}, r"scores must be finite"),
        ([0, 0], [0.1, 0.2], {}, r"no fakes among the 2 labels"),
        ([1, 1], [0.1, 0.2], {}, r"no genuine reviews among the 2 labels"),
        ([1, 0], [0.1, 0.2], {"flag_rates": [0.0]}, r"flag rate 0.0 is outside \(0, 1\]"),
        ([1, 0], [0.1, 0.2], {"flag_rates": [1.5]}, r"flag rate 1.5 is outside \(0, 1\]"),
        ([1, 0], [0.1, 0.2], {"flag_rates": []}, r"flag_rates is empty"),
        ([1, 0], [0.1, 0.2], {"prevalence": 0.0}, r"prevalence 0.0 is outside \(0, 1\)"),
        ([1, 0], [0.1, 0.2], {"prevalence": 1.0}, r"prevalence 1.0 is outside \(0, 1\)"),
        ([1, 0], [0.1, 0.2], {"n_boot": -1}, r"n_boot must be a positive integer"),
        ([1, 0], [0.1, 0.2], {"n_boot": 10, "groups": [1]}, r"groups has 1 entries for 2 reviews"),
    ],
)
def test_bad_inputs_raise(labels, scores, kwargs, message):
    with pytest.raises(ValueError, match=message):
        flag_rate_metrics(labels, scores, **kwargs)


def test_bad_probabilities_raise():
    with pytest.raises(ValueError, match=r"need probabilities P\(fake\) in \[0, 1\]"):
        expected_calibration_error([1, 0], [2.0, -1.0])
    with pytest.raises(ValueError, match=r"threshold must be a finite number"):
        threshold_metrics([1, 0], [0.2, 0.1], threshold=float("nan"))
