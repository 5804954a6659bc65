"""The scores table's order: scored users by rank, everyone else by user id as Python sorts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.scoring import store_table


@pytest.mark.parametrize("dtype", [pd.StringDtype("pyarrow"), object])
@settings(max_examples=50, deadline=None)
@given(ids=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=30, unique=True))
def test_unscored_users_come_in_user_id_order_as_python_sorts_them(
    dtype: object, ids: list[str]
) -> None:
    rows = pd.DataFrame(
        {
            "user_id": pd.array(ids, dtype=dtype),
            "status": pd.array(["lapsed"] * len(ids), dtype=dtype),
            "cutoff": pd.Timestamp("2026-01-01"),
        }
    )
    table = store_table(rows, np.zeros(len(ids), dtype=bool), None, "1")
    assert table["user_id"].tolist() == sorted(ids)
    assert table["risk_band"].isna().all() and table["rank"].isna().all()
