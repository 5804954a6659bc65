"""`winback`: thin commands that load config, call a library function and print a summary."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import NoReturn

import typer

from winback.cli import (
    cycle,
    data,
    features,
    monitoring,
    recall,
    report,
    serving,
    training,
    uplift,
)
from winback.cli.lightgbm_alone import hide_sklearn

app = typer.Typer(
    help="Winback: churn prediction and win-back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Churn prediction and win-back: features, training, scoring, recall."""


data.register(app)
features.register(app)
serving.register(app)
recall.register(app)
training.register(app)
monitoring.register(app)
report.register(app)
cycle.register(app)
uplift.register(app)


# Full collections once every this many middle-generation ones (Python's default: 10).
FULL_COLLECTION_EVERY = 100
# How `winback score` asks for memory; read by numpy and Arrow when first used, later, so set
# before the command runs; a user's own setting wins. Batch scoring makes and frees arrays of
# ~90 MB block after block, and on this kind of host a fresh page costs its zeroing in the
# kernel (a quarter of the command's CPU samples were `clear_page`):
# - numpy asks for transparent huge pages on every big array, and under the kernel's default
#   defrag ("madvise") a fault on one may wait for memory to be compacted: without them system
#   time fell from 2.3 s to 1.6 s, wall time 0.94x (10 A/B pairs, 1M users).
# - With Arrow's default pool (mimalloc) the store's read took 1.0-2.6 s of system time,
#   against 0.3-0.4 s with jemalloc (also bundled with pyarrow); the whole command: system
#   time 1.8 s against 3.6 s, wall 0.92x (each of 10 A/B pairs faster), peak RSS 1,520 MiB
#   against 1,593.
SCORE_ENVIRONMENT = {"NUMPY_MADVISE_HUGEPAGE": "0", "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}


def main() -> NoReturn:
    """The `winback` script. A command's process is short and most of what it makes lives
    to its end (the libraries, the model, the data): full collections, which walk all of
    it, ran 7 times while `winback score` started (0.7 s), so they run a tenth as often;
    the young generations are collected as usual."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    if sys.argv[1:2] == ["score"]:
        hide_sklearn()
        for name, value in SCORE_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
    try:
        app()
    except SystemExit as done:
        _end(done.code)
    _end(0)


def _end(code: object) -> NoReturn:
    """Exit as Python does, without the interpreter's teardown: the exit handlers run
    (logging's flush, MLflow's, Spark's), the output is flushed, and the process ends with
    the command's exit code. The teardown frees every library's objects one collection
    pass after another (1 s after a 1M-user `winback score`) and has nothing to save:
    every file is closed and every thread of ours joined by then."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what Python does with sys.exit("message")
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code or 0)
