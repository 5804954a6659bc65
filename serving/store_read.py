"""Batch scoring's read of the live store version, begun before the champion is loaded.

Reading and converting a million rows is Arrow's work (it lets go of the GIL); importing
LightGBM and MLflow and asking the registry for the champion is Python's. Begun on a thread
first, the read is done by the time the model is there, on the machine's other core.
"""

from __future__ import annotations

import threading

import pandas as pd

from serving.online_store import Store, StoreError, StoreVersion, all_rows


class ReadAhead:
    """The store's live version's rows, read on a thread from construction on."""

    def __init__(self, store: Store) -> None:
        try:
            self._version: StoreVersion | None = store.current()
        except StoreError:  # no live version: loading the pair says so, in its words
            self._version = None
        self._rows: pd.DataFrame | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._read, name="winback-store-read")
        if self._version is not None:
            self._thread.start()

    def _read(self) -> None:
        assert self._version is not None
        try:
            self._rows = all_rows(self._version)
        except Exception as error:  # raised where the rows are asked for, as a read would
            self._error = error

    def rows(self, version: StoreVersion) -> pd.DataFrame:
        """`version`'s rows, handed over (not kept here); read now if the live version
        changed since the read began, or the rows were handed over already."""
        if version != self._version:
            return all_rows(version)
        self._thread.join()
        self._version = None
        if self._error is not None:
            raise self._error
        rows, self._rows = self._rows, None
        assert rows is not None
        return rows
