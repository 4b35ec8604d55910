"""Apple configuration profiles (advisor.formats.apple); golden files in golden/apple/.

Run with UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change.
"""

from __future__ import annotations

import os
import plistlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.errors import AdvisorError
from advisor.formats.apple import (
    EAS_PAYLOAD,
    MAIL_PAYLOAD,
    USE_SSL,
    parse_mobileconfig,
    payload_uuid,
    render_mobileconfig,
)
from advisor.formats.plan import AccountPlan, ExchangeSetting, UnsafeValueError
from advisor.models import Protocol, Security
from tests.formats.plan_text import plan_text
from tests.formats.test_outlook import NOT_XML, PLANS

GOLDEN = Path(__file__).parent / "golden" / "apple"

# Apple's Device Management reference (github.com/apple/device-management,
# mdm/profiles/*.yaml): the keys marked "presence: required".
TOP_LEVEL_REQUIRED = {
    "PayloadIdentifier",
    "PayloadUUID",
    "PayloadType",
    "PayloadVersion",
    "PayloadContent",
}
PAYLOAD_REQUIRED = {"PayloadIdentifier", "PayloadUUID", "PayloadType", "PayloadVersion"}
MAIL_REQUIRED = {
    "EmailAccountType",
    "IncomingMailServerAuthentication",
    "IncomingMailServerHostName",
    "OutgoingMailServerAuthentication",
    "OutgoingMailServerHostName",
}
UUID_FORMAT = re.compile(
    r"[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}"
)


def profile(plan: AccountPlan) -> dict[str, Any]:
    return parse_mobileconfig(render_mobileconfig(plan))


def content(plan: AccountPlan) -> dict[str, Any]:
    payloads = profile(plan)["PayloadContent"]
    assert isinstance(payloads, list)
    assert len(payloads) == 1
    return dict(payloads[0])


def check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run the tests once with UPDATE_GOLDEN=1")
    expected = path.read_bytes()
    if expected != data:
        assert data.decode("utf-8", "replace") == expected.decode("utf-8", "replace")
        assert data == expected


@pytest.mark.parametrize("name", list(PLANS))
def test_golden_profiles(name: str) -> None:
    check_golden(f"{name}.mobileconfig", render_mobileconfig(PLANS[name]))


def test_no_stale_golden_files() -> None:
    present = {p.name for p in GOLDEN.iterdir()} if GOLDEN.exists() else set()
    assert present - {f"{n}.mobileconfig" for n in PLANS} == set()


@pytest.mark.parametrize("name", list(PLANS))
def test_required_keys(name: str) -> None:
    plan = PLANS[name]
    top = profile(plan)
    assert set(top) >= TOP_LEVEL_REQUIRED
    assert (top["PayloadType"], top["PayloadVersion"]) == ("Configuration", 1)
    for key in ("PayloadDisplayName", "PayloadDescription", "PayloadOrganization"):
        assert isinstance(top[key], str)
        assert top[key]
    inner = content(plan)
    assert set(inner) >= PAYLOAD_REQUIRED
    assert inner["PayloadVersion"] == 1
    assert inner["PayloadIdentifier"].startswith(top["PayloadIdentifier"] + ".")
    if plan.protocol == "exchange":
        assert inner["PayloadType"] == EAS_PAYLOAD
        assert {"Host", "SSL", "EmailAddress", "UserName"} <= set(inner)
        assert top["TargetDeviceType"] == 1  # com.apple.eas.account: iOS/iPadOS only
    else:
        assert inner["PayloadType"] == MAIL_PAYLOAD
        assert set(inner) >= MAIL_REQUIRED
        assert inner["EmailAccountType"] == (
            "EmailTypeIMAP" if plan.protocol == "imap" else "EmailTypePOP"
        )
        assert "TargetDeviceType" not in top


@pytest.mark.parametrize("name", [n for n, p in PLANS.items() if p.protocol != "exchange"])
def test_mail_payload_states_the_servers(name: str) -> None:
    plan = PLANS[name]
    inner = content(plan)
    for side, server in (("Incoming", plan.incoming), ("Outgoing", plan.outgoing)):
        assert server is not None
        assert inner[f"{side}MailServerHostName"] == server.hostname
        assert inner[f"{side}MailServerPortNumber"] == server.port
        assert inner[f"{side}MailServerUseSSL"] is USE_SSL[server.security]
        assert inner[f"{side}MailServerUsername"] == server.username
    assert inner["EmailAddress"] == plan.email
    assert inner["EmailAccountName"] == plan.full_name
    assert inner["EmailAccountDescription"] == plan.provider_name
    assert inner["OutgoingPasswordSameAsIncomingPassword"] is True
    assert (inner["PreventMove"], inner["PreventAppSheet"], inner["SMIMEEnabled"]) == (
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("security", "use_ssl"),
    [(Security.SSL, True), (Security.STARTTLS, True), (Security.PLAIN, False)],
)
def test_use_ssl_is_true_for_starttls_too(security: Security, use_ssl: bool) -> None:
    # Apple Mail negotiates STARTTLS on 143/587 when UseSSL is true; false could
    # let it log in in clear text: see the module docstring.
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    plan = replace(
        plan,
        incoming=replace(plan.incoming, port=143, security=security),
        outgoing=replace(plan.outgoing, port=587, security=security),
    )
    inner = content(plan)
    assert inner["IncomingMailServerUseSSL"] is use_ssl
    assert inner["OutgoingMailServerUseSSL"] is use_ssl


@pytest.mark.parametrize(
    ("auth", "apple"),
    [
        ("password-cleartext", "EmailAuthPassword"),
        ("password-encrypted", "EmailAuthCRAMMD5"),
        ("NTLM", "EmailAuthNTLM"),
        ("OAuth2", "EmailAuthPassword"),
        ("GSSAPI", "EmailAuthPassword"),
        ("client-IP-address", "EmailAuthNone"),
    ],
)
def test_authentication_mapping(auth: str, apple: str) -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.outgoing is not None
    inner = content(replace(plan, outgoing=replace(plan.outgoing, auth=auth)))
    assert inner["OutgoingMailServerAuthentication"] == apple
    if apple == "EmailAuthNone":
        assert "OutgoingMailServerUsername" not in inner
        assert inner["OutgoingPasswordSameAsIncomingPassword"] is False


def test_oauth2_is_written_as_password_with_an_explanation() -> None:
    plan = PLANS["oauth2-provider"]
    inner = content(plan)
    assert inner["IncomingMailServerAuthentication"] == "EmailAuthPassword"
    for description in (profile(plan)["PayloadDescription"], inner["PayloadDescription"]):
        assert "OAuth2" in description
        assert "app password" in description
    assert "OAuth2" not in profile(PLANS["imap-ssl-smtp-starttls"])["PayloadDescription"]


def test_exchange_on_premises() -> None:
    inner = content(PLANS["exchange-onprem"])
    assert inner["Host"] == "mail.corp.example"  # from the ActiveSync URL
    assert inner["SSL"] is True
    assert inner["EmailAddress"] == inner["UserName"] == "jane@corp.example"
    assert "OAuth" not in inner


def test_exchange_microsoft365_uses_oauth() -> None:
    inner = content(PLANS["exchange-m365"])
    assert (inner["Host"], inner["SSL"], inner["OAuth"]) == ("outlook.office365.com", True, True)


def test_exchange_host_fallbacks() -> None:
    plan = PLANS["exchange-onprem"]
    ews_only = replace(
        plan, exchange=ExchangeSetting(ews_url="https://ews.corp.example/EWS/Exchange.asmx")
    )
    inner = content(ews_only)
    assert (inner["Host"], inner["SSL"]) == ("ews.corp.example", True)
    # An http:// URL never reaches the profile (it would say SSL: false).
    with pytest.raises(UnsafeValueError, match="EWS URL"):
        ExchangeSetting(ews_url="http://ews.corp.example/EWS/Exchange.asmx")
    server_only = replace(plan, exchange=ExchangeSetting(server="cas.corp.example"))
    assert content(server_only)["Host"] == "cas.corp.example"
    nothing = replace(plan, exchange=None)
    assert "Host" not in content(nothing)  # the device asks for it


def test_uuids_are_stable_and_per_address() -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert render_mobileconfig(plan) == render_mobileconfig(plan)
    first, again = profile(plan), profile(plan)
    assert first["PayloadUUID"] == again["PayloadUUID"]
    other = replace(plan, email="john@example.com")
    assert profile(other)["PayloadUUID"] != first["PayloadUUID"]
    assert content(other)["PayloadUUID"] != content(plan)["PayloadUUID"]
    # The address's case does not make a new profile.
    assert profile(replace(plan, email="Jane@Example.COM"))["PayloadUUID"] == first["PayloadUUID"]
    # IMAP -> POP for the same address replaces the same Mail payload.
    pop = replace(plan, protocol="pop3")
    assert pop.incoming is not None
    pop = replace(pop, incoming=replace(pop.incoming, protocol=Protocol.POP3, port=995))
    assert content(pop)["PayloadUUID"] == content(plan)["PayloadUUID"]


@pytest.mark.parametrize("name", list(PLANS))
def test_uuids_are_valid_and_distinct(name: str) -> None:
    top = profile(PLANS[name])
    uuids = [top["PayloadUUID"], content(PLANS[name])["PayloadUUID"]]
    assert all(UUID_FORMAT.fullmatch(u) and uuid.UUID(u).version == 5 for u in uuids)
    assert len(set(uuids)) == 2


def test_payload_uuid_is_uuid5_of_kind_and_address() -> None:
    assert payload_uuid("a@example.com", "x") == payload_uuid(" A@EXAMPLE.com ", "x")
    assert payload_uuid("a@example.com", "x") != payload_uuid("a@example.com", "y")


def test_identifier_is_reverse_dns_of_the_domain() -> None:
    top = profile(PLANS["idn-domain"])
    assert top["PayloadIdentifier"].startswith("example.xn--bcher-kva.mail-setup-advisor.")
    assert re.fullmatch(r"[A-Za-z0-9.-]+", top["PayloadIdentifier"])


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)


@pytest.mark.parametrize("name", list(PLANS))
def test_no_password_anywhere(name: str) -> None:
    for key, value in walk(profile(PLANS[name])):
        if "password" in key.lower():
            assert isinstance(value, bool), f"{key} holds a value"
    assert b"<key>IncomingPassword</key>" not in render_mobileconfig(PLANS[name])


def test_plan_without_servers_is_an_error() -> None:
    with pytest.raises(AdvisorError):
        render_mobileconfig(replace(PLANS["imap-ssl-smtp-starttls"], incoming=None))


def test_parse_mobileconfig_refuses_a_non_dictionary() -> None:
    with pytest.raises(AdvisorError):
        parse_mobileconfig(plistlib.dumps([1, 2]))


def test_lone_surrogates_never_reach_the_encoding() -> None:
    with pytest.raises(UnsafeValueError, match="ud800"):
        replace(PLANS["imap-ssl-smtp-starttls"], full_name="Jane\ud800 Doe")


def test_organization_is_configurable() -> None:
    data = render_mobileconfig(PLANS["imap-ssl-smtp-starttls"], organization="ACME <IT> & Co")
    assert parse_mobileconfig(data)["PayloadOrganization"] == "ACME <IT> & Co"


HOST_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
HOSTS = st.lists(HOST_LABEL, min_size=2, max_size=4).map(".".join)


@settings(max_examples=200, deadline=None)
@given(name=plan_text(60), user=plan_text(40), host=HOSTS)
def test_arbitrary_names_and_hosts_round_trip(name: str, user: str, host: str) -> None:
    plan = PLANS["special-names"]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    plan = replace(
        plan,
        full_name=name,
        incoming=replace(plan.incoming, hostname=host, username=user),
        outgoing=replace(plan.outgoing, hostname=host, username=user),
    )
    inner = content(plan)

    def plist_text(text: str) -> str:  # what XML (and plistlib) keeps of a string
        return NOT_XML.sub("", text).replace("\r\n", "\n").replace("\r", "\n")

    expected_name = plist_text(NOT_XML.sub("", name).strip())
    assert inner.get("EmailAccountName") == (expected_name or None)
    assert inner["IncomingMailServerHostName"] == inner["OutgoingMailServerHostName"] == host
    assert inner.get("IncomingMailServerUsername") == (plist_text(user) or None)
