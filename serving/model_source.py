"""The champion model and the online store the service scores with, swapped without downtime.

A newer champion (or store version) is loaded beside the one in use and replaces it in a
single reference assignment, so a request in flight finishes on the old pair and the next
one starts on the new pair; nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from artifact.model import ChurnModel
from artifact.registry import CHAMPION, champion_version, load_version
from artifact.tracking import TrackingStore
from core.config import WinbackError
from serving.online_store import OnlineStore, StoreVersion, current_version

log = logging.getLogger(__name__)


class NoChampionError(WinbackError):
    """The registry has no champion for the model name yet."""


@dataclass(frozen=True)
class Serving:
    """What one request scores with: a model version and a store version, always together."""

    model: ChurnModel
    name: str
    version: str
    store: OnlineStore

    def check_compatible(self) -> None:
        missing = set(self.model.metadata.input_names) - set(self.store.version.features)
        if missing:
            raise WinbackError(
                f"model {self.name} v{self.version} needs features the online store "
                f"{self.store.version.version} lacks: {', '.join(sorted(missing))}; "
                "run `winback materialize` with the model's feature config"
            )


class ServingSource:
    """Follows the registry alias and the store's CURRENT pointer."""

    def __init__(self, tracking: TrackingStore, name: str, store_root: Path) -> None:
        self.tracking = tracking
        self.name = name
        self.store_root = store_root
        self._current: Serving | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> Serving | None:
        return self._current

    def _champion(self) -> str:
        version = champion_version(self.tracking, self.name)
        if version is None:
            raise NoChampionError(
                f"model {self.name!r} has no {CHAMPION} in {self.tracking.uri}; "
                "train one with `winback train`"
            )
        return version

    def refresh(self) -> bool:
        """Load whatever changed; True if a new pair went live. Errors keep the old pair."""
        with self._lock:
            version = self._champion()
            store_version: StoreVersion = current_version(self.store_root)
            old = self._current
            if (
                old is not None
                and old.version == version
                and old.store.version.version == store_version.version
            ):
                return False
            model = (
                old.model
                if old is not None and old.version == version
                else load_version(self.tracking, self.name, version)
            )
            store = (
                old.store
                if old is not None and old.store.version.version == store_version.version
                else OnlineStore(store_version)
            )
            candidate = Serving(model=model, name=self.name, version=version, store=store)
            candidate.check_compatible()
            self._current = candidate
            log.info("serving %s v%s with store %s", self.name, version, store_version.version)
            return True

    def aliases(self) -> list[str]:
        current = self._current
        if current is None:
            return []
        found = self.tracking.client().get_model_version(self.name, current.version)
        return sorted(found.aliases)
