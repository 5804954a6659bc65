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


def main() -> NoReturn:
    """The `winback` script. A command's process is short and most of what it makes lives
    to its end (the libraries, the model, the data): full collections, which walk all of
    it, ran 7 times while `winback score` started (0.7 s), so they run a tenth as often;
    the young generations are collected as usual."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    if sys.argv[1:2] == ["score"]:
        hide_sklearn()
        # numpy asks the kernel for transparent huge pages on every big array, and under the
        # kernel's default defrag ("madvise") a fault on such an array may wait for memory
        # to be compacted. Batch scoring makes and frees ~90 MB arrays block after block:
        # without them its system time fell from 2.3 s to 1.6 s, its wall time 0.94x (10 A/B
        # pairs, 1M users). Read by numpy when imported, later; a user's own setting wins.
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
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
