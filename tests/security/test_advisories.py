"""OSV matching of the vendored advisory snapshot: ranges, explicit versions, names, and bad files."""

from __future__ import annotations

import gzip
import json

import pytest

from security.advisories import (
    SNAPSHOT,
    SUPPLEMENT,
    AdvisoryDataError,
    AdvisoryIndex,
    affects,
    read_records,
    read_supplement,
    write_records,
)


def record(events, versions=(), name="demo-pkg", ecosystem="PyPI", id_="PYSEC-0000-1"):
    return {
        "id": id_,
        "affected": [
            {
                "package": {"name": name, "ecosystem": ecosystem},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": list(versions),
            }
        ],
    }


@pytest.mark.parametrize(
    "events, version, expected",
    [
        ([{"introduced": "0"}, {"fixed": "2.0"}], "1.9.9", True),
        ([{"introduced": "0"}, {"fixed": "2.0"}], "2.0", False),
        ([{"introduced": "0"}, {"fixed": "2.0"}], "2.0rc1", True),  # a pre-release sorts before its release
        ([{"introduced": "1.5"}, {"fixed": "2.0"}], "1.4", False),
        ([{"introduced": "1.5"}, {"fixed": "2.0"}], "1.5", True),
        ([{"introduced": "0"}, {"last_affected": "3.1"}], "3.1", True),
        ([{"introduced": "0"}, {"last_affected": "3.1"}], "3.1.1", False),
        ([{"introduced": "1.0"}], "99", True),  # no fix yet
        # Two affected stretches in one range: [1.0, 1.2) and [2.0, 2.3).
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.3"}], "1.5", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.3"}], "2.2", True),
        # Events out of order in the file are still applied in version order.
        ([{"fixed": "2.0"}, {"introduced": "0"}], "1.0", True),
    ],
)
def test_ecosystem_ranges(events, version, expected):
    assert affects(record(events), "demo-pkg", version) is expected


def test_explicit_versions_list_matches_even_outside_the_ranges():
    entry = record([{"introduced": "5.0"}], versions=["1.0.post1"])
    assert affects(entry, "demo-pkg", "1.0.post1")
    assert affects(entry, "demo-pkg", "1.0.0.post1")  # the same PEP 440 version, spelt differently
    assert not affects(entry, "demo-pkg", "1.0")


def test_names_compare_as_pep_503_normalises_them_and_other_ecosystems_are_ignored():
    assert affects(record([{"introduced": "0"}]), "Demo_Pkg", "1.0")
    assert not affects(record([{"introduced": "0"}]), "demo-pkg-extra", "1.0")
    assert not affects(record([{"introduced": "0"}], ecosystem="npm"), "demo-pkg", "1.0")


def test_git_ranges_and_unparsable_versions_do_not_match_by_accident():
    entry = record([{"introduced": "0"}])
    entry["affected"][0]["ranges"][0]["type"] = "GIT"
    assert not affects(entry, "demo-pkg", "1.0")
    assert not affects(record([{"introduced": "0"}, {"fixed": "2.0"}]), "demo-pkg", "not-a-version")


def test_index_returns_only_the_records_that_affect_the_version():
    old = record([{"introduced": "0"}, {"fixed": "2.0"}], id_="PYSEC-1")
    new = record([{"introduced": "3.0"}], id_="PYSEC-2")
    other = record([{"introduced": "0"}], name="other", id_="PYSEC-3")
    index = AdvisoryIndex([old, new, other])
    assert index.size == 3
    assert [r["id"] for r in index.query("demo_pkg", "1.0")] == ["PYSEC-1"]
    assert [r["id"] for r in index.query("demo-pkg", "3.2")] == ["PYSEC-2"]
    assert index.query("demo-pkg", "2.5") == [] and index.query("unknown", "1.0") == []


def test_index_refuses_a_record_that_is_not_osv():
    with pytest.raises(AdvisoryDataError, match="not an OSV record"):
        AdvisoryIndex([{"summary": "no id"}])


def test_snapshot_round_trips_and_is_byte_identical_for_the_same_records(tmp_path):
    records = [record([{"introduced": "0"}], id_=f"PYSEC-{n}") for n in (3, 1, 2)]
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    assert write_records(records, first) == 3
    write_records(list(reversed(records)), second)
    assert first.read_bytes() == second.read_bytes()
    assert [r["id"] for r in read_records(first)] == ["PYSEC-1", "PYSEC-2", "PYSEC-3"]
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    "content, message",
    # mtime=0: the same bytes, so the same test id, in every pytest-xdist worker that collects it.
    [(None, "not found"), (b"not gzip", "unreadable"), (gzip.compress(b"{broken\n", mtime=0), "unreadable")],
    ids=["missing", "not gzip", "gzip of broken JSON"],
)
def test_bad_snapshot_files_give_a_clear_error(tmp_path, content, message):
    path = tmp_path / "snapshot.jsonl.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AdvisoryDataError, match=message):
        read_records(path)


def test_vendored_snapshot_knows_a_published_advisory():
    # PYSEC-2023-238 (pyarrow, CVE-2023-47248): affected 0.14.0 to 14.0.0, fixed in 14.0.1.
    index = AdvisoryIndex(read_records(SNAPSHOT))
    assert index.size > 2000
    assert "PYSEC-2023-238" in [r["id"] for r in index.query("pyarrow", "10.0.1")]
    assert "PYSEC-2023-238" not in [r["id"] for r in index.query("pyarrow", "14.0.1")]
    source = json.loads(SNAPSHOT.with_name("SOURCE.json").read_text())
    assert source["records"] == index.size and len(source["commit"]) == 40


def test_supplement_records_are_osv_with_a_source_and_not_yet_in_the_snapshot():
    added = read_supplement(SUPPLEMENT)
    assert added, "the supplement is empty: drop it, or this test"
    snapshot_names = {name for r in read_records(SNAPSHOT) for name in [r["id"], *r.get("aliases", [])]}
    for record in added:
        names = {record["id"], *record.get("aliases", [])}
        assert not names & snapshot_names, (
            f"{record['id']} is in the snapshot now: remove it from the supplement"
        )
        assert all(ref["url"].startswith("https://") for ref in record["references"])
    index = AdvisoryIndex(added)  # refuses a record that is not OSV
    assert {r["id"] for r in index.query("urllib3", "1.26.20")} == {r["id"] for r in added}
    assert index.query("urllib3", "2.7.0") == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("{a: 1}", "expected a list of OSV records, got dict"),
        ("- {id: X, affected: [{}]}\n", "record 1 lacks references"),
        ("- just a string\n", "record 1 lacks id, affected, references"),
        ("[unclosed", "cannot read OSV records"),
    ],
)
def test_a_malformed_supplement_is_refused(tmp_path, text, message):
    path = tmp_path / "supplement.yaml"
    path.write_text(text)
    with pytest.raises(AdvisoryDataError, match=message):
        read_supplement(path)


def test_refresh_reads_a_checkout_and_turns_yaml_dates_into_osv_strings(tmp_path):
    from security.refresh import read_checkout

    (tmp_path / "vulns" / "demo-pkg").mkdir(parents=True)
    (tmp_path / "vulns" / "demo-pkg" / "PYSEC-0000-1.yaml").write_text(
        "id: PYSEC-0000-1\nmodified: 2024-10-10T17:35:05Z\naffected:\n"
        "- package: {name: demo-pkg, ecosystem: PyPI}\n  versions: ['1.0']\n"
    )
    (record,) = read_checkout(tmp_path)
    assert record["modified"].startswith("2024-10-10T17:35:05") and affects(record, "demo-pkg", "1.0")
    with pytest.raises(AdvisoryDataError, match="no vulns/ folder"):
        read_checkout(tmp_path / "vulns")
