"""The operations page: who is at risk, why, how cohorts retain, what campaigns did.

Figures are pure functions of what the service already holds (scores, the online store's
table, the recall policy and list) and of the files other commands write (the validated
event log, campaign reviews, the monitor's summary.json); `page` renders them as HTML. The
service mounts the pages at /ui and `winback report` writes them as files, both through
`page.Pages`, so the two cannot show different numbers.
"""
