"""Issue 18, part 1: webmail as a first answer, and the programs a person chose.

Cases are answers files (as a person or the wizard writes them) over a saved
discovery report, checked through ``advisor recommend --json`` and its text in
English and French; discovery's webmail page is found in the lab from a real
HTTPS autoconfig file and a real POX Autodiscover answer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from advisor.report import ReportError, from_json, to_json
from tests.lab.servers import Lab
from tests.lab.web import xml
from tests.test_discovery import discover_json, run_cli

WEBMAIL = "https://webmail.pop.example/login"

REPORT: dict[str, Any] = {
    "schema": "advisor.discovery/1",
    "address": "wes@pop.example",
    "domain": "pop.example",
    "incoming": [
        {
            "protocol": proto,
            "hostname": f"{proto}.pop.example",
            "port": port,
            "security": "ssl",
            "username": "wes@pop.example",
            "auth": [],
            "verified": True,
            "sources": ["autoconfig"],
        }
        for proto, port in (("imap", 993), ("pop3", 995))
    ],
    "outgoing": [
        {
            "protocol": "smtp",
            "hostname": "smtp.pop.example",
            "port": 465,
            "security": "ssl",
            "username": "wes@pop.example",
            "auth": [],
            "verified": True,
            "sources": ["autoconfig"],
        }
    ],
    "exchange": None,
    "provider": None,
    "steps": [],
    "warnings": [],
    "elapsed_ms": 1.0,
    "live": True,
    "webmail": {"url": WEBMAIL, "sources": ["autoconfig", "catalogue"]},
}


def advice(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    answers: str,
    *,
    report: dict[str, Any] = REPORT,
    text: bool = False,
    lang: str = "en",
) -> Any:
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    answers_file = tmp_path / "answers.toml"
    answers_file.write_text(answers)
    args = ["recommend", "wes@pop.example", "--from-json", str(saved)]
    args += ["--answers", str(answers_file), "--lang", lang]
    code, out, err = run_cli(capsys, *args, *([] if text else ["--json"]))
    assert (code, err) == (0, "")
    return out if text else json.loads(out)


def devices(desktop: int = 0, laptop: int = 0, phone: int = 0, shared: bool = False) -> str:
    return (
        f"[devices]\ndesktop = {desktop}\nlaptop = {laptop}\nphone = {phone}\n"
        f"shared = {str(shared).lower()}\n"
    )


# answers file -> (webmail suffices, recommended, POP3 leaves mail on the server, rule ids)
CASES = [
    pytest.param(
        'clients = ["webmail"]\nbacked_up = true\n' + devices(laptop=1),
        (True, "imap", True, {"webmail-chosen", "webmail-personal"}),
        id="issue-18-wes-webmail-one-backed-up-laptop",
    ),
    pytest.param(
        'clients = ["thunderbird", "android"]\nbacked_up = true\n' + devices(desktop=1),
        (False, "imap", True, {"webmail-many-devices"}),
        id="a-phone-app-is-a-phone-even-with-0-phones",
    ),
    pytest.param(
        'clients = ["webmail"]\n' + devices(desktop=1, shared=True),
        (True, "imap", True, {"webmail-shared-computer", "webmail-chosen"}),
        id="shared-computer",
    ),
    pytest.param(
        "occasional = true\n" + devices(desktop=1),
        (True, "imap", True, {"webmail-occasional", "webmail-personal"}),
        id="occasional-use",
    ),
    pytest.param(
        "occasional = true\noffline = true\n" + devices(desktop=1),
        (False, "imap", True, {"webmail-offline"}),
        id="offline-needs-a-program",
    ),
    pytest.param(
        'organisation = "enterprise"\nclients = ["outlook"]\n' + devices(desktop=1, phone=1),
        (False, "imap", True, {"webmail-organisation", "webmail-many-devices"}),
        id="work-with-a-phone",
    ),
    pytest.param(
        'clients = ["thunderbird"]\nbacked_up = true\n' + devices(desktop=1),
        (False, "pop3", False, set()),
        id="one-backed-up-desktop-still-pop3-delete",
    ),
]


@pytest.mark.parametrize(("answers", "expected"), CASES)
def test_answers_file_to_advice(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    answers: str,
    expected: tuple[bool, str, bool, set[str]],
) -> None:
    suffices, recommended, leave, rule_ids = expected
    doc = advice(capsys, tmp_path, answers)
    assert doc["webmail"]["suffices"] is suffices
    assert doc["webmail"]["url"] == WEBMAIL
    assert rule_ids <= {r["id"] for r in doc["webmail"]["reasons"]}
    assert all((r["points"] > 0) is suffices for r in doc["webmail"]["reasons"])
    assert doc["recommended"] == recommended
    assert doc["pop3"]["leave_on_server"] is leave


def test_webmail_among_the_programs_never_deletes_from_the_server(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Even where POP3 would win, the webmail the person uses keeps its mail."""
    answers = 'clients = ["webmail", "thunderbird"]\nbacked_up = true\n' + devices(desktop=1)
    report = copy.deepcopy(REPORT)
    report["incoming"] = [c for c in report["incoming"] if c["protocol"] == "pop3"]
    doc = advice(capsys, tmp_path, answers, report=report)
    assert doc["recommended"] == "pop3"  # the only protocol offered
    assert doc["pop3"] == {"leave_on_server": True, "keep_days": 14}
    out = advice(capsys, tmp_path, answers, report=report, text=True)
    assert "delete from the server" not in out
    assert "leave mail on the server for 14 days" in out


def test_no_known_webmail_page_is_never_offered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = {**REPORT, "webmail": None}
    doc = advice(capsys, tmp_path, "occasional = true\n" + devices(desktop=1), report=report)
    assert doc["webmail"]["suffices"] is False
    assert doc["webmail"]["url"] is None
    assert "webmail-address-unknown" in {r["id"] for r in doc["webmail"]["reasons"]}


@pytest.mark.parametrize(
    ("lang", "first", "then"),
    [
        ("en", "You may not need a mail program", "If you want a mail program all the same"),
        (
            "fr",
            "Vous n'avez peut-être pas besoin d'un logiciel de messagerie",
            "Si vous voulez tout de même un logiciel de messagerie",
        ),
    ],
)
def test_webmail_comes_first_then_the_protocol(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lang: str, first: str, then: str
) -> None:
    out = advice(capsys, tmp_path, "occasional = true\n" + devices(desktop=1), text=True, lang=lang)
    flat = " ".join(out.split())
    assert flat.index(first) < flat.index(then) < flat.index("IMAP")
    assert WEBMAIL in flat


def test_saved_report_webmail_is_checked() -> None:
    report = from_json(REPORT)
    assert report.webmail is not None
    assert to_json(report)["webmail"] == REPORT["webmail"]
    for bad in (
        {"url": "http://webmail.pop.example/", "sources": []},
        {"url": "javascript:alert(1)", "sources": []},
        {"url": WEBMAIL, "sources": ["nowhere"]},
        {"url": None, "sources": []},
        "https://x.example/",
    ):
        with pytest.raises(ReportError, match="webmail"):
            from_json({**REPORT, "webmail": bad})


# ------------------------------------------------------------ discovery, in the lab


def config_with_webmail(domain: str, url: str) -> str:
    return (
        f'<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="{domain}">'
        f"<domain>{domain}</domain><displayName>Lab {domain}</displayName>"
        f'<incomingServer type="imap"><hostname>imap.{domain}</hostname><port>993</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
        f'<outgoingServer type="smtp"><hostname>smtp.{domain}</hostname><port>465</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
        f'<webMail><loginPage url="{url}"/></webMail>'
        "</emailProvider></clientConfig>"
    )


@pytest.mark.lab
@pytest.mark.parametrize(("scheme", "found"), [("https", True), ("http", False)])
def test_autoconfig_names_the_webmail_page(
    lab: Lab, capsys: pytest.CaptureFixture[str], scheme: str, found: bool
) -> None:
    lab.zone("wm.test")
    site = lab.web("autoconfig.wm.test")
    page = "https://webmail.%EMAILDOMAIN%/?user=1"
    config = config_with_webmail("wm.test", page)
    site.route("autoconfig.wm.test", "GET", "/mail/config-v1.1.xml", xml(config), scheme=scheme)  # type: ignore[arg-type]
    _code, report = discover_json(capsys, lab, "wes@wm.test", "--timeout", "4")
    if found:
        assert report["webmail"] == {
            "url": "https://webmail.wm.test/?user=1",
            "sources": ["autoconfig"],
        }
        assert from_json(report).webmail is not None
    else:  # a page to type a password into, from a file fetched without HTTPS: not shown
        assert report["webmail"] is None


@pytest.mark.lab
def test_autodiscover_names_outlook_on_the_web(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    outer = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
    inner = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
    lab.zone("owa.test")
    site = lab.web("autodiscover.owa.test")
    answer = (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{outer}">'
        f'<Response xmlns="{inner}"><Account><AccountType>email</AccountType>'
        "<Action>settings</Action>"
        "<Protocol><Type>IMAP</Type><Server>imap.owa.test</Server><Port>993</Port>"
        "<SSL>on</SSL></Protocol>"
        '<Protocol><Type>WEB</Type><External><OWAUrl AuthenticationMethod="Fba">'
        "https://mail.owa.test/owa/</OWAUrl></External></Protocol>"
        "</Account></Response></Autodiscover>"
    )
    site.route("autodiscover.owa.test", "POST", "/autodiscover/autodiscover.xml", xml(answer))
    _code, report = discover_json(capsys, lab, "wes@owa.test", "--timeout", "4")
    assert report["webmail"] == {"url": "https://mail.owa.test/owa/", "sources": ["autodiscover"]}


def test_the_catalogue_knows_big_providers_webmail(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "discover", "someone@gmail.com", "--offline", "--json")
    assert (code, err) == (0, "")
    webmail = json.loads(out)["webmail"]
    assert webmail["sources"] == ["catalogue"]
    assert webmail["url"].startswith("https://accounts.google.com/")


# ------------------------------------------------------------ sheets and README.txt


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_sheets_and_readme_give_the_webmail_page(lang: str) -> None:
    from advisor.export import ClientKind, render_files
    from advisor.needs import Client
    from tests.test_sheets import both, make, page_text

    url = "https://webmail.example.test/?lang=1&x=2"
    plan, rec, files = make("imap", webmail={"url": url, "sources": ["autoconfig"]})
    assert plan.webmail_url == url
    md, page = both(plan, rec, files, lang=lang, clients=(Client.WEBMAIL,))
    assert url in md
    assert url in page_text(page)
    readme = next(
        f.data.decode()
        for f in render_files(plan, [ClientKind.ALL], lang=lang)
        if f.name == "README.txt"
    )
    assert any(line.strip().startswith("Webmail") and url in line for line in readme.splitlines())
    plan, rec, files = make("imap")
    md, _ = both(plan, rec, files, lang=lang, clients=(Client.WEBMAIL,))
    assert url not in md
