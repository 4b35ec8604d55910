"""`advisor verify` logs in the way the configuration says, or says it cannot.

NTLM: Debian 12's Dovecot 2.3.19 has no NTLM mechanism ("Unknown authentication
mechanism 'NTLM'", checked when this was written; winbind needs a Samba domain), so
the real NTLM login is against the lab's aiosmtpd with pyspnego's NTLMv2 acceptor,
which checks the password against its own store; the IMAP side shows the honest
refusal when a server does not offer the file's method. CRAM-MD5 ("encrypted
password") is a real Dovecot login.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from advisor.net.resolver import DnsClient, parse_nameservers
from advisor.net.trust import client_context
from advisor.secrets import Secret
from advisor.verify import Check, Result, VerifyOptions, run_checks, targets_from_config
from tests.lab.dovecot import Dovecot
from tests.lab.servers import Lab
from tests.lab.smtp import SmtpServer
from tests.test_discovery import run_cli

pytestmark = pytest.mark.lab

ADDRESS = "jane@corp.test"
NT_LOGIN = "CORP\\jane"
PASSWORD = "Winter-2026 pass"


def config_xml(imap_auth: str, smtp_auth: str, username: str = "CORP\\%EMAILLOCALPART%") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="corp.test">
    <domain>corp.test</domain>
    <displayName>Corp IT</displayName>
    <incomingServer type="imap">
      <hostname>imap.corp.test</hostname><port>993</port><socketType>SSL</socketType>
      <username>{username}</username><authentication>{imap_auth}</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.corp.test</hostname><port>465</port><socketType>SSL</socketType>
      <username>{username}</username><authentication>{smtp_auth}</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


class World:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        users = {NT_LOGIN: PASSWORD, "jane": PASSWORD}
        self.dovecot: Dovecot = lab.dovecot(
            "imap.corp.test", users=users, mechanisms=("plain", "login", "cram-md5")
        )
        self.smtp: SmtpServer = lab.smtp("smtp.corp.test", users=users, extra_mechanisms=("NTLM",))

    def run(self, tmp_path: Path, xml: str, password: str = PASSWORD) -> list[Check]:
        path = tmp_path / "config-v1.1.xml"
        path.write_text(xml)
        targets = targets_from_config(path, ADDRESS)
        options = VerifyOptions(
            address=ADDRESS, password=Secret(password), ca_file=self.lab.ca_file, timeout=10
        )
        dns = DnsClient(parse_nameservers([self.lab.dns_spec]))
        return run_checks(targets, options, dns=dns, context=client_context(self.lab.ca_file))


@pytest.fixture(scope="module")
def world(module_lab: Lab) -> World:
    return World(module_lab)


def test_ntlm_on_smtp_is_a_real_ntlm_login_and_imap_without_ntlm_gets_no_password(
    world: World, tmp_path: Path
) -> None:
    before = len(world.smtp.auth_attempts)
    imap, smtp = world.run(tmp_path, config_xml("NTLM", "NTLM"))
    # Dovecot offers no NTLM: nothing sent, and the reason says so.
    assert imap.result is Result.ERROR
    assert "does not offer NTLM" in imap.detail
    assert "password was not sent" in imap.detail
    assert imap.mechanism is None
    assert "Login: user=" not in world.dovecot.log_tail(500)
    # aiosmtpd + pyspnego: AUTH NTLM, NTLMv2 checked against the store.
    assert smtp.result is Result.OK, smtp
    assert smtp.mechanism == "NTLM"
    attempts = world.smtp.auth_attempts[before:]
    assert [(a.mechanism, a.success) for a in attempts] == [("NTLM", True)]
    assert attempts[0].login.upper() == NT_LOGIN.upper()


def test_ntlm_with_a_wrong_password_fails_once_and_never_falls_back(
    world: World, tmp_path: Path
) -> None:
    before = len(world.smtp.auth_attempts)
    imap, smtp = world.run(tmp_path, config_xml("GSSAPI", "NTLM"), "wrong")
    assert imap.result is Result.UNTESTED
    assert smtp.result is Result.AUTH_FAILED
    attempts = world.smtp.auth_attempts[before:]
    assert [(a.mechanism, a.success) for a in attempts] == [("NTLM", False)]


def test_encrypted_password_is_cram_md5_on_a_real_dovecot(world: World, tmp_path: Path) -> None:
    imap, smtp = world.run(
        tmp_path, config_xml("password-encrypted", "NTLM", username="%EMAILLOCALPART%")
    )
    assert imap.result is Result.OK, imap
    assert imap.mechanism == "CRAM-MD5"
    assert "INBOX" in (imap.mailbox or "")
    # NTLM as "jane" without a domain: the acceptor knows only CORP\jane.
    assert (smtp.result, smtp.mechanism) == (Result.AUTH_FAILED, "NTLM")


def test_methods_advisor_cannot_test_say_so(world: World, tmp_path: Path) -> None:
    imap, smtp = world.run(tmp_path, config_xml("GSSAPI", "GSSAPI"))
    assert (imap.result, smtp.result) == (Result.UNTESTED, Result.UNTESTED)
    assert "GSSAPI" in imap.detail
    assert "nothing was sent" in imap.detail
    assert imap.mechanism is None


def test_without_pyspnego_ntlm_is_untested_not_plain(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "spnego", None)  # `import spnego` raises ImportError
    before = len(world.smtp.auth_attempts)
    _imap, smtp = world.run(tmp_path, config_xml("GSSAPI", "NTLM"))
    assert smtp.result is Result.UNTESTED
    assert "pyspnego" in smtp.detail
    assert world.smtp.auth_attempts[before:] == []  # no PLAIN instead, nothing at all


def test_autodiscover_spa_means_ntlm(world: World, tmp_path: Path) -> None:
    pox = tmp_path / "autodiscover.xml"
    pox.write_text(
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
        'responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/'
        'autodiscover/outlook/responseschema/2006a"><Account><AccountType>email</AccountType>'
        "<Action>settings</Action><Protocol><Type>SMTP</Type><Server>smtp.corp.test</Server>"
        "<Port>465</Port><LoginName>CORP\\jane</LoginName><SPA>on</SPA><SSL>on</SSL>"
        "<Encryption>SSL</Encryption></Protocol><Protocol><Type>IMAP</Type>"
        "<Server>imap.corp.test</Server><Port>993</Port><LoginName>jane</LoginName>"
        "<SPA>off</SPA><SSL>on</SSL></Protocol></Account></Response></Autodiscover>"
    )
    targets = targets_from_config(pox, ADDRESS)
    assert {t.protocol: t.auth for t in targets} == {"imap": None, "smtp": "NTLM"}


def test_verify_cli_with_config_reports_the_method(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "corp.xml"
    path.write_text(config_xml("NTLM", "NTLM"))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = run_cli(
        capsys,
        "verify",
        ADDRESS,
        "--config",
        str(path),
        "--password-stdin",
        "--json",
        "--dns",
        world.lab.dns_spec,
        "--ca-file",
        str(world.lab.ca_file),
    )
    doc = json.loads(out)
    assert code != 0, err
    results = {c["protocol"]: (c["result"], c["mechanism"]) for c in doc["checks"]}
    assert results == {"imap": ("error", None), "smtp": ("ok", "NTLM")}
    assert PASSWORD not in out + err
