"""The model as training writes it and serving reads it: LightGBM text plus JSON metadata, the
registry's read side and where the tracking store is. Below both, so neither imports the other."""
