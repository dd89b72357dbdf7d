"""Loads OSV advisory records and decides which of them affect a given PyPI package version."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ECOSYSTEM = "PyPI"
SNAPSHOT = Path(__file__).resolve().parent / "advisories" / "pypa-advisory-db.jsonl.gz"
SNAPSHOT_SOURCE = SNAPSHOT.with_name("SOURCE.json")
SUPPLEMENT = SNAPSHOT.with_name("supplement.yaml")


class AdvisoryDataError(ValueError):
    """An advisory file is missing, unreadable or not OSV."""


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(events: list[dict], version: Version) -> bool:
    """Applies one OSV `ECOSYSTEM` range's events to `version` (the OSV schema's evaluation order)."""
    ordered = []
    for event in events:
        (kind, value), *_ = event.items()
        bound = Version("0") if kind == "introduced" and value == "0" else _version(str(value))
        if bound is None:
            continue  # A non-PEP 440 bound cannot be compared; the explicit `versions` list still applies.
        ordered.append((bound, kind))
    affected = False
    for bound, kind in sorted(ordered, key=lambda item: item[0]):
        # `last_affected` still includes its own version; `introduced` and `fixed` take effect at theirs.
        reached = bound < version if kind == "last_affected" else bound <= version
        if reached and kind in ("introduced", "fixed", "last_affected"):
            affected = kind == "introduced"
    return affected


def affects(record: dict, name: str, version: str) -> bool:
    """Returns whether OSV `record` lists PyPI package `name` at `version` as affected.

    Args:
      record: One OSV record (a dict in the OSV schema).
      name: A package name, in any spelling PEP 503 normalises to the same name.
      version: The installed version.
    """
    wanted = canonicalize_name(name)
    parsed = _version(version)
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != ECOSYSTEM or canonicalize_name(package.get("name", "")) != wanted:
            continue
        listed = affected.get("versions", [])
        if version in listed or (parsed is not None and parsed in filter(None, map(_version, listed))):
            return True
        if parsed is None:
            continue
        for range_ in affected.get("ranges", []):
            if range_.get("type") == "ECOSYSTEM" and _in_range(range_.get("events", []), parsed):
                return True
    return False


class AdvisoryIndex:
    """OSV records indexed by the canonical name of each PyPI package they name."""

    def __init__(self, records: Iterable[dict]):
        self._by_package: dict[str, list[dict]] = defaultdict(list)
        self.size = 0
        for record in records:
            if "id" not in record or "affected" not in record:
                raise AdvisoryDataError(f"not an OSV record (needs 'id' and 'affected'): {str(record)[:120]}")
            self.size += 1
            names = {
                canonicalize_name(a.get("package", {}).get("name", ""))
                for a in record["affected"]
                if a.get("package", {}).get("ecosystem") == ECOSYSTEM
            }
            for name in names:
                self._by_package[name].append(record)

    def query(self, name: str, version: str) -> list[dict]:
        """Returns the records that affect `name` at `version`, withdrawn ones included (as OSV does)."""
        return [r for r in self._by_package.get(canonicalize_name(name), []) if affects(r, name, version)]


def read_records(path: Path = SNAPSHOT) -> list[dict]:
    """Reads a gzipped JSON Lines file of OSV records.

    Raises:
      AdvisoryDataError: the file is missing or a line is not JSON.
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        raise AdvisoryDataError(f"advisory snapshot not found: {path}") from None
    except (OSError, EOFError, json.JSONDecodeError) as error:
        raise AdvisoryDataError(f"advisory snapshot {path} is unreadable: {error}") from None


def read_yaml_entries(
    path: Path, required: tuple[str, ...], what: str, item: str, error: type[Exception] = AdvisoryDataError
) -> list[dict]:
    """Reads a YAML file holding a list of mappings, each with non-empty values for `required`.

    Args:
      path: The YAML file.
      required: Keys every entry must have.
      what: What the file holds, for messages ("accepted findings").
      item: What one entry is called, for messages ("entry").
      error: The exception class to raise.

    Raises:
      error: the file is unreadable, not a list, or an entry lacks a required key.
    """
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as problem:
        raise error(f"cannot read {what} {path}: {problem}") from None
    if not isinstance(entries, list):
        raise error(f"{path}: expected a list of {what}, got {type(entries).__name__}")
    for number, entry in enumerate(entries, 1):
        missing = [key for key in required if not (isinstance(entry, dict) and entry.get(key))]
        if missing:
            raise error(f"{path}: {item} {number} lacks {', '.join(missing)}")
    return entries


def read_supplement(path: Path = SUPPLEMENT) -> list[dict]:
    """Reads hand-added OSV records: a YAML list, each with an id, affected packages and a reference.

    Raises:
      AdvisoryDataError: the file is unreadable, not a list, or a record lacks one of those.
    """
    return read_yaml_entries(path, ("id", "affected", "references"), "OSV records", "record")


def write_records(records: Iterable[dict], path: Path) -> int:
    """Writes OSV records as gzipped JSON Lines, sorted by id and byte-identical for the same input.

    Returns:
      How many records were written.
    """
    ordered = sorted(records, key=lambda record: record["id"])
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        for record in ordered:
            out.write((json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode())
    partial.replace(path)
    return len(ordered)
