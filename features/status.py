"""The names of the status and label columns and the statuses a user can have at T.

Kept apart from `features.labels`, which computes them with ibis, so that what only reads
them (scoring, serving, recall, monitoring) does not import ibis to learn a column name.
"""

from __future__ import annotations

STATUS = "status"
LABEL = "label"
ACTIVE, LAPSED, NEW, DORMANT = "active", "lapsed", "new", "dormant"
STATUSES = (ACTIVE, LAPSED, NEW, DORMANT)
