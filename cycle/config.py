"""The `cycle` section: campaign ids, the review window and what "durable" means, and where
each channel's contacts are POSTed besides its outbox file."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from core.sections import Strict

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]


class Webhook(Strict):
    """JSON batches POSTed to a receiver; a batch that fails every attempt stays pending and
    is tried again by the next cycle."""

    url: str = Field(description="http(s) URL the batches are POSTed to")
    timeout_seconds: PositiveFloat = Field(10.0, description="Per request")
    attempts: PositiveInt = Field(3, description="Tries of one batch within a cycle")
    backoff_seconds: NonNegativeFloat = Field(
        1.0, description="Wait before try k+1: backoff_seconds x 2**(k-1)"
    )
    batch_size: PositiveInt = Field(500, description="Contacts per POST")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers, e.g. Authorization: Bearer ${TOKEN}"
    )


class CycleConfig(Strict):
    campaign_prefix: Name | None = Field(
        None, description="Campaign ids are <prefix>-<day>-<strategy>; default: the name"
    )
    review_window_days: PositiveInt = Field(
        28, description="Returns counted in [day, day + this); reviewed once it has closed"
    )
    durable_days: list[PositiveInt] = Field(
        default_factory=lambda: [30, 60, 90],
        min_length=1,
        description="Still active this many days after returning (reviewed as each matures)",
    )
    active_days: PositiveInt = Field(
        30, description="Active at k days = a returning event in the this-many days up to k"
    )
    value_days: PositiveInt = Field(90, description="Value of the days after the return")
    review_charts: bool = Field(
        True, description="PNG charts in the reviews; drawing is most of a small review's time"
    )
    webhooks: dict[str, Webhook] = Field(
        default_factory=dict, description="Per channel (email, sms, push, in_app): a receiver"
    )
