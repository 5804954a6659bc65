"""CBPE: the performance calibrated probabilities promise equals what labels drawn from those
probabilities deliver, and ties are one step as in sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, roc_auc_score

from monitoring.cbpe import expected, expected_roc_auc
from training.metrics import top_flags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_metrics_match_labels_drawn_from_the_probabilities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 4.0, 20_000)
    realised_auc, realised_precision = [], []
    for _ in range(20):
        y = (rng.random(len(p)) < p).astype(float)
        realised_auc.append(roc_auc_score(y, p))
        realised_precision.append(precision_score(y, top_flags(p)))
    found = expected(p)
    assert found.roc_auc == pytest.approx(np.mean(realised_auc), abs=0.003)
    assert found.precision_top10 == pytest.approx(np.mean(realised_precision), abs=0.01)
    assert found.churn_rate == pytest.approx(p.mean())


def test_tied_probabilities_form_one_step() -> None:
    # two users at 0.5: a tie counts half, as in roc_auc_score with fractional labels
    p = np.array([0.9, 0.5, 0.5, 0.1])
    weights_pos, weights_neg = p, 1 - p
    y = np.r_[np.ones(4), np.zeros(4)]
    scores = np.r_[p, p]
    exact = roc_auc_score(y, scores, sample_weight=np.r_[weights_pos, weights_neg])
    assert expected_roc_auc(p) == pytest.approx(exact)
    assert expected_roc_auc(p[::-1]) == pytest.approx(exact)
