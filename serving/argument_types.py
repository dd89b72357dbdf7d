"""Argparse types of the serving commands: numbers in ASCII digits, ports, hosts and non-empty paths.

Each refuses with `argparse.ArgumentTypeError`, which the CLI turns into one `fashion-tfx: error:` line
naming the option (exit 2). Building a parser with these types loads nothing heavy.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re

_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ASCII_NATURAL = re.compile(r"[0-9]+", re.ASCII)
# RFC 1123 host names (underscores allowed, as some cluster DNS names have them), at most 253 characters.
_HOST_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?", re.ASCII)
MAX_HOST_NAME = 253
MIN_PORT, MAX_PORT = 1, 65535


def ascii_int(text: str) -> int:
    """An argparse type: an integer written in ASCII digits.

    `int()` also reads other scripts' digits (`٣٢` is 32, `４２` is 42) and surrounding spaces; a number
    on the command line is refused unless it is plain ASCII, as a config file or a log would show it.
    """
    if not _ASCII_INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a whole number in ASCII digits: {text!r}")
    return int(text)


def ascii_float(text: str) -> float:
    """An argparse type: a decimal number written in ASCII digits (no `nan`, `inf`, nor other scripts)."""
    if not _ASCII_DECIMAL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a decimal number in ASCII digits: {text!r}")
    return float(text)


def version_number(text: str) -> int:
    """A model version: ASCII digits only, 0 or more (TF Serving's version folders are such numbers)."""
    if not _ASCII_NATURAL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"a version is a number of 0 or more in ASCII digits, got {text!r}")
    return int(text)


def port_number(text: str) -> int:
    """A TCP port: ASCII digits in 1-65535 (69001 must not wrap around to 3465, nor 0 mean the default)."""
    if not _ASCII_NATURAL.fullmatch(text) or not MIN_PORT <= int(text) <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"a port is a number in {MIN_PORT}-{MAX_PORT}, got {text!r}")
    return int(text)


def host_name(text: str) -> str:
    """A host name or IP address, as it goes into a URL or a gRPC target (an IPv6 address in brackets).

    Spaces, newlines, slashes, `@`, ports and URL schemes are refused: they would change what is reached.
    """
    address = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        if len(text) <= MAX_HOST_NAME and _HOST_NAME.fullmatch(text):
            return text
        raise argparse.ArgumentTypeError(
            f"not a host name or IP address: {text!r} (give the host alone, without scheme, port or path)"
        ) from None
    return f"[{parsed}]" if parsed.version == 6 else str(parsed)


def positive_seconds(text: str) -> float:
    """A finite number of seconds above zero (NaN, inf, 0, negatives and non-ASCII digits are refused)."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, got {text!r}")
    return value


def path_text(text: str) -> str:
    """A path that names something: not empty nor blank (`Path("")` is the current folder), no newline."""
    if not text.strip() or "\n" in text or "\r" in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"must name a file or folder, got {text!r}")
    return text
