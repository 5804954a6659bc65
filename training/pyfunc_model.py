"""MLflow "model from code": the registered model is this file plus the two model files.

MLflow runs this file when the model is loaded, so nothing is unpickled: `load_context`
reads LightGBM's text model and the JSON metadata through `ChurnModel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from artifact.model import ChurnModel

MODEL_ARTIFACT = "churn_model"
PROBABILITY = "churn_probability"


class ChurnPyfunc(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.model = ChurnModel.load(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return pd.DataFrame({PROBABILITY: self.model.predict_proba(model_input)})


mlflow.models.set_model(ChurnPyfunc())
