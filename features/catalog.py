"""The feature catalog without building a query: cached per feature set and feature code.

Reading the catalog off the builders (`snapshots.catalog`) needs Ibis, whose import and first
expressions cost about a second; `winback features list` answers from this cache instead. The
key is the feature set and a digest of the feature code itself, so a changed builder or config
is a new key and the cache cannot go stale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from features.spec import Feature, FeatureSet

CODE_ROOT = Path(__file__).parent


def code_digest(root: Path = CODE_ROOT) -> str:
    """Every feature module's bytes, in a fixed order: what the catalog is read off."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(spec: FeatureSet) -> str:
    return hashlib.sha256(f"{spec!r}|{code_digest()}".encode()).hexdigest()[:16]


def _read(path: Path) -> list[Feature] | None:
    try:
        return [Feature(**item) for item in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return None


def _write(path: Path, features: list[Feature]) -> None:
    """Atomically, and not at all where the folder cannot be written (the answer stands)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
            json.dump([dataclasses.asdict(feature) for feature in features], handle)
        os.replace(handle.name, path)
    except OSError:
        return


def cached_catalog(spec: FeatureSet, folder: Path) -> list[Feature]:
    path = folder / f"catalog-{cache_key(spec)}.json"
    found = _read(path)
    if found is not None:
        return found
    from features.snapshots import catalog  # Ibis: only on a cache miss

    features = catalog(spec)
    _write(path, features)
    return features
