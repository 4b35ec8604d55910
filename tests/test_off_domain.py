"""Off-domain hops are named (issue 15, point 4), against the lab.

``autodiscover.hop.test`` answers ``redirectUrl`` to ``elsewhere.test``, whose
Autodiscover names its own IMAP and SMTP servers (real Dovecot and aiosmtpd, so they
verify and rank first). Outlook follows such a hop silently; here the domain the
password would go to is named by discovery, by ``export`` and ``verify`` on stderr,
and the wizard asks before using it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from advisor.prompter import DEFAULT, ScriptedPrompter
from advisor.report import from_json
from advisor.wizard import WizardOptions, run_wizard
from tests.lab.servers import Lab
from tests.lab.web import xml
from tests.test_discovery import discover_json, run_cli
from tests.test_wizard import NEEDS_DEFAULTS

pytestmark = pytest.mark.lab

ADDRESS = "ana@hop.test"
POX = (
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
    '<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/'
    '2006a"><Account><AccountType>email</AccountType><Action>{action}</Action>{body}</Account>'
    "</Response></Autodiscover>"
)
ELSEWHERE = "https://autodiscover.elsewhere.test/autodiscover/autodiscover.xml"
SETTINGS = (
    "<Protocol><Type>IMAP</Type><Server>imap.elsewhere.test</Server><Port>993</Port>"
    "<SSL>on</SSL><LoginName>ana@hop.test</LoginName></Protocol>"
    "<Protocol><Type>SMTP</Type><Server>smtp.elsewhere.test</Server><Port>465</Port>"
    "<SSL>on</SSL><LoginName>ana@hop.test</LoginName></Protocol>"
)


@pytest.fixture
def hop(lab: Lab) -> Lab:
    lab.zone("hop.test")
    lab.zone("elsewhere.test")
    lab.dovecot("imap.elsewhere.test")
    lab.smtp("smtp.elsewhere.test")
    site = lab.web("autodiscover.hop.test")
    site.route(
        "autodiscover.hop.test",
        "POST",
        "/autodiscover/autodiscover.xml",
        xml(POX.format(action="redirectUrl", body=f"<RedirectUrl>{ELSEWHERE}</RedirectUrl>")),
    )
    other = lab.web("autodiscover.elsewhere.test")
    other.route(
        "autodiscover.elsewhere.test",
        "POST",
        "/autodiscover/autodiscover.xml",
        xml(POX.format(action="settings", body=SETTINGS)),
    )
    return lab


def saved_report(capsys: pytest.CaptureFixture[str], lab: Lab, tmp_path: Path) -> Path:
    _, report = discover_json(capsys, lab, ADDRESS, "--timeout", "6")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_redirect_url_to_another_domain_is_named_in_a_warning(
    hop: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = discover_json(capsys, hop, ADDRESS, "--timeout", "6")
    best = report["incoming"][0]
    assert (best["hostname"], best["verified"]) == ("imap.elsewhere.test", True)
    assert report["home_domains"] == ["hop.test"]
    hops = [w for w in report["warnings"] if "another domain" in w]
    assert any("imap.elsewhere.test" in w and "would go to elsewhere.test" in w for w in hops)
    assert any("smtp.elsewhere.test" in w for w in hops)
    assert code == 0


def test_export_and_verify_say_it_on_stderr(
    hop: Lab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    report = saved_report(capsys, hop, tmp_path)
    code, out, err = run_cli(
        capsys,
        "export",
        ADDRESS,
        "--from-json",
        str(report),
        "--out",
        str(tmp_path / "files"),
        "--client",
        "thunderbird",
        "--laptops",
        "1",
        "--phones",
        "1",
    )
    assert code == 0, err
    assert "password would go to elsewhere.test" in err
    assert "imap.elsewhere.test" in err
    assert "elsewhere.test" not in out.replace(str(tmp_path), "")  # stdout: the file list
    monkeypatch.setattr("sys.stdin", io.StringIO("not the password\n"))
    code, _, err = run_cli(
        capsys,
        "verify",
        ADDRESS,
        "--from-json",
        str(report),
        "--password-stdin",
        "--dns",
        hop.dns_spec,
        "--ca-file",
        str(hop.ca_file),
        "--timeout",
        "5",
    )
    assert "password would go to elsewhere.test" in err
    assert code == 4  # the login itself went on: a warning, not a refusal


def test_servers_of_the_mx_domain_are_not_off_domain(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone(
        "hosted.test",
        "@ MX 10 mx.hoster.test.\n_imaps._tcp SRV 0 1 993 imap.hoster.test.\n"
        "_submissions._tcp SRV 0 1 465 smtp.hoster.test.\n",
    )
    lab.zone("hoster.test")
    lab.dovecot("imap.hoster.test")
    lab.smtp("smtp.hoster.test")
    _, report = discover_json(capsys, lab, "bo@hosted.test", "--timeout", "6")
    assert report["incoming"][0]["hostname"] == "imap.hoster.test"
    assert report["home_domains"] == ["hosted.test", "hoster.test"]
    assert not [w for w in report["warnings"] if "another domain" in w]


def wizard_run(report_path: Path, tmp_path: Path, accept: bool) -> tuple[Any, ScriptedPrompter]:
    report = from_json(json.loads(report_path.read_text()), address=ADDRESS)
    answers: dict[str, object] = dict(NEEDS_DEFAULTS)  # every needs question, its default
    answers |= {
        "clients": ["thunderbird"],
        "export": True,
        "client": DEFAULT,
        "out": str(tmp_path / "mail"),
        "name": "",
        "off-domain": accept,
        "save": False,
    }
    prompter = ScriptedPrompter(answers)
    result = run_wizard(
        WizardOptions(address=ADDRESS),
        prompter,
        lambda address, observer, given=None: report,
        Console(file=io.StringIO(), width=80),
    )
    return result, prompter


def test_the_wizard_asks_before_using_another_domain(
    hop: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = saved_report(capsys, hop, tmp_path)
    result, prompter = wizard_run(report, tmp_path, accept=False)
    assert "off-domain" in prompter.asked
    assert any("would go to elsewhere.test" in line for line in prompter.said)
    assert result.written == []
    assert not (tmp_path / "mail").exists()
    result, prompter = wizard_run(report, tmp_path, accept=True)
    assert (tmp_path / "mail" / "thunderbird" / "user.js").exists()


def test_onboarding_names_the_other_domain(
    hop: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("email,name,clients\nana@hop.test,Ana,thunderbird\n", encoding="utf-8")
    code, out, err = run_cli(
        capsys,
        "onboard",
        str(staff),
        "--out",
        str(tmp_path / "out"),
        "--dns",
        hop.dns_spec,
        "--ca-file",
        str(hop.ca_file),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--timeout",
        "6",
    )
    assert code == 0, err
    assert "passwords would go to another domain: elsewhere.test" in out + err
