"""`python -m cipopt` and the `cipopt` console script.

The entry point imports the CLI inside the guard, so that Ctrl-C even while the heavy libraries
load ends with a one-line message and exit code 130, never a traceback.
"""

from __future__ import annotations

import atexit
import gc
import signal
import sys

ENDING_SIGNALS = ("SIGTERM", "SIGHUP")


def _end(signum, frame) -> None:
    """SIGTERM and SIGHUP end cipopt as Ctrl-C does: through every `finally`, so the solve is
    cancelled and half-written staging folders are removed (io/write.py); further signals wait."""
    for name in ENDING_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """Handle SIGTERM and SIGHUP like SIGINT, unless they are ignored (nohup)."""
    for name in ENDING_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _end)


def run() -> None:
    # The process ends once its files are written: the cyclic collector's last pass at exit would
    # walk a big model only to free what the operating system frees anyway (0.5-1 s at 20,000
    # schemes, benchmarks/README.md). Freezing at exit skips that pass; set here, at the entry
    # point, so that importing the CLI (tests, notebooks) changes nothing at their exit.
    atexit.register(gc.freeze)
    install_signal_handlers()
    try:
        from cipopt import bulk

        bulk.FREEZE_LOADED_MODULES = True  # this process is cipopt's (see bulk.loading_modules)
        with bulk.loading_modules():
            from cipopt.cli import main

        main()
    except KeyboardInterrupt:
        print("cipopt: interrupted; nothing was written", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
