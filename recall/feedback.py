"""Feed measured save rates back into the policy, so the next campaign plans with evidence.

Only strategies whose uplift is significant get a `measured` block; the others keep their
prior. PyYAML cannot keep comments, so the original file is left alone and the updated
policy is written next to it, validated, for a person to review and swap in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.config import ConfigError, parse_yaml
from recall.policy import MeasuredSaveRate, parse_policy, read_policy_text
from recall.review import Review


@dataclass(frozen=True)
class PolicyUpdate:
    path: Path  # the new file
    updated: dict[str, MeasuredSaveRate]
    not_in_policy: list[str]  # significant strategies the policy no longer has


def measured_save_rates(review: Review) -> dict[str, MeasuredSaveRate]:
    table = review.strategies
    rows = table[table.significant & table.measured_save_rate.notna()]
    return {
        str(row["strategy"]): MeasuredSaveRate(
            save_rate=round(row["measured_save_rate"], 4),
            low=round(row["save_rate_low"], 4),
            high=round(row["save_rate_high"], 4),
            campaign=review.campaign_id,
            window_days=review.window_days,
        )
        for row in rows.to_dict("records")
    }


def updated_path(policy_path: Path, campaign_id: str) -> Path:
    return policy_path.with_name(f"{policy_path.stem}.reviewed-{campaign_id}.yaml")


def update_policy(policy_path: Path, review: Review) -> PolicyUpdate | None:
    """None when no strategy's uplift was significant: there is nothing to feed back."""
    rates = measured_save_rates(review)
    if not rates:
        return None
    data: Any = parse_yaml(read_policy_text(policy_path), policy_path)  # ${ENV} kept as written
    strategies = data.get("strategies") if isinstance(data, dict) else None
    if not isinstance(strategies, list):
        raise ConfigError(f"{policy_path}: strategies: expected a list of strategies")
    known = {entry.get("name"): entry for entry in strategies if isinstance(entry, dict)}
    for name, rate in rates.items():
        if name in known:
            known[name]["measured"] = rate.model_dump()
    target = updated_path(policy_path, review.campaign_id)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_policy(parse_yaml(os.path.expandvars(text), target), target)  # it must load
    header = (
        f"# {policy_path.name} with save rates measured by the review of campaign "
        f"{review.campaign_id}\n# (comments of the original are not carried over)\n"
    )
    target.write_text(header + text)
    return PolicyUpdate(
        path=target,
        updated={name: rate for name, rate in rates.items() if name in known},
        not_in_policy=sorted(set(rates) - set(known)),
    )
