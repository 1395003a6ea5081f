"""`python -m cipopt` and the `cipopt` console script.

The entry point imports the CLI inside the guard, so that Ctrl-C even while the heavy libraries
load ends with a one-line message and exit code 130, never a traceback.
"""

from __future__ import annotations

import sys


def run() -> None:
    try:
        from cipopt.cli import main

        main()
    except KeyboardInterrupt:
        print("cipopt: interrupted; nothing was written", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
