"""`python -m cipopt` and the `cipopt` console script.

The entry point imports the CLI inside the guard, so that Ctrl-C even while the heavy libraries
load ends with a one-line message and exit code 130, never a traceback.
"""

from __future__ import annotations

import atexit
import gc
import sys


def run() -> None:
    # The process ends once its files are written: the cyclic collector's last pass at exit would
    # walk a big model only to free what the operating system frees anyway (0.5-1 s at 20,000
    # schemes, benchmarks/README.md). Freezing at exit skips that pass; set here, at the entry
    # point, so that importing the CLI (tests, notebooks) changes nothing at their exit.
    atexit.register(gc.freeze)
    try:
        from cipopt.cli import main

        main()
    except KeyboardInterrupt:
        print("cipopt: interrupted; nothing was written", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
