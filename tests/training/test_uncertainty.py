"""The vectorised bootstrap is sklearn's metrics, reweighted: with unit weights each equals
sklearn to 1e-12 (ties included), with integer weights it equals sklearn on repeated rows;
the intervals and lift quality behave as their definitions say."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training import uncertainty
from training.metrics import expected_calibration_error
from training.uncertainty import (
    Interval,
    PairedMetric,
    Ranking,
    bootstrap,
    bootstrap_intervals,
    calibration_bins,
    lift_curve,
    lift_quality,
    paired_difference,
    weighted_average_precision,
    weighted_ece,
    weighted_roc_auc,
)

Data = tuple[np.ndarray, np.ndarray]


def sample(rows: int, seed: int, decimals: int | None = None) -> Data:
    """Churn labels and probabilities that rank them well but not perfectly; `decimals`
    rounds the scores, so many rows tie."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=rows)
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-(1.5 * risk - 1)))).astype(float)
    probability = 1 / (1 + np.exp(-(risk + rng.normal(0, 0.7, rows) - 1)))
    if decimals is not None:
        probability = np.round(probability, decimals)
    return y, probability


TIES = [None, 3, 2, 1]  # none, a few, many, almost all rows tied


def sklearn_metrics(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    return np.array(
        [
            roc_auc_score(y, score, sample_weight=weight),
            average_precision_score(y, score, sample_weight=weight),
        ]
    )


def ours(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(ROC AUC, PR AUC, ECE) per row of `weights`, given in row order."""
    ranking = Ranking.of(y, score)
    sorted_weights = weights[:, ranking.order]
    return np.stack(
        [
            weighted_roc_auc(ranking, sorted_weights),
            weighted_average_precision(ranking, sorted_weights),
            weighted_ece(ranking, sorted_weights),
        ],
        axis=1,
    )


@pytest.mark.parametrize("decimals", TIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unit_weights_equal_sklearn(decimals: int | None, seed: int) -> None:
    y, score = sample(3000, seed, decimals)
    got = ours(y, score, np.ones((1, len(y)), dtype=np.int64))[0]
    np.testing.assert_allclose(got[:2], sklearn_metrics(y, score, None), rtol=0, atol=1e-12)
    assert got[2] == pytest.approx(expected_calibration_error(y, score), abs=1e-12)


@pytest.mark.parametrize("decimals", TIES)
def test_integer_weights_equal_repeated_rows(decimals: int | None) -> None:
    y, score = sample(2000, 3, decimals)
    rng = np.random.default_rng(4)
    weights = rng.poisson(1.0, size=(5, len(y)))  # zeros included: rows left out
    got = ours(y, score, weights)
    for row, weight in zip(got, weights, strict=True):
        repeated_y, repeated_score = np.repeat(y, weight), np.repeat(score, weight)
        expected = sklearn_metrics(repeated_y, repeated_score, None)
        np.testing.assert_allclose(row[:2], expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            row[:2], sklearn_metrics(y, score, weight.astype(float)), rtol=0, atol=1e-12
        )
        ece = expected_calibration_error(repeated_y, repeated_score)
        assert row[2] == pytest.approx(ece, abs=1e-12)


def test_float_weights_equal_sklearn_sample_weight() -> None:
    y, score = sample(1500, 5, decimals=2)
    weight = np.random.default_rng(6).exponential(size=len(y))
    got = ours(y, score, weight[None, :])[0]
    np.testing.assert_allclose(got[:2], sklearn_metrics(y, score, weight), rtol=0, atol=1e-12)


def test_a_weighting_without_churners_has_no_auc() -> None:
    y, score = sample(200, 7)
    weights = np.ones((2, len(y)), dtype=np.int64)
    weights[1, y == 1] = 0
    got = ours(y, score, weights)
    assert np.isfinite(got[0]).all()
    assert np.isnan(got[1, :2]).all()


@pytest.fixture(scope="module")
def test_snapshot() -> Data:
    return sample(20_000, 8)


def test_estimates_are_the_plain_metrics(test_snapshot: Data) -> None:
    y, score = test_snapshot
    intervals = bootstrap_intervals(y, score, is_probability=True, rounds=200)
    assert intervals["roc_auc"].estimate == roc_auc_score(y, score)
    assert intervals["pr_auc"].estimate == average_precision_score(y, score)
    assert intervals["ece"].estimate == expected_calibration_error(y, score)


def test_rank_only_scores_get_no_ece(test_snapshot: Data) -> None:
    y, score = test_snapshot
    rule: np.ndarray = np.round(10 * score)  # rank-only and tied
    assert set(bootstrap_intervals(y, rule, False, rounds=50)) == {"roc_auc", "pr_auc"}


def test_intervals_contain_the_estimate_and_shrink_with_rows() -> None:
    small = bootstrap_intervals(*sample(2_000, 9), is_probability=True, rounds=400)
    large = bootstrap_intervals(*sample(40_000, 9), is_probability=True, rounds=400)
    for name in ("roc_auc", "pr_auc"):
        assert small[name].contains(small[name].estimate)
        assert large[name].contains(large[name].estimate)
        assert large[name].high - large[name].low < 0.5 * (small[name].high - small[name].low)


def test_miscalibration_is_inside_its_ece_interval(test_snapshot: Data) -> None:
    y, score = test_snapshot
    ece = bootstrap_intervals(y, np.clip(score + 0.08, 0, 1), True, rounds=300)["ece"]
    assert ece.contains(ece.estimate)
    assert ece.low > 0.05


def test_the_same_seed_gives_the_same_intervals_whatever_the_chunking(
    test_snapshot: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    y, score = test_snapshot
    default = bootstrap_intervals(y, score, True, rounds=60, seed=3)
    monkeypatch.setattr(uncertainty, "CHUNK_CELLS", 7 * len(y) + 5)
    assert bootstrap_intervals(y, score, True, rounds=60, seed=3) == default
    assert bootstrap_intervals(y, score, True, rounds=60, seed=4) != default


def test_a_score_against_itself_differs_by_exactly_zero(test_snapshot: Data) -> None:
    y, score = test_snapshot
    for metric in ("roc_auc", "pr_auc"):
        assert paired_difference(y, score, score, metric, rounds=100) == Interval(0.0, 0.0, 0.0)


def test_a_clearly_better_score_is_paired_above_zero(test_snapshot: Data) -> None:
    y, score = test_snapshot
    noisy = score + np.random.default_rng(10).normal(0, 0.3, len(y))
    difference = paired_difference(y, score, noisy, "roc_auc", rounds=300)
    assert difference.estimate == pytest.approx(roc_auc_score(y, score) - roc_auc_score(y, noisy))
    assert difference.low > 0
    assert difference.excludes_zero
    reverse = paired_difference(y, noisy, score, "roc_auc", rounds=300)
    assert reverse.high < 0


def test_pairing_is_narrower_than_two_separate_intervals(test_snapshot: Data) -> None:
    """Both scores see the same users, so most of the resampling noise cancels."""
    y, score = test_snapshot
    other = score + np.random.default_rng(11).normal(0, 0.05, len(y))
    result = bootstrap(y, {"a": score, "b": other}, rounds=300)
    paired = result.difference("a", "b", "roc_auc")
    a, b = result.interval("a", "roc_auc"), result.interval("b", "roc_auc")
    assert paired.high - paired.low < 0.5 * ((a.high - a.low) + (b.high - b.low)) / 2


def test_one_resampling_for_all_equals_the_separate_calls(test_snapshot: Data) -> None:
    y, score = test_snapshot
    rule = -np.round(10 * score)  # rank-only, heavily tied
    together = bootstrap(y, {"model": score, "rule": rule}, ["model"], rounds=80, seed=2)
    assert together.intervals("model") == bootstrap_intervals(y, score, True, 80, 2)
    assert together.intervals("rule") == bootstrap_intervals(y, rule, False, 80, 2)
    metrics: tuple[PairedMetric, ...] = ("roc_auc", "pr_auc")
    for metric in metrics:
        separate = paired_difference(y, score, rule, metric, rounds=80, seed=2)
        assert together.difference("model", "rule", metric) == separate


def test_interval_reads_as_estimate_and_bounds() -> None:
    assert str(Interval(0.72381, 0.71012, 0.73719)) == "0.7238 [0.7101, 0.7372]"
    assert not Interval(0.01, -0.002, 0.03).excludes_zero


@pytest.mark.parametrize("decimals", TIES)
def test_lift_quality_is_the_gini_of_the_auc(decimals: int | None) -> None:
    y, score = sample(5000, 12, decimals)
    assert lift_quality(y, score) == pytest.approx(2 * roc_auc_score(y, score) - 1, abs=1e-12)


def test_lift_quality_perfect_random_reversed() -> None:
    y, score = sample(20_000, 13)
    assert lift_quality(y, y) == pytest.approx(1.0)
    assert lift_quality(y, y + score) == pytest.approx(1.0)  # any churner above any other
    random = np.random.default_rng(14).uniform(size=len(y))
    assert abs(lift_quality(y, random)) < 0.03
    assert lift_quality(y, np.zeros(len(y))) == pytest.approx(0.0)  # one big tie is random
    assert lift_quality(y, -y) == pytest.approx(-1.0)
    assert lift_quality(y, -score) == pytest.approx(-lift_quality(y, score))
    assert 0.3 < lift_quality(y, score) < 1


def test_lift_curve_is_the_top_share_churn_rate_over_the_base_rate() -> None:
    y, score = sample(10_000, 15)
    order = np.argsort(-score)
    shares = np.array([0.01, 0.1, 0.37, 1.0])
    expected = [y[order[: round(s * len(y))]].mean() / y.mean() for s in shares]
    np.testing.assert_allclose(lift_curve(y, score, shares), expected, rtol=1e-12)
    perfect = lift_curve(y, y, [y.mean() / 2, y.mean(), 1.0])
    np.testing.assert_allclose(perfect, [1 / y.mean(), 1 / y.mean(), 1.0])


def test_ties_never_depend_on_row_order() -> None:
    y, score = sample(4000, 16, decimals=1)
    shuffle = np.random.default_rng(17).permutation(len(y))
    shares = np.linspace(0.01, 1, 100)
    np.testing.assert_allclose(
        lift_curve(y, score, shares), lift_curve(y[shuffle], score[shuffle], shares), rtol=1e-12
    )
    assert lift_quality(y, score) == pytest.approx(lift_quality(y[shuffle], score[shuffle]))


def test_gains_need_both_classes() -> None:
    with pytest.raises(ValueError, match="both"):
        lift_quality(np.ones(10), np.arange(10.0))
    with pytest.raises(ValueError, match="shares"):
        lift_curve(np.r_[0.0, 1.0], np.r_[0.0, 1.0], [0.0])


def test_calibration_bins_are_the_ece_weights(test_snapshot: Data) -> None:
    y, probability = test_snapshot
    bins = calibration_bins(y, probability)
    assert bins.count.sum() == len(y)
    filled = bins.count > 0
    gaps = bins.count[filled] * np.abs(bins.observed[filled] - bins.predicted[filled])
    assert gaps.sum() / len(y) == pytest.approx(expected_calibration_error(y, probability))
