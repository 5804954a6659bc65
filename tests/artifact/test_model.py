"""Two plain files are the whole model (and its explainer's tables, numbers only, checked
before use): what is saved is what scores, however rows arrive."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artifact import tree_tables
from artifact.model import (
    DICT_LOOKUP_ROWS,
    METADATA_FILE,
    MODEL_FILE,
    TABLES_FILE,
    ChurnModel,
    LinearTerm,
    ModelInputError,
    _codes,
    categories,
    encode,
    fingerprint,
)
from artifact.tree_tables import Tables
from training import baselines
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


def test_the_model_is_a_text_booster_json_and_its_tables_nothing_else(saved: Path) -> None:
    assert sorted(path.name for path in saved.iterdir()) == [METADATA_FILE, MODEL_FILE, TABLES_FILE]
    assert (saved / MODEL_FILE).read_text().startswith("tree")
    Tables.from_bytes((saved / TABLES_FILE).read_bytes(), tree_tables_fingerprint(saved))


def tree_tables_fingerprint(folder: Path) -> str:
    return fingerprint((folder / MODEL_FILE).read_bytes())


def test_a_loaded_model_explains_with_its_stored_tables_exactly_as_built(
    fitted: FittedModel, saved: Path, rows: Rows
) -> None:
    loaded = ChurnModel.load(saved)
    assert loaded.explainer.built.stored
    built = fitted.model.explainer
    assert not built.built.stored
    assert np.array_equal(loaded.contributions(rows), fitted.model.contributions(rows))
    assert loaded.explainer.tables.nbytes == built.tables.nbytes


def test_stored_tables_read_back_as_numpy_reads_them(saved: Path) -> None:
    """Every member's numbers, type, shape and layout, read in one call each."""
    ours = tree_tables.npz_arrays(saved / TABLES_FILE)
    with np.load(saved / TABLES_FILE, allow_pickle=False) as stored:
        assert sorted(ours) == sorted(stored.files)
        for name in stored.files:
            theirs = stored[name]
            assert ours[name].dtype == theirs.dtype and ours[name].shape == theirs.shape
            assert ours[name].flags.aligned and ours[name].flags.writeable
            np.testing.assert_array_equal(ours[name], theirs)
    assert sorted(tree_tables.npz_arrays((saved / TABLES_FILE).read_bytes())) == sorted(ours)


def _another_model(tables: Tables, folder: Path) -> bytes:
    return tables.to_bytes("0" * 64)


def _truncated(tables: Tables, folder: Path) -> bytes:
    whole = (folder / TABLES_FILE).read_bytes()
    return whole[: len(whole) // 2]


def _shifted(tables: Tables, folder: Path) -> bytes:
    """The right fingerprint on wrong numbers: the check rows catch them."""
    wrong = dataclasses.replace(tables, table=tables.table + 0.01)
    return wrong.to_bytes(tree_tables_fingerprint(folder))


def _flipped_byte(tables: Tables, folder: Path) -> bytes:
    whole = bytearray((folder / TABLES_FILE).read_bytes())
    whole[len(whole) // 2] ^= 0xFF
    return bytes(whole)


def _compressed(tables: Tables, folder: Path) -> bytes:
    """The same members, deflated (what `np.savez_compressed` writes): not read as stored."""
    found = io.BytesIO()
    with np.load(folder / TABLES_FILE, allow_pickle=False) as stored:
        np.savez_compressed(found, **{name: stored[name] for name in stored.files})
    return found.getvalue()


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_another_model, "built for model 000000000000"),
        (_truncated, "unreadable"),
        (_shifted, "differ from pred_contrib"),
        (_flipped_byte, "unreadable"),
        (_compressed, "is compressed"),
    ],
)
def test_stored_tables_that_do_not_fit_are_rebuilt_and_say_why(
    saved: Path,
    rows: Rows,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Tables, Path], bytes],
    why: str,
) -> None:
    for name in (MODEL_FILE, METADATA_FILE):
        (tmp_path / name).write_bytes((saved / name).read_bytes())
    good = ChurnModel.load(saved)
    (tmp_path / TABLES_FILE).write_bytes(damage(good.explainer.tables, saved))
    with caplog.at_level(logging.WARNING):
        loaded = ChurnModel.load(tmp_path)
        assert not loaded.explainer.built.stored
    assert why in caplog.text
    np.testing.assert_array_equal(loaded.contributions(rows), good.contributions(rows))


def test_tables_of_another_format_are_rebuilt(
    saved: Path, rows: Rows, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tables stored before `build` changed are never read as if they were current."""
    monkeypatch.setattr(tree_tables, "FORMAT", tree_tables.FORMAT + 1)
    with caplog.at_level(logging.WARNING):
        loaded = ChurnModel.load(saved)
        assert not loaded.explainer.built.stored
    assert f"is not {tree_tables.FORMAT}" in caplog.text


def test_a_model_without_trees_stores_no_tables(
    fitted: FittedModel, rows: Rows, tmp_path: Path
) -> None:
    pipeline = baselines.fit_rfm_logreg(rows, rows["label"].to_numpy("float64"))
    metadata = fitted.model.metadata.model_copy(
        update={
            "family": "rfm_logreg",
            "blend_weight": 0.0,
            "linear": baselines.linear_term(pipeline),
        }
    )
    ChurnModel(fitted.model.booster, metadata).save(tmp_path)
    assert not (tmp_path / TABLES_FILE).exists()


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


TEXT_OR_MISSING = st.one_of(
    st.text(max_size=4), st.sampled_from([None, np.nan, pd.NA, "email", "ads"])
)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT_OR_MISSING, max_size=80), st.lists(st.integers() | st.floats(), max_size=3))
def test_text_is_taken_as_it_is_and_anything_else_converted(
    texts: list[object], others: list[object]
) -> None:
    """Text with missing values (what `ChurnModel.inputs` gives) is not converted again;
    the result must be the converting path's: every value as text, None where missing."""
    for values in (texts, [*texts, *others]):
        raw = np.empty(len(values), dtype=object)
        raw[:] = values
        expected = [None if pd.isna(value) else str(value) for value in values]
        assert categories(raw).tolist() == expected
        assert list(raw) == list(values)  # the caller's array is left alone


def test_a_column_by_column_matrix_holds_the_same_numbers(fitted: FittedModel, rows: Rows) -> None:
    """Batch scoring asks for "F" (written and binned along features): same numbers, and
    the same margin and contributions to the bit."""
    model, infos = fitted.model, fitted.model.metadata.features
    inputs = model.inputs(rows)
    by_row, by_column = encode(inputs, infos), encode(inputs, infos, order="F")
    assert by_row.flags.c_contiguous and by_column.flags.f_contiguous
    np.testing.assert_array_equal(by_row, by_column)
    for found, expected in zip(model.raw_scores(by_column), model.raw_scores(by_row), strict=True):
        np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("weight", [0.0, 0.4, 1.0])
def test_a_blend_with_the_rfm_regression_scores_and_explains_exactly(
    fitted: FittedModel, rows: Rows, weight: float
) -> None:
    """margin = w * trees + (1 - w) * linear, and the contributions add up to it; the linear
    part equals the scikit-learn regression it was read from, a missing value its mean."""
    pipeline = baselines.fit_rfm_logreg(rows, rows["label"].to_numpy("float64"))
    term = baselines.linear_term(pipeline)
    metadata = fitted.model.metadata.model_copy(
        update={"family": "blend", "blend_weight": weight, "linear": term}
    )
    blended = ChurnModel(fitted.model.booster, metadata)
    trees = fitted.model.margin(rows)
    linear = baselines.rfm_logreg_margin(pipeline, rows)
    np.testing.assert_allclose(blended.margin(rows), weight * trees + (1 - weight) * linear)
    contributions = blended.contributions(rows)
    np.testing.assert_allclose(contributions.sum(axis=1), blended.margin(rows), atol=1e-9)
    missing = rows.head(3).assign(value_total=np.nan)
    assert np.isfinite(blended.margin(missing)).all()


def test_a_linear_term_on_an_unknown_feature_is_refused(fitted: FittedModel) -> None:
    term = LinearTerm(features=["nope"], mean=[0.0], scale=[1.0], coef=[1.0], intercept=0.0)
    metadata = fitted.model.metadata.model_copy(update={"linear": term, "blend_weight": 0.5})
    with pytest.raises(ValueError, match="not model features"):
        ChurnModel(fitted.model.booster, metadata)


def test_a_format_1_model_still_loads_as_all_trees(saved: Path, rows: Rows) -> None:
    """Registries hold models written before families existed: they keep scoring the same."""
    meta = json.loads((saved / METADATA_FILE).read_text())
    for key in ("family", "blend_weight", "linear", "refit"):
        meta.pop(key)
    meta["format_version"] = 1
    old = saved.parent / "format1"
    old.mkdir(exist_ok=True)
    (old / METADATA_FILE).write_text(json.dumps(meta))
    (old / MODEL_FILE).write_bytes((saved / MODEL_FILE).read_bytes())
    np.testing.assert_array_equal(
        ChurnModel.load(old).predict_proba(rows), ChurnModel.load(saved).predict_proba(rows)
    )
