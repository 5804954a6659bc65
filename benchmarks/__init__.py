"""Benchmarks that back the README's performance claims with numbers from one run.

`python -m benchmarks` runs them all; each approach runs in its own process so that wall
time and peak memory are measured per approach, and outputs are compared before any number
is reported.
"""
