"""The `uplift` section: how uplift models are learned from reviewed campaigns."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from core.sections import Strict

Learner = Literal["x", "dr", "t"]


class UpliftBoosterConfig(Strict):
    """LightGBM settings of every model inside a meta-learner. Campaign outcomes are noisy
    binary returns and effects are differences of a few points, so the trees are tiny and
    leaves big: on a planted 6,700-user campaign, 7 leaves of 100 users sent a few users of a
    negatively responding segment a contact; 5 leaves of 300 sent none (README, Uplift)."""

    num_leaves: Annotated[int, Field(ge=2)] = 5
    min_child_samples: PositiveInt = 300
    n_estimators: PositiveInt = 200
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    num_threads: PositiveInt = Field(
        1, description="One is fastest on a shared machine, and makes a seed reproduce the model"
    )


class UpliftPromotionConfig(Strict):
    """When a new uplift model becomes its strategy's champion (the policy then uses it)."""

    require_significant_qini: bool = Field(
        True,
        description="The held-out Qini coefficient's interval must lie above 0: a model that "
        "ranks no better than chance never steers a campaign",
    )


class UpliftConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = Field(
        None,
        description="Registered model name prefix, one model per strategy: <name>-<strategy>; "
        "default <model.name>-uplift",
    )
    learner: Learner = Field(
        "x", description="Meta-learner (causalml): x (Kunzel et al. 2019), dr (doubly robust), t"
    )
    folds: Annotated[int, Field(ge=2, le=10)] = Field(
        3,
        description="Cross-fitting folds: every user's held-out uplift comes from a model "
        "that never saw them",
    )
    min_treated: PositiveInt = Field(200, description="Fewest treated users a strategy needs")
    min_control: PositiveInt = Field(200, description="Fewest control users a strategy needs")
    booster: UpliftBoosterConfig = Field(default_factory=UpliftBoosterConfig)
    bootstrap_rounds: Annotated[int, Field(ge=50)] = Field(
        500, description="Resamples of the held-out users for every interval"
    )
    top_percent: list[Annotated[float, Field(gt=0, le=100)]] = Field(
        default_factory=lambda: [10.0, 20.0, 30.0],
        description="Uplift among the top k% by predicted uplift, reported for each k",
    )
    promotion: UpliftPromotionConfig = Field(default_factory=UpliftPromotionConfig)
    seed: int = 0

    def prefix(self, model_name: str) -> str:
        return self.name or f"{model_name}-uplift"
