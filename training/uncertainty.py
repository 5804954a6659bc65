"""How sure each deciding number is: bootstrap intervals on the test snapshot, paired
differences against the baselines, and Braze's lift quality.

A test AUC of 0.72 against a baseline's 0.71 decides nothing until we know how much either
moves when the test users are resampled. The bootstrap redraws the test rows with replacement;
a resample is just a count per row, so every metric here is written for row weights and
evaluated for many resamples at once (one sort per score, then cumulative sums), which keeps
a thousand rounds on ~100k rows in seconds instead of the minutes sklearn calls would take.
The point estimates are always the plain metrics on the full data (sklearn and
`training.metrics`); only the spread comes from the vectorised code, which the tests pin to
sklearn's weighted metrics.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score

from training.metrics import ECE_BINS, expected_calibration_error

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Weights = npt.NDArray[Any]  # row counts (integers, exact) or any non-negative floats
PairedMetric = Literal["roc_auc", "pr_auc"]
BOOTSTRAPPED = ("roc_auc", "pr_auc", "ece")

# Resampled rows held at once (rounds x rows): 1 MB per array, so a chunk's dozen temporaries
# stay in cache, and fresh multi-megabyte arrays (page faults, measured to dominate on a busy
# host) are never allocated. Big enough that numpy's per-call overhead is small.
CHUNK_CELLS = 1 << 17


@dataclass(frozen=True)
class Interval:
    """A point estimate on the full data with a bootstrap percentile interval around it."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def excludes_zero(self) -> bool:
        """For a difference: the sign is settled at this confidence."""
        return not self.contains(0.0)

    def __str__(self) -> str:
        return f"{self.estimate:.4f} [{self.low:.4f}, {self.high:.4f}]"


@dataclass(frozen=True)
class Ranking:
    """One score's rows sorted once, riskiest first, and where its churners sit: reweighting
    the rows is then two integer cumulative sums and a few gathers.

    Both ranking metrics are sums over the tie groups that hold a churner (a group without
    one adds no recall and no ranked pair of its own), so only those groups are tracked.
    `bin_starts` are the ECE bins (equal width, as `training.metrics`), contiguous in this
    order because the score is the probability."""

    order: Ints  # row indices by descending score (stable)
    churners: Ints  # sorted positions of the churners
    residual: Floats  # label minus score, in sorted order (used only for ECE)
    bin_starts: Ints  # sorted position where each non-empty ECE bin starts
    ties: _Ties | None  # None when no two scores are equal

    @classmethod
    def of(cls, y: Floats, score: Floats, bins: int = ECE_BINS) -> Ranking:
        y = np.asarray(y, dtype=np.float64)
        score = np.asarray(score, dtype=np.float64)
        if y.shape != score.shape or y.ndim != 1:
            raise ValueError("one score per label, both 1-d")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("labels must be 0 or 1")
        order = np.argsort(-score, kind="stable")
        ordered, label = score[order], y[order]
        churners = np.flatnonzero(label)
        edges = np.linspace(0.0, 1.0, bins + 1)
        index = np.clip(np.digitize(ordered, edges[1:-1]), 0, bins - 1)
        bin_starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        new_group = np.r_[True, ordered[1:] != ordered[:-1]]
        ties = None if new_group.all() else _Ties.of(new_group, churners)
        return cls(order, churners, label - ordered, bin_starts, ties)


@dataclass(frozen=True)
class _Ties:
    """The tie groups holding a churner, as positions into the sorted rows (`end`, `before`)
    and into the churners (`first`, `last`)."""

    first: Ints  # each group's first churner, as an index into `Ranking.churners`
    last: Ints  # each group's last churner, likewise
    end: Ints  # sorted position of each group's last row
    before: Ints  # sorted position of the row just above each group (-1: none)

    @classmethod
    def of(cls, new_group: npt.NDArray[np.bool_], churners: Ints) -> _Ties:
        group = np.cumsum(new_group) - 1  # group id of each sorted row
        starts = np.flatnonzero(new_group)
        ends = np.r_[starts[1:], len(new_group)] - 1
        of_churner = group[churners]
        first = np.flatnonzero(np.r_[True, of_churner[1:] != of_churner[:-1]])
        last = np.r_[first[1:], len(churners)] - 1
        held = of_churner[first]
        return cls(first, last, ends[held], starts[held] - 1)


@dataclass(frozen=True)
class Tallies:
    """Weighted counts for many weightings at once (rounds x groups holding a churner,
    riskiest first): what both ranking metrics are made of."""

    positive: Weights  # churners in the group
    tied: Weights | None  # non-churners in the group (tied with its churners); None: no ties
    caught: Weights  # churners at or above the group
    flagged: Weights  # rows at or above the group
    churners: Weights  # all churners, per weighting (rounds,)
    others: Weights  # all non-churners, per weighting (rounds,)

    @classmethod
    def of(cls, ranking: Ranking, weights: Weights) -> Tallies:
        """`weights` (rounds x rows) in sorted order. Integer counts keep every sum an exact
        integer, and numpy's integer cumsum is several times faster than its float one."""
        flagged_rows = np.cumsum(weights, axis=1)
        positive_rows = weights[:, ranking.churners]
        caught_rows = np.cumsum(positive_rows, axis=1)
        churners = caught_rows[:, -1] if caught_rows.shape[1] else np.zeros(len(weights))
        others = flagged_rows[:, -1] - churners
        ties = ranking.ties
        if ties is None:
            positive, tied = positive_rows, None
            caught, flagged = caught_rows, flagged_rows[:, ranking.churners]
        else:
            positive = np.add.reduceat(positive_rows, ties.first, axis=1)
            caught, flagged = caught_rows[:, ties.last], flagged_rows[:, ties.end]
            above = flagged_rows[:, np.maximum(ties.before, 0)] * (ties.before >= 0)
            tied = flagged - above - positive
        return cls(positive, tied, caught, flagged, churners, others)


def _ratio(numerator: Weights, denominator: Weights) -> Floats:
    """A weighting without both classes has no AUC: NaN, dropped from the quantiles."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _roc_auc(t: Tallies) -> Floats:
    """Weighted share of (churner, non-churner) pairs ordered right, a tie counting half:
    sklearn's trapezoid under the ROC curve, exactly. Each group's churners beat the
    non-churners below it, `others - (flagged - caught)`; counted twice to stay integer."""
    beaten = 2 * (t.others[:, None] - (t.flagged - t.caught))
    if t.tied is not None:
        beaten += t.tied
    pairs = (t.positive * beaten).sum(axis=1)
    return _ratio(pairs, 2 * t.churners * t.others)


def _average_precision(t: Tallies) -> Floats:
    """sklearn's average precision: the precision at each distinct threshold (a tie group
    enters whole), weighted by the recall it adds."""
    precision = np.zeros(np.shape(t.caught))
    np.divide(t.caught, t.flagged, out=precision, where=t.flagged > 0)
    return _ratio((t.positive * precision).sum(axis=1), t.churners)


def _ece(ranking: Ranking, weights: Weights) -> Floats:
    """Sum over bins of |weighted churners - weighted probability| over the total weight: the
    bin-size-weighted mean gap of `expected_calibration_error`."""
    gaps = np.add.reduceat(weights * ranking.residual, ranking.bin_starts, axis=1)
    return _ratio(np.abs(gaps).sum(axis=1), weights.sum(axis=1))


def weighted_roc_auc(ranking: Ranking, weights: Weights) -> Floats:
    """ROC AUC for each row of `weights` (rounds x rows, in `ranking`'s sorted order)."""
    return _roc_auc(Tallies.of(ranking, weights))


def weighted_average_precision(ranking: Ranking, weights: Weights) -> Floats:
    """Average precision (PR AUC) for each row of `weights`, in `ranking`'s sorted order."""
    return _average_precision(Tallies.of(ranking, weights))


def weighted_ece(ranking: Ranking, weights: Weights) -> Floats:
    """Expected calibration error for each row of `weights`, in `ranking`'s sorted order."""
    return _ece(ranking, weights)


def _resamples(rows: int, rounds: int, seed: int) -> Iterator[Weights]:
    """Bootstrap resamples as integer row counts in row order (multinomial: `rows` draws with
    replacement), a chunk of rounds at a time. Drawn in row order, so the resample of a given
    (rows, rounds, seed) is the same whichever scores are measured on it."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK_CELLS // max(rows, 1))
    for first in range(0, rounds, per_chunk):
        chunk = min(per_chunk, rounds - first)
        drawn = rng.integers(0, rows, size=(chunk, rows))
        drawn += np.arange(chunk)[:, None] * rows
        yield np.bincount(drawn.ravel(), minlength=chunk * rows).reshape(chunk, rows)


def _estimate(metric: str, y: Floats, score: Floats) -> float:
    if metric == "roc_auc":
        return float(roc_auc_score(y, score))
    if metric == "pr_auc":
        return float(average_precision_score(y, score))
    return expected_calibration_error(y, score)


def _interval(estimate: float, replicates: Floats, confidence: float) -> Interval:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1.0 - confidence) / 2.0
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return Interval(estimate, np.nan, np.nan)
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(estimate), float(low), float(high))


@dataclass(frozen=True)
class Bootstrap:
    """Every scorer's metrics on the same resamples of the test rows: intervals for each, and
    paired differences between any two at no extra cost (the replicates just subtract)."""

    estimates: dict[str, dict[str, float]]  # scorer -> metric -> value on the full data
    replicates: dict[str, dict[str, Floats]]  # scorer -> metric -> value per resample

    def interval(self, scorer: str, metric: str, confidence: float = 0.95) -> Interval:
        estimate = self.estimates[scorer][metric]
        return _interval(estimate, self.replicates[scorer][metric], confidence)

    def intervals(self, scorer: str, confidence: float = 0.95) -> dict[str, Interval]:
        return {m: self.interval(scorer, m, confidence) for m in self.estimates[scorer]}

    def difference(self, a: str, b: str, metric: str, confidence: float = 0.95) -> Interval:
        """metric(a) - metric(b), paired: both measured on each resample."""
        estimate = self.estimates[a][metric] - self.estimates[b][metric]
        paired = self.replicates[a][metric] - self.replicates[b][metric]
        return _interval(estimate, paired, confidence)


def bootstrap(
    y: Floats,
    scores: Mapping[str, Floats],
    probabilities: Collection[str] = (),
    rounds: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = BOOTSTRAPPED,
) -> Bootstrap:
    """One resampling for all scorers: ROC AUC and PR AUC for each, ECE for those named in
    `probabilities` (ECE means nothing for a rank-only score). Each scorer is measured once
    per resample and the paired differences are free, so this is several times faster than
    one `bootstrap_intervals`/`paired_difference` call per number (each draws the resamples
    again and re-measures the model), with identical results for the same seed."""
    y = np.asarray(y, dtype=np.float64)
    arrays = {name: np.asarray(score, dtype=np.float64) for name, score in scores.items()}
    if any(score.shape != y.shape for score in arrays.values()):
        raise ValueError("every score needs one value per label")
    unknown = set(metrics) - set(BOOTSTRAPPED)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}")
    wanted = {name: [m for m in metrics if m != "ece" or name in probabilities] for name in arrays}
    rankings = {name: Ranking.of(y, score) for name, score in arrays.items()}
    parts: dict[str, dict[str, list[Floats]]] = {
        name: {m: [] for m in wanted[name]} for name in arrays
    }
    for counts in _resamples(len(y), rounds, seed):
        for name, ranking in rankings.items():
            weights = counts[:, ranking.order]
            tallies = None if wanted[name] == ["ece"] else Tallies.of(ranking, weights)
            for metric in wanted[name]:
                if metric == "ece":
                    parts[name][metric].append(_ece(ranking, weights))
                elif metric == "roc_auc":
                    parts[name][metric].append(_roc_auc(cast(Tallies, tallies)))
                else:
                    parts[name][metric].append(_average_precision(cast(Tallies, tallies)))
    return Bootstrap(
        estimates={
            name: {m: _estimate(m, y, arrays[name]) for m in wanted[name]} for name in arrays
        },
        replicates={
            name: {m: np.concatenate(p) if p else np.empty(0) for m, p in metric_parts.items()}
            for name, metric_parts in parts.items()
        },
    )


def bootstrap_intervals(
    y: Floats,
    score: Floats,
    is_probability: bool,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals for ROC AUC, PR AUC and (probabilities only) ECE, each
    around the plain metric on the full data.

    ECE is biased upwards under resampling (noise only ever widens |observed - predicted|),
    so for a well-calibrated model the interval can sit above the estimate: read it as how
    large the calibration error plausibly is, not as centred on the estimate."""
    name = "score"
    result = bootstrap(y, {name: score}, [name] if is_probability else [], rounds, seed)
    return result.intervals(name, confidence)


def paired_difference(
    y: Floats,
    score_a: Floats,
    score_b: Floats,
    metric: PairedMetric,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """metric(a) - metric(b), both computed on the same resamples: the users that make one
    score look good make the other look good too, so the paired interval is far narrower than
    two separate intervals suggest, and "does the model beat the baseline" is whether it
    excludes zero."""
    result = bootstrap(y, {"a": score_a, "b": score_b}, (), rounds, seed, metrics=[metric])
    return result.difference("a", "b", metric, confidence)


def _gains_points(y: Floats, score: Floats) -> tuple[Floats, Floats]:
    """The cumulative gains curve's corners: (share of users contacted, share of churners
    caught), riskiest first, from (0, 0). A tie group enters whole, so the curve is straight
    across it: the expected curve under random tie-breaking, independent of row order."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or not 0.0 < y.sum() < len(y):
        raise ValueError("gains need both churners and non-churners")
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    ordered = score[order]
    ends = np.r_[ordered[1:] != ordered[:-1], True]  # each tie group's last row
    caught = np.r_[0.0, np.cumsum(y[order])[ends]] / y.sum()
    contacted = np.r_[0.0, np.flatnonzero(ends) + 1.0] / len(y)
    return contacted, caught


def lift_curve(y: Floats, score: Floats, sizes: Sequence[float] | Floats) -> Floats:
    """Lift at each audience share in `sizes` (0 < share <= 1): the churn rate among the top
    share by score over the base rate (1 = random). Ties straddling the cut count at their
    group's churn rate, so unlike `metrics.top_flags` row order never matters."""
    shares = np.asarray(sizes, dtype=np.float64)
    if np.any((shares <= 0) | (shares > 1)):
        raise ValueError("audience shares must be in (0, 1]")
    contacted, caught = _gains_points(y, score)
    return np.interp(shares, contacted, caught) / shares


def lift_quality(y: Floats, score: Floats) -> float:
    """Braze's "prediction quality": how much better than random the score is over all
    audience sizes, 0 = random, 1 = perfect knowledge, negative = worse than random.

    Precisely: with G(x) the cumulative gains curve (share of churners among the top x of
    users, ties entering as a group) and base rate p, it is the area between G and the random
    diagonal over the same area for the perfect curve min(x / p, 1):
        (integral_0^1 G(x) dx - 1/2) / ((1 - p) / 2).
    This is the CAP "accuracy ratio", and it equals 2 * ROC AUC - 1 exactly (ties as half), so
    its uncertainty is the AUC interval's, mapped."""
    contacted, caught = _gains_points(y, score)
    area = float(np.sum(np.diff(contacted) * (caught[1:] + caught[:-1]) / 2.0))
    base_rate = float(np.mean(y))
    return (area - 0.5) / ((1.0 - base_rate) / 2.0)


@dataclass(frozen=True)
class CalibrationBins:
    """The reliability diagram's numbers, on the same bins as `expected_calibration_error`."""

    count: Ints  # rows per bin (all bins, empty ones too)
    predicted: Floats  # mean probability per bin (NaN when empty)
    observed: Floats  # churn rate per bin (NaN when empty)


def calibration_bins(y: Floats, probability: Floats, bins: int = ECE_BINS) -> CalibrationBins:
    """Equal-width bins, assigned exactly as `training.metrics` does, so the diagram's counts
    are the weights ECE uses."""
    y = np.asarray(y, dtype=np.float64)
    probability = np.asarray(probability, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(index, probability, minlength=bins) / count
        observed = np.bincount(index, y, minlength=bins) / count
    return CalibrationBins(count.astype(np.intp), predicted, observed)
