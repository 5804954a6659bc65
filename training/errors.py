"""Training problems a user can fix (too few cutoffs, no labels): one line, no traceback."""

from core.config import WinbackError


class TrainingError(WinbackError):
    """The data or config cannot produce an honest train/validation/test split or model."""
