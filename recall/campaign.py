"""The recall decisions for (scores, online store features, policy, uplift champions): what
`winback recall` writes, what the service's /recall_list answers and what the daily cycle
sends come from this one function, so they cannot disagree for the same inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa

from recall.contacts import read_contacts, read_opt_outs
from recall.policy import RecallPolicy
from recall.scores import campaign_frame, store_features
from recall.selection import Champions, decide

Stamp = tuple[tuple[str, int, int], ...]


def decisions(
    scores: pd.DataFrame,
    store: pa.Table,
    policy: RecallPolicy,
    champions: Champions,
    history: pd.DataFrame | None = None,
    triggered: pd.Series | None = None,
) -> pd.DataFrame:
    """One decision per scored user (selection.DECISION_COLUMNS), contact files read now.

    `store` is the online store's table as of the scores' cutoff; the caller reads it.
    `champions` are the strategies' champion uplift models (`uplift.registry.champions`; an
    empty mapping values every strategy by its save rate). The daily cycle adds the contacts
    it made itself (`history`: user_id, channel, contacted_at) and who may be chosen today
    (`triggered`, aligned with `scores`)."""
    names = {strategy.name for strategy in policy.strategies}
    used = [champion for name, champion in champions.items() if name in names]
    inputs = [feature for champion in used for feature in champion.model.metadata.input_names]
    users = campaign_frame(scores, store_features(store, policy, inputs), policy, inputs)
    contacts = read_contacts(policy.contact_history)
    if history is not None and not history.empty:
        contacts = pd.concat([contacts, history[list(contacts.columns)]], ignore_index=True)
    chosen = None if triggered is None else triggered.set_axis(users.index)
    opt_outs = read_opt_outs(policy.opt_outs)
    return decide(users, policy, contacts, opt_outs, champions, chosen)


def input_stamp(policy_path: Path, policy: RecallPolicy) -> Stamp:
    """(path, mtime, size) of the policy and the files it names: a long-running service
    recomputes its decisions when operations edit any of them (an opt-out must count at once)."""
    named = (policy.contact_history, policy.opt_outs)
    paths = [str(policy_path), *(path for path in named if path is not None)]
    stamps = []
    for path in paths:
        try:
            stat = os.stat(path)
            stamps.append((path, stat.st_mtime_ns, stat.st_size))
        except FileNotFoundError:
            stamps.append((path, -1, -1))
    return tuple(stamps)
