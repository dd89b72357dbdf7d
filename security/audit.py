"""Audits the pinned lock with pip-audit against the vendored advisory snapshot, offline.

pip-audit does the auditing; its OSV queries go to a loopback mirror of the snapshot instead of the
network. Every finding must be listed, with a reason, in `accepted-findings.yaml`: a new finding, or an
accepted one that no longer occurs, fails the audit so that the list (and the README) stay true.

Usage: python -m security.audit [--lock requirements.lock] [--report audit.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from security.advisories import (
    SNAPSHOT,
    SNAPSHOT_SOURCE,
    SUPPLEMENT,
    AdvisoryDataError,
    AdvisoryIndex,
    read_records,
    read_supplement,
    read_yaml_entries,
)
from security.osv_mirror import OsvMirror

ACCEPTED = Path(__file__).resolve().parent / "accepted-findings.yaml"


class AuditError(RuntimeError):
    """The audit could not be carried out (as opposed to: it found something)."""


@dataclass(frozen=True)
class Finding:
    """One advisory that affects one pinned package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""

    def names(self) -> set[str]:
        return {self.id, *self.aliases}

    def label(self) -> str:
        """`package==version  ID aka ALIASES  (fixed in: ...)`, as the report prints it."""
        aka = f" aka {', '.join(sorted(self.aliases))}" if self.aliases else ""
        fixes = ", ".join(self.fix_versions) or "none"
        return f"{self.package}=={self.version}  {self.id}{aka}  (fixed in: {fixes})"


@dataclass
class AuditResult:
    """What the audit found, split by whether each finding was already known and accepted."""

    packages: int
    accepted: list[tuple[Finding, str]] = field(default_factory=list)
    new: list[Finding] = field(default_factory=list)
    stale: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.new and not self.stale


def load_accepted(path: Path = ACCEPTED) -> list[dict]:
    """Reads the accepted findings: a YAML list of {id, package, reason}.

    Raises:
      AuditError: the file is not such a list, or an entry lacks a field.
    """
    return read_yaml_entries(path, ("id", "package", "reason"), "accepted findings", "entry", AuditError)


def run_pip_audit(lock: Path, osv_url: str, workdir: Path) -> tuple[int, list[Finding]]:
    """Runs pip-audit over `lock` with OSV queries sent to `osv_url`.

    Returns:
      The number of packages audited and the findings.

    Raises:
      AuditError: pip-audit failed for a reason other than finding vulnerabilities.
    """
    report = workdir / "pip-audit.json"
    command = [
        sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--no-deps", "--disable-pip",
        "--strict", "--vulnerability-service", "osv", "--osv-url", osv_url, "--format", "json",
        "--output", str(report), "--progress-spinner", "off", "--cache-dir", str(workdir / "cache"),
        "--desc", "on", "--aliases", "on",
    ]  # fmt: skip
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    # pip-audit exits 1 both when it finds something and when it fails; only a report tells them apart.
    if done.returncode not in (0, 1) or not report.exists():
        raise AuditError(f"pip-audit failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    dependencies = json.loads(report.read_text())["dependencies"]
    findings = [
        Finding(
            package=dep["name"],
            version=dep["version"],
            id=vuln["id"],
            aliases=tuple(vuln.get("aliases", [])),
            fix_versions=tuple(vuln.get("fix_versions", [])),
            description=(vuln.get("description") or "").strip(),
        )
        for dep in dependencies
        for vuln in dep.get("vulns", [])
    ]
    return len(dependencies), findings


def classify(packages: int, findings: list[Finding], accepted: list[dict]) -> AuditResult:
    """Splits findings into accepted and new, and finds acceptances that no longer match anything."""
    result = AuditResult(packages=packages)
    used = set()
    for finding in findings:
        match = next(
            (
                number
                for number, entry in enumerate(accepted)
                if entry["id"] in finding.names() and entry["package"].lower() == finding.package.lower()
            ),
            None,
        )
        if match is None:
            result.new.append(finding)
        else:
            used.add(match)
            result.accepted.append((finding, accepted[match]["reason"].strip()))
    result.stale = [entry for number, entry in enumerate(accepted) if number not in used]
    return result


def audit(lock: Path, index: AdvisoryIndex, accepted: list[dict]) -> AuditResult:
    """Audits `lock` against `index` with pip-audit through a loopback OSV mirror."""
    if not lock.is_file():
        raise AuditError(f"lock file not found: {lock}")
    with tempfile.TemporaryDirectory(prefix="fashion-tfx-audit-") as workdir, OsvMirror(index) as mirror:
        packages, findings = run_pip_audit(lock, mirror.url, Path(workdir))
    return classify(packages, findings, accepted)


def snapshot_age(source: dict, today: datetime.date | None = None) -> str:
    """Describes the snapshot's commit and age, e.g. 'commit 3ccb612 of 2024-10-10, 778 days old'."""
    commit, date = source.get("commit", "unknown")[:7], source.get("commit_date", "unknown")
    try:
        days = ((today or datetime.date.today()) - datetime.date.fromisoformat(date)).days
    except ValueError:
        return f"commit {commit} of unknown date"
    return f"commit {commit} of {date}, {days} days old"


def render(result: AuditResult, lock: Path, source: dict, records: int, added: int) -> str:
    """The audit's human-readable report."""
    lines = [
        f"audit: {result.packages} pinned packages in {lock} checked by pip-audit against {records} "
        f"advisories of the PyPA advisory database ({snapshot_age(source)}) and {added} added by hand "
        f"({SUPPLEMENT.name}).",
        "audit: other advisories published after that commit are not seen here; `make audit-online` asks "
        "the live services where the network allows.",
    ]
    for finding, reason in result.accepted:
        lines.append(f"  accepted  {finding.label()}")
        lines.append(f"            why: {' '.join(reason.split())}")
    for finding in result.new:
        lines.append(f"  NEW       {finding.label()}")
        lines.append(f"            {' '.join(finding.description.split())[:300]}")
    for entry in result.stale:
        lines.append(
            f"  STALE     {entry['package']}  {entry['id']}: accepted in {ACCEPTED.name} but no longer "
            "found; remove it there and from the README"
        )
    verdict = "passed" if result.passed else "FAILED"
    lines.append(
        f"audit: {verdict}: {len(result.accepted)} accepted, {len(result.new)} new, "
        f"{len(result.stale)} stale (accepted findings live in {ACCEPTED.name}, with the reason for each)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m security.audit", description=__doc__)
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"), help="pinned requirements")
    parser.add_argument("--accepted", type=Path, default=ACCEPTED, help="accepted findings (YAML)")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT, help="OSV records, gzipped JSON Lines")
    parser.add_argument("--supplement", type=Path, default=SUPPLEMENT, help="hand-added OSV records (YAML)")
    parser.add_argument("--report", type=Path, help="also write the result here as JSON")
    args = parser.parse_args(argv)
    try:
        records, added = read_records(args.snapshot), read_supplement(args.supplement)
        index = AdvisoryIndex(records + added)
        source_path = args.snapshot.with_name(SNAPSHOT_SOURCE.name)
        source = json.loads(source_path.read_text()) if source_path.exists() else {}
        result = audit(args.lock, index, load_accepted(args.accepted))
    except (AdvisoryDataError, AuditError) as error:
        print(f"audit: error: {error}", file=sys.stderr)
        return 2
    print(render(result, args.lock, source, len(records), len(added)))
    if args.report:
        args.report.write_text(
            json.dumps(
                {
                    "passed": result.passed,
                    "packages": result.packages,
                    "snapshot": source,
                    "accepted": [{**asdict(f), "reason": reason} for f, reason in result.accepted],
                    "new": [asdict(f) for f in result.new],
                    "stale": result.stale,
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
