"""SIGTERM handled like Ctrl-C: what Kubernetes and process managers send to stop a run gets its summary."""

from __future__ import annotations

import signal
import threading

# The shell's codes for a command stopped by a signal: 128 + the signal's number.
INTERRUPTED_EXIT = 128 + signal.SIGINT  # 130
TERMINATED_EXIT = 128 + signal.SIGTERM  # 143


class TerminatedError(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM; a KeyboardInterrupt, so every Ctrl-C path handles it too."""


def interruption(error: BaseException) -> tuple[str, int]:
    """Returns how a KeyboardInterrupt came (`Ctrl-C` or `SIGTERM`) and the exit code that says so."""
    if isinstance(error, TerminatedError):
        return "SIGTERM", TERMINATED_EXIT
    return "Ctrl-C", INTERRUPTED_EXIT


def _raise_terminated(signum, frame) -> None:
    del signum, frame
    raise TerminatedError()


def handle_sigterm_as_interrupt() -> None:
    """Makes SIGTERM raise TerminatedError in the main thread (Python's default is to die silently).

    Only from the main thread, where Python allows signal handlers; elsewhere it does nothing.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
