"""Exit codes of the serving commands and their one-line, terminal-safe error reports.

Exit 2: the user's input or flags are wrong (a bad PNG, a missing model folder, an empty path).
Exit 1: the model, the server or the machine failed (an unreachable or lying server, a full disk).
"""

from __future__ import annotations

import sys

BAD_INPUT = 2
FAILED = 1


def printable(text: str) -> str:
    """`text` with control and formatting characters escaped (`\\x1b`), safe to print on a terminal.

    A server's error message, a class name or a file name could otherwise carry ANSI escapes that
    rewrite the terminal.
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean bad input or flags (exit 2)."""
    from data.fashion_mnist import DatasetError
    from serving.payloads import PayloadError
    from serving.push import ServingRootError

    return PayloadError, ServingRootError, DatasetError


def failures() -> tuple[type[BaseException], ...]:
    """The exception types that mean the model, server or machine failed (exit 1)."""
    from serving.signatures import ServingError

    return ServingError, OutputError


class OutputError(RuntimeError):
    """An output file could not be written (a full disk, a read-only folder); nothing was left behind."""


def report(err: BaseException) -> int:
    """Prints `err` as one `fashion-tfx: error:` line on stderr; returns the exit code it calls for."""
    print(f"fashion-tfx: error: {printable(str(err) or type(err).__name__)}", file=sys.stderr)
    return FAILED if isinstance(err, failures()) else BAD_INPUT
