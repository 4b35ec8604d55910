"""advisor against automx2, a real autoconfig / Autodiscover / mobileconfig server.

Three domains as organisations publish them (tests/lab/automx2.py seeds automx2
through its own /initdb/ and SQL), with real mail servers behind them:

- alpha.test: IMAP 993 + SMTP 587, login ``%EMAILADDRESS%``, method ``plain``;
- beta.test: POP3 995 + SMTP 465, login ``%EMAILLOCALPART%``;
- corp.test: IMAP 993 + SMTP 465, login ``CORP\\%EMAILLOCALPART%``, method ``NTLM``
  (SMTP: the lab's real NTLMv2 acceptor; Dovecot has no NTLM, so IMAP is refused
  honestly).

``discover``, ``autoconfig``, ``export --client apple`` and ``verify --config`` must
say what automx2 serves: servers, login templates, methods, the provider's name.
"""

from __future__ import annotations

import io
import json
import plistlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as DefusedET
import pytest

from tests.lab.automx2 import Automx2, MailDomain, MailServer, start_automx2
from tests.lab.servers import Lab
from tests.test_discovery import run_cli

pytestmark = pytest.mark.lab

PASSWORD = "Peer-2026 pass"
NTLM_LOGIN = "CORP\\%EMAILLOCALPART%"

DOMAINS = (
    MailDomain(
        "alpha.test",
        "Alpha Mail Services",
        (MailServer("imap", "imap.alpha.test", 993), MailServer("smtp", "smtp.alpha.test", 587)),
    ),
    MailDomain(
        "beta.test",
        "Beta Hosting",
        (
            MailServer("pop", "pop.beta.test", 995, user_name="%EMAILLOCALPART%"),
            MailServer("smtp", "smtp.beta.test", 465, user_name="%EMAILLOCALPART%"),
        ),
    ),
    MailDomain(
        "corp.test",
        "Corp IT Department",
        (
            MailServer("imap", "mail.corp.test", 993, user_name=NTLM_LOGIN, authentication="NTLM"),
            MailServer("smtp", "smtp.corp.test", 465, user_name=NTLM_LOGIN, authentication="NTLM"),
        ),
    ),
)
# automx2's words -> ours (readFromXML: "plain" is the deprecated password-cleartext).
METHOD = {"plain": "password-cleartext", "NTLM": "NTLM"}
SECURITY = {"SSL": "ssl", "STARTTLS": "starttls"}


@dataclass
class Peer:
    lab: Lab
    automx2: Automx2

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        return run_cli(
            capsys, *args, "--dns", self.lab.dns_spec, "--ca-file", str(self.lab.ca_file)
        )

    def served(self, address: str) -> list[dict[str, str]]:
        """The servers automx2's autoconfig answer names, read with plain ElementTree."""
        status, body = self.automx2.autoconfig(address)
        assert status == 200
        provider = DefusedET.fromstring(body).find("emailProvider")
        assert provider is not None
        return [
            {
                "kind": str(elem.get("type")),
                **{child.tag: (child.text or "") for child in elem},
            }
            for elem in provider
            if elem.tag in ("incomingServer", "outgoingServer")
        ]


@pytest.fixture(scope="module")
def peer(module_lab: Lab) -> Peer:
    lab = module_lab
    lab.dovecot("imap.alpha.test", users={"jane@alpha.test": PASSWORD})
    lab.smtp("smtp.alpha.test", users={"jane@alpha.test": PASSWORD})
    lab.dovecot("pop.beta.test", users={"jane": PASSWORD})
    lab.smtp("smtp.beta.test", users={"jane": PASSWORD})
    lab.dovecot("mail.corp.test", users={"jane": PASSWORD})
    lab.smtp("smtp.corp.test", users={"CORP\\jane": PASSWORD}, extra_mechanisms=("NTLM",))
    return Peer(lab, start_automx2(lab, DOMAINS))


def discover(peer: Peer, capsys: pytest.CaptureFixture[str], address: str) -> dict[str, Any]:
    code, out, err = peer.cli(capsys, "discover", address, "--json")
    assert err == ""
    assert code == 0, out
    doc: dict[str, Any] = json.loads(out)
    return doc


@pytest.mark.parametrize("domain", [d.name for d in DOMAINS])
def test_discover_reports_what_automx2_serves(
    peer: Peer, capsys: pytest.CaptureFixture[str], domain: str
) -> None:
    address = f"jane@{domain}"
    report = discover(peer, capsys, address)
    served = peer.served(address)
    assert report["provider"]["name"] == next(d.provider for d in DOMAINS if d.name == domain)
    for side, kinds in (("incoming", ("imap", "pop3")), ("outgoing", ("smtp",))):
        want = next(s for s in served if s["kind"] in kinds)
        got = next(
            c
            for c in report[side]
            if (c["hostname"], c["port"]) == (want["hostname"], int(want["port"]))
        )
        assert got["verified"] is True
        assert got["security"] == SECURITY[want["socketType"]]
        # automx2 serves the template; the report holds it filled in for jane.
        login = want["username"].replace("%EMAILADDRESS%", address)
        assert got["username"] == login.replace("%EMAILLOCALPART%", "jane")
        assert got["stated_auth"][0] == METHOD[want["authentication"]]
        assert "autoconfig" in got["sources"]


@pytest.mark.parametrize("domain", [d.name for d in DOMAINS])
def test_autoconfig_publishes_automx2s_templates_methods_and_name(
    peer: Peer, capsys: pytest.CaptureFixture[str], tmp_path: Path, domain: str
) -> None:
    code, _out, err = peer.cli(capsys, "autoconfig", domain, "--out", str(tmp_path))
    assert code == 0, err
    written = tmp_path / "config-v1.1.xml"
    mine = ET.fromstring(written.read_bytes())
    spec = next(d for d in DOMAINS if d.name == domain)
    assert mine.findtext("emailProvider/displayName") == spec.provider
    servers = [
        e for e in mine.find("emailProvider") or [] if e.tag in ("incomingServer", "outgoingServer")
    ]
    got = {
        (str(e.get("type")), e.findtext("hostname"), e.findtext("port")): (
            e.findtext("socketType"),
            e.findtext("username"),
            e.findtext("authentication"),
        )
        for e in servers
    }
    want = {
        ({"pop": "pop3"}.get(s.type, s.type), s.host, str(s.port)): (
            s.socket,
            s.user_name,
            METHOD[s.authentication],
        )
        for s in spec.servers
    }
    assert got == want
    assert "postmaster" not in written.read_text()
    code, lint_out, _ = run_cli(capsys, "lint", str(written))
    assert code == 0, lint_out


def test_autoconfig_name_overrides_the_providers(
    peer: Peer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = peer.cli(
        capsys, "autoconfig", "corp.test", "--out", str(tmp_path), "--name", "Corp Mail"
    )
    assert code == 0, err
    mine = ET.fromstring((tmp_path / "config-v1.1.xml").read_bytes())
    assert mine.findtext("emailProvider/displayName") == "Corp Mail"
    assert mine.findtext("emailProvider/displayShortName") == "Corp"


APPLE_KEYS = ("HostName", "PortNumber", "UseSSL", "Username", "Authentication")


@pytest.mark.parametrize(("domain", "protocol"), [("alpha.test", "imap"), ("corp.test", "imap")])
def test_export_apple_agrees_with_automx2s_profile(
    peer: Peer, capsys: pytest.CaptureFixture[str], tmp_path: Path, domain: str, protocol: str
) -> None:
    address = f"jane@{domain}"
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(discover(peer, capsys, address)))
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys,
        "export",
        address,
        "--out",
        str(out),
        "--client",
        "apple",
        "--protocol",
        protocol,
        "--from-json",
        str(report_path),
    )
    assert code == 0, err
    mine = plistlib.loads((out / "apple" / f"{domain}.mobileconfig").read_bytes())
    status, body = peer.automx2.mobileconfig(address)
    assert status == 200
    theirs = plistlib.loads(body)
    (my_mail,) = [p for p in mine["PayloadContent"] if p["PayloadType"] == "com.apple.mail.managed"]
    (their_mail,) = [
        p for p in theirs["PayloadContent"] if p["PayloadType"] == "com.apple.mail.managed"
    ]
    for side in ("Incoming", "Outgoing"):
        for key in APPLE_KEYS:
            name = f"{side}MailServer{key}"
            assert my_mail.get(name) == their_mail.get(name), name
    assert my_mail["EmailAccountType"] == their_mail["EmailAccountType"]


def verify_config(
    peer: Peer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    address: str,
    path: Path,
) -> dict[str, tuple[str, str | None]]:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    _code, out, err = peer.cli(
        capsys, "verify", address, "--config", str(path), "--password-stdin", "--json"
    )
    assert PASSWORD not in out + err
    doc = json.loads(out)
    return {c["protocol"]: (c["result"], c["mechanism"]) for c in doc["checks"]}


EXPECTED_LOGINS = {
    "alpha.test": {"imap": ("ok", "PLAIN"), "smtp": ("ok", "PLAIN")},
    "beta.test": {"pop3": ("ok", "PLAIN"), "smtp": ("ok", "PLAIN")},
    # Dovecot offers no NTLM: refused without sending; SMTP: a real NTLM login.
    "corp.test": {"imap": ("error", None), "smtp": ("ok", "NTLM")},
}


@pytest.mark.parametrize("domain", [d.name for d in DOMAINS])
def test_verify_config_logs_in_as_automx2s_file_and_ours_say(
    peer: Peer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    domain: str,
) -> None:
    address = f"jane@{domain}"
    theirs = tmp_path / "automx2.xml"
    status, body = peer.automx2.autoconfig(address)
    assert status == 200
    theirs.write_text(body)
    code, _, err = peer.cli(capsys, "autoconfig", domain, "--out", str(tmp_path))
    assert code == 0, err
    ours = tmp_path / "config-v1.1.xml"
    expected = EXPECTED_LOGINS[domain]
    assert verify_config(peer, capsys, monkeypatch, address, theirs) == expected
    assert verify_config(peer, capsys, monkeypatch, address, ours) == expected


def test_export_thunderbird_keeps_the_ntlm_template(
    peer: Peer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    address = "jane@corp.test"
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(discover(peer, capsys, address)))
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys,
        "export",
        address,
        "--out",
        str(out),
        "--client",
        "thunderbird",
        "--protocol",
        "imap",
        "--from-json",
        str(report_path),
    )
    assert code == 0, err
    isp = ET.fromstring((out / "thunderbird" / "corp.test.xml").read_bytes())
    servers = isp.findall("emailProvider/*[username]")
    assert [s.findtext("username") for s in servers] == [NTLM_LOGIN, NTLM_LOGIN]
    assert [s.findtext("authentication") for s in servers] == ["NTLM", "NTLM"]
    assert isp.findtext("emailProvider/displayName") == "Corp IT Department"


def test_verify_from_a_report_uses_the_method_its_sources_state(
    peer: Peer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    address = "jane@corp.test"
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(discover(peer, capsys, address)))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    _code, out, err = peer.cli(
        capsys,
        "verify",
        address,
        "--from-json",
        str(report_path),
        "--protocol",
        "imap",
        "--password-stdin",
        "--json",
    )
    assert PASSWORD not in out + err
    checks = {c["protocol"]: (c["result"], c["mechanism"]) for c in json.loads(out)["checks"]}
    assert checks == EXPECTED_LOGINS["corp.test"]
