"""How well a ranking by predicted uplift finds the users a contact changes, on held-out users.

The curves are causalml's (`causalml.metrics.get_qini`, Radcliffe 2007; `get_cumgain`,
Gutierrez and Gerardy 2016), divided by the number of users so that campaigns of different
sizes compare (a test checks that they agree with causalml's). Users ranked best first; among
the top k, R returned and N users, t treated, c control:
- Qini curve Q(k) = (R_t(k) - R_c(k) N_t(k) / N_c(k)) / n: returns the contact added among the
  top k, per user of the whole group;
- Qini coefficient: the mean over k = 0..n of Q(k) - (k / n) Q(n), the area between the curve and
  random targeting; 0 for a ranking no better than chance, whatever the average effect;
- AUUC: the mean over k of (R_t(k) / N_t(k) - R_c(k) / N_c(k)) k / n, the area under the
  cumulative gain; random targeting scores about half the average effect;
- uplift in the top k%: treated minus control return rate among the top ceil(k% n) users.
A prefix with no control (or no treated) user yet is interpolated from 0, as causalml does.

Intervals come from a bootstrap of users with the ranking held fixed: the predictions are a
model's that never saw these users, so what varies is which users were observed. Resampled
positions are sorted, which keeps each resample in ranking order without sorting it again.

Cross-fitted predictions (each fold scored by a model fitted on the other folds) are judged
fold by fold and averaged, interval bounds too. Pooling them into one bootstrap is not valid:
the fold models share training users, so their folds' numbers move together (fold A's model
learned fold B's noise and fold B's learned A's: both scores contain the same cross term). On
a campaign with no effect the pooled interval excluded 0 for 4 of 7 treatment assignments;
the fold scores' spread across assignments was that of one fold, as if fully correlated.
Averaging the bounds is exact for fully correlated folds and conservative otherwise.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

Floats = npt.NDArray[np.float64]
DECILES = 10


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class HeldOut:
    """Every number `winback uplift fit` reports for one strategy's held-out users."""

    users: int
    treated: int
    qini: Estimate
    auuc: Estimate
    average_uplift: Estimate  # treated minus control return rate over all users
    top: dict[float, Estimate]  # percent -> uplift among the top percent
    curve: pd.DataFrame  # share (of users, 0..1), qini, random, low, high
    deciles: pd.DataFrame  # decile, users, predicted, observed, low, high


def _interpolated_from_zero(values: Floats) -> Floats:
    """A curve (last axis, k = 0..n, 0 at k = 0) whose first points after 0 are NaN (no control
    or treated user yet): linear from 0 to the first defined point, as pandas' interpolate does
    for causalml. Only a prefix can be undefined: once both groups appear they stay."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    first = 1 + np.argmax(~missing[..., 1:], axis=-1)
    k = np.arange(values.shape[-1])
    anchor = np.take_along_axis(values, first[..., None], axis=-1)
    ramp = anchor * k / first[..., None]
    filled = np.where(missing & (k < first[..., None]), ramp, values)
    return np.nan_to_num(filled, nan=0.0)  # a row with no defined point at all


@dataclass(frozen=True)
class Prefix:
    """N_t, N_c, R_t, R_c of the top k users for k = 0..n (last axis), users in ranking order."""

    n_t: Floats
    n_c: Floats
    r_t: Floats
    r_c: Floats

    @classmethod
    def of(cls, treated: Floats, returned: Floats) -> Prefix:
        pad = [(0, 0)] * (treated.ndim - 1) + [(1, 0)]
        parts = (treated, 1 - treated, treated * returned, (1 - treated) * returned)
        return cls(*(np.pad(np.cumsum(part, axis=-1), pad) for part in parts))

    @property
    def users(self) -> int:
        return self.n_t.shape[-1] - 1

    def qini_curve(self) -> Floats:
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(self.n_c > 0, self.r_t - self.r_c * self.n_t / self.n_c, np.nan)
        gain[..., 0] = 0.0
        return _interpolated_from_zero(gain) / self.users

    def lift(self, at: int | slice = slice(None)) -> Floats:
        n_t, n_c, r_t, r_c = (part[..., at] for part in (self.n_t, self.n_c, self.r_t, self.r_c))
        return _lift(n_t, n_c, r_t, r_c)

    def auuc(self) -> Floats:
        lift = self.lift()
        lift[..., 0] = 0.0
        k = np.arange(lift.shape[-1])
        result: Floats = (_interpolated_from_zero(lift) * k).mean(axis=-1) / self.users
        return result

    def top_uplift(self, percent: float) -> Floats:
        """Treated minus control return rate among the top ceil(percent% of n) users."""
        return self.lift(max(1, math.ceil(percent / 100 * self.users)))


def _lift(n_t: Floats, n_c: Floats, r_t: Floats, r_c: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        result: Floats = np.where((n_t > 0) & (n_c > 0), r_t / n_t - r_c / n_c, np.nan)
    return result


def area_over_random(curve: Floats) -> Floats:
    """The Qini coefficient of a Qini curve: its mean height above the random line."""
    random = np.linspace(0.0, 1.0, curve.shape[-1]) * curve[..., -1:]
    result: Floats = (curve - random).mean(axis=-1)
    return result


def qini_coefficient(treated: Floats, returned: Floats) -> Floats:
    """Of users already in ranking order (last axis)."""
    return area_over_random(Prefix.of(treated, returned).qini_curve())


def auuc(treated: Floats, returned: Floats) -> Floats:
    """Of users already in ranking order (last axis)."""
    return Prefix.of(treated, returned).auuc()


def _decile_sums(treated: Floats, returned: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    """N_t, N_c, R_t, R_c per decile of the ranking (last axis: 10 deciles, best first)."""
    n = treated.shape[-1]
    starts = np.floor(np.arange(DECILES) * n / DECILES).astype(np.int64)
    parts = (treated, 1 - treated, treated * returned, (1 - treated) * returned)
    n_t, n_c, r_t, r_c = (np.add.reduceat(part, starts, axis=-1) for part in parts)
    return n_t, n_c, r_t, r_c


def _interval(draws: Floats, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    kept = draws[np.isfinite(draws)]
    if not kept.size:
        return math.nan, math.nan
    low, high = np.percentile(kept, [tail, 100 - tail])
    return float(low), float(high)


def _estimate(point: Floats, draws: Floats, confidence: float) -> Estimate:
    return Estimate(float(point), *_interval(draws, confidence))


def _ranked(
    score: Floats, treated: npt.ArrayLike, returned: npt.ArrayLike
) -> tuple[Floats, Floats, Floats]:
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    ranked_score = np.asarray(score, dtype=np.float64)[order]
    ranked_treated = np.asarray(treated, dtype=np.float64)[order]
    return ranked_score, ranked_treated, np.asarray(returned, dtype=np.float64)[order]


def evaluate(
    score: npt.ArrayLike,
    treated: npt.ArrayLike,
    returned: npt.ArrayLike,
    top_percent: Sequence[float],
    rounds: int,
    seed: int,
    confidence: float = 0.95,
) -> HeldOut:
    """Qini, AUUC, average and top-k uplift with `confidence` intervals, the Qini curve and
    uplift by decile of predicted uplift: `score` is each user's held-out prediction."""
    predicted, t, y = _ranked(np.asarray(score, dtype=np.float64), treated, returned)
    n = len(t)
    if n < DECILES:
        raise ValueError(f"{n} users are too few to rank (at least {DECILES})")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.integers(0, n, size=(rounds, n)), axis=1)
    bt, by = t[picks], y[picks]
    point, draws = Prefix.of(t, y), Prefix.of(bt, by)

    point_curve, curve_draws = point.qini_curve(), draws.qini_curve()
    tail = (1 - confidence) / 2 * 100
    low_curve, high_curve = np.percentile(curve_draws, [tail, 100 - tail], axis=0)
    share = np.arange(n + 1) / n
    curve = pd.DataFrame(
        {
            "share": share,
            "qini": point_curve,
            "random": share * point_curve[-1],
            "low": low_curve,
            "high": high_curve,
        }
    )
    return HeldOut(
        users=n,
        treated=int(t.sum()),
        qini=_estimate(area_over_random(point_curve), area_over_random(curve_draws), confidence),
        auuc=_estimate(point.auuc(), draws.auuc(), confidence),
        average_uplift=_estimate(point.lift(n), draws.lift(n), confidence),
        top={
            k: _estimate(point.top_uplift(k), draws.top_uplift(k), confidence) for k in top_percent
        },
        curve=curve,
        deciles=_deciles(predicted, t, y, bt, by, confidence),
    )


def _mean(estimates: Sequence[Estimate]) -> Estimate:
    return Estimate(
        float(np.mean([e.value for e in estimates])),
        float(np.mean([e.low for e in estimates])),
        float(np.mean([e.high for e in estimates])),
    )


def cross_fitted(
    score: npt.ArrayLike,
    fold: npt.ArrayLike,
    treated: npt.ArrayLike,
    returned: npt.ArrayLike,
    top_percent: Sequence[float],
    rounds: int,
    seed: int,
    confidence: float = 0.95,
) -> HeldOut:
    """`evaluate` per fold, numbers and bounds averaged over folds (see the module doc); the
    curve and deciles, which only draw the picture, are those of all users ranked together."""
    folds = np.asarray(fold)
    scores, groups, outcomes = (np.asarray(v) for v in (score, treated, returned))
    per_fold = []
    for i, k in enumerate(np.unique(folds)):
        mine = folds == k
        per_fold.append(
            evaluate(
                scores[mine],
                groups[mine],
                outcomes[mine],
                top_percent,
                rounds,
                seed + i,
                confidence,
            )
        )
    pooled = evaluate(scores, groups, outcomes, top_percent, rounds, seed, confidence)
    return HeldOut(
        users=pooled.users,
        treated=pooled.treated,
        qini=_mean([f.qini for f in per_fold]),
        auuc=_mean([f.auuc for f in per_fold]),
        average_uplift=_mean([f.average_uplift for f in per_fold]),
        top={k: _mean([f.top[k] for f in per_fold]) for k in top_percent},
        curve=pooled.curve,
        deciles=pooled.deciles,
    )


def _deciles(
    predicted: Floats, t: Floats, y: Floats, bt: Floats, by: Floats, confidence: float
) -> pd.DataFrame:
    n = len(t)
    starts = np.floor(np.arange(DECILES + 1) * n / DECILES).astype(np.int64)
    observed = _lift(*_decile_sums(t, y))
    draws = _lift(*_decile_sums(bt, by))
    bounds = [_interval(draws[:, d], confidence) for d in range(DECILES)]
    return pd.DataFrame(
        {
            "decile": np.arange(1, DECILES + 1),
            "users": np.diff(starts),
            "predicted": [predicted[a:b].mean() for a, b in itertools.pairwise(starts)],
            "observed": observed,
            "low": [low for low, _ in bounds],
            "high": [high for _, high in bounds],
        }
    )
