"""Rebuilds the vendored advisory snapshot from a checkout of the PyPA advisory database.

Usage: python -m security.refresh PATH/TO/advisory-database
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import yaml

from security.advisories import SNAPSHOT, SNAPSHOT_SOURCE, AdvisoryDataError, write_records


def _plain(value):
    """YAML timestamps become ISO strings, as in OSV's JSON form."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def read_checkout(checkout: Path) -> list[dict]:
    """Reads every `vulns/<package>/*.yaml` record of an advisory-database checkout.

    Raises:
      AdvisoryDataError: `checkout` has no `vulns/` folder or a record is not valid YAML.
    """
    vulns = checkout / "vulns"
    if not vulns.is_dir():
        raise AdvisoryDataError(f"{checkout} is not a PyPA advisory-database checkout (no vulns/ folder)")
    records = []
    for path in sorted(vulns.rglob("*.yaml")):
        try:
            records.append(_plain(yaml.safe_load(path.read_text(encoding="utf-8"))))
        except yaml.YAMLError as error:
            raise AdvisoryDataError(f"{path}: not valid YAML: {error}") from None
    return records


def _git(checkout: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m security.refresh", description=__doc__)
    parser.add_argument("checkout", type=Path, help="a checkout of the PyPA advisory database")
    args = parser.parse_args(argv)
    try:
        records = read_checkout(args.checkout)
    except AdvisoryDataError as error:
        print(f"refresh: error: {error}", file=sys.stderr)
        return 2
    count = write_records(records, SNAPSHOT)
    source = {
        "database": "PyPA advisory database (OSV format), licensed CC-BY-4.0",
        "commit": _git(args.checkout, "rev-parse", "HEAD"),
        "commit_date": _git(args.checkout, "log", "-1", "--format=%cs"),
        "records": count,
    }
    SNAPSHOT_SOURCE.write_text(json.dumps(source, indent=2) + "\n")
    print(f"refresh: {count} records from commit {source['commit']} ({source['commit_date']}) -> {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
