"""Can this model score this online store? The one check `winback materialize`, `winback score`
and the service run before a model and a store are used together.

Two things must hold: the store has every feature the model reads, and both were computed
with the same feature definition (`features.definition`). A side that records no definition
(a model or store written before they were) cannot be checked: that is said, not refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from artifact.model import ModelMetadata
from core.config import WinbackError
from features.definition import FeatureDefinition


class IncompatibleError(WinbackError):
    """A model and an online store disagree on what the features are."""


@dataclass(frozen=True)
class Difference:
    """One definition key whose value differs: as the model was trained, as the store was built."""

    key: str
    trained: str
    store: str

    def __str__(self) -> str:
        return f"{self.key} {self.trained} -> {self.store}"


@dataclass(frozen=True)
class Compatibility:
    differences: tuple[Difference, ...]
    missing_features: tuple[str, ...]  # the model reads them, the store lacks them
    unknown: str | None  # why the definitions could not be compared, if they could not

    @property
    def compatible(self) -> bool:
        return not self.differences and not self.missing_features

    def describe(self) -> str:
        """One line: the differing keys (trained -> store) and the features the store lacks."""
        parts = []
        if self.differences:
            keys = ", ".join(str(difference) for difference in self.differences)
            parts.append(f"feature definition differs (trained -> store): {keys}")
        if self.missing_features:
            parts.append(f"store lacks features: {', '.join(self.missing_features)}")
        return "; ".join(parts)


def differences(trained: FeatureDefinition, store: FeatureDefinition) -> tuple[Difference, ...]:
    """Keys recorded on both sides whose values differ. A key only one side records (added to
    the definition after the other side was written) is not known to differ."""
    if trained.fingerprint == store.fingerprint:
        return ()
    shared = sorted(trained.values.keys() & store.values.keys())
    return tuple(
        Difference(key, trained.values[key], store.values[key])
        for key in shared
        if trained.values[key] != store.values[key]
    )


def check(
    model: ModelMetadata, store_definition: FeatureDefinition | None, store_features: Sequence[str]
) -> Compatibility:
    """Compare a model's metadata with an online store's manifest (`StoreVersion.definition`
    and `.features`); the caller decides whether an incompatible pair is refused."""
    missing = tuple(sorted(set(model.input_names) - set(store_features)))
    unknown = None
    found: tuple[Difference, ...] = ()
    if model.definition is None:
        unknown = f"model {model.name} records no feature definition (trained before they were)"
    elif store_definition is None:
        unknown = "the online store records no feature definition (materialized before they were)"
    else:
        found = differences(model.definition, store_definition)
    return Compatibility(differences=found, missing_features=missing, unknown=unknown)
