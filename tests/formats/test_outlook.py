"""Outlook exporters (advisor.formats.outlook): POX answer, .reg, PRF, steps; golden files.

Golden files live in tests/formats/golden/outlook/. Run with UPDATE_GOLDEN=1 to
rewrite them after a deliberate change, then read the diff.
"""

from __future__ import annotations

import codecs
import configparser
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.errors import AdvisorError
from advisor.formats.autodiscover import parse_response
from advisor.formats.outlook import (
    AUTODISCOVER_KEY,
    M365_AUTODISCOVER_URL,
    OutlookExportError,
    RegFormatError,
    leave_on_server_value,
    new_outlook_steps,
    outlook_exchange_steps,
    parse_reg,
    render_autodiscover,
    render_prf,
    render_prf_bytes,
    render_reg,
    render_reg_bytes,
    xml_text,
)
from advisor.formats.plan import (
    AccountPlan,
    DomainConfig,
    ExchangeSetting,
    OAuth2Setting,
    ServerSetting,
    UnsafeValueError,
)
from advisor.models import Endpoint, Protocol, Security
from tests.formats.plan_text import plan_text

GOLDEN = Path(__file__).parent / "golden" / "outlook"
XML_FOLDER = r"C:\ProgramData\MailSetupAdvisor"

# ------------------------------------------------------------------ the plans


def imap(
    host: str, port: int, security: Security, user: str, auth: str = "password-cleartext"
) -> ServerSetting:
    return ServerSetting(Protocol.IMAP, host, port, security, user, auth)


def pop3(
    host: str, port: int, security: Security, user: str, auth: str = "password-cleartext"
) -> ServerSetting:
    return ServerSetting(Protocol.POP3, host, port, security, user, auth)


def smtp(
    host: str, port: int, security: Security, user: str, auth: str = "password-cleartext"
) -> ServerSetting:
    return ServerSetting(Protocol.SMTP, host, port, security, user, auth)


def mail_plan(
    email: str,
    incoming: ServerSetting,
    outgoing: ServerSetting,
    *,
    full_name: str = "Jane Doe",
    provider_name: str = "Example Mail",
    **extra: object,
) -> AccountPlan:
    domain = email.rpartition("@")[2]
    return AccountPlan(
        email=email,
        full_name=full_name,
        domain=domain,
        protocol=incoming.protocol.value,
        provider_id=domain,
        provider_name=provider_name,
        incoming=incoming,
        outgoing=outgoing,
        **extra,  # type: ignore[arg-type]
    )


def exchange_plan(email: str, exchange: ExchangeSetting, *, m365: bool = False) -> AccountPlan:
    domain = email.rpartition("@")[2]
    return AccountPlan(
        email=email,
        full_name="Jane Doe",
        domain=domain,
        protocol="exchange",
        provider_id=domain,
        provider_name="Contoso" if m365 else "Corp",
        incoming=None,
        outgoing=None,
        exchange=exchange,
        on_microsoft365=m365,
    )


GOOGLE_OAUTH = OAuth2Setting(
    issuer="accounts.google.com",
    scope="https://mail.google.com/",
    auth_url="https://accounts.google.com/o/oauth2/auth",
    token_url="https://www.googleapis.com/oauth2/v3/token",
)

PLANS: dict[str, AccountPlan] = {
    "imap-ssl-smtp-starttls": mail_plan(
        "jane@example.com",
        imap("imap.example.com", 993, Security.SSL, "jane@example.com"),
        smtp("smtp.example.com", 587, Security.STARTTLS, "jane@example.com"),
    ),
    "pop3-leave-on-server": mail_plan(
        "jdoe@example.net",
        pop3("pop.example.net", 995, Security.SSL, "jdoe"),
        smtp("smtp.example.net", 465, Security.SSL, "jdoe"),
        pop3_leave_on_server=True,
        pop3_keep_days=14,
    ),
    "exchange-onprem": exchange_plan(
        "jane@corp.example",
        ExchangeSetting(
            ews_url="https://mail.corp.example/EWS/Exchange.asmx",
            activesync_url="https://mail.corp.example/Microsoft-Server-ActiveSync",
            server="mail.corp.example",
            hosted="on-premises",
        ),
    ),
    "exchange-onprem-redirect": exchange_plan(
        "jane@corp.example",
        ExchangeSetting(
            ews_url="https://mail.corp.example/EWS/Exchange.asmx",
            activesync_url="https://mail.corp.example/Microsoft-Server-ActiveSync",
            autodiscover_url="https://autodiscover.corp.example/autodiscover/autodiscover.xml",
            server="mail.corp.example",
            hosted="on-premises",
        ),
    ),
    "exchange-m365": exchange_plan(
        "jane@contoso.com",
        ExchangeSetting(
            ews_url="https://outlook.office365.com/EWS/Exchange.asmx",
            server="outlook.office365.com",
            hosted="microsoft365",
        ),
        m365=True,
    ),
    "oauth2-provider": mail_plan(
        "jane.doe@gmail.com",
        imap("imap.gmail.com", 993, Security.SSL, "jane.doe@gmail.com", "OAuth2"),
        smtp("smtp.gmail.com", 465, Security.SSL, "jane.doe@gmail.com", "OAuth2"),
        provider_name="Google Mail",
        oauth2=GOOGLE_OAUTH,
    ),
    "idn-domain": mail_plan(
        "info@xn--bcher-kva.example",
        imap("mail.xn--bcher-kva.example", 143, Security.STARTTLS, "info@xn--bcher-kva.example"),
        smtp("mail.xn--bcher-kva.example", 587, Security.STARTTLS, "info@xn--bcher-kva.example"),
        full_name="Jörg Bücher",
        provider_name="Bücher Mail",
    ),
    "special-names": mail_plan(
        "o.brien@example.org",
        imap("imap.example.org", 993, Security.SSL, "o'brien&co"),
        smtp("smtp.example.org", 587, Security.STARTTLS, "o'brien&co"),
        full_name='Zoë "Z" <O\'Brien> & Ünïcødé 名前',
        provider_name='Ex & <Co> "Mail"',
    ),
}

MAIL_PLANS = [name for name, plan in PLANS.items() if plan.protocol != "exchange"]
EXCHANGE_PLANS = [name for name, plan in PLANS.items() if plan.protocol == "exchange"]

DOMAINS: dict[str, DomainConfig] = {
    "domain-address": DomainConfig(
        domain="example.com",
        provider_id="example.com",
        display_name="Example Mail",
        short_name="Example",
        incoming=(
            imap("imap.example.com", 993, Security.SSL, "%EMAILADDRESS%"),
            pop3("pop.example.com", 995, Security.SSL, "%EMAILADDRESS%"),
        ),
        outgoing=(
            smtp("smtp.example.com", 465, Security.SSL, "%EMAILADDRESS%"),
            smtp("smtp.example.com", 587, Security.STARTTLS, "%EMAILADDRESS%"),
        ),
    ),
    "domain-localpart": DomainConfig(
        domain="example.net",
        provider_id="example.net",
        display_name="Example Net",
        short_name="Example",
        incoming=(imap("mail.example.net", 143, Security.STARTTLS, "%EMAILLOCALPART%"),),
        outgoing=(smtp("mail.example.net", 587, Security.STARTTLS, "%EMAILLOCALPART%"),),
    ),
}


def reg_for(plan: AccountPlan) -> str:
    return render_reg(
        plan.domain,
        f"{XML_FOLDER}\\autodiscover-{plan.domain}.xml",
        on_microsoft365=plan.on_microsoft365,
        exchange=plan.protocol == "exchange",
    )


def steps_for(plan: AccountPlan) -> str:
    lines = []
    if plan.protocol == "exchange":
        lines += ["# classic Outlook", *outlook_exchange_steps(plan), ""]
    lines += ["# new Outlook", *new_outlook_steps(plan), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------ golden files


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
def test_golden_files_per_plan(name: str) -> None:
    plan = PLANS[name]
    check_golden(f"{name}.autodiscover.xml", render_autodiscover(plan).encode())
    check_golden(f"{name}.reg", reg_for(plan).encode())
    check_golden(f"{name}.steps.txt", steps_for(plan).encode())
    if plan.protocol != "exchange":
        check_golden(f"{name}.prf", render_prf(plan).encode())


@pytest.mark.parametrize("name", list(DOMAINS))
def test_golden_files_per_domain(name: str) -> None:
    check_golden(f"{name}.autodiscover.xml", render_autodiscover(DOMAINS[name]).encode())


def test_no_stale_golden_files() -> None:
    expected = {f"{n}.{s}" for n in PLANS for s in ("autodiscover.xml", "reg", "steps.txt")}
    expected |= {f"{n}.prf" for n in MAIL_PLANS}
    expected |= {f"{n}.autodiscover.xml" for n in DOMAINS}
    present = {p.name for p in GOLDEN.iterdir()} if GOLDEN.exists() else set()
    assert present - expected == set()


# ------------------------------------------------------------------ Autodiscover


def endpoint(server: ServerSetting) -> Endpoint:
    return Endpoint(server.protocol, server.hostname, server.port, server.security)


@pytest.mark.parametrize("name", MAIL_PLANS)
def test_pox_parses_back_to_the_same_servers(name: str) -> None:
    plan = PLANS[name]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    response = parse_response(render_autodiscover(plan).encode())
    assert response.ignored == ()
    assert (response.action, response.account_type) == ("settings", "email")
    assert response.email == plan.email
    assert response.display_name == plan.full_name
    found = response.mail_protocols
    # One reading only: Encryption is always stated, so no "SSL on a STARTTLS
    # port" second guess is needed.
    assert [p.endpoints() for p in found] == [
        (endpoint(plan.incoming),),
        (endpoint(plan.outgoing),),
    ]
    assert [p.login_name for p in found] == [plan.incoming.username, plan.outgoing.username]
    assert [p.auth_required for p in found] == [True, True]
    assert [p.spa for p in found] == [False, False]


@pytest.mark.parametrize("security", list(Security))
@pytest.mark.parametrize("protocol", list(Protocol))
def test_every_security_round_trips(protocol: Protocol, security: Security) -> None:
    server = ServerSetting(protocol, "mail.example.com", 2525, security, "u@example.com")
    config = DomainConfig("example.com", "example.com", "Ex", "Ex", (server,), (server,))
    response = parse_response(render_autodiscover(config).encode())
    protocols = response.mail_protocols
    assert protocols[0].endpoints() == (endpoint(server),)
    # SSL and Encryption agree: "on" unless the server is plain.
    assert protocols[0].ssl is (security is not Security.PLAIN)
    assert protocols[0].encryption == {"ssl": "SSL", "starttls": "TLS", "plain": "None"}[security]


@pytest.mark.parametrize("name", list(DOMAINS))
def test_domain_file_has_no_login_name_and_keeps_the_order(name: str) -> None:
    config = DOMAINS[name]
    text = render_autodiscover(config)
    response = parse_response(text.encode())
    assert [p.endpoint() for p in response.mail_protocols] == [
        endpoint(s) for s in (*config.incoming, *config.outgoing)
    ]
    assert all(p.login_name is None for p in response.mail_protocols)
    assert "%" not in text  # no placeholder leaks: POX has none
    assert response.display_name is None
    assert response.email is None


def test_domain_file_says_when_the_login_is_not_the_address() -> None:
    assert "before the @" in render_autodiscover(DOMAINS["domain-localpart"])
    assert "<!--" not in render_autodiscover(DOMAINS["domain-address"])


def test_smtp_uses_incoming_login_only_when_it_is_the_same() -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.outgoing is not None
    assert "<UsePOPAuth>on</UsePOPAuth>" in render_autodiscover(plan)
    other = replace(plan, outgoing=replace(plan.outgoing, username="relay-user"))
    assert "<UsePOPAuth>off</UsePOPAuth>" in render_autodiscover(other)
    open_relay = replace(plan, outgoing=replace(plan.outgoing, auth="client-IP-address"))
    text = render_autodiscover(open_relay)
    assert "UsePOPAuth" not in text
    smtp_block = text.split("<Type>SMTP</Type>")[1]
    assert "<AuthRequired>off</AuthRequired>" in smtp_block


def test_spa_for_ntlm_and_kerberos() -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.incoming is not None
    spa = replace(plan, incoming=replace(plan.incoming, auth="NTLM"))
    response = parse_response(render_autodiscover(spa).encode())
    assert [p.spa for p in response.mail_protocols] == [True, False]


def test_exchange_on_premises_settings() -> None:
    plan = PLANS["exchange-onprem"]
    response = parse_response(render_autodiscover(plan).encode())
    assert response.action == "settings"
    expr = response.protocol("EXPR")
    assert expr is not None
    assert expr.server == "mail.corp.example"
    assert expr.ssl is True
    assert response.ews_url == "https://mail.corp.example/EWS/Exchange.asmx"
    # ASUrl is the Availability service (MS-OXDSCLI "ASUrl (POX)"), served at
    # the EWS URL; the ActiveSync URL has no place in the Outlook schema.
    assert expr.as_url == expr.ews_url
    assert "Microsoft-Server-ActiveSync" not in render_autodiscover(plan)
    assert response.mail_protocols == ()


def test_exchange_on_premises_redirects_to_its_autodiscover_when_known() -> None:
    plan = PLANS["exchange-onprem-redirect"]
    response = parse_response(render_autodiscover(plan).encode())
    assert response.action == "redirectUrl"
    assert plan.exchange is not None
    assert response.redirect == plan.exchange.autodiscover_url


def test_exchange_http_autodiscover_url_is_refused() -> None:
    plan = PLANS["exchange-onprem"]
    assert plan.exchange is not None
    with pytest.raises(UnsafeValueError, match="Autodiscover URL"):
        replace(plan.exchange, autodiscover_url="http://autodiscover.corp.example/autodiscover/")


def test_microsoft365_redirects_to_exchange_online() -> None:
    response = parse_response(render_autodiscover(PLANS["exchange-m365"]).encode())
    assert (response.action, response.redirect) == ("redirectUrl", M365_AUTODISCOVER_URL)
    hosted_only = replace(PLANS["exchange-onprem"], on_microsoft365=False)
    assert hosted_only.exchange is not None
    hosted_only = replace(
        hosted_only, exchange=replace(hosted_only.exchange, hosted="microsoft365")
    )
    assert parse_response(render_autodiscover(hosted_only).encode()).redirect == (
        M365_AUTODISCOVER_URL
    )


def test_exchange_without_any_server_is_an_error() -> None:
    plan = replace(PLANS["exchange-onprem"], exchange=ExchangeSetting(hosted="on-premises"))
    with pytest.raises(OutlookExportError, match="no Exchange server"):
        render_autodiscover(plan)


def test_plan_without_servers_is_an_error() -> None:
    plan = replace(PLANS["imap-ssl-smtp-starttls"], outgoing=None)
    with pytest.raises(AdvisorError):
        render_autodiscover(plan)


def test_namespaces_are_http_not_https() -> None:
    text = render_autodiscover(PLANS["imap-ssl-smtp-starttls"])
    assert 'xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"' in text
    assert (
        'xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"'
        in text
    )
    assert "https://schemas" not in text


def test_rendering_is_deterministic() -> None:
    for plan in PLANS.values():
        assert render_autodiscover(plan) == render_autodiscover(plan)
        assert reg_for(plan) == reg_for(plan)


HOST_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
HOSTS = st.lists(HOST_LABEL, min_size=2, max_size=4).map(".".join)
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@settings(max_examples=200, deadline=None)
@given(name=plan_text(60, lines=True), login=plan_text(40), host=HOSTS)
def test_arbitrary_names_and_hosts_survive_xml_escaping(name: str, login: str, host: str) -> None:
    plan = PLANS["special-names"]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    plan = replace(
        plan,
        full_name=name,
        incoming=replace(plan.incoming, hostname=host, username=login),
        outgoing=replace(plan.outgoing, hostname=host, username=login),
    )
    response = parse_response(render_autodiscover(plan).encode())
    assert response.display_name == (NOT_XML.sub("", name).strip() or None)
    assert [p.server for p in response.mail_protocols] == [host, host]
    expected_login = NOT_XML.sub("", login).strip() or None
    assert [p.login_name for p in response.mail_protocols] == [expected_login] * 2


def test_xml_text_escapes_markup_and_drops_what_xml_cannot_hold() -> None:
    assert xml_text("<a & 'b' \"c\">") == "&lt;a &amp; 'b' \"c\"&gt;"
    assert xml_text("a\x00b\x1fc\ufffed") == "abcd"
    assert xml_text("line\rnext") == "line&#13;next"


def test_lone_surrogates_never_reach_the_encoding() -> None:
    with pytest.raises(UnsafeValueError, match="ud800"):
        replace(PLANS["imap-ssl-smtp-starttls"], full_name="Jane\ud800 Doe")


# ------------------------------------------------------------------ .reg


def test_reg_for_a_domain_outside_microsoft365() -> None:
    text = reg_for(PLANS["imap-ssl-smtp-starttls"])
    assert parse_reg(text) == {
        (AUTODISCOVER_KEY, "PreferLocalXML"): 1,
        (AUTODISCOVER_KEY, "example.com"): (
            r"C:\ProgramData\MailSetupAdvisor\autodiscover-example.com.xml"
        ),
        (AUTODISCOVER_KEY, "ExcludeExplicitO365Endpoint"): 1,
    }
    # Backslashes doubled in the file itself, as regedit writes them.
    assert r'"C:\\ProgramData\\MailSetupAdvisor\\autodiscover-example.com.xml"' in text


def test_reg_for_microsoft365_keeps_the_direct_connection() -> None:
    values = parse_reg(reg_for(PLANS["exchange-m365"]))
    assert values[(AUTODISCOVER_KEY, "PreferLocalXML")] == 1
    assert (AUTODISCOVER_KEY, "ExcludeExplicitO365Endpoint") not in values


def test_reg_for_exchange_on_premises_is_conservative() -> None:
    values = parse_reg(reg_for(PLANS["exchange-onprem"]))
    names = {name for _key, name in values}
    assert names == {"PreferLocalXML", "corp.example", "ExcludeExplicitO365Endpoint"}
    # SCP is what a domain-joined PC should use for on-premises Exchange.
    assert "ExcludeScpLookup" not in names


def test_reg_excludes_the_root_domain_only_when_told_it_is_a_web_site() -> None:
    text = render_reg(
        "corp.example",
        r"C:\x.xml",
        on_microsoft365=False,
        exchange=True,
        root_domain_is_website=True,
    )
    assert parse_reg(text)[(AUTODISCOVER_KEY, "ExcludeHttpsRootDomain")] == 1


def test_reg_names_both_spellings_of_an_idn_domain() -> None:
    values = parse_reg(reg_for(PLANS["idn-domain"]))
    assert (
        values[(AUTODISCOVER_KEY, "xn--bcher-kva.example")]
        == values[(AUTODISCOVER_KEY, "bücher.example")]
    )
    # Unicode input gives the same file.
    assert render_reg(
        "Bücher.example", r"C:\x.xml", on_microsoft365=False, exchange=False
    ) == render_reg("xn--bcher-kva.example", r"C:\x.xml", on_microsoft365=False, exchange=False)


def test_reg_bytes_are_utf16_with_bom_and_crlf() -> None:
    path = r"C:\Users\Zoë\Mail Setup\autodiscover.xml"
    data = render_reg_bytes("example.com", path, on_microsoft365=False, exchange=False)
    assert data.startswith(codecs.BOM_UTF16_LE)
    text = data[2:].decode("utf-16-le")
    assert text == render_reg("example.com", path, on_microsoft365=False, exchange=False)
    assert text.startswith("Windows Registry Editor Version 5.00\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert parse_reg(data.decode("utf-16"))[(AUTODISCOVER_KEY, "example.com")] == path


def test_reg_path_with_quote_round_trips() -> None:
    path = 'C:\\odd "name"\\a.xml'
    text = render_reg("example.com", path, on_microsoft365=True, exchange=False)
    assert parse_reg(text)[(AUTODISCOVER_KEY, "example.com")] == path


@pytest.mark.parametrize(
    "path", ["", "C:\\a\r\n[HKEY_LOCAL_MACHINE\\x]", "C:\\a\x00.xml", "C:\\\ud800.xml"]
)
def test_reg_refuses_a_path_that_would_break_the_file(path: str) -> None:
    with pytest.raises(OutlookExportError):
        render_reg("example.com", path, on_microsoft365=False, exchange=False)


def test_reg_refuses_a_bad_domain() -> None:
    with pytest.raises(AdvisorError):
        render_reg("exa mple..com", r"C:\a.xml", on_microsoft365=False, exchange=False)


HEADER = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\X]\r\n"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('REGEDIT4\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"a"="b"\r\n', "first line"),
        ('Windows Registry Editor Version 5.00\r\n"a"="b"\r\n', "before any"),
        (HEADER + '"a"=hex:01,02\r\n', "unsupported"),
        (HEADER + '"a"=dword:1\r\n', "unsupported"),
        (HEADER + '"a"=-\r\n', "unsupported"),
        (HEADER + '"a"="b"\r\n"a"="c"\r\n', "twice"),
        (HEADER + "[-HKEY_CURRENT_USER\\Software\\X]\r\n", "not a key"),
        (HEADER + "[HKEY_NOWHERE\\X]\r\n", "unknown hive"),
        (HEADER + "a=b\r\n", "not a value"),
    ],
)
def test_parse_reg_is_strict(text: str, why: str) -> None:
    with pytest.raises(RegFormatError, match=why):
        parse_reg(text)


def test_parse_reg_reads_default_values_and_comments() -> None:
    text = HEADER + '; comment\r\n@="x"\r\n"n\\"q"=dword:0000000a\r\n'
    assert parse_reg("\ufeff" + text) == {
        ("HKEY_CURRENT_USER\\Software\\X", ""): "x",
        ("HKEY_CURRENT_USER\\Software\\X", 'n"q'): 10,
    }


# ------------------------------------------------------------------ PRF


def read_prf(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


@pytest.mark.parametrize("name", MAIL_PLANS)
def test_prf_is_an_ini_file_with_the_sections_outlook_needs(name: str) -> None:
    plan = PLANS[name]
    text = render_prf(plan)
    assert "\n" not in text.replace("\r\n", "")  # CRLF throughout
    prf = read_prf(text)
    assert plan.incoming is not None
    section = "IMAP_I_Mail" if plan.incoming.protocol is Protocol.IMAP else "I_Mail"
    assert prf.sections() == [
        "General",
        "Service List",
        "Internet Account List",
        "Account1",
        "Microsoft Outlook Client",
        section,
    ]
    assert dict(prf["General"]) == {
        "Custom": "1",
        "ProfileName": "Outlook",
        "DefaultProfile": "Yes",
        "OverwriteProfile": "Append",
        "ModifyDefaultProfileIfPresent": "TRUE",
    }
    assert dict(prf["Service List"]) == {"ServiceX": "Microsoft Outlook Client"}
    assert dict(prf["Internet Account List"]) == {"Account1": section}
    # Every account value has its section-7 mapping, and nothing else is mapped.
    account = dict(prf["Account1"])
    mapping = dict(prf[section])
    assert mapping.pop("AccountType") == ("IMAP" if section == "IMAP_I_Mail" else "POP3")
    assert set(mapping) == set(account) - {"UniqueService"}
    assert all(re.fullmatch(r"PT_(UNICODE|LONG),0x[0-9A-F]{4}", v) for v in mapping.values())


def test_prf_imap_values() -> None:
    account = read_prf(render_prf(PLANS["imap-ssl-smtp-starttls"]))["Account1"]
    assert dict(account) == {
        "UniqueService": "No",
        "AccountName": "jane@example.com",
        "DisplayName": "Jane Doe",
        "EmailAddress": "jane@example.com",
        "IMAPServer": "imap.example.com",
        "IMAPUserName": "jane@example.com",
        "IMAPUseSPA": "0",
        "IMAPPort": "993",
        "IMAPUseSSL": "1",
        "SMTPServer": "smtp.example.com",
        "SMTPUseAuth": "1",
        "SMTPAuthMethod": "0",
        "SMTPUseSPA": "0",
        "SMTPPort": "587",
        "SMTPSecureConnection": "2",
        "ConnectionType": "0",
    }


def test_prf_pop3_values() -> None:
    account = read_prf(render_prf(PLANS["pop3-leave-on-server"]))["Account1"]
    assert account["POP3Server"] == "pop.example.net"
    assert account["POP3UserName"] == "jdoe"
    assert (account["POP3Port"], account["POP3UseSSL"]) == ("995", "1")
    assert (account["SMTPPort"], account["SMTPSecureConnection"]) == ("465", "1")
    # LEAVE_ON_SERVER | REMOVE_AFTER | 14 days << 16
    assert int(account["LeaveOnServer"], 16) == 0x1 | 0x2 | (14 << 16)
    assert not any(k.startswith("IMAP") for k in account)


@pytest.mark.parametrize(
    ("leave", "days", "value"),
    [(False, 14, 0x0), (True, None, 0x1), (True, 14, 0xE0003), (True, 1, 0x10003)],
)
def test_leave_on_server_value(leave: bool, days: int | None, value: int) -> None:
    assert leave_on_server_value(leave, days) == value


@pytest.mark.parametrize("days", [0, -1, 65536])
def test_leave_on_server_days_out_of_range(days: int) -> None:
    with pytest.raises(OutlookExportError):
        leave_on_server_value(True, days)


@pytest.mark.parametrize(
    ("security", "incoming_code", "smtp_code"),
    [(Security.SSL, "1", "1"), (Security.STARTTLS, "2", "2"), (Security.PLAIN, "0", "0")],
)
def test_prf_security_codes(security: Security, incoming_code: str, smtp_code: str) -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.incoming is not None
    assert plan.outgoing is not None
    plan = replace(
        plan,
        incoming=replace(plan.incoming, security=security),
        outgoing=replace(plan.outgoing, security=security),
    )
    account = read_prf(render_prf(plan))["Account1"]
    assert (account["IMAPUseSSL"], account["SMTPSecureConnection"]) == (incoming_code, smtp_code)


def test_prf_smtp_with_its_own_login() -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.outgoing is not None
    plan = replace(plan, outgoing=replace(plan.outgoing, username="relay@example.com"))
    account = read_prf(render_prf(plan))["Account1"]
    assert (account["SMTPAuthMethod"], account["SMTPUserName"]) == ("1", "relay@example.com")


def test_prf_smtp_without_authentication() -> None:
    plan = PLANS["imap-ssl-smtp-starttls"]
    assert plan.outgoing is not None
    plan = replace(plan, outgoing=replace(plan.outgoing, auth="client-IP-address"))
    account = read_prf(render_prf(plan))["Account1"]
    assert account["SMTPUseAuth"] == "0"
    assert "SMTPAuthMethod" not in account


def test_prf_notes_oauth2() -> None:
    text = render_prf(PLANS["oauth2-provider"])
    assert "OAuth2" in text.split("[General]")[0]
    assert "OAuth2" not in render_prf(PLANS["imap-ssl-smtp-starttls"])


def test_prf_refuses_exchange() -> None:
    with pytest.raises(OutlookExportError, match="File > Add Account"):
        render_prf(PLANS["exchange-onprem"])


def test_prf_bytes_are_utf16_with_bom() -> None:
    plan = PLANS["special-names"]
    data = render_prf_bytes(plan)
    assert data.startswith(codecs.BOM_UTF16_LE)
    assert data[2:].decode("utf-16-le") == render_prf(plan)
    assert read_prf(data.decode("utf-16"))["Account1"]["DisplayName"] == plan.full_name


@settings(max_examples=200, deadline=None)
@given(name=plan_text(60, lines=True))
def test_prf_names_cannot_break_out_of_their_line(name: str) -> None:
    plan = replace(PLANS["imap-ssl-smtp-starttls"], full_name=name)
    prf = read_prf(render_prf(plan))
    assert prf.sections()[3] == "Account1"
    assert len(prf.sections()) == 6
    expected = " ".join(NOT_XML.sub("", name).splitlines()).strip()
    assert prf["Account1"].get("DisplayName") == (expected or None)


# ------------------------------------------------------------------ no password, ever


@pytest.mark.parametrize("name", list(PLANS))
def test_no_password_anywhere(name: str) -> None:
    plan = PLANS[name]
    texts = [render_autodiscover(plan), reg_for(plan), steps_for(plan)]
    if plan.protocol != "exchange":
        texts.append(render_prf(plan))
    for text in texts:
        assert not re.search(r"(?i)<[^>]*password", text)  # no XML element
        assert not re.search(r"(?im)^[^;\n]*password[^=\n]*=", text)  # no INI/.reg key


# ------------------------------------------------------------------ steps


def test_exchange_steps() -> None:
    onprem = outlook_exchange_steps(PLANS["exchange-onprem"])
    assert any("File > Add Account" in s for s in onprem)
    assert any("jane@corp.example" in s for s in onprem)
    assert any(".reg" in s for s in onprem)
    assert any("https://mail.corp.example/EWS/Exchange.asmx" in s for s in onprem)
    m365 = outlook_exchange_steps(PLANS["exchange-m365"])
    assert any("Microsoft page" in s for s in m365)
    assert not any(".reg" in s for s in m365)
    with pytest.raises(ValueError, match="Exchange plans"):
        outlook_exchange_steps(PLANS["imap-ssl-smtp-starttls"])


def test_new_outlook_steps() -> None:
    onprem = new_outlook_steps(PLANS["exchange-onprem"])
    assert len(onprem) == 1
    assert "cannot add an on-premises Exchange" in onprem[0]
    assert any("Microsoft page" in s for s in new_outlook_steps(PLANS["exchange-m365"]))
    imap_steps = new_outlook_steps(PLANS["imap-ssl-smtp-starttls"])
    assert any("Microsoft's cloud" in s for s in imap_steps)
    assert any("imap.example.com, port 993, encryption SSL/TLS" in s for s in imap_steps)
    assert any("smtp.example.com, port 587, encryption STARTTLS" in s for s in imap_steps)
    assert any("ignores" in s for s in imap_steps)
