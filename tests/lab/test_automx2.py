"""The automx2 lab fixture serves what it was seeded with (tests/lab/automx2.py)."""

from __future__ import annotations

import plistlib

import defusedxml.ElementTree as ET
import pytest

from tests.lab.automx2 import Automx2, MailDomain, MailServer, start_automx2
from tests.lab.servers import Lab

pytestmark = pytest.mark.lab

DOMAINS = (
    MailDomain(
        "alpha.test",
        "Alpha Mail Services",
        (MailServer("imap", "imap.alpha.test", 993), MailServer("smtp", "smtp.alpha.test", 587)),
    ),
    MailDomain(
        "corp.test",
        "Corp IT",
        (
            MailServer(
                "imap",
                "mail.corp.test",
                143,
                user_name="CORP\\%EMAILLOCALPART%",
                authentication="NTLM",
            ),
            MailServer(
                "smtp",
                "mail.corp.test",
                465,
                user_name="CORP\\%EMAILLOCALPART%",
                authentication="NTLM",
            ),
        ),
    ),
)


@pytest.fixture(scope="module")
def automx2(module_lab: Lab) -> Automx2:
    return start_automx2(module_lab, DOMAINS)


def test_autoconfig_serves_seeded_servers(automx2: Automx2) -> None:
    status, body = automx2.autoconfig("jane@alpha.test")
    assert status == 200
    provider = ET.fromstring(body).find("emailProvider")
    assert provider is not None
    assert provider.findtext("displayName") == "Alpha Mail Services"
    incoming = provider.find("incomingServer")
    assert incoming is not None
    assert (incoming.findtext("hostname"), incoming.findtext("port")) == ("imap.alpha.test", "993")
    assert incoming.findtext("socketType") == "SSL"
    assert incoming.findtext("authentication") == "plain"


def test_ntlm_domain_keeps_its_template_and_method(automx2: Automx2) -> None:
    status, body = automx2.autoconfig("jane@corp.test")
    assert status == 200
    servers = ET.fromstring(body).findall("emailProvider/*[username]")
    assert [s.findtext("username") for s in servers] == ["CORP\\%EMAILLOCALPART%"] * 2
    assert [s.findtext("authentication") for s in servers] == ["NTLM", "NTLM"]
    assert [s.findtext("socketType") for s in servers] == ["STARTTLS", "SSL"]
    # POX expands the login and states no method (an automx2 quirk).
    status, pox = automx2.autodiscover("jane@corp.test")
    assert status == 200
    assert "<LoginName>CORP\\jane</LoginName>" in pox
    status, profile = automx2.mobileconfig("jane@corp.test")
    assert status == 200
    payload = plistlib.loads(profile)["PayloadContent"][0]
    assert payload["IncomingMailServerAuthentication"] == "EmailAuthNTLM"


def test_quirks(automx2: Automx2) -> None:
    assert automx2.autoconfig("jane@unknown.test", "autoconfig.alpha.test") == (204, "")
    assert automx2.request("GET", "autoconfig.alpha.test", "/mail/config-v1.1.xml")[0] == 400
    assert (
        automx2.request("GET", "autodiscover.alpha.test", "/autodiscover/autodiscover.xml")[0]
        == 405
    )
