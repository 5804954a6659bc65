"""The recall policy: a typed YAML file saying who is worth contacting, how, and for how much.

Two choices here decide who gets contacted, so they are stated once:

- **Churn probability of unscored users.** The model scores active users only. Everyone else
  gets the fixed probability in `unscored_probability`: lapsed users 1.0 by default (they
  have already left, so their whole value is at stake), dormant users 1.0 (no activity in the
  active window: by the inactivity definition they are leaving), new users 0.5 (too young to
  judge: an even chance).
- **User value** = `user_value.feature` / max(tenure_days, `min_tenure_days`)
  x `horizon_days` x `unit_value`: what the user brought per day so far, projected over the
  horizon. With the default feature `value_total` that is expected revenue; a log without
  amounts can use `events_total` and price an event with `unit_value` (a monetary proxy).

A strategy's save rate is the share of would-be leavers that its contact brings back. The
configured `save_rate` is a prior; once a review measures one (`measured`), that is used.
Where `winback uplift fit` registered a champion uplift model for a strategy, its predicted
uplift of each user replaces probability x save rate (`selection`).

A cell may allow several contact strategies; each user then gets the one worth most to them.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.config import ConfigError, describe_errors, parse_yaml, read_text
from core.sections import Strict, resolve_optional_path

ContactChannel = Literal["email", "sms", "push", "in_app"]
Channel = Literal[ContactChannel, "none"]
Band = Literal["low", "medium", "high", "critical"]
Segment = Literal["at_risk", "lapsed", "new", "dormant"]
CONTACT_CHANNELS: tuple[str, ...] = get_args(ContactChannel)
BANDS: tuple[str, ...] = get_args(Band)
AT_RISK = "at_risk"
NO_CHANNEL = "none"
RFM_DIMENSIONS = 3

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]


class Campaign(Strict):
    id: Name = Field(description="Names the list, seeds the control split, titles the review")
    date: dt.date = Field(description="Contacts go out on this day; the review window opens here")


class WarningLine(Strict):
    """Which active users are at risk: give exactly one of the two."""

    probability: float | None = Field(None, gt=0, le=1, description="churn_probability >= this")
    top_percent: float | None = Field(
        None, gt=0, le=100, description="The riskiest N% of the active users being decided on"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> WarningLine:
        if (self.probability is None) == (self.top_percent is None):
            raise ValueError("give exactly one of probability or top_percent")
        return self


class UnscoredProbability(Strict):
    """Churn probability assumed for users the model does not score (see the module doc)."""

    lapsed: float = Field(1.0, ge=0, le=1)
    dormant: float = Field(1.0, ge=0, le=1)
    new: float = Field(0.5, ge=0, le=1)


class UserValue(Strict):
    """value = feature / max(tenure_days, min_tenure_days) x horizon_days x unit_value."""

    feature: str = "value_total"
    horizon_days: PositiveInt = 90
    min_tenure_days: PositiveInt = Field(
        30, description="Floor on tenure, so a two-day-old user's rate is not blown up"
    )
    unit_value: PositiveFloat = Field(1.0, description="Money per unit of `feature`")


class Rfm(Strict):
    """Online-store features scored 1..quantiles over all users; recent, frequent, big = high."""

    recency: str = "recency_days"
    frequency: str = "active_days_total"
    monetary: str = "value_total"
    quantiles: int = Field(5, ge=2, le=10)

    @property
    def lowest_score(self) -> int:
        return RFM_DIMENSIONS

    @property
    def highest_score(self) -> int:
        return RFM_DIMENSIONS * self.quantiles


class Tier(Strict):
    name: Name
    min_score: PositiveInt = Field(description="Lowest R+F+M score in this tier")


def _as_list(value: Any) -> Any:
    """`status: lapsed` and `status: [lapsed, dormant]` both read naturally in YAML."""
    return [value] if isinstance(value, str) else value


class When(Strict):
    """The cells of the (status, value tier, risk band) table a strategy covers."""

    status: list[Segment] = Field(min_length=1)
    tier: list[str] | None = Field(None, min_length=1, description="Unset: every tier")
    band: list[Band] | None = Field(None, min_length=1, description="Unset: every band")

    _listed = field_validator("status", "tier", "band", mode="before")(_as_list)

    @model_validator(mode="after")
    def _bands_need_scores(self) -> When:
        if self.band is not None and self.status != [AT_RISK]:
            raise ValueError("band applies to status at_risk only (other users are not scored)")
        return self


class Cell(NamedTuple):
    segment: str
    tier: str
    band: str | None


class MeasuredSaveRate(Strict):
    """Written by `winback review --update-policy` when a campaign's uplift was significant."""

    save_rate: float = Field(le=1, description="Negative: the contact drove users away")
    low: float
    high: float
    campaign: Name
    window_days: PositiveInt


class Strategy(Strict):
    name: Name
    when: When
    channel: Channel
    offer: str | None = Field(None, description="Offer or message template id")
    unit_cost: NonNegativeFloat = 0.0
    save_rate: float = Field(0.0, ge=0, le=1, description="Prior, until a review measures one")
    measured: MeasuredSaveRate | None = None
    expected_return_rate: float | None = Field(
        None, gt=0, lt=1, description="Control return rate for the power calculation"
    )
    minimum_detectable_effect: float | None = Field(
        None, gt=0, lt=1, description="Uplift the control group must be able to show"
    )

    @model_validator(mode="after")
    def _offer_matches_channel(self) -> Strategy:
        if self.channel == NO_CHANNEL and (self.offer or self.unit_cost):
            raise ValueError("channel none means no contact: no offer and no unit_cost")
        if self.channel != NO_CHANNEL and not self.offer:
            raise ValueError(f"channel {self.channel} needs an offer (template id)")
        return self

    @property
    def expected_save_rate(self) -> float:
        return self.save_rate if self.measured is None else self.measured.save_rate

    def cells(self, tiers: list[str]) -> list[Cell]:
        chosen = self.when.tier or tiers
        return [
            Cell(segment, tier, band)
            for segment in self.when.status
            for tier in chosen
            for band in ((self.when.band or BANDS) if segment == AT_RISK else [None])
        ]


class ControlPower(Strict):
    """Each strategy's control share from a power calculation (`power`): big enough for the
    review to find an uplift of the minimum detectable effect with this power. Strategies may
    set their own expected_return_rate and minimum_detectable_effect."""

    minimum_detectable_effect: float = Field(gt=0, lt=1, description="In return-rate points")
    expected_return_rate: float = Field(gt=0, lt=1, description="Of the control group")
    alpha: float = Field(0.05, gt=0, lt=1, description="Two-sided, as the review's 95% interval")
    power: float = Field(0.8, gt=0, lt=1)
    min_share: float = Field(0.05, gt=0, lt=1)
    max_share: float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ControlPower:
        if self.min_share > self.max_share:
            raise ValueError(f"min_share {self.min_share} is above max_share {self.max_share}")
        return self

    def effect(self, strategy: Strategy) -> float:
        return strategy.minimum_detectable_effect or self.minimum_detectable_effect

    def base_rate(self, strategy: Strategy) -> float:
        return strategy.expected_return_rate or self.expected_return_rate


class RecallPolicy(Strict):
    campaign: Campaign
    warning_line: WarningLine
    unscored_probability: UnscoredProbability = Field(default_factory=UnscoredProbability)
    user_value: UserValue = Field(default_factory=UserValue)
    rfm: Rfm = Field(default_factory=Rfm)
    tiers: list[Tier] = Field(min_length=1, description="Highest first")
    strategies: list[Strategy] = Field(min_length=1)
    budget: NonNegativeFloat
    capacity: dict[ContactChannel, NonNegativeInt] = Field(
        default_factory=dict, description="Contacts per channel; a channel not listed is unlimited"
    )
    frequency_cap_days: NonNegativeInt = Field(
        0, description="Skip users contacted (any channel) this many days before the campaign"
    )
    contact_history: str | None = Field(
        None, description="CSV/Parquet: user_id, channel, contacted_at"
    )
    opt_outs: str | None = Field(None, description="CSV/Parquet: user_id, channel")
    control_fraction: float = Field(
        ge=0, lt=1, description="Share held out as control; with control_power, its fallback"
    )
    control_power: ControlPower | None = None
    exploration: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of the users with an allowed contact strategy who get a random one "
        "(hash of campaign and user), whatever it is worth, listed first, so every strategy's "
        "effect stays measurable",
    )

    _relative_to_policy = field_validator("contact_history", "opt_outs")(resolve_optional_path)

    @field_validator("tiers")
    @classmethod
    def _tiers_cover_every_score(cls, tiers: list[Tier], info: ValidationInfo) -> list[Tier]:
        rfm: Rfm = info.data.get("rfm", Rfm())
        names = [tier.name for tier in tiers]
        if len(set(names)) < len(names):
            raise ValueError(f"tier names repeat: {names}")
        scores = [tier.min_score for tier in tiers]
        if scores != sorted(set(scores), reverse=True):
            raise ValueError(f"min_score must strictly decrease, highest tier first: {scores}")
        if scores[0] > rfm.highest_score:
            raise ValueError(f"min_score {scores[0]} is above the top score {rfm.highest_score}")
        if scores[-1] != rfm.lowest_score:
            raise ValueError(
                f"the last tier needs min_score {rfm.lowest_score} (the lowest R+F+M score), "
                "otherwise some users get no tier"
            )
        return tiers

    @field_validator("strategies")
    @classmethod
    def _one_strategy_per_cell(
        cls, strategies: list[Strategy], info: ValidationInfo
    ) -> list[Strategy]:
        tiers = [tier.name for tier in info.data.get("tiers", [])]
        names = [strategy.name for strategy in strategies]
        if len(set(names)) < len(names):
            raise ValueError(f"strategy names repeat: {names}")
        owner: dict[Cell, Strategy] = {}
        for strategy in strategies:
            unknown = set(strategy.when.tier or ()) - set(tiers)
            if unknown:
                raise ValueError(f"{strategy.name}: unknown tier {sorted(unknown)}; tiers: {tiers}")
            for cell in strategy.cells(tiers):
                first = owner.setdefault(cell, strategy)
                if first is not strategy and NO_CHANNEL in (first.channel, strategy.channel):
                    raise ValueError(
                        f"{first.name} and {strategy.name} both cover {tuple(cell)}: a cell "
                        "let go (channel none) allows no other strategy"
                    )
        return strategies

    def strategy_table(self) -> dict[Cell, Strategy]:
        """Every covered (status, tier, band) cell and its first strategy; cells not listed
        get no contact."""
        tiers = [tier.name for tier in self.tiers]
        table: dict[Cell, Strategy] = {}
        for strategy in self.strategies:
            for cell in strategy.cells(tiers):
                table.setdefault(cell, strategy)
        return table

    def allowed(self) -> list[tuple[Cell, Strategy]]:
        """Every (cell, strategy) the policy allows, in strategy order."""
        tiers = [tier.name for tier in self.tiers]
        return [(cell, s) for s in self.strategies for cell in s.cells(tiers)]


def parse_policy(data: Any, source: Path) -> RecallPolicy:
    """Validate parsed YAML; `source` anchors relative paths and names the file in errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return RecallPolicy.model_validate(data, context={"base_dir": str(source.resolve().parent)})
    except ValidationError as error:
        raise ConfigError(describe_errors(error, source)) from None


def read_policy_text(path: Path) -> str:
    return read_text(path, "policy")


def load_policy(path: str | Path) -> RecallPolicy:
    """Read a policy YAML, expanding ${ENV} variables, into a validated policy."""
    source = Path(path)
    text = os.path.expandvars(read_policy_text(source))
    return parse_policy(parse_yaml(text, source), source)
