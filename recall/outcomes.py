"""What happened after a campaign, read from the dataset's validated events: who came back
inside the review window (`returning`), and whether they stayed (`durable`)."""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import pandas as pd

from core.config import DatasetConfig
from features.config import ChurnConfig
from features.engine import Engine
from features.loading import canonical_events, prepare
from features.pipeline import observed_until
from recall import durable
from recall.campaign_file import CampaignList
from recall.durable import RETURNED, Durability
from recall.returning import returned_users
from recall.review import ALL, CONFIDENCE, Review, review


def assess(
    events: ir.Table,
    churn: ChurnConfig,
    campaign: CampaignList,
    window_days: int,
    observed: dt.date,
    durability: Durability,
) -> Review:
    """The review of a listed campaign (or of several pooled: the rows' own campaign ids and
    dates count), with its durable outcomes, from events observed until `observed`."""
    listed = campaign.users.reset_index(drop=True)
    rows = durable.outcomes(events, churn, listed, window_days, durability)
    table = durable.compare(rows, window_days, durability, observed, CONFIDENCE, ALL)
    listed_campaign = CampaignList(campaign.id, campaign.date, listed)
    returned = pd.Series(rows[RETURNED].to_numpy(), index=listed.index)
    return review(listed_campaign, returned, window_days, observed, table)


def review_campaign(
    config: DatasetConfig,
    engine: Engine,
    campaign: CampaignList,
    window_days: int,
    durability: Durability | None = None,
) -> Review:
    """Review against the dataset's validated events (validating again if sources changed)."""
    events = canonical_events(engine, prepare(config, engine))
    rules = durability or Durability(lapsed_days=config.churn.lapsed_after_days)
    return assess(events, config.churn, campaign, window_days, observed_until(events), rules)


def campaign_returns(
    config: DatasetConfig, engine: Engine, campaign: CampaignList, window_days: int
) -> tuple[frozenset[str], dt.date]:
    """Who returned inside the window, and the first day the events do not cover, from the
    dataset's validated events: what `winback uplift fit` learns from."""
    events = canonical_events(engine, prepare(config, engine))
    returned = returned_users(events, config.churn, campaign.date, window_days)
    return returned, observed_until(events)
