"""The dependency audit: real pip-audit, querying a loopback OSV mirror of test-made advisories."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from security import audit as audit_module
from security.advisories import AdvisoryIndex, write_records
from security.audit import ACCEPTED, AuditError, audit, load_accepted, main
from security.osv_mirror import OsvMirror

REPO = Path(__file__).resolve().parents[2]


def advisory(id_, name, fixed, aliases=()):
    return {
        "id": id_,
        "aliases": list(aliases),
        "details": f"{name} before {fixed} does something bad.",
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
    }


ADVISORIES = [
    advisory("PYSEC-9999-1", "requests", "99.0", aliases=["CVE-9999-0001"]),
    advisory("PYSEC-9999-2", "six", "1.0"),  # six 1.16.0 is past the fix: not a finding
    advisory("PYSEC-9999-3", "Jinja2", "99.0"),
]


@pytest.fixture
def lock(tmp_path) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("requests==2.34.2\n    # via nothing\nsix==1.16.0\njinja2==3.1.6\n")
    return path


@pytest.fixture
def index() -> AdvisoryIndex:
    return AdvisoryIndex(ADVISORIES)


def accepted(*pairs):
    return [{"id": id_, "package": package, "reason": "test reason"} for id_, package in pairs]


def test_mirror_answers_osv_queries_on_loopback_only(index):
    with OsvMirror(index) as mirror:
        assert mirror.url.startswith("http://127.0.0.1:")

        def post(body, path="/v1/query"):
            request = urllib.request.Request(mirror.url.replace("/v1/query", path), json.dumps(body).encode())
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        status, body = post({"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.0"})
        assert status == 200 and [v["id"] for v in body["vulns"]] == ["PYSEC-9999-1"]
        assert post({"package": {"name": "six", "ecosystem": "PyPI"}, "version": "1.16.0"}) == (200, {})
        assert post({"package": {"name": "x", "ecosystem": "npm"}, "version": "1"})[0] == 400
        assert post({"version": "1"})[0] == 400
        assert post({}, path="/v1/querybatch")[0] == 404


def test_pip_audit_reports_each_affected_pin_through_the_mirror(lock, index):
    result = audit(lock, index, [])
    assert result.packages == 3
    assert sorted((f.package, f.id) for f in result.new) == [
        ("jinja2", "PYSEC-9999-3"),
        ("requests", "PYSEC-9999-1"),
    ]
    requests_finding = next(f for f in result.new if f.package == "requests")
    assert requests_finding.version == "2.34.2" and requests_finding.fix_versions == ("99.0",)
    assert "CVE-9999-0001" in requests_finding.aliases and not result.passed


def test_accepted_findings_pass_and_may_be_named_by_alias(lock, index):
    result = audit(lock, index, accepted(("CVE-9999-0001", "requests"), ("PYSEC-9999-3", "jinja2")))
    assert result.passed and len(result.accepted) == 2 and result.new == [] and result.stale == []
    assert {reason for _, reason in result.accepted} == {"test reason"}


def test_an_acceptance_that_no_longer_matches_fails_as_stale(lock, index):
    result = audit(
        lock,
        index,
        accepted(("PYSEC-9999-1", "requests"), ("PYSEC-9999-3", "jinja2"), ("PYSEC-9999-2", "six")),
    )
    assert not result.passed and [entry["id"] for entry in result.stale] == ["PYSEC-9999-2"]


def test_an_acceptance_for_another_package_does_not_hide_a_finding(lock, index):
    result = audit(lock, index, accepted(("PYSEC-9999-1", "urllib3"), ("PYSEC-9999-3", "jinja2")))
    assert [f.id for f in result.new] == ["PYSEC-9999-1"] and len(result.stale) == 1


def test_an_unpinned_requirement_fails_the_audit_instead_of_passing_unchecked(tmp_path, index):
    lock = tmp_path / "requirements.lock"
    lock.write_text("requests>=2\n")
    with pytest.raises(AuditError, match="(?s)pip-audit failed.*not pinned to an exact version"):
        audit(lock, index, [])


def test_cli_exit_codes_and_report(tmp_path, lock, capsys):
    snapshot = tmp_path / "snap.jsonl.gz"
    write_records(ADVISORIES, snapshot)
    (tmp_path / "SOURCE.json").write_text(json.dumps({"commit": "a" * 40, "commit_date": "2024-10-10"}))
    accepted_file = tmp_path / "accepted.yaml"
    accepted_file.write_text("- {id: PYSEC-9999-1, package: requests, reason: not reachable}\n")
    report = tmp_path / "audit.json"
    supplement = tmp_path / "supplement.yaml"
    supplement.write_text("[]\n")
    base = ["--lock", str(lock), "--snapshot", str(snapshot), "--accepted", str(accepted_file)]
    base += ["--supplement", str(supplement)]

    assert main([*base, "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert (
        "accepted  requests==2.34.2  PYSEC-9999-1 aka CVE-9999-0001  (fixed in: 99.0)" in out
        and "NEW       jinja2==3.1.6  PYSEC-9999-3" in out
    )
    assert "commit aaaaaaa of 2024-10-10" in out and "audit: FAILED: 1 accepted, 1 new, 0 stale" in out
    saved = json.loads(report.read_text())
    assert saved["passed"] is False and [f["id"] for f in saved["new"]] == ["PYSEC-9999-3"]

    accepted_file.write_text(
        accepted_file.read_text() + "- {id: PYSEC-9999-3, package: jinja2, reason: test}\n"
    )
    assert main(base) == 0
    assert "audit: passed: 2 accepted, 0 new, 0 stale" in capsys.readouterr().out

    assert main([*base[:2], "--snapshot", str(tmp_path / "missing.gz"), *base[4:]]) == 2
    assert "audit: error: advisory snapshot not found" in capsys.readouterr().err
    assert main(["--lock", str(tmp_path / "nope.lock"), *base[2:]]) == 2
    assert "audit: error: lock file not found" in capsys.readouterr().err


def test_a_malformed_accepted_findings_file_is_refused(tmp_path):
    # The shared YAML checks are tested with the supplement (test_advisories.py); this is the wiring.
    path = tmp_path / "accepted.yaml"
    path.write_text("- {id: X, package: p}\n")
    with pytest.raises(AuditError, match="accepted.yaml: entry 1 lacks reason"):
        load_accepted(path)


def test_snapshot_age_is_stated():
    assert (
        audit_module.snapshot_age(
            {"commit": "b" * 40, "commit_date": "2024-10-10"}, today=__import__("datetime").date(2024, 10, 20)
        )
        == "commit bbbbbbb of 2024-10-10, 10 days old"
    )


def test_audit_doc_table_lists_exactly_the_accepted_findings():
    document = (REPO / "docs" / "audit.md").read_text()
    table = "\n".join(line for line in document.splitlines() if line.startswith("| "))
    listed = set(re.findall(r"PYSEC-\d{4}-\d+|GHSA(?:-[a-z0-9]{4}){3}", table))
    assert listed == {entry["id"] for entry in load_accepted(ACCEPTED)}


def test_protobuf_runs_a_compiled_backend_as_the_readme_says():
    # GHSA-8qvm-5x2c-j2w7 (protobuf recursion) affects only the pure-Python backend; see docs/audit.md.
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() in ("cpp", "upb")


def test_hand_added_advisories_reach_pip_audit(tmp_path, lock, capsys):
    snapshot = tmp_path / "snap.jsonl.gz"
    write_records([], snapshot)
    supplement = tmp_path / "supplement.yaml"
    supplement.write_text(
        "- id: GHSA-aaaa-bbbb-cccc\n"
        "  affected: [{package: {name: six, ecosystem: PyPI}, ranges: [{type: ECOSYSTEM, "
        "events: [{introduced: '1.0'}, {fixed: '99'}]}]}]\n"
        "  references: [{type: ADVISORY, url: 'https://example.org/GHSA-aaaa-bbbb-cccc'}]\n"
    )
    accepted_file = tmp_path / "accepted.yaml"
    accepted_file.write_text("[]\n")
    args = ["--lock", str(lock), "--snapshot", str(snapshot), "--supplement", str(supplement)]
    assert main([*args, "--accepted", str(accepted_file)]) == 1
    out = capsys.readouterr().out
    assert "against 0 advisories" in out and "and 1 added by hand" in out
    assert "NEW       six==1.16.0  GHSA-aaaa-bbbb-cccc  (fixed in: 99)" in out
