"""The advisor.discovery/1 JSON contract, checked key by key and type by type."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.lab.servers import Lab
from tests.test_discovery import discover_json

pytestmark = pytest.mark.lab

NULLABLE_STR = (str, type(None))
SERVER_KEYS = {
    "protocol": str,
    "hostname": str,
    "port": int,
    "security": str,
    "username": str,
    "auth": list,
    "verified": bool,
    "sources": list,
}
STEP_KEYS = {
    "source": str,
    "target": str,
    "status": str,
    "trusted": bool,
    "elapsed_ms": (int, float),
    "detail": str,
}
SOURCES = {"autoconfig", "ispdb", "mx", "srv", "autodiscover", "guess", "catalogue", "local"}


def check_schema(report: dict[str, Any]) -> None:
    """Every key of the README's contract, with its type; extra keys are allowed."""
    assert report["schema"] == "advisor.discovery/1"
    for key, kind in (
        ("address", str),
        ("domain", str),
        ("incoming", list),
        ("outgoing", list),
        ("steps", list),
        ("warnings", list),
        ("elapsed_ms", (int, float)),
    ):
        assert isinstance(report[key], kind), key
    for side, protocols in (("incoming", {"imap", "pop3"}), ("outgoing", {"smtp"})):
        for server in report[side]:
            for key, kind in SERVER_KEYS.items():
                assert isinstance(server[key], kind), (side, key, server[key])
            assert server["protocol"] in protocols
            assert server["security"] in {"ssl", "starttls", "plain"}
            assert 0 < server["port"] < 65536
            assert all(isinstance(a, str) for a in server["auth"])
            assert server["sources"]
            assert set(server["sources"]) <= SOURCES
    exchange = report["exchange"]
    if exchange is not None:
        for key in ("ews_url", "activesync_url", "autodiscover_url"):
            assert isinstance(exchange[key], NULLABLE_STR)
        assert isinstance(exchange["auth"], list)
        assert exchange["hosted"] in {"microsoft365", "on-premises", None}
    provider = report["provider"]
    if provider is not None:
        assert isinstance(provider["id"], str)
        assert isinstance(provider["name"], str)
        assert isinstance(provider["hosted_by"], NULLABLE_STR)
    for step in report["steps"]:
        for key, kind in STEP_KEYS.items():
            assert isinstance(step[key], kind), (key, step)
        assert step["status"] in {"found", "not-found", "error", "timeout", "skipped"}
    assert all(isinstance(w, str) for w in report["warnings"])
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN or Infinity


def test_full_report_matches_the_contract(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone(
        "schema.test",
        """
        @ MX 10 schema-test.mail.protection.outlook.com.
        _imaps._tcp SRV 0 1 993 imap.schema.test.
        _submission._tcp SRV 0 1 587 smtp.schema.test.
        """,
    )
    lab.dovecot("imap.schema.test", "pop.schema.test")
    lab.smtp("smtp.schema.test")
    code, report = discover_json(capsys, lab, "user@schema.test", "--wait-all")
    assert code == 0
    check_schema(report)
    assert report["provider"] == {
        "id": "microsoft365",
        "name": "Microsoft 365",
        "hosted_by": "microsoft365",
        "requires_oauth2": True,
    }
    assert any("OAuth2" in note for note in report["notes"])
    assert {s["source"] for s in report["steps"]} >= {"srv", "mx", "dns", "probe"}


def test_empty_report_matches_the_contract(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("empty.test")
    code, report = discover_json(capsys, lab, "user@empty.test", "--timeout", "3")
    assert code == 3
    check_schema(report)
    assert report["incoming"] == []
    assert report["outgoing"] == []


def test_dns_servers_from_the_environment(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_discovery import run_cli

    lab.zone("env.test", "_imaps._tcp SRV 0 1 993 imap.env.test.")
    lab.dovecot("imap.env.test")
    monkeypatch.setenv("ADVISOR_DNS", lab.dns_spec)
    monkeypatch.setenv("ADVISOR_CA_FILE", str(lab.ca_file))
    code, out, _ = run_cli(capsys, "discover", "u@env.test", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["incoming"][0]["sources"] == ["srv", "guess"]
