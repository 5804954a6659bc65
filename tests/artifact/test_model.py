"""Two plain files are the whole model: what is saved is what scores, however rows arrive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artifact.model import (
    DICT_LOOKUP_ROWS,
    METADATA_FILE,
    MODEL_FILE,
    ChurnModel,
    ModelInputError,
    _codes,
)
from training.dataset import TrainingData
from training.fitting import FittedModel

Rows = pd.DataFrame


@pytest.fixture(scope="module")
def saved(fitted: FittedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    fitted.model.save(folder)
    return folder


@pytest.fixture(scope="module")
def rows(training_data: TrainingData) -> Rows:
    return training_data.test.head(300)


def test_the_model_is_a_text_booster_and_json_nothing_else(saved: Path) -> None:
    assert sorted(path.name for path in saved.iterdir()) == [METADATA_FILE, MODEL_FILE]
    assert (saved / MODEL_FILE).read_text().startswith("tree")


def test_loaded_model_scores_exactly_like_the_trained_one(
    fitted: FittedModel, saved: Path, rows: Rows
) -> None:
    loaded = ChurnModel.load(saved)
    assert np.array_equal(loaded.predict_proba(rows), fitted.model.predict_proba(rows))
    assert np.array_equal(loaded.contributions(rows), fitted.model.contributions(rows))
    assert loaded.metadata == fitted.model.metadata


def test_column_order_and_extra_columns_do_not_matter(fitted: FittedModel, rows: Rows) -> None:
    shuffled = rows.sample(frac=1.0, axis=1, random_state=0).assign(unrelated="x")
    assert np.array_equal(fitted.model.predict_proba(shuffled), fitted.model.predict_proba(rows))


def test_an_unknown_category_scores_like_a_missing_one(fitted: FittedModel, rows: Rows) -> None:
    unknown = rows.assign(plan="enterprise")
    missing = rows.assign(plan=None)
    assert np.array_equal(fitted.model.predict_proba(unknown), fitted.model.predict_proba(missing))


def test_a_missing_feature_is_named_in_the_error(fitted: FittedModel, rows: Rows) -> None:
    with pytest.raises(ModelInputError, match="recency_days"):
        fitted.model.predict_proba(rows.drop(columns="recency_days"))


def test_text_in_a_numeric_feature_is_named_in_the_error(fitted: FittedModel, rows: Rows) -> None:
    with pytest.raises(ModelInputError, match="events_30d"):
        fitted.model.predict_proba(rows.assign(events_30d="many"))


def test_contributions_add_up_to_the_raw_margin(fitted: FittedModel, rows: Rows) -> None:
    contributions = fitted.model.contributions(rows)
    assert contributions.shape == (len(rows), len(fitted.model.catalog) + 1)
    assert np.allclose(contributions.sum(axis=1), fitted.model.margin(rows))


def test_a_long_silence_scores_higher_than_a_visit_yesterday(
    fitted: FittedModel, rows: Rows
) -> None:
    """Same users, only the time since their last event changed (behavioural direction test)."""
    recent = rows.assign(recency_days=1.0, recency_valued_days=1.0, gap_current_ratio=0.1)
    silent = rows.assign(recency_days=55.0, recency_valued_days=55.0, gap_current_ratio=10.0)
    gap = fitted.model.predict_proba(silent) - fitted.model.predict_proba(recent)
    assert (gap >= 0).mean() > 0.95
    assert gap.mean() > 0.1


def test_probabilities_are_proper_and_never_certain(fitted: FittedModel, rows: Rows) -> None:
    probability = fitted.model.predict_proba(rows)
    assert ((probability > 0) & (probability < 1)).all()


def test_a_few_rows_encode_like_a_batch() -> None:
    """Requests' few rows take a dict lookup, batches pandas: the codes must be the same."""
    levels = ["email", "ads", "7"]
    values = np.array(["ads", None, "social", 7, np.nan, "email"] * 20, dtype=object)
    assert len(values) > DICT_LOOKUP_ROWS
    batch = _codes(values, levels)
    few = np.concatenate([_codes(values[i : i + 4], levels) for i in range(0, len(values), 4)])
    np.testing.assert_array_equal(few, batch)
    np.testing.assert_array_equal(batch[:6], [1.0, np.nan, np.nan, 2.0, np.nan, 0.0])
