"""Learning from a reviewed campaign: its control groups become uplift models, one per strategy.

The inputs are the review's (the campaign list and its window) plus the online-store version
the list was built on; the outcome is the review's own "returned inside the window". Each
fitted strategy is logged and registered (`uplift.tracking`); the policy uses a strategy's
model once it is champion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from artifact.tracking import TrackingStore
from core.config import DatasetConfig, InputError
from features.engine import Engine
from features.spec import Feature
from recall.campaign_file import CampaignList
from recall.outcomes import campaign_returns
from uplift.fit import CampaignData, StrategyFit, fit_campaign, joined
from uplift.registry import model_name, prefix_of
from uplift.report import FitReport, Outcome, not_fitted, write_report
from uplift.tracking import log_fit

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Learned:
    campaign: CampaignData
    outcomes: list[Outcome]
    report: FitReport


def campaign_data(
    config: DatasetConfig,
    engine: Engine,
    campaign: CampaignList,
    window_days: int,
    store_version: str,
    features: pd.DataFrame,
) -> CampaignData:
    """The campaign with its outcomes; refused while its window is still open (returns would
    still be counted as stays)."""
    returned, until = campaign_returns(config, engine, campaign, window_days)
    end = campaign.date + dt.timedelta(days=window_days)
    if until < end:
        raise InputError(
            f"campaign {campaign.id}: its {window_days}-day window ends {end} but events stop "
            f"at {until}; fit once the window is over"
        )
    return CampaignData(
        id=campaign.id,
        date=campaign.date,
        window_days=window_days,
        store_version=store_version,
        listed=campaign.users[["user_id", "strategy", "group"]],
        features=features,
        returned=returned,
    )


def learn(
    config: DatasetConfig,
    campaign: CampaignData,
    catalog: list[Feature],
    store: TrackingStore,
    folder: Path,
    progress: Progress,
) -> Learned:
    """Fit, log and register every strategy with enough users; report all of them."""
    prefix = prefix_of(config)
    settings = config.uplift
    results = fit_campaign(
        campaign, catalog, settings, lambda strategy: model_name(prefix, strategy), progress
    )
    users = joined(campaign)
    outcomes = not_fitted(results)
    for fit in (r for r in results if isinstance(r, StrategyFit)):
        progress(f"{fit.strategy}: logging and registering {fit.model.metadata.name}")
        logged = log_fit(store, f"{config.name}-uplift", fit, campaign, users, settings, folder)
        outcomes.append(
            Outcome(fit.strategy, fit, logged.decision.reason, logged.version, logged.charts)
        )
    outcomes.sort(key=lambda outcome: outcome.strategy)
    return Learned(
        campaign, outcomes, write_report(campaign.id, outcomes, settings.top_percent, folder)
    )
