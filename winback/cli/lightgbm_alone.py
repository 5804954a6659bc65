"""LightGBM without scikit-learn for `winback score`: `import lightgbm` imports
scikit-learn (and scipy.stats under it) for its optional scikit-learn API, 1.0-1.8 s of a
process that loads Boosters only."""

from __future__ import annotations

import sys


def hide_sklearn() -> None:
    """Makes `import sklearn` fail until `import_lightgbm` runs. Called by the script before
    the command is parsed, so the choice is the script's alone: commands run in process (tests)
    and training or uplift (LGBMClassifier) import LightGBM as usual."""
    if "sklearn" not in sys.modules:
        sys.modules["sklearn"] = None  # type: ignore[assignment]


def import_lightgbm() -> None:
    """Imports LightGBM, then makes scikit-learn importable again when `hide_sklearn` hid it:
    anything later may import it; only `lightgbm.LGBMModel` and its kin refuse to work in this
    process (they raise, naming scikit-learn), and scoring does not use them. Called by the
    score command once its store read has started, so the two overlap."""
    import lightgbm  # noqa: F401

    if "sklearn" in sys.modules and sys.modules["sklearn"] is None:
        del sys.modules["sklearn"]
