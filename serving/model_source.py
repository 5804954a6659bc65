"""The champion model and the online store the service scores with, swapped without downtime.

A newer champion (or store version) is loaded beside the one in use, checked (the store
opened and every row checked readable, one stored row scored), and only then replaces it in
a single reference assignment, so a request in flight finishes on the old pair and the next
one starts on the new pair; nothing is dropped. Anything that goes wrong on the way
(registry, artifacts, manifest, the store's rows) keeps the old pair and is raised as a
`WinbackError` saying which part failed. The store is any `serving.online_store.Store`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from artifact.compatibility import check
from artifact.model import ChurnModel
from artifact.registry import CHAMPION, champion_version, load_version, registry_errors
from artifact.tracking import TrackingStore
from core.config import WinbackError
from serving.online_store import Store, StoreError, StoreRows, StoreVersion
from serving.probe import PairError, Stamp, check_pair
from uplift.model import Champion
from uplift.registry import champion_versions, champions

log = logging.getLogger(__name__)


class NoChampionError(WinbackError):
    """The registry answered: it has no champion for the model name."""


@dataclass(frozen=True)
class Serving:
    """What one request scores with: a model version and a store version, always together."""

    model: ChurnModel
    name: str
    version: str
    store: StoreRows
    stamp: Stamp | None = None  # the store version as it was when the pair passed its check
    check_definition: bool = True  # False: only `winback score --force`, never the service
    uplift: Mapping[str, Champion] = field(default_factory=dict)  # strategy -> champion

    def check_compatible(self) -> None:
        """The check `materialize` makes: a pair whose feature definitions differ is never
        served, not even a store published with `--force` (that is for batch work)."""
        store = self.store.version
        fit = check(self.model.metadata, store.definition, store.features)
        if fit.unknown:
            log.warning("%s v%s, store %s: %s", self.name, self.version, store.version, fit.unknown)
        if fit.missing_features or (self.check_definition and not fit.compatible):
            raise PairError(
                f"champion {self.name} v{self.version} and online store {store.version} do "
                f"not fit: {fit.describe()}; materialize with the champion's config"
            )

    def checked(self, thorough: bool = True) -> Serving:
        """This pair with its stamp, once it read and scored a stored row (`thorough`: every
        page of the store's SQLite file read too)."""
        self.check_compatible()
        return replace(self, stamp=check_pair(self.model, self.store, thorough=thorough))

    def probe(self) -> None:
        """Cheap: the rows are unchanged since the check, and one still reads and scores."""
        if self.stamp is not None and self.store.stamp() != self.stamp:
            raise PairError(
                f"online store {self.store.version.version} was written to after it was "
                "checked; it is checked again at the next refresh"
            )
        check_pair(self.model, self.store, thorough=False)


def _same(old: Serving | None, version: str, store: StoreVersion) -> bool:
    return old is not None and old.version == version and old.store.version == store


def _store_version(store: Store) -> StoreVersion:
    try:
        return store.current()
    except WinbackError:
        raise
    except Exception as error:  # a truncated manifest, a CURRENT naming a missing folder, ...
        raise StoreError(
            f"online store {store.root}: CURRENT or its manifest is unreadable: "
            f"{type(error).__name__}: {error}"
        ) from None


def _stamp(live: Serving) -> Stamp | None:
    """None when the live version's rows are gone (a stamp never equals it)."""
    try:
        return live.store.stamp()
    except PairError:
        return None


class ServingSource:
    """Follows the registry alias and the store's CURRENT pointer; with `uplift_prefix`, also
    the strategies' champion uplift models (`uplift.registry`), for /recall_list."""

    def __init__(
        self,
        tracking: TrackingStore,
        name: str,
        store: Store,
        check_definition: bool = True,
        check_pages: bool = True,
        uplift_prefix: str | None = None,
    ) -> None:
        """`check_pages` False: a candidate's SQLite file is not read page by page (batch
        scoring reads the store's Parquet copy, never those pages)."""
        self.tracking = tracking
        self.name = name
        self.store = store
        self.check_definition = check_definition
        self.check_pages = check_pages
        self.uplift_prefix = uplift_prefix
        self._uplift: dict[str, Champion] = {}
        self._uplift_versions: dict[str, str] | None = None
        self._current: Serving | None = None
        self._aliases: list[str] = []
        self._damaged: str | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> Serving | None:
        return self._current

    @property
    def aliases(self) -> list[str]:
        """The served version's aliases as of the last refresh (no registry call)."""
        return self._aliases

    def _champion(self) -> str:
        version = champion_version(self.tracking, self.name)
        if version is None:
            raise NoChampionError(
                f"model {self.name!r} has no {CHAMPION} in {self.tracking.uri}; "
                "train one with `winback train`"
            )
        return version

    def _model(self, old: Serving | None, version: str) -> ChurnModel:
        if old is not None and old.version == version:
            return old.model
        try:
            return load_version(self.tracking, self.name, version)
        except WinbackError:
            raise
        except Exception as error:  # artifacts moved or damaged, metadata unreadable, ...
            raise PairError(
                f"model {self.name} v{version} could not be loaded: {type(error).__name__}: "
                f"{str(error)[:300]}"
            ) from None

    def _candidate(self, old: Serving | None, version: str, found: StoreVersion) -> Serving:
        model = self._model(old, version)
        if old is not None and old.store.version == found:
            return replace(old, model=model, version=version).checked(self.check_pages)
        try:
            store = self.store.open(found)
        except Exception as error:
            raise PairError(f"online store {found.version}: {error}") from None
        try:
            pair = Serving(model, self.name, version, store, check_definition=self.check_definition)
            return pair.checked(self.check_pages)
        except WinbackError:
            store.close()
            raise

    def _recheck(self, live: Serving) -> Serving:
        """The live store's rows changed in place: check them again on a fresh connection (the
        old one may hold pages of a file as it was); a failure marks the live pair damaged."""
        store = None
        try:
            store = self.store.open(live.store.version)
            return replace(live, store=store).checked()
        except Exception as error:
            if store is not None:
                store.close()
            self._damaged = (
                f"the live online store {live.store.version.version} is damaged: {error}"
            )
            raise PairError(self._damaged) from None

    @property
    def damaged(self) -> str | None:
        """Why the live pair must not answer (its store file was damaged in place), if so."""
        return self._damaged

    def refresh(self) -> bool:
        """Load whatever changed; True if a new pair (or new uplift champions) went live.
        Errors keep what is served."""
        with self._lock:
            paired = self._refresh_pair()
            uplifted = self._refresh_uplift()
            if self._current is not None and self._current.uplift is not self._uplift:
                self._current = replace(self._current, uplift=self._uplift)
            return paired or uplifted

    def _refresh_uplift(self) -> bool:
        if self.uplift_prefix is None:
            return False
        versions = champion_versions(self.tracking, self.uplift_prefix)
        if versions == self._uplift_versions:
            return False
        self._uplift = champions(self.tracking, self.uplift_prefix)
        self._uplift_versions = versions
        log.info("uplift champions: %s", ", ".join(c.label for c in self._uplift.values()))
        return True

    def _refresh_pair(self) -> bool:
        version = self._champion()
        found = _store_version(self.store)
        old = self._current
        if old is not None and _stamp(old) != old.stamp:
            if old.store.version == found:
                old = self._current = self._recheck(old)
                self._damaged = None
            else:  # a new version is checked below; until it passes, the old is suspect
                self._damaged = f"the live online store {old.store.version.version} changed"
        if _same(old, version, found):
            self._aliases = self._fetch_aliases(version)
            return False
        self._current = self._candidate(old, version, found)
        self._damaged = None
        self._aliases = self._fetch_aliases(version)
        log.info("serving %s v%s with store %s", self.name, version, found.version)
        return True

    def _fetch_aliases(self, version: str) -> list[str]:
        with registry_errors(self.tracking):
            found = self.tracking.client().get_model_version(self.name, version)
        return sorted(found.aliases)
