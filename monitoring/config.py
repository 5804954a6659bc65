"""The `monitor` section: when `winback monitor` warns and when it alerts (exit code 1)."""

from __future__ import annotations

from pydantic import Field, PositiveInt, model_validator

from core.sections import Strict


class MonitorConfig(Strict):
    """Thresholds on drift against the model's training reference and on realised quality."""

    psi_warn: float = Field(0.1, gt=0, description="PSI of a number or the score: warning")
    psi_alert: float = Field(0.2, gt=0, description="PSI of a number or the score: alert")
    js_warn: float = Field(
        0.05, gt=0, le=1, description="Jensen-Shannon distance (base 2) of a category: warning"
    )
    js_alert: float = Field(0.1, gt=0, le=1, description="... and alert")
    max_auc_drop: float = Field(
        0.05,
        gt=0,
        description="Alert when a matured snapshot's ROC AUC is more than this below the "
        "model's promise (its test ROC AUC); a warning when the expected one (CBPE) is",
    )
    max_ece: float = Field(
        0.05, gt=0, description="Alert when a matured snapshot's ECE is above this"
    )
    min_labelled: PositiveInt = Field(
        100, description="Fewer labelled users, or none of a class: the snapshot is not judged"
    )
    bootstrap_rounds: PositiveInt = Field(
        500, description="Resamples for the realised metrics' 95% intervals"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> MonitorConfig:
        if self.psi_warn > self.psi_alert or self.js_warn > self.js_alert:
            raise ValueError("a warning threshold must not exceed its alert threshold")
        return self
