"""Run a Python module as __main__ and record its resource usage at exit.

    python benchmarks/measure.py RESULT.json -m MODULE [ARGS...]

Writes {"cpu_self": s, "cpu_children": s, "maxrss_self_kib": n,
"maxrss_children_kib": n} from getrusage when the program exits (also through
sys.exit), so a benchmark gets the main process's own CPU and peak RSS apart
from its worker processes'.
"""

from __future__ import annotations

import atexit
import json
import resource
import runpy
import sys
from pathlib import Path

# The repository instead of this folder, whose modules must not pass for packages.
sys.path[0] = str(Path(__file__).resolve().parents[1])


def _record(path: str) -> None:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path, "w") as f:
        json.dump(
            {
                "cpu_self": me.ru_utime + me.ru_stime,
                "cpu_children": kids.ru_utime + kids.ru_stime,
                "maxrss_self_kib": me.ru_maxrss,
                "maxrss_children_kib": kids.ru_maxrss,
            },
            f,
        )


def main() -> None:
    result, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: measure.py RESULT.json -m MODULE [ARGS...]")
    atexit.register(_record, result)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
