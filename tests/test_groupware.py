"""Issue 18, part 2: Exchange scores only where it is offered or could be, and the
recommendation says how calendars and contacts sync (Exchange, CalDAV/CardDAV, none,
unavailable). Cases are answers files over saved reports, through the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from advisor.report import ReportError, from_json, to_json
from tests.test_discovery import run_cli
from tests.test_webmail import REPORT as BASE

# GMX as the issue saw it: mail servers verified, no Exchange seen but not proved absent.
GMX: dict[str, Any] = {
    **copy.deepcopy(BASE),
    "webmail": None,
    "reach": {
        "dns": "ok",
        "imap": "verified",
        "pop3": "verified",
        "smtp": "verified",
        "exchange": "unknown",
        "unchecked": ["filtered"],
    },
    "dav": {
        "caldav": [
            {
                "url": "https://caldav.pop.example/",
                "sources": ["catalogue"],
                "verified": False,
                "detail": "from the built-in catalogue; not checked",
            }
        ],
        "carddav": [
            {
                "url": "https://carddav.pop.example/",
                "sources": ["catalogue"],
                "verified": False,
                "detail": "",
            }
        ],
    },
}
ON_PREMISES = {
    **copy.deepcopy(GMX),
    "exchange": {
        "ews_url": "https://mail.pop.example/EWS/Exchange.asmx",
        "activesync_url": None,
        "autodiscover_url": None,
        "auth": ["NTLM"],
        "hosted": "on-premises",
    },
    "reach": {**GMX["reach"], "exchange": "verified"},
}


def advise(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    report: dict[str, Any],
    answers: str,
    *extra: str,
) -> Any:
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    answers_file = tmp_path / "answers.toml"
    answers_file.write_text(answers + "[devices]\ndesktop = 1\nlaptop = 1\nphone = 1\n")
    args = ["recommend", "wes@pop.example", "--from-json", str(saved), "--answers"]
    code, out, err = run_cli(capsys, *args, str(answers_file), *extra)
    assert (code, err) == (0, "")
    return out if "--json" not in extra else json.loads(out)


def exchange_of(doc: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in doc["ranking"] if c["protocol"] == "exchange")


def test_gmx_calendars_synced_do_not_score_exchange(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = advise(capsys, tmp_path, GMX, "", "--json")
    synced = advise(capsys, tmp_path, GMX, 'calendars = "sync"\ncontacts = "sync"\n', "--json")
    assert exchange_of(synced)["score"] <= 0
    assert not {r["rule"] for r in exchange_of(synced)["reasons"]} & {
        "exchange-groupware-sync",
        "exchange-sharing",
    }
    assert synced["recommended"] == "imap"
    assert synced["confidence"] >= plain["confidence"]
    assert synced["groupware"] == {"calendars": "caldav", "contacts": "carddav"}
    assert plain["groupware"] == {"calendars": "none", "contacts": "none"}


@pytest.mark.parametrize(
    ("report", "answers", "expected", "exchange_scored"),
    [
        pytest.param(
            ON_PREMISES,
            'calendars = "share"\nmicrosoft = "exchange"\norganisation = "small-business"\n',
            {"calendars": "exchange", "contacts": "none"},
            True,
            id="exchange-at-work",
        ),
        pytest.param(
            {**GMX, "dav": None},
            'calendars = "share"\ncontacts = "sync"\n',
            {"calendars": "unavailable", "contacts": "unavailable"},
            False,
            id="nothing-offered",
        ),
        pytest.param(
            {**GMX, "reach": {**GMX["reach"], "exchange": "unknown"}},
            'calendars = "sync"\norganisation = "small-business"\n',
            {"calendars": "caldav", "contacts": "none"},
            True,  # a business that does not know: Exchange could be there
            id="business-unknown-microsoft",
        ),
    ],
)
def test_answers_file_to_groupware_advice(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    report: dict[str, Any],
    answers: str,
    expected: dict[str, str],
    exchange_scored: bool,
) -> None:
    doc = advise(capsys, tmp_path, report, answers, "--json")
    assert doc["groupware"] == expected
    rules = {r["rule"] for r in exchange_of(doc)["reasons"] if r["points"] > 0}
    assert bool(rules & {"exchange-groupware-sync", "exchange-sharing"}) is exchange_scored


@pytest.mark.parametrize(
    ("lang", "calendars", "contacts"),
    [
        ("en", "Calendars: synced over CalDAV", "Contacts: synced over CardDAV"),
        ("fr", "Agendas : synchronisés par CalDAV", "Contacts : synchronisés par CardDAV"),
    ],
)
def test_text_says_how_calendars_and_contacts_sync(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lang: str, calendars: str, contacts: str
) -> None:
    out = advise(capsys, tmp_path, GMX, 'calendars = "sync"\ncontacts = "share"\n', "--lang", lang)
    flat = " ".join(out.split())
    assert calendars in flat
    assert "https://caldav.pop.example/" in flat
    assert contacts in flat
    assert "https://carddav.pop.example/" in flat
    assert "score 3" not in flat


def test_saved_report_dav_is_checked() -> None:
    report = from_json(GMX)
    assert [e.url for e in report.dav.caldav] == ["https://caldav.pop.example/"]
    assert to_json(report)["dav"] == GMX["dav"]
    assert to_json(from_json({**GMX, "dav": None}))["dav"] == {"caldav": [], "carddav": []}
    good = GMX["dav"]["caldav"][0]
    for bad in (
        {"caldav": [{**good, "url": "http://caldav.pop.example/"}]},
        {"caldav": [{**good, "sources": ["elsewhere"]}]},
        {"carddav": [{**good, "verified": "yes"}]},
        {"caldav": [{**good, "detail": "two\nlines"}]},
        {"caldav": "https://caldav.pop.example/"},
    ):
        with pytest.raises(ReportError, match="dav"):
            from_json({**GMX, "dav": bad})


@pytest.mark.parametrize(
    ("address", "caldav", "carddav"),
    [
        ("x@gmx.de", "https://caldav.gmx.net/", "https://carddav.gmx.net/"),
        ("x@icloud.com", "https://caldav.icloud.com/", "https://contacts.icloud.com/"),
        ("x@posteo.de", "https://posteo.de:8443/", "https://posteo.de:8443/"),
    ],
)
def test_catalogue_names_big_providers_dav_endpoints(
    capsys: pytest.CaptureFixture[str], address: str, caldav: str, carddav: str
) -> None:
    code, out, err = run_cli(capsys, "discover", address, "--offline", "--json")
    assert (code, err) == (0, "")
    dav = json.loads(out)["dav"]
    assert [(e["url"], e["sources"], e["verified"]) for e in dav["caldav"]] == [
        (caldav, ["catalogue"], False)
    ]
    assert [e["url"] for e in dav["carddav"]] == [carddav]
