"""The drift reference: bins fixed at training time, shares measured on those same bins, and
models written before it existed still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from artifact.model import METADATA_FILE, MODEL_FILE, ChurnModel
from artifact.reference import Binned, reference_of
from training.fitting import FittedModel


def test_numeric_bins_are_reference_deciles_with_missing_last() -> None:
    values = np.r_[np.arange(100, dtype="float64"), [np.nan] * 25]
    binned = Binned.of("x", "numeric", values)
    assert len(binned.edges) == 9
    np.testing.assert_allclose(binned.shares, [0.08] * 10 + [0.2])
    # new rows land in the old bins: all of them above the reference's top edge
    assert binned.shares_of(np.full(10, 1e6)).tolist() == [0.0] * 9 + [1.0, 0.0]


def test_point_masses_merge_edges_instead_of_making_empty_bins() -> None:
    binned = Binned.of("count", "numeric", np.r_[np.zeros(80), np.arange(1, 21)])
    assert binned.edges[0] == 0.0 and len(binned.edges) == len(set(binned.edges))
    assert binned.shares[0] == pytest.approx(0.8)


def test_categories_keep_training_levels_and_count_unseen_and_missing_apart() -> None:
    binned = Binned.of("plan", "categorical", ["a", "a", "b", None])
    assert binned.levels == ["a", "b"]
    assert binned.shares == [0.5, 0.25, 0.0, 0.25]
    assert binned.shares_of(["c", "c", "a", None]).tolist() == [0.25, 0.0, 0.5, 0.25]


def test_a_model_without_a_reference_still_loads(fitted: FittedModel, tmp_path: Path) -> None:
    model = fitted.model
    metadata = model.metadata  # the fixture model never went through registration
    assert metadata.reference is None
    reference = reference_of(
        {"tenure_days": np.arange(50.0)}, {"tenure_days": "numeric"}, np.linspace(0, 1, 50)
    )
    ChurnModel(model.booster, metadata.model_copy(update={"reference": reference})).save(tmp_path)
    loaded = ChurnModel.load(tmp_path)
    assert loaded.metadata.reference == reference
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    meta.pop("reference")
    meta["format_version"] = 3
    old = tmp_path / "format3"
    old.mkdir()
    (old / METADATA_FILE).write_text(json.dumps(meta))
    (old / MODEL_FILE).write_bytes((tmp_path / MODEL_FILE).read_bytes())
    assert ChurnModel.load(old).metadata.reference is None
