"""The words a decision is written in: its group, and why a user was skipped.

They appear in recall.csv and in the service's answers, so they are stable identifiers.
"""

TREATMENT, CONTROL, SKIPPED = "treatment", "control", "skipped"

BELOW_LINE = "below_warning_line"  # active, but not at risk
NO_STRATEGY = "no_strategy"  # no strategy covers the user's (status, tier, band)
LET_GO = "let_go"  # the strategy's channel is none
NOT_WORTH = "negative_value"  # expected net value <= 0
OPTED_OUT = "opted_out"  # of the strategy's channel
RECENT = "recently_contacted"  # inside the frequency cap
OVER_BUDGET = "over_budget"  # the budget went to higher-value users
OVER_CAPACITY = "over_capacity"  # the channel's capacity went to higher-value users
NOT_TRIGGERED = "not_triggered"  # daily cycle: in this segment already at the last cycle
NEGATIVE_UPLIFT = "negative_uplift"  # the uplift model predicts the contact lowers their return

# Which rule chose and valued a user's strategy (the `rule` column)
UPLIFT = "uplift"  # the strategy's champion uplift model: uplift x value - cost
SAVE_RATE = "save_rate"  # no uplift model: probability x value x save rate - cost
EXPLORE = "explore"  # drawn for exploration: a random allowed strategy
