"""MLflow "model from code": the registered uplift model is this file plus its model files.

MLflow runs this file when the model is loaded, so nothing is unpickled: `load_context` reads
the LightGBM text boosters and the JSON metadata through `UpliftModel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from uplift.model import UpliftModel

MODEL_ARTIFACT = "uplift_model"
UPLIFT = "uplift"


class UpliftPyfunc(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.model = UpliftModel.load(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return pd.DataFrame({UPLIFT: self.model.predict(model_input)})


mlflow.models.set_model(UpliftPyfunc())
