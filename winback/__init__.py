"""Winback's command line (`winback.cli`): on top of every other package."""
