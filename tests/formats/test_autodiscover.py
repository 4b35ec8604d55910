"""The POX request builder and the defensive response parser (advisor.formats.autodiscover)."""

from __future__ import annotations

import defusedxml.ElementTree as DefusedET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.formats.autodiscover import (
    MAX_RESPONSE_BYTES,
    REQUEST_NAMESPACE,
    RESPONSE_SCHEMA,
    AutodiscoverError,
    AutodiscoverProtocol,
    AutodiscoverResponse,
    parse_response,
    request_body,
)
from advisor.models import Endpoint, Protocol, Security

OUTER = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
INNER = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def pox(account: str, *, outer: str = OUTER, inner: str = INNER, user: str = "") -> bytes:
    outer_ns = f' xmlns="{outer}"' if outer else ""
    inner_ns = f' xmlns="{inner}"' if inner else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"<Autodiscover{outer_ns}><Response{inner_ns}>{user}<Account>{account}</Account>"
        "</Response></Autodiscover>"
    ).encode()


# The shape of an on-premises Exchange 2016 answer (trimmed), with a hoster's
# IMAP/POP3/SMTP block appended as many hosted Exchange offers add it.
EXCHANGE = pox(
    """
    <AccountType>email</AccountType>
    <Action>settings</Action>
    <MicrosoftOnline>False</MicrosoftOnline>
    <Protocol>
      <Type>EXCH</Type>
      <Server>4f1c2e1a-aaaa-bbbb-cccc-0123456789ab@corp.example.test</Server>
      <ServerDN>/o=Corp/ou=Exchange Administrative Group/cn=Configuration</ServerDN>
      <ServerVersion>73C18880</ServerVersion>
      <AD>dc1.corp.example.test</AD>
      <ASUrl>https://mail.corp.example.test/Microsoft-Server-ActiveSync</ASUrl>
      <EwsUrl>https://mail.internal.corp.example.test/EWS/Exchange.asmx</EwsUrl>
      <OABUrl>https://mail.corp.example.test/OAB/abc/</OABUrl>
      <Port>0</Port>
    </Protocol>
    <Protocol>
      <Type>EXPR</Type>
      <Server>mail.corp.example.test</Server>
      <SSL>On</SSL>
      <AuthPackage>Negotiate</AuthPackage>
      <EwsUrl>https://mail.corp.example.test/EWS/Exchange.asmx</EwsUrl>
      <ASUrl>https://mail.corp.example.test/Microsoft-Server-ActiveSync</ASUrl>
    </Protocol>
    <Protocol Type="mapiHttp" Version="1">
      <MailStore><ExternalUrl>https://mail.corp.example.test/mapi/emsmdb/</ExternalUrl></MailStore>
    </Protocol>
    <Protocol>
      <Type>WEB</Type>
      <Internal><OWAUrl AuthenticationMethod="Fba">https://owa.internal/owa/</OWAUrl></Internal>
      <External><OWAUrl AuthenticationMethod="Fba">https://mail.corp.example.test/owa/</OWAUrl></External>
    </Protocol>
    <Protocol>
      <Type>IMAP</Type><Server>imap.corp.example.test</Server><Port>993</Port>
      <LoginName>CORP\\jdoe</LoginName><DomainRequired>off</DomainRequired>
      <SPA>off</SPA><SSL>on</SSL><AuthRequired>on</AuthRequired>
    </Protocol>
    <Protocol>
      <Type>POP3</Type><Server>pop.corp.example.test</Server><Port>995</Port>
      <SSL>on</SSL><SPA>off</SPA>
    </Protocol>
    <Protocol>
      <Type>SMTP</Type><Server>smtp.corp.example.test</Server><Port>587</Port>
      <Encryption>TLS</Encryption><SSL>on</SSL><AuthRequired>on</AuthRequired>
      <UsePOPAuth>on</UsePOPAuth><SMTPLast>off</SMTPLast>
    </Protocol>
    """,
    user="<User><DisplayName>Jane Doe</DisplayName>"
    "<LegacyDN>/o=Corp/ou=x/cn=Recipients/cn=jdoe</LegacyDN>"
    "<AutoDiscoverSMTPAddress>jane@corp.example.test</AutoDiscoverSMTPAddress></User>",
)


def test_request_body_is_what_outlook_sends() -> None:
    body = request_body("o'neil&co@example.test")
    root = DefusedET.fromstring(body)
    assert root.tag == f"{{{REQUEST_NAMESPACE}}}Autodiscover"
    assert REQUEST_NAMESPACE.startswith("http://")
    assert RESPONSE_SCHEMA.startswith("http://")
    assert root.findtext(f"{{{REQUEST_NAMESPACE}}}Request/{{{REQUEST_NAMESPACE}}}EMailAddress") == (
        "o'neil&co@example.test"
    )
    assert (
        root.findtext(
            f"{{{REQUEST_NAMESPACE}}}Request/{{{REQUEST_NAMESPACE}}}AcceptableResponseSchema"
        )
        == RESPONSE_SCHEMA
    )


def test_exchange_settings() -> None:
    r = parse_response(EXCHANGE)
    assert r.action == "settings"
    assert r.account_type == "email"
    assert r.display_name == "Jane Doe"
    assert r.email == "jane@corp.example.test"
    assert [p.type for p in r.protocols] == [
        "EXCH",
        "EXPR",
        "MAPIHTTP",
        "WEB",
        "IMAP",
        "POP3",
        "SMTP",
    ]
    # External (EXPR) before internal (EXCH): a client outside uses the first.
    assert r.ews_url == "https://mail.corp.example.test/EWS/Exchange.asmx"
    assert r.activesync_url == "https://mail.corp.example.test/Microsoft-Server-ActiveSync"
    web = r.protocol("WEB")
    assert web is not None
    assert web.owa_url == "https://mail.corp.example.test/owa/"
    expr = r.protocol("EXPR")
    assert expr is not None
    assert expr.auth_package == "Negotiate"
    assert expr.ssl is True
    assert [p.endpoint() for p in r.mail_protocols] == [
        Endpoint(Protocol.IMAP, "imap.corp.example.test", 993, Security.SSL),
        Endpoint(Protocol.POP3, "pop.corp.example.test", 995, Security.SSL),
        Endpoint(Protocol.SMTP, "smtp.corp.example.test", 587, Security.STARTTLS),
    ]
    assert r.mail_protocols[0].login_name == "CORP\\jdoe"
    assert r.mail_protocols[0].spa is False
    assert r.mail_protocols[0].domain_required is False
    assert r.ignored == ()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Encryption overrides SSL (MS-OXDSCLI); TLS means STARTTLS.
        ("<SSL>on</SSL><Encryption>TLS</Encryption>", [(143, Security.STARTTLS)]),
        ("<SSL>off</SSL><Encryption>SSL</Encryption>", [(993, Security.SSL)]),
        ("<SSL>on</SSL><Encryption>None</Encryption>", [(143, Security.PLAIN)]),
        ("<Encryption>tls</Encryption><Port>1143</Port>", [(1143, Security.STARTTLS)]),
        # SSL on (or absent: its default) is implicit TLS.
        ("<SSL>on</SSL>", [(993, Security.SSL)]),
        ("", [(993, Security.SSL)]),
        ("<SSL>off</SSL>", [(143, Security.PLAIN)]),
        # SSL on at a STARTTLS port: the STARTTLS reading is offered second.
        ("<SSL>on</SSL><Port>143</Port>", [(143, Security.SSL), (143, Security.STARTTLS)]),
        # Auto: by port, with the other reading second.
        ("<Encryption>Auto</Encryption>", [(993, Security.SSL), (143, Security.STARTTLS)]),
        (
            "<Encryption>Auto</Encryption><Port>143</Port>",
            [(143, Security.STARTTLS), (143, Security.SSL)],
        ),
        # An unknown Encryption value is ignored: SSL decides.
        ("<SSL>off</SSL><Encryption>Quantum</Encryption>", [(143, Security.PLAIN)]),
    ],
)
def test_imap_security_and_port_rules(fields: str, expected: list[tuple[int, Security]]) -> None:
    r = parse_response(
        pox(
            f"<Action>settings</Action><Protocol><Type>IMAP</Type><Server>h.test</Server>{fields}</Protocol>"
        )
    )
    assert [(e.port, e.security) for e in r.protocols[0].endpoints()] == expected


@pytest.mark.parametrize(
    ("kind", "ssl", "port"),
    [("POP3", "on", 995), ("POP3", "off", 110), ("SMTP", "on", 465), ("SMTP", "off", 587)],
)
def test_default_ports(kind: str, ssl: str, port: int) -> None:
    r = parse_response(
        pox(f"<Protocol><Type>{kind}</Type><Server>h.test</Server><SSL>{ssl}</SSL></Protocol>")
    )
    endpoint = r.protocols[0].endpoint()
    assert endpoint is not None
    assert endpoint.port == port
    assert r.action == "settings"  # inferred from the protocols


def test_redirect_addr() -> None:
    r = parse_response(
        pox(
            "<AccountType>email</AccountType><Action>redirectAddr</Action>"
            "<RedirectAddr>jane@tenant.onmicrosoft.test</RedirectAddr>"
        )
    )
    assert r.action == "redirectAddr"
    assert r.redirect == "jane@tenant.onmicrosoft.test"
    assert r.protocols == ()


def test_redirect_url() -> None:
    r = parse_response(
        pox(
            "<Action>redirectUrl</Action>"
            "<RedirectUrl>https://autodiscover.hoster.test/autodiscover/autodiscover.xml</RedirectUrl>"
        )
    )
    assert r.action == "redirectUrl"
    assert r.redirect == "https://autodiscover.hoster.test/autodiscover/autodiscover.xml"


def test_invalid_redirect_is_dropped_with_a_note() -> None:
    r = parse_response(pox("<Action>redirectUrl</Action><RedirectUrl>javascript:x</RedirectUrl>"))
    assert r.action == "redirectUrl"
    assert r.redirect is None
    assert any("RedirectUrl" in note for note in r.ignored)


def test_error_response() -> None:
    data = (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{OUTER}"><Response>'
        '<Error Time="16:56:32.6164027" Id="1054084152"><ErrorCode>500</ErrorCode>'
        "<Message>The email address can't be found.</Message><DebugData /></Error>"
        "</Response></Autodiscover>"
    ).encode()
    r = parse_response(data)
    assert r.error == ("500", "The email address can't be found.")
    assert r.action is None


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("where", ["both", "outer", "none"])
def test_namespace_spellings(scheme: str, where: str) -> None:
    outer = OUTER.replace("http://", f"{scheme}://") if where != "none" else ""
    inner = INNER.replace("http://", f"{scheme}://") if where == "both" else ""
    r = parse_response(
        pox(
            "<Protocol><Type>SMTP</Type><Server>s.test</Server></Protocol>",
            outer=outer,
            inner=inner,
        )
    )
    assert r.protocols[0].endpoint() == Endpoint(Protocol.SMTP, "s.test", 465, Security.SSL)


def test_unknown_elements_and_bad_values_are_ignored() -> None:
    r = parse_response(
        pox(
            "<Action>settings</Action><Future><Thing/></Future>"
            "<Protocol><Type>IMAP</Type><Server>bad host!</Server><Port>99999</Port></Protocol>"
            "<Protocol><Type>SMTP</Type><Server>Smtp.Example.TEST.</Server><Port>x</Port>"
            "<SSL>maybe</SSL><NewThing>1</NewThing></Protocol>"
            "<Protocol><Type>CALDAV</Type><Server>dav.test</Server></Protocol>"
        )
    )
    imap, smtp, caldav = r.protocols
    assert imap.endpoint() is None
    assert smtp.endpoint() == Endpoint(Protocol.SMTP, "smtp.example.test", 465, Security.SSL)
    assert caldav.endpoint() is None
    assert caldav.type == "CALDAV"
    assert r.ignored == (
        "invalid <Server> 'bad host!' in IMAP protocol: ignored",
        "invalid <Port> '99999' in IMAP protocol: ignored",
        "IMAP protocol without a usable <Server>: no server named",
        "invalid <Port> 'x' in SMTP protocol: ignored",
        "invalid <SSL> 'maybe' in SMTP protocol: ignored",
    )


def test_idn_server_becomes_ascii() -> None:
    r = parse_response(
        pox("<Protocol><Type>IMAP</Type><Server>mail.bücher.test</Server></Protocol>")
    )
    assert r.protocols[0].server == "mail.xn--bcher-kva.test"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<!DOCTYPE html>\n<html><head><title>Parked</title></head></html>", "HTML page"),
        (b"<html><body><p>Welcome<br></body></html>", "HTML page"),
        (b"\xef\xbb\xbf  <!-- hi --><HTML lang=en>", "HTML page"),
        (b'<?xml version="1.0"?><clientConfig version="1.1"/>', "not Autodiscover"),
        (b'<Autodiscover xmlns="urn:other"><Response/></Autodiscover>', "unknown namespace"),
        (b'{"Protocol": "EWS"}', "JSON"),
        (b"", "empty"),
        (b"<Autodiscover><Response><Acc", "not well-formed"),
        (f'<Autodiscover xmlns="{OUTER}"/>'.encode(), "without <Response>"),
        (b"hello", "not Autodiscover"),
    ],
)
def test_not_autodiscover(data: bytes, reason: str) -> None:
    with pytest.raises(AutodiscoverError) as info:
        parse_response(data)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_xml_bomb_is_refused_unexpanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]><Autodiscover><Response><Account><AccountType>&lol9;</AccountType>"
        b"</Account></Response></Autodiscover>"
    )
    with pytest.raises(AutodiscoverError, match="DOCTYPE"):
        parse_response(bomb)


def test_external_entity_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Autodiscover><Response><Account><AccountType>&x;</AccountType></Account>"
        b"</Response></Autodiscover>"
    )
    with pytest.raises(AutodiscoverError):
        parse_response(data)


def test_oversized_answer_is_refused_unread() -> None:
    with pytest.raises(AutodiscoverError, match="larger than 1 MiB"):
        parse_response(b"<Autodiscover>" + b" " * MAX_RESPONSE_BYTES + b"</Autodiscover>")


def test_protocol_model_is_usable_directly() -> None:
    p = AutodiscoverProtocol(type="POP3", server="p.test", encryption="TLS")
    assert p.endpoints() == (Endpoint(Protocol.POP3, "p.test", 110, Security.STARTTLS),)
    assert AutodiscoverProtocol(type="EXCH", server="x.test").endpoint() is None
    assert AutodiscoverResponse(None, None, None, None, ()).ews_url is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_parse_or_raise_autodiscover_error(data: bytes) -> None:
    try:
        parse_response(data)
    except AutodiscoverError as exc:
        message = str(exc)
    else:
        message = ""
    assert "\n" not in message


_fragments = st.sampled_from(
    [
        "<Action>settings</Action>",
        "<Action>redirectAddr</Action>",
        "<Action>redirectUrl</Action>",
        "<RedirectAddr>a@b.test</RedirectAddr>",
        "<RedirectUrl>https://x.test/a</RedirectUrl>",
        "<Protocol><Type>IMAP</Type></Protocol>",
        "<Protocol><Type>SMTP</Type><Server>s.test</Server><Port>0</Port></Protocol>",
        "<Protocol><Type>POP3</Type><Server>p.test</Server><Encryption>Auto</Encryption></Protocol>",
        "<Protocol Type='x'/>",
        "<Protocol/>",
        "<Error><ErrorCode/></Error>",
        "<AccountType/>",
        "text&amp;",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_fragments, max_size=8))
def test_arbitrary_account_contents_never_crash(parts: list[str]) -> None:
    r = parse_response(pox("".join(parts)))
    for protocol in r.protocols:
        for endpoint in protocol.endpoints():
            assert 0 < endpoint.port < 65536
