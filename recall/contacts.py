"""Who must not be contacted: per-channel opt-outs and the frequency cap on recent contacts.

Both files are CSV or Parquet. Contact history: user_id, channel, contacted_at (ISO-8601;
without an offset it is UTC). Opt-outs: user_id, channel. A bad row is an error that names
the file and the row, never a silent drop: a lost opt-out means contacting someone who said no.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from core.config import InputError
from recall.policy import CONTACT_CHANNELS

USER_ID, CHANNEL, CONTACTED_AT = "user_id", "channel", "contacted_at"
OPT_OUT_COLUMNS = (USER_ID, CHANNEL)
CONTACT_COLUMNS = (USER_ID, CHANNEL, CONTACTED_AT)


def _is_parquet(path: str) -> bool:
    return Path(path).suffix == ".parquet"


def _row(path: str, index: int) -> str:
    """Where a person finds the row: the line in an editor for CSV (after the header)."""
    return f"row {index + 1}" if _is_parquet(path) else f"line {index + 2}"


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="str") for column in columns})


def _read(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        if _is_parquet(path):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype="str", keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found (named in the recall policy)") from None
    except (OSError, ValueError, pa.ArrowException) as error:
        raise InputError(f"{path}: cannot read ({error})") from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = frame[list(columns)].astype({USER_ID: "str", CHANNEL: "str"})
    unknown = ~frame[CHANNEL].isin(CONTACT_CHANNELS)
    if unknown.any():
        row = int(np.argmax(unknown))
        raise InputError(
            f"{path}: {_row(path, row)}: channel {frame[CHANNEL].iloc[row]!r} is not one of "
            f"{', '.join(CONTACT_CHANNELS)}"
        )
    return frame


def read_opt_outs(path: str | None) -> pd.DataFrame:
    if path is None:
        return _empty(OPT_OUT_COLUMNS)
    return _read(path, OPT_OUT_COLUMNS)


def read_contacts(path: str | None) -> pd.DataFrame:
    """Contact history with `contacted_at` as naive UTC timestamps."""
    if path is None:
        return _empty(OPT_OUT_COLUMNS).assign(**{CONTACTED_AT: pd.Series(dtype="datetime64[us]")})
    frame = _read(path, CONTACT_COLUMNS)
    raw = frame[CONTACTED_AT]
    parsed = pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=True)
    bad = parsed.isna()
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{path}: {_row(path, row)}: contacted_at {raw.iloc[row]!r} is not a timestamp"
        )
    return frame.assign(**{CONTACTED_AT: parsed.dt.tz_localize(None).astype("datetime64[us]")})


def opted_out(
    user_ids: pd.Series, channels: pd.Series, opt_outs: pd.DataFrame
) -> npt.NDArray[np.bool_]:
    """True where the user opted out of the channel they would be contacted on."""
    said_no = pd.MultiIndex.from_frame(opt_outs[[USER_ID, CHANNEL]].astype("str"))
    asked = pd.MultiIndex.from_arrays([user_ids.astype("str"), channels.astype("str")])
    return np.asarray(asked.isin(said_no), dtype=bool)


def recently_contacted(
    user_ids: pd.Series, contacts: pd.DataFrame, campaign_date: dt.date, cap_days: int
) -> npt.NDArray[np.bool_]:
    """Contacted on any channel in the `cap_days` days before the campaign (or since)."""
    if cap_days == 0:
        return np.zeros(len(user_ids), dtype=bool)
    since = pd.Timestamp(campaign_date) - pd.Timedelta(days=cap_days)
    recent = contacts.loc[contacts[CONTACTED_AT] >= since, USER_ID]
    return np.asarray(user_ids.astype("str").isin(recent), dtype=bool)
