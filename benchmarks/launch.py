"""Run one command as a whole process; report its wall time, CPU time and peak RSS as JSON.

`python -m benchmarks.launch OUT ERR -- COMMAND...` spawns COMMAND with its stdout and stderr
in the files OUT and ERR, reaps it with `os.wait4` and prints one JSON line. Wall time runs
from just before the spawn to the reaping, so it covers everything a user waits for:
interpreter start, imports, the work, writing the output and exit. CPU time and peak RSS are
the child's own rusage (CPU summed over its threads).

Standard library only, and small on purpose: on Linux a child's `ru_maxrss` starts from the
high-water mark of the memory it was spawned from, so a launcher that had loaded Arrow or Ibis
would charge its own memory to `winback --help`. A process spawned from this one starts from
this one's peak (reported as `launcher_peak_mb`), not from the benchmark's.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: python -m benchmarks.launch OUT ERR -- COMMAND...", file=sys.stderr)
        return 2
    out, err, command = argv[0], argv[1], argv[3:]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out, flags, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, err, flags, 0o644),
    ]
    launcher_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    report = {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "user_s": usage.ru_utime,
        "system_s": usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "exit_code": os.waitstatus_to_exitcode(status),
        "launcher_peak_mb": launcher_peak_kb / 1024,
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
