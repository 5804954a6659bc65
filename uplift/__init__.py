"""Uplift models: which users a contact changes, learned from campaign control groups.

`fit` learns one model per strategy from a reviewed campaign (causalml meta-learners on
LightGBM, cross-fitted), `curves` judges it on held-out users (Qini, AUUC, top-k uplift),
`model` is the fitted model as LightGBM text and JSON, `registry` its champion per strategy.
"""
