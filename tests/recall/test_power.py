"""Control groups sized by the power calculation find the planted effect as often as promised,
tested against the review's own test (Newcombe's interval excluding 0) on simulated campaigns."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recall.power import SHARE_STEP, control_share, minimum_detectable_effect, power
from recall.review import CONFIDENCE
from recall.stats import newcombe, z_value

ALPHA, TARGET = 1 - CONFIDENCE, 0.8
CAMPAIGNS_PER_SEED = 500


def detected(n_t: int, n_c: int, base: float, effect: float, campaigns: int, seed: int) -> float:
    """Share of simulated campaigns whose review calls the uplift significant."""
    rng = np.random.default_rng(seed)
    back_t = rng.binomial(n_t, base + effect, campaigns).astype(float)
    back_c = rng.binomial(n_c, base, campaigns).astype(float)
    size_t, size_c = np.full(campaigns, float(n_t)), np.full(campaigns, float(n_c))
    found = newcombe(back_t, size_t, back_c, size_c, z_value(CONFIDENCE))
    return float(((found.low > 0) | (found.high < 0)).mean())


def scenario(seed: int) -> tuple[int, float, float]:
    """A strategy: listed users, control return rate, minimum detectable effect."""
    rng = np.random.default_rng(seed)
    base = float(rng.uniform(0.05, 0.75))
    return int(rng.integers(1_500, 8_000)), base, float(rng.uniform(0.04, 0.12))


def test_power_sized_control_groups_detect_the_planted_effect_in_80_percent_of_campaigns() -> None:
    """Eight strategies (seeds), 500 campaigns each, the effect planted at exactly the MDE."""
    rates = []
    for seed in range(8):
        listed, base, effect = scenario(seed)
        share = control_share(listed, effect, base, ALPHA, TARGET, 0.05, 0.5)
        n_c = round(share * listed)
        rates.append(detected(listed - n_c, n_c, base, effect, CAMPAIGNS_PER_SEED, seed))
    assert np.mean(rates) >= 0.80, rates
    assert min(rates) >= 0.76, rates  # every strategy, within simulation noise of 80%
    assert np.mean(rates) <= 0.9, rates  # and not wastefully large


def test_the_smallest_share_that_reaches_the_power_is_chosen() -> None:
    share = control_share(4_000, 0.05, 0.3, ALPHA, TARGET, 0.05, 0.5)
    below = share - SHARE_STEP
    assert power(0.05, 0.3, 4_000 - round(share * 4_000), round(share * 4_000), ALPHA) >= TARGET
    assert power(0.05, 0.3, 4_000 - round(below * 4_000), round(below * 4_000), ALPHA) < TARGET


def test_too_few_users_get_the_largest_share_and_the_review_says_the_power_is_short() -> None:
    share = control_share(300, 0.05, 0.3, ALPHA, TARGET, 0.05, 0.5)
    assert share == 0.5 and power(0.05, 0.3, 150, 150, ALPHA) < 0.3


@settings(max_examples=40, deadline=None)
@given(
    base=st.floats(0.02, 0.8),
    treated=st.integers(50, 20_000),
    ratio=st.floats(0.1, 2.0),
)
def test_the_mde_is_the_effect_found_with_the_target_power(
    base: float, treated: int, ratio: float
) -> None:
    control = max(1, round(treated * ratio))
    mde = minimum_detectable_effect(base, treated, control, ALPHA, TARGET)
    if np.isnan(mde):  # not even the largest possible effect is found that often
        assert power(1 - base - 1e-9, base, treated, control, ALPHA) < TARGET
        return
    assert abs(power(mde, base, treated, control, ALPHA) - TARGET) < 1e-3
    assert power(mde * 0.8, base, treated, control, ALPHA) < TARGET
    bigger = power(mde, base, treated * 2, control * 2, ALPHA)
    assert bigger > TARGET  # more users find the same effect more often
