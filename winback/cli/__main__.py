"""`python -m winback.cli`: the same app as the `winback` script (spark-submit runs this file)."""

from winback.cli.main import main

main()
