"""Winback: the root config and errors every package builds on (`config`, `sections`), and the
command line on top of everything (`cli`)."""
