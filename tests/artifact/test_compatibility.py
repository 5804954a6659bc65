"""A model knows the feature definition it was trained with, and `check` names every key on
which a store differs from it; models and stores from before definitions still load."""

from __future__ import annotations

import json
from pathlib import Path

from artifact.compatibility import check
from artifact.model import METADATA_FILE, MODEL_FILE, ChurnModel
from features.definition import feature_definition
from tests.trained import ConfigFactory
from training.fitting import FittedModel


def test_a_trained_model_records_the_definition_of_its_config(
    fitted: FittedModel, make_config: ConfigFactory
) -> None:
    assert fitted.model.metadata.definition == feature_definition(make_config())


def test_a_store_built_with_the_same_definition_fits(
    fitted: FittedModel, make_config: ConfigFactory
) -> None:
    meta = fitted.model.metadata
    found = check(meta, feature_definition(make_config()), meta.input_names)
    assert found.compatible and found.unknown is None and found.describe() == ""


def test_every_differing_key_is_named_with_both_values(
    fitted: FittedModel, make_config: ConfigFactory
) -> None:
    base = make_config()
    moved = base.model_copy(
        update={
            "events": base.events.model_copy(update={"timezone": "Europe/Berlin"}),
            "churn": base.churn.model_copy(update={"active_window_days": 30}),
        }
    )
    meta = fitted.model.metadata
    found = check(meta, feature_definition(moved), meta.input_names)
    assert not found.compatible
    assert [str(difference) for difference in found.differences] == [
        "churn.active_window_days 60 -> 30",
        'events.timezone "UTC" -> "Europe/Berlin"',
    ]


def test_a_store_lacking_a_model_feature_does_not_fit(
    fitted: FittedModel, make_config: ConfigFactory
) -> None:
    meta = fitted.model.metadata
    found = check(meta, feature_definition(make_config()), meta.input_names[1:])
    assert found.missing_features == (meta.input_names[0],)
    assert not found.compatible and "store lacks features" in found.describe()


def test_a_model_saved_before_definitions_loads_and_is_unknown_not_refused(
    fitted: FittedModel, make_config: ConfigFactory, tmp_path: Path
) -> None:
    fitted.model.save(tmp_path)
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    del meta["definition"]
    meta["format_version"] = 2
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta))
    old = ChurnModel.load(tmp_path)
    assert (tmp_path / MODEL_FILE).exists() and old.metadata.definition is None
    found = check(old.metadata, feature_definition(make_config()), old.metadata.input_names)
    assert found.compatible and found.unknown is not None
    assert "no feature definition" in found.unknown


def test_a_store_materialized_before_definitions_is_unknown(fitted: FittedModel) -> None:
    meta = fitted.model.metadata
    found = check(meta, None, meta.input_names)
    assert found.compatible and found.unknown is not None and "online store" in found.unknown
