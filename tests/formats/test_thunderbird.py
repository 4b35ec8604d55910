"""Thunderbird exporters: autoconfig XML and user.js, golden files, round trips, schema rules.

Golden files live in ``tests/formats/golden/thunderbird/``; run with
``UPDATE_GOLDEN=1`` to rewrite them after an intended change, then review the diff.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.formats.mozilla import ClientConfig, Pop3Options, parse_client_config
from advisor.formats.plan import (
    AccountPlan,
    DomainConfig,
    ExchangeSetting,
    OAuth2Setting,
    ServerSetting,
    UnsafeValueError,
)
from advisor.formats.thunderbird import (
    AUTH_METHOD_PREF,
    SOCKET_TYPE_PREF,
    check_account_graph,
    js_string,
    parse_user_js,
    render_autoconfig,
    render_user_js,
    thunderbird_supports,
)
from advisor.models import Protocol, Security
from tests.formats.plan_text import plan_text

GOLDEN = Path(__file__).resolve().parent / "golden" / "thunderbird"

IMAP = Protocol.IMAP
POP3 = Protocol.POP3
SMTP = Protocol.SMTP


# --- the cases --------------------------------------------------------------------------------


def _account(config: DomainConfig, email: str, full_name: str, protocol: Protocol) -> AccountPlan:
    """The person's account matching a domain file: templates filled in by hand."""
    local = email.partition("@")[0]

    def concrete(s: ServerSetting) -> ServerSetting:
        name = s.username.replace("%EMAILADDRESS%", email).replace("%EMAILLOCALPART%", local)
        return replace(s, username=name)

    incoming = next(s for s in config.incoming if s.protocol is protocol)
    return AccountPlan(
        email=email,
        full_name=full_name,
        domain=config.domain,
        protocol=protocol.value,
        provider_id=config.provider_id,
        provider_name=config.display_name,
        incoming=concrete(incoming),
        outgoing=concrete(config.outgoing[0]),
        pop3_leave_on_server=config.pop3_leave_on_server,
        pop3_keep_days=config.pop3_keep_days,
        oauth2=config.oauth2,
    )


IMAP_STARTTLS = DomainConfig(
    domain="example.com",
    provider_id="example.com",
    display_name="Example Mail",
    short_name="Example",
    incoming=(ServerSetting(IMAP, "imap.example.com", 143, Security.STARTTLS, "%EMAILADDRESS%"),),
    outgoing=(ServerSetting(SMTP, "smtp.example.com", 587, Security.STARTTLS, "%EMAILADDRESS%"),),
    documentation_url="https://example.com/help/mail?client=thunderbird&lang=en",
)

POP3_LEAVE_14 = DomainConfig(
    domain="example.net",
    provider_id="example.net",
    display_name="Example Net",
    short_name="ExNet",
    incoming=(
        ServerSetting(POP3, "pop.example.net", 995, Security.SSL, "%EMAILLOCALPART%"),
        ServerSetting(IMAP, "imap.example.net", 993, Security.SSL, "%EMAILLOCALPART%"),
    ),
    outgoing=(
        ServerSetting(SMTP, "smtp.example.net", 465, Security.SSL, "%EMAILLOCALPART%"),
        ServerSetting(SMTP, "smtp.example.net", 587, Security.STARTTLS, "%EMAILLOCALPART%"),
    ),
    pop3_leave_on_server=True,
    pop3_keep_days=14,
)

OAUTH2 = DomainConfig(
    domain="example.org",
    provider_id="example.org",
    display_name="Example Cloud",
    short_name="Cloud",
    incoming=(
        ServerSetting(IMAP, "outlook.example.org", 993, Security.SSL, "%EMAILADDRESS%", "OAuth2"),
    ),
    outgoing=(
        ServerSetting(SMTP, "smtp.example.org", 587, Security.STARTTLS, "%EMAILADDRESS%", "OAuth2"),
    ),
    oauth2=OAuth2Setting(
        issuer="login.example.org",
        scope="https://outlook.example.org/IMAP.AccessAsUser.All offline_access",
        auth_url="https://login.example.org/common/oauth2/v2.0/authorize",
        token_url="https://login.example.org/common/oauth2/v2.0/token",
        client_id="example-client-id",
    ),
)

# müller.de: the data model carries A-labels only.
IDN = DomainConfig(
    domain="xn--mller-kva.de",
    provider_id="xn--mller-kva.de",
    display_name="Müller Mail",
    short_name="Müller",
    incoming=(ServerSetting(IMAP, "imap.xn--mller-kva.de", 993, Security.SSL, "%EMAILADDRESS%"),),
    outgoing=(ServerSetting(SMTP, "smtp.xn--mller-kva.de", 465, Security.SSL, "%EMAILADDRESS%"),),
)

ESCAPING = DomainConfig(
    domain="example.com",
    provider_id="example.com",
    display_name='Bob\'s <"Mail"> & Co',
    short_name="<&\"'>",
    incoming=(ServerSetting(IMAP, "imap.example.com", 993, Security.SSL, "%EMAILADDRESS%"),),
    outgoing=(ServerSetting(SMTP, "smtp.example.com", 465, Security.SSL, "%EMAILADDRESS%"),),
    documentation_url="https://example.com/?a=1&b='2'",
)

CASES: dict[str, tuple[DomainConfig, AccountPlan]] = {
    "imap_starttls": (
        IMAP_STARTTLS,
        _account(IMAP_STARTTLS, "jane@example.com", "Jane Doe", IMAP),
    ),
    "pop3_leave_14": (
        POP3_LEAVE_14,
        _account(POP3_LEAVE_14, "max@example.net", "Max Mustermann", POP3),
    ),
    "oauth2": (OAUTH2, _account(OAUTH2, "ceo@example.org", "", IMAP)),
    "idn": (IDN, _account(IDN, "joerg@xn--mller-kva.de", "Jörg Müller", IMAP)),
    "escaping": (
        ESCAPING,
        _account(ESCAPING, "bob@example.com", 'Bob "Bobby" O\'Neil <&> \\ \u2028\u2029 😀', IMAP),
    ),
}


# --- golden files -----------------------------------------------------------------------------


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    assert path.exists(), f"{path} is missing: run the tests once with UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize("case", sorted(CASES))
def test_autoconfig_golden(case: str) -> None:
    config, _plan = CASES[case]
    check_golden(f"{case}.xml", render_autoconfig(config))


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_js_golden(case: str) -> None:
    _config, plan = CASES[case]
    check_golden(f"{case}.user.js", render_user_js(plan))


def test_every_golden_file_belongs_to_a_case() -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        pytest.skip("rewriting golden files")
    expected = {f"{c}.xml" for c in CASES} | {f"{c}.user.js" for c in CASES}
    assert {p.name for p in GOLDEN.iterdir()} == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_is_deterministic_and_well_formatted(case: str) -> None:
    config, plan = CASES[case]
    xml, js = render_autoconfig(config), render_user_js(plan)
    assert (xml, js) == (render_autoconfig(config), render_user_js(plan))
    for text in (xml, js):
        assert text.endswith("\n")
        assert not text.endswith("\n\n")
        assert "\r" not in text
        assert "\t" not in text
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">')
    for line in xml.splitlines()[1:]:
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, line
    assert js.isascii()


# --- structural rules of the draft's autoconfig.rng -------------------------------------------
#
# benbucksch/autoconfig-spec autoconfig.rng (commit a8fdf03) encoded here:
#  S1  the root is <clientConfig> with a required version attribute;
#  S2  clientConfig's children: emailProvider, calendar, addressbook, fileShare,
#      chatServer, videoConference, setupServer, oAuth2, clientConfigUpdate, or an
#      extension element (any name NOT in the schema's reserved list);
#  S3  emailProvider: required id; children domain, displayName, displayShortName,
#      documentation, incomingServer, outgoingServer, or an extension element
#      (so <oAuth2> inside <emailProvider> is invalid: oAuth2 is reserved);
#  S4  documentation: required url; children descr or extensions;
#      clientConfigUpdate: required url; children extensions only;
#  S5  server sections: required type; children url, hostname, port, socketType,
#      authentication, username, or extensions (<pop3> is one);
#  S6  oAuth2: children authURL, tokenURL, issuer, scope, clientID, clientSecret,
#      or extensions;
#  S7  text-only elements have no element children (domain, displayName,
#      displayShortName, descr, url, hostname, port, socketType, authentication,
#      username, authURL, tokenURL, issuer, scope, clientID, clientSecret);
#  S8  port is an xsd:positiveInteger.
# The schema imposes NO element order (every content model is zeroOrMore of a
# choice); preference order is checked by the parse-back test instead.
# Values come from the draft's prose, not the schema (it types them as text):
#  V1  type: incomingServer imap|pop3 (+ the draft's URL types), outgoingServer smtp;
#  V2  socketType: SSL|STARTTLS|plain;
#  V3  authentication: password-cleartext, password-encrypted, NTLM, GSSAPI,
#      TLS-client-cert, OAuth2, none, client-IP-address;
#  V4  a TCP server section has one hostname, port, socketType and username and at
#      least one authentication ("TCP-based protocols").

RESERVED = frozenset(
    [
        "clientConfig",
        "emailProvider",
        "domain",
        "displayName",
        "displayShortName",
        "documentation",
        "descr",
        "incomingServer",
        "outgoingServer",
        "calendar",
        "addressbook",
        "fileShare",
        "chatServer",
        "videoConference",
        "setupServer",
        "url",
        "hostname",
        "port",
        "socketType",
        "authentication",
        "username",
        "oAuth2",
        "authURL",
        "tokenURL",
        "issuer",
        "scope",
        "clientID",
        "clientSecret",
        "clientConfigUpdate",
    ]
)
SERVER_SECTIONS = frozenset(
    [
        "incomingServer",
        "outgoingServer",
        "calendar",
        "addressbook",
        "fileShare",
        "chatServer",
        "videoConference",
        "setupServer",
    ]
)
TEXT_ONLY = frozenset(
    [
        "domain",
        "displayName",
        "displayShortName",
        "descr",
        "url",
        "hostname",
        "port",
        "socketType",
        "authentication",
        "username",
        "authURL",
        "tokenURL",
        "issuer",
        "scope",
        "clientID",
        "clientSecret",
    ]
)
CHILDREN = {
    "clientConfig": {"emailProvider", "oAuth2", "clientConfigUpdate"}
    | SERVER_SECTIONS - {"incomingServer", "outgoingServer"},
    "emailProvider": {
        "domain",
        "displayName",
        "displayShortName",
        "documentation",
        "incomingServer",
        "outgoingServer",
    },
    "documentation": {"descr"},
    "oAuth2": {"authURL", "tokenURL", "issuer", "scope", "clientID", "clientSecret"},
    "clientConfigUpdate": set(),
    **{
        s: {"url", "hostname", "port", "socketType", "authentication", "username"}
        for s in SERVER_SECTIONS
    },
}
REQUIRED_ATTRS = {
    "clientConfig": "version",
    "emailProvider": "id",
    "documentation": "url",
    "clientConfigUpdate": "url",
    **dict.fromkeys(SERVER_SECTIONS, "type"),
}
INCOMING_TYPES = {"imap", "pop3", "jmap", "ews", "activesync", "graph"}
SOCKET_TYPES = {"SSL", "STARTTLS", "plain"}
AUTHENTICATIONS = {
    "password-cleartext",
    "password-encrypted",
    "NTLM",
    "GSSAPI",
    "TLS-client-cert",
    "OAuth2",
    "none",
    "client-IP-address",
}


def schema_problems(text: str) -> list[str]:
    """Violations of the rules above; empty for a valid document."""
    root = ET.fromstring(text.encode())  # our own output: trusted
    problems: list[str] = []
    if root.tag != "clientConfig":
        return [f"S1 root is <{root.tag}>"]

    def walk(elem: ET.Element, path: str) -> None:
        tag = elem.tag
        if tag in REQUIRED_ATTRS and REQUIRED_ATTRS[tag] not in elem.attrib:
            problems.append(f"{path}: missing required attribute {REQUIRED_ATTRS[tag]}")
        children = list(elem)
        if tag in TEXT_ONLY and children:
            problems.append(f"{path}: S7 text-only element has children")
        if tag in CHILDREN:
            for child in children:
                if child.tag in RESERVED and child.tag not in CHILDREN[tag]:
                    problems.append(f"{path}: <{child.tag}> not allowed here")
        if tag == "port" and not re.fullmatch(r"\s*\+?0*[1-9][0-9]*\s*", elem.text or ""):
            problems.append(f"{path}: S8 port {elem.text!r} is not a positiveInteger")
        if tag in ("incomingServer", "outgoingServer"):
            problems.extend(_server_values(elem, path))
        for index, child in enumerate(children, start=1):
            walk(child, f"{path}/{child.tag}[{index}]")

    walk(root, "clientConfig")
    return problems


def _server_values(elem: ET.Element, path: str) -> list[str]:
    problems = []
    kind = elem.get("type")
    allowed = {"smtp"} if elem.tag == "outgoingServer" else INCOMING_TYPES
    if kind not in allowed:
        problems.append(f"{path}: V1 type {kind!r}")
    for name in ("hostname", "port", "socketType", "username"):
        if len(elem.findall(name)) != 1:
            problems.append(f"{path}: V4 needs exactly one <{name}>")
    auths = [a.text for a in elem.findall("authentication")]
    if not auths:
        problems.append(f"{path}: V4 needs an <authentication>")
    problems += [f"{path}: V3 authentication {a!r}" for a in auths if a not in AUTHENTICATIONS]
    problems += [
        f"{path}: V2 socketType {s.text!r}"
        for s in elem.findall("socketType")
        if s.text not in SOCKET_TYPES
    ]
    return problems


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_autoconfig_follows_the_schema(case: str) -> None:
    config, _plan = CASES[case]
    assert schema_problems(render_autoconfig(config)) == []


def test_schema_checker_catches_what_it_claims() -> None:
    good = render_autoconfig(OAUTH2)
    assert schema_problems(good) == []
    block = re.search(r"  <oAuth2>.*?</oAuth2>\n", good, re.DOTALL)
    assert block is not None
    moved = good.replace(block.group(), "").replace(
        "</emailProvider>", block.group().strip() + "</emailProvider>"
    )
    assert any("<oAuth2> not allowed here" in p for p in schema_problems(moved))
    assert any("version" in p for p in schema_problems(good.replace(' version="1.1"', "")))
    assert any("id" in p for p in schema_problems(good.replace(' id="example.org"', "")))
    assert any("S8" in p for p in schema_problems(good.replace("<port>993<", "<port>0<")))
    assert any("V2" in p for p in schema_problems(good.replace(">SSL<", ">TLS<")))
    assert any("V3" in p for p in schema_problems(good.replace(">OAuth2<", ">OAuth<", 1)))
    assert any(
        "S7" in p for p in schema_problems(good.replace("<port>993</port>", "<port><x/>993</port>"))
    )


# --- parse back with our own reader -----------------------------------------------------------


def assert_same_servers(config: DomainConfig, parsed: ClientConfig) -> None:
    assert parsed.ignored == ()
    assert parsed.version == "1.1"
    (provider,) = parsed.providers
    assert provider.id == config.provider_id
    assert provider.domains == (config.domain,)
    assert provider.oauth2 is not None if config.oauth2 else provider.oauth2 is None
    if config.oauth2 is not None and provider.oauth2 is not None:
        assert (
            provider.oauth2.issuer,
            provider.oauth2.scope,
            provider.oauth2.auth_url,
            provider.oauth2.token_url,
            provider.oauth2.client_id,
        ) == (
            config.oauth2.issuer,
            config.oauth2.scope,
            config.oauth2.auth_url,
            config.oauth2.token_url,
            config.oauth2.client_id,
        )
    if config.documentation_url:
        assert [d.url for d in provider.documentation] == [config.documentation_url]
    for wanted, got in (
        *zip(config.incoming, provider.incoming, strict=True),
        *zip(config.outgoing, provider.outgoing, strict=True),
    ):
        assert got.protocol is wanted.protocol
        assert got.hostname == wanted.hostname.lower()
        assert got.port == wanted.port
        assert got.security is wanted.security
        assert got.username == wanted.username
        assert got.auth == (wanted.auth,)
        if wanted.protocol is POP3:
            keep = config.pop3_keep_days if config.pop3_leave_on_server else None
            assert got.pop3 == Pop3Options(
                leave_messages_on_server=config.pop3_leave_on_server,
                download_on_biff=True,
                days_to_leave_messages_on_server=keep,
            )
        else:
            assert got.pop3 is None


@pytest.mark.parametrize("case", sorted(CASES))
def test_autoconfig_parses_back_to_the_same_servers(case: str) -> None:
    config, _plan = CASES[case]
    assert_same_servers(config, parse_client_config(render_autoconfig(config).encode()))


def test_pop3_without_leave_or_days() -> None:
    gone = replace(POP3_LEAVE_14, pop3_leave_on_server=False, pop3_keep_days=None)
    text = render_autoconfig(gone)
    assert "<leaveMessagesOnServer>false</leaveMessagesOnServer>" in text
    assert "daysToLeaveMessagesOnServer" not in text
    assert_same_servers(gone, parse_client_config(text.encode()))
    forever = replace(POP3_LEAVE_14, pop3_keep_days=None)
    assert "daysToLeaveMessagesOnServer" not in render_autoconfig(forever)


def test_display_names_are_escaped_and_read_back() -> None:
    text = render_autoconfig(ESCAPING)
    assert '<displayName>Bob\'s &lt;"Mail"&gt; &amp; Co</displayName>' in text
    assert "<displayShortName>&lt;&amp;\"'&gt;</displayShortName>" in text
    assert "<documentation url=\"https://example.com/?a=1&amp;b='2'\"/>" in text
    # A quote is no URL character (RFC 3986 §2): refused before the writer.
    with pytest.raises(UnsafeValueError, match="documentation URL"):
        replace(ESCAPING, documentation_url='https://example.com/?b="2"')
    (provider,) = parse_client_config(text.encode()).providers
    assert provider.display_name == ESCAPING.display_name
    assert provider.short_name == ESCAPING.short_name


def test_characters_xml_cannot_carry_are_refused_before_any_writer() -> None:
    for name in ("A\x00B", "A\x1bC", "C\ud800E", "D\u202eE"):
        with pytest.raises(UnsafeValueError, match="provider's name"):
            replace(IMAP_STARTTLS, display_name=name)


def test_render_autoconfig_refuses_what_no_file_can_say() -> None:
    smtp_in = replace(IMAP_STARTTLS, incoming=IMAP_STARTTLS.outgoing)
    with pytest.raises(ValueError, match="protocol smtp"):
        render_autoconfig(smtp_in)
    with pytest.raises(ValueError, match="at least one incoming and one outgoing"):
        render_autoconfig(replace(IMAP_STARTTLS, outgoing=()))
    with pytest.raises(UnsafeValueError, match="port"):
        replace(IMAP_STARTTLS.incoming[0], port=0)
    bad_auth = replace(IMAP_STARTTLS.incoming[0], auth="kerberos")
    with pytest.raises(ValueError, match="unknown authentication"):
        render_autoconfig(replace(IMAP_STARTTLS, incoming=(bad_auth,)))


def test_every_security_and_auth_word_is_written_as_thunderbird_spells_it() -> None:
    for security, word in (
        (Security.SSL, "SSL"),
        (Security.STARTTLS, "STARTTLS"),
        (Security.PLAIN, "plain"),
    ):
        server = replace(IMAP_STARTTLS.incoming[0], security=security)
        text = render_autoconfig(replace(IMAP_STARTTLS, incoming=(server,)))
        assert f"<socketType>{word}</socketType>" in text
    for auth in AUTH_METHOD_PREF:
        server = replace(IMAP_STARTTLS.outgoing[0], auth=auth)
        config = replace(IMAP_STARTTLS, outgoing=(server,))
        parsed = parse_client_config(render_autoconfig(config).encode())
        assert schema_problems(render_autoconfig(config)) == []
        if auth == "TLS-client-cert":
            # A word of the format that Thunderbird's readFromXML does not take for
            # a mail server: it skips the server, and so does our reading.
            assert parsed.providers[0].outgoing == ()
            continue
        assert parsed.providers[0].outgoing[0].auth == (auth,)


# --- user.js ----------------------------------------------------------------------------------


def test_user_js_imap_values() -> None:
    _config, plan = CASES["imap_starttls"]
    prefs = parse_user_js(render_user_js(plan))
    assert check_account_graph(prefs) == []
    assert prefs == {
        "mail.accountmanager.accounts": "account1",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.account.account1.server": "server1",
        "mail.account.account1.identities": "id1",
        "mail.server.server1.type": "imap",
        "mail.server.server1.hostname": "imap.example.com",
        "mail.server.server1.port": 143,
        "mail.server.server1.socketType": 2,
        "mail.server.server1.userName": "jane@example.com",
        "mail.server.server1.authMethod": 3,
        "mail.server.server1.name": "jane@example.com",
        "mail.server.server1.valid": True,
        "mail.server.server1.login_at_startup": True,
        "mail.identity.id1.useremail": "jane@example.com",
        "mail.identity.id1.fullName": "Jane Doe",
        "mail.identity.id1.smtpServer": "smtp1",
        "mail.identity.id1.valid": True,
        "mail.smtpservers": "smtp1",
        "mail.smtp.defaultserver": "smtp1",
        "mail.smtpserver.smtp1.type": "smtp",
        "mail.smtpserver.smtp1.description": "Example Mail",
        "mail.smtpserver.smtp1.hostname": "smtp.example.com",
        "mail.smtpserver.smtp1.port": 587,
        "mail.smtpserver.smtp1.try_ssl": 2,
        "mail.smtpserver.smtp1.authMethod": 3,
        "mail.smtpserver.smtp1.username": "jane@example.com",
    }
    assert not any("password" in name.lower() for name in prefs)


def test_user_js_pop3_leave_on_server() -> None:
    _config, plan = CASES["pop3_leave_14"]
    prefs = parse_user_js(render_user_js(plan))
    assert check_account_graph(prefs) == []
    assert prefs["mail.server.server1.type"] == "pop3"
    assert prefs["mail.server.server1.socketType"] == 3
    assert prefs["mail.server.server1.userName"] == "max"
    assert prefs["mail.server.server1.leave_on_server"] is True
    assert prefs["mail.server.server1.delete_by_age_from_server"] is True
    assert prefs["mail.server.server1.num_days_to_leave_on_server"] == 14
    assert prefs["mail.server.server1.download_on_biff"] is True
    assert prefs["mail.smtpserver.smtp1.try_ssl"] == 3

    forever = parse_user_js(render_user_js(replace(plan, pop3_keep_days=None)))
    assert forever["mail.server.server1.leave_on_server"] is True
    assert forever["mail.server.server1.delete_by_age_from_server"] is False
    assert "mail.server.server1.num_days_to_leave_on_server" not in forever
    gone = parse_user_js(render_user_js(replace(plan, pop3_leave_on_server=False)))
    assert gone["mail.server.server1.leave_on_server"] is False
    assert gone["mail.server.server1.delete_by_age_from_server"] is False
    assert "mail.server.server1.num_days_to_leave_on_server" not in gone


def test_user_js_imap_has_no_pop3_prefs() -> None:
    prefs = parse_user_js(render_user_js(CASES["imap_starttls"][1]))
    assert not any("leave_on_server" in name for name in prefs)


def test_user_js_oauth2() -> None:
    _config, plan = CASES["oauth2"]
    prefs = parse_user_js(render_user_js(plan))
    assert prefs["mail.server.server1.authMethod"] == 10
    assert prefs["mail.smtpserver.smtp1.authMethod"] == 10
    assert prefs["mail.identity.id1.fullName"] == ""
    ok, why = thunderbird_supports(plan)
    assert ok
    assert "OAuth2" in why


def test_tables_match_thunderbird_sources() -> None:
    # MailNewsTypes2.idl: nsMsgSocketType and nsMsgAuthMethod.
    assert SOCKET_TYPE_PREF == {Security.PLAIN: 0, Security.STARTTLS: 2, Security.SSL: 3}
    assert AUTH_METHOD_PREF == {
        "none": 1,
        "client-IP-address": 1,
        "password-cleartext": 3,
        "password-encrypted": 4,
        "GSSAPI": 5,
        "NTLM": 6,
        "TLS-client-cert": 7,
        "OAuth2": 10,
    }


@pytest.mark.parametrize(("auth", "number"), sorted(AUTH_METHOD_PREF.items()))
def test_every_auth_method_reaches_the_prefs(auth: str, number: int) -> None:
    _config, plan = CASES["imap_starttls"]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    plan = replace(
        plan,
        incoming=replace(plan.incoming, auth=auth),
        outgoing=replace(plan.outgoing, auth=auth),
    )
    prefs = parse_user_js(render_user_js(plan))
    assert prefs["mail.server.server1.authMethod"] == number
    assert prefs["mail.smtpserver.smtp1.authMethod"] == number
    # CreateInBackend sets no SMTP user name when no login is needed.
    assert ("mail.smtpserver.smtp1.username" in prefs) == (number != 1)
    assert check_account_graph(prefs) == []


def test_user_js_without_outgoing_server() -> None:
    plan = replace(CASES["imap_starttls"][1], outgoing=None)
    prefs = parse_user_js(render_user_js(plan))
    assert check_account_graph(prefs) == []
    assert "mail.smtpservers" not in prefs
    assert "mail.identity.id1.smtpServer" not in prefs


def test_user_js_refuses_placeholders_and_bad_plans() -> None:
    plan = CASES["imap_starttls"][1]
    assert plan.incoming is not None
    with pytest.raises(ValueError, match="placeholder"):
        render_user_js(replace(plan, incoming=replace(plan.incoming, username="%EMAILADDRESS%")))
    with pytest.raises(ValueError, match="says pop3"):
        render_user_js(replace(plan, protocol="pop3"))
    with pytest.raises(ValueError, match="no Thunderbird authMethod"):
        render_user_js(replace(plan, incoming=replace(plan.incoming, auth="SASL SCRAM-SHA-256")))
    with pytest.raises(ValueError, match="no IMAP server"):
        render_user_js(replace(plan, incoming=None))


@pytest.mark.parametrize("m365", [False, True])
def test_exchange_gets_no_user_js_but_an_explanation(m365: bool) -> None:
    plan = AccountPlan(
        email="a@example.com",
        full_name="A",
        domain="example.com",
        protocol="exchange",
        provider_id="example.com",
        provider_name="Example",
        incoming=None,
        outgoing=None,
        exchange=ExchangeSetting(ews_url="https://mail.example.com/EWS/Exchange.asmx"),
        on_microsoft365=m365,
    )
    ok, why = thunderbird_supports(plan)
    assert not ok
    assert "\n" not in why
    assert "Exchange" in why
    assert "November 2025" in why
    assert ("1 October 2026" in why) == m365
    assert ("Owl" in why) == (not m365)
    with pytest.raises(ValueError, match=r"no user\.js for Exchange"):
        render_user_js(plan)


def test_idn_names_are_escaped_and_read_back() -> None:
    _config, plan = CASES["idn"]
    text = render_user_js(plan)
    assert '"J\\u00f6rg M\\u00fcller"' in text
    prefs = parse_user_js(text)
    assert prefs["mail.identity.id1.fullName"] == "Jörg Müller"
    assert prefs["mail.server.server1.hostname"] == "imap.xn--mller-kva.de"


def test_js_string_escapes() -> None:
    assert js_string('a"b\\c') == '"a\\"b\\\\c"'
    assert js_string("\n\r\t") == '"\\u000a\\u000d\\u0009"'
    assert js_string("\u2028\u2029") == '"\\u2028\\u2029"'
    assert js_string("é😀") == '"\\u00e9\\ud83d\\ude00"'
    assert js_string("'</script>") == '"\'</script>"'
    # libpref refuses \u0000, and a lone surrogate is not text.
    assert js_string("a\x00b\ud800c") == '"a\\ufffdb\\ufffdc"'


# --- parse_user_js ----------------------------------------------------------------------------


def test_parse_user_js_reads_what_libpref_reads() -> None:
    text = (
        "// comment\n"
        "\n"
        "  user_pref( 'a' , 'it\\'s' ) ;\n"
        'user_pref("b", -5);\r\n'
        'user_pref("c", +7);\n'
        'user_pref("d", false);\n'
        'user_pref("e", "\\x41\\n\\r\\"\\\\\\ud83d\\ude00 raw é");\n'
    )
    assert parse_user_js(text) == {
        "a": "it's",
        "b": -5,
        "c": 7,
        "d": False,
        "e": 'A\n\r"\\😀 raw é',
    }


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('pref("a", 1);', "not a user_pref"),
        ('user_pref("a", 1)', "not a user_pref"),
        ('user_pref("a", 1); // trailing', "not a user_pref"),
        ('user_pref("a", yes);', "not a user_pref"),
        ('user_pref("a", "b);', "not a user_pref"),
        ('user_pref("a", 1);\nuser_pref("a", 2);', "set twice"),
        ('user_pref("a", 2147483648);', "32 bits"),
        ('user_pref("a", "\\u0000");', "u0000"),
        ('user_pref("a", "\\x00");', "x00"),
        ('user_pref("a", "\\xe9");', "raw byte"),
        ('user_pref("a", "\\ud800");', "surrogate"),
        ('user_pref("a", "\\udc00\\ud800");', "surrogate"),
        ('user_pref("a", "\\t");', "unexpected escape"),
        ('user_pref("a", "\\u12");', "unexpected escape"),
        ('user_pref("a", "x\x00");', "NUL"),
        ("/* block */", "not a user_pref"),
    ],
)
def test_parse_user_js_is_strict(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_user_js(text)


def test_parse_user_js_names_the_line() -> None:
    with pytest.raises(ValueError, match=r"^line 3: "):
        parse_user_js('// x\nuser_pref("a", 1);\nnonsense\n')


# --- check_account_graph ----------------------------------------------------------------------


def _good_prefs() -> dict[str, str | int | bool]:
    return parse_user_js(render_user_js(CASES["imap_starttls"][1]))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"mail.accountmanager.accounts": ""}, "lists no account"),
        ({"mail.accountmanager.accounts": "account1,account1"}, "twice"),
        ({"mail.accountmanager.defaultaccount": "account9"}, "not a listed account"),
        ({"mail.accountmanager.defaultaccount": None}, "defaultaccount is not set"),
        ({"mail.account.account1.server": None}, "mail.account.account1.server is not defined"),
        ({"mail.account.account1.server": "server7"}, "mail.server.server7.type is not defined"),
        ({"mail.server.server1.hostname": None}, "mail.server.server1.hostname is not defined"),
        ({"mail.account.account1.identities": "id2"}, "mail.identity.id2.useremail"),
        ({"mail.account.account1.identities": ""}, "has no identity"),
        ({"mail.identity.id1.smtpServer": "smtp2"}, "is not in mail.smtpservers"),
        ({"mail.smtpservers": "smtp1,smtp2"}, "mail.smtpserver.smtp2.hostname is not defined"),
        ({"mail.smtp.defaultserver": "smtp3"}, "is not in mail.smtpservers"),
        ({"mail.smtpservers": 5}, "mail.smtpservers is not a string"),
        ({"mail.accountmanager.localfoldersserver": "server2"}, "localfoldersserver"),
        (
            {
                "mail.accountmanager.accounts": "account1,account2",
                "mail.account.account2.server": "server1",
            },
            "belongs to",
        ),
    ],
)
def test_check_account_graph_finds_broken_links(
    change: dict[str, str | int | None], problem: str
) -> None:
    prefs = _good_prefs()
    for name, value in change.items():
        if value is None:
            prefs.pop(name, None)
        else:
            prefs[name] = value
    problems = check_account_graph(prefs)
    assert any(problem in p for p in problems), problems


def test_check_account_graph_accepts_local_folders() -> None:
    prefs = _good_prefs()
    prefs.update(
        {
            "mail.accountmanager.accounts": "account1,account2",
            "mail.account.account2.server": "server2",
            "mail.server.server2.type": "none",
            "mail.accountmanager.localfoldersserver": "server2",
        }
    )
    assert check_account_graph(prefs) == []


# --- properties: escaping round trips ---------------------------------------------------------

# Any text a person or a server could send, minus NUL (which no pref can hold:
# it becomes U+FFFD, tested above) and lone surrogates (not text; also U+FFFD).
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40
)
LABEL = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
HOSTNAME = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=4),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(
    full_name=ANY_TEXT,
    provider=ANY_TEXT,
    in_host=st.one_of(HOSTNAME, ANY_TEXT),
    out_host=st.one_of(HOSTNAME, ANY_TEXT),
    user=ANY_TEXT,
)
def test_user_js_round_trips_any_text(
    full_name: str, provider: str, in_host: str, out_host: str, user: str
) -> None:
    plan = CASES["imap_starttls"][1]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    try:
        plan = replace(
            plan,
            full_name=full_name,
            provider_name=provider,
            incoming=replace(plan.incoming, hostname=in_host, username=user.replace("%", "")),
            outgoing=replace(plan.outgoing, hostname=out_host),
        )
    except UnsafeValueError:
        return  # refused in one line before any writer sees it (advisor.formats.plan)
    text = render_user_js(plan)
    assert text.isascii()
    prefs = parse_user_js(text)
    assert prefs["mail.identity.id1.fullName"] == full_name
    assert prefs["mail.smtpserver.smtp1.description"] == provider
    assert prefs["mail.server.server1.hostname"] == in_host
    assert prefs["mail.smtpserver.smtp1.hostname"] == out_host
    assert prefs["mail.server.server1.userName"] == user.replace("%", "")


# Every code point, NUL and lone surrogates included: the renderer must still
# write well-formed XML.
EVERY_CHARACTER = st.characters(exclude_categories=())


def _xml_safe(text: str) -> str:
    """What XML 1.0 can carry of ``text``, the rest as U+FFFD (XML 1.0 §2.2 Char)."""

    def ok(c: str) -> bool:
        o = ord(c)
        return (
            c in "\t\n\r"
            or 0x20 <= o <= 0xD7FF
            or 0xE000 <= o <= 0xFFFD
            or 0x10000 <= o <= 0x10FFFF
        )

    return "".join(c if ok(c) else "\ufffd" for c in text)


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(EVERY_CHARACTER, max_size=40),
    short=st.text(EVERY_CHARACTER, max_size=20),
    host=st.one_of(HOSTNAME, st.text(EVERY_CHARACTER, max_size=40)),
    user=st.text(EVERY_CHARACTER, max_size=20),
)
def test_autoconfig_escapes_any_text(name: str, short: str, host: str, user: str) -> None:
    try:
        incoming = replace(IMAP_STARTTLS.incoming[0], hostname=host, username=user)
        config = replace(IMAP_STARTTLS, display_name=name, short_name=short, incoming=(incoming,))
    except UnsafeValueError:
        return  # refused in one line before any writer sees it (advisor.formats.plan)
    text = render_autoconfig(config)
    root = ET.fromstring(text.encode())  # well-formed, whatever the values
    provider = root.find("emailProvider")
    assert provider is not None
    assert provider.findtext("displayName") == (_xml_safe(name) or config.domain)
    assert provider.findtext("displayShortName") == (
        _xml_safe(short) or _xml_safe(name) or config.domain
    )
    assert provider.findtext("incomingServer/hostname") == _xml_safe(host)
    assert provider.findtext("incomingServer/username") == _xml_safe(user)
    parsed = parse_client_config(text.encode())  # never raises on our output
    (got,) = parsed.providers
    assert got.display_name == (
        " ".join(_xml_safe(name).split()) or None if name else config.domain
    )


@settings(max_examples=200, deadline=None)
@given(hosts=st.lists(HOSTNAME, min_size=3, max_size=3), name=plan_text(40))
def test_autoconfig_round_trips_valid_host_names(hosts: list[str], name: str) -> None:
    imap_host, pop_host, smtp_host = hosts
    config = replace(
        POP3_LEAVE_14,
        display_name=name,
        incoming=(
            replace(POP3_LEAVE_14.incoming[0], hostname=pop_host),
            replace(POP3_LEAVE_14.incoming[1], hostname=imap_host),
        ),
        outgoing=(replace(POP3_LEAVE_14.outgoing[0], hostname=smtp_host),),
    )
    text = render_autoconfig(config)
    assert schema_problems(text) == []
    parsed = parse_client_config(text.encode())
    if name.strip():
        assert_same_servers(config, parsed)
    else:
        assert_same_servers(replace(config, display_name=config.domain), parsed)
