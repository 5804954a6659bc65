"""Recall (win-back): whom to contact, how and within what budget; then whether it worked.

`policy` is the typed YAML, `selection.decide` the one pure function the CLI and the HTTP
service share, `review` measures a finished campaign against its control group.
"""
