"""The daily win-back loop (`winback cycle`): new events -> store -> scores -> recall list ->
delivery -> contact history -> reviews of closed campaigns, one idempotent run per day.

`run.run_cycle` is the day; each step is a module of its own: `triggers` (who enters a state
today), `decide` (the recall list, by the function `winback recall` uses), `state` (the
durable record in SQLite), `outbox` and `webhook` (delivery), `reviews`, `lock`.
"""
