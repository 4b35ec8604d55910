"""`advisor autoconfig` and `advisor lint` agree, and domain files keep their templates.

Whatever ``autoconfig`` writes passes ``lint``; what ``lint`` would reject is refused
before anything is written, with lint's reason. The rule both apply (RFC 8314 §7 and
Thunderbird, which opens the socket the file says): 993/995/465 are implicit TLS and
need ``ssl``; 143/110/587/25 greet in plain text and need ``starttls``; a protocol on
another protocol's well-known port is refused; other ports take either.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from advisor.export import _template
from advisor.formats.autodiscover import parse_response
from advisor.formats.lint import lint
from advisor.formats.mozilla import parse_client_config
from advisor.models import Security
from tests.test_discovery import run_cli

IMPLICIT = {993: "imap", 995: "pop3", 465: "smtp"}
STARTS_PLAIN = {143: "imap", 110: "pop3", 587: "smtp", 25: "smtp"}
PORTS = (993, 143, 995, 110, 465, 587, 25, 2525)


def refused_because(protocol: str, port: int, security: str) -> str | None:
    """The independent statement of the rule (not lint's code)."""
    owner = IMPLICIT.get(port) or STARTS_PLAIN.get(port)
    if owner is not None and owner != protocol:
        return "not a"
    if port in IMPLICIT and security != "ssl":
        return "cannot work"
    if port in STARTS_PLAIN and security == "ssl":
        return "plain-text greeting"
    return None


CASES = [
    (protocol, port, security, fmt)
    for protocol, port, security in itertools.product(
        ("imap", "pop3", "smtp"), PORTS, ("ssl", "starttls")
    )
    for fmt in ("mozilla", "autodiscover")
]


@pytest.mark.parametrize(("protocol", "port", "security", "fmt"), CASES)
def test_every_written_file_lints_clean_and_every_refusal_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    protocol: str,
    port: int,
    security: str,
    fmt: str,
) -> None:
    tested = f"mail.d.example:{port}:{security}"
    good_in, good_out = "mail.d.example:993:ssl", "mail.d.example:587:starttls"
    options = {
        "imap": ["--imap", tested, "--smtp", good_out],
        "pop3": ["--pop3", tested, "--smtp", good_out],
        "smtp": ["--imap", good_in, "--smtp", tested],
    }[protocol]
    code, _out, err = run_cli(
        capsys, "autoconfig", "d.example", "--out", str(tmp_path), "--format", fmt, *options
    )
    written = list(tmp_path.iterdir())
    reason = refused_because(protocol, port, security)
    if reason is not None:
        assert code == 1
        assert "nothing written" in err
        assert reason in err
        assert f"{port}" in err
        assert written == []
        return
    assert code == 0, err
    name = "config-v1.1.xml" if fmt == "mozilla" else "autodiscover.xml"
    assert [p.name for p in written] == [name]
    data = written[0].read_bytes()
    report = lint(data, name=name)
    assert report.errors == (), report.errors
    # And the file says what was asked.
    wanted = Security.SSL if security == "ssl" else Security.STARTTLS
    if fmt == "mozilla":
        provider = parse_client_config(data).providers[0]
        servers = provider.outgoing if protocol == "smtp" else provider.incoming
        assert (servers[0].port, servers[0].security) == (port, wanted)
    else:
        answer = parse_response(data)
        kind = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}[protocol]
        stated = next(p for p in answer.protocols if p.type == kind)
        assert (stated.port, stated.security()) == (port, wanted)
    code, out, _ = run_cli(capsys, "lint", str(written[0]))
    assert code == 0, out


def test_out_folder_takes_the_published_name_and_force_replaces_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    servers = ["--imap", "imap.d.example:993:ssl", "--smtp", "smtp.d.example:465:ssl"]
    code, _, err = run_cli(capsys, "autoconfig", "d.example", "--out", str(tmp_path), *servers)
    assert code == 0, err
    assert (tmp_path / "config-v1.1.xml").is_file()
    code, _, err = run_cli(capsys, "autoconfig", "d.example", "--out", str(tmp_path), *servers)
    assert code == 1
    assert "already exist" in err
    code, _, err = run_cli(
        capsys, "autoconfig", "d.example", "--out", str(tmp_path), "--force", *servers
    )
    assert code == 0, err
    assert "Is a directory" not in err


@pytest.mark.parametrize("given", ["jane@d.example", "@d.example", "postmaster@"])
def test_an_address_instead_of_a_domain(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, given: str
) -> None:
    code, _, err = run_cli(
        capsys,
        "autoconfig",
        given,
        "--out",
        str(tmp_path),
        "--imap",
        "imap.d.example:993:ssl",
        "--smtp",
        "smtp.d.example:465:ssl",
    )
    assert code == 1
    assert "give the domain, not an address" in err
    assert "Codepoint" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("login", "template"),
    [
        ("postmaster@corp.test", "%EMAILADDRESS%"),
        ("POSTMASTER@Corp.Test", "%EMAILADDRESS%"),
        ("postmaster", "%EMAILLOCALPART%"),
        ("CORP\\postmaster", "CORP\\%EMAILLOCALPART%"),
        ("corp.test\\postmaster", "%EMAILDOMAIN%\\%EMAILLOCALPART%"),
        ("postmaster@mail.corp.test", "%EMAILLOCALPART%@mail.corp.test"),
        ("postmaster+mail", "postmaster+mail"),  # another word: left alone
        ("x.postmaster", "x.postmaster"),
        ("relay@corp.test", "relay@corp.test"),  # a shared login names no user
        ("%EMAILADDRESS%", "%EMAILADDRESS%"),
        ("", ""),
    ],
)
def test_logins_become_templates_wherever_the_address_appears(login: str, template: str) -> None:
    assert _template(login, "postmaster@corp.test") == template


def test_a_local_part_that_spells_a_placeholder_is_not_replaced_inside_it() -> None:
    assert _template("%EMAILADDRESS%", "emailaddress@x.test") == "%EMAILADDRESS%"


# ------------------------------------------------------------------ lint of POX files

AUTOMX2_POX = b"""<?xml version='1.0' encoding='utf-8'?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
<Account><AccountType>email</AccountType><Action>settings</Action>
<Protocol><Type>IMAP</Type><Server>mail.corp.test</Server><Port>143</Port>
<LoginName>CORP\\jane</LoginName><SSL>off</SSL><Encryption>TLS</Encryption></Protocol>
<Protocol><Type>SMTP</Type><Server>mail.corp.test</Server><Port>465</Port>
<LoginName>CORP\\jane</LoginName><SSL>on</SSL><Encryption>SSL</Encryption></Protocol>
<Protocol><Type>CalDAV</Type><Server>https://dav.corp.test</Server><SSL>on</SSL></Protocol>
</Account></Response></Autodiscover>"""


def pox(*protocols: str, action: str = "settings") -> bytes:
    body = "".join(f"<Protocol>{p}</Protocol>" for p in protocols)
    return (
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema'
        '/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
        f'responseschema/2006a"><Account><AccountType>email</AccountType><Action>{action}'
        f"</Action>{body}</Account></Response></Autodiscover>"
    ).encode()


IMAP_OK = "<Type>IMAP</Type><Server>imap.d.test</Server><Port>993</Port><SSL>on</SSL>"
SMTP_OK = "<Type>SMTP</Type><Server>smtp.d.test</Server><Port>465</Port><SSL>on</SSL>"


def codes(data: bytes) -> tuple[list[str], list[str]]:
    report = lint(data, name="autodiscover.xml")
    return [f.code for f in report.errors], [f.code for f in report.warnings]


def test_lint_reads_a_real_peer_pox_answer() -> None:
    errors, warnings = codes(AUTOMX2_POX)
    assert errors == []
    assert warnings == []


@pytest.mark.parametrize(
    ("protocols", "error"),
    [
        (
            (IMAP_OK.replace("993", "143") + "<Encryption>SSL</Encryption>", SMTP_OK),
            "port-security",
        ),
        (
            (IMAP_OK, SMTP_OK.replace("<SSL>on</SSL>", "<Encryption>TLS</Encryption>")),
            "port-security",
        ),
        ((IMAP_OK.replace("IMAP", "POP3"), SMTP_OK), "port-protocol"),
        ((IMAP_OK,), "no-outgoing"),
        ((SMTP_OK,), "no-incoming"),
        ((IMAP_OK + "<LoginName>%EMAILADDRESS%</LoginName>", SMTP_OK), "placeholder"),
        ((IMAP_OK.replace("imap.d.test", "bad host!"), SMTP_OK), "no-incoming"),
    ],
)
def test_lint_pox_errors(protocols: tuple[str, ...], error: str) -> None:
    errors, _ = codes(pox(*protocols))
    assert error in errors


def test_lint_pox_warns_where_clients_read_ssl_on_differently() -> None:
    imap = "<Type>IMAP</Type><Server>imap.d.test</Server><Port>143</Port><SSL>on</SSL>"
    errors, warnings = codes(pox(imap, SMTP_OK))
    assert errors == []
    assert "port-security" in warnings


def test_lint_pox_error_answers_and_broken_documents() -> None:
    error_answer = (
        b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
        b'responseschema/2006"><Response><Error><ErrorCode>600</ErrorCode><Message>Invalid'
        b" Request</Message></Error></Response></Autodiscover>"
    )
    assert "pox-error" in codes(error_answer)[0]
    assert codes(b"<Autodiscover><Response>")[0] == ["parse"]
    redirect = pox("", action="redirectUrl").replace(
        b"</Action>", b"</Action><RedirectUrl>http://autodiscover.d.test/x</RedirectUrl>"
    )
    assert "redirect" in codes(redirect)[0]


# ------------------------------------------------------------------ Thunderbird's reading
#
# comm-central readFromXML.sys.mjs + Sanitizer.sys.mjs: what Thunderbird refuses, lint
# reports as an error and discovery does not use; what it accepts, discovery reads.


def tb_doc(
    imap: str = "", smtp: str = "", *, provider_id: str = "d.test", domain: str = "d.test"
) -> bytes:
    imap = imap or (
        '<incomingServer type="imap"><hostname>imap.d.test</hostname><port>993</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
    )
    smtp = smtp or (
        '<outgoingServer type="smtp"><hostname>smtp.d.test</hostname><port>465</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
    )
    return (
        f'<clientConfig version="1.1"><emailProvider id="{provider_id}"><domain>{domain}'
        f"</domain>{imap}{smtp}</emailProvider></clientConfig>"
    ).encode()


GOOD_IMAP = tb_doc().decode().split("<incomingServer")[1].split("</incomingServer>")[0]


def imap_variant(old: str, new: str) -> str:
    return "<incomingServer" + GOOD_IMAP.replace(old, new, 1) + "</incomingServer>"


REFUSED_SERVERS = {
    "type spelled IMAP": imap_variant('type="imap"', 'type="IMAP"'),
    "socketType spelled ssl": imap_variant("<socketType>SSL", "<socketType>ssl"),
    "authentication spelled OAuth": imap_variant("password-cleartext", "OAuth"),
    "authentication in upper case": imap_variant("password-cleartext", "PASSWORD-CLEARTEXT"),
    "none on an incoming server": imap_variant("password-cleartext", "none"),
    "the draft's SASL form": imap_variant("password-cleartext", "SASL SCRAM-SHA-256"),
    "no authentication": imap_variant("<authentication>password-cleartext</authentication>", ""),
}


@pytest.mark.parametrize("variant", sorted(REFUSED_SERVERS))
def test_what_thunderbird_skips_lint_refuses_and_discovery_does_not_use(variant: str) -> None:
    from advisor.address import parse_address
    from advisor.models import Source, Step, StepStatus
    from advisor.sources.autoconfig import Fetched, _result

    data = tb_doc(REFUSED_SERVERS[variant])
    assert lint(data, name="x.xml").errors, variant
    config = parse_client_config(data)
    assert [s.kind for s in config.providers[0].incoming] == []
    step = Step("autoconfig", "https://autoconfig.d.test/", StepStatus.FOUND, 1.0, "", True)
    result = _result(
        Source.AUTOCONFIG,
        parse_address("jane@d.test"),
        [],
        Fetched(step, config, True, "https://autoconfig.d.test/mail/config-v1.1.xml"),
    )
    assert result.servers == ()
    assert any("Thunderbird refuses this file" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"provider_id": "Example Mail"}, "is not a host name"),
        ({"domain": "not a domain"}, "no valid <domain>"),
    ],
)
def test_a_file_thunderbird_refuses_whole_is_not_a_source(
    changes: dict[str, str], reason: str
) -> None:
    data = tb_doc(**changes)
    assert lint(data, name="x.xml").errors
    provider = parse_client_config(data).providers[0]
    assert provider.refusal is not None
    assert reason in provider.refusal


def test_what_thunderbird_accepts_discovery_reads() -> None:
    from advisor.sources.autoconfig import servers_of

    exchange = (
        '<incomingServer type="exchange"><hostname>mail.d.test</hostname><port>443</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>NTLM</authentication>"
        "<owaURL>https://mail.d.test/owa/</owaURL>"
        "<ewsURL>https://mail.d.test/EWS/Exchange.asmx</ewsURL>"
        "<easURL>https://mail.d.test/Microsoft-Server-ActiveSync</easURL></incomingServer>"
    )
    several = imap_variant(
        "<authentication>password-cleartext</authentication>",
        "<authentication>NTLM</authentication><authentication>plain</authentication>"
        "<socketType>STARTTLS</socketType>",
    )
    data = tb_doc(several + exchange)
    config = parse_client_config(data)
    assert config.ignored == ()
    provider = config.providers[0]
    assert provider.refusal is None
    imap, legacy = provider.incoming
    assert imap.auth == ("NTLM", "password-cleartext")  # several blocks: methods combine
    assert imap.security is Security.SSL  # the first socketType Thunderbird knows
    assert (legacy.kind, legacy.url) == ("exchange", "https://mail.d.test/EWS/Exchange.asmx")
    _servers, facts, _oauth_only = servers_of(provider)
    assert facts is not None
    assert facts.ews_url == "https://mail.d.test/EWS/Exchange.asmx"
    assert facts.activesync_url == "https://mail.d.test/Microsoft-Server-ActiveSync"
    assert lint(data, name="x.xml").errors == ()
    # The later <exchangeURL> spelling of the same URL.
    newer = parse_client_config(tb_doc(exchange.replace("ewsURL", "exchangeURL")))
    assert newer.providers[0].incoming[0].url == "https://mail.d.test/EWS/Exchange.asmx"


def test_pox_tolerates_what_exchangelib_reads() -> None:
    """exchangelib's POX model (4.x, autodiscover/properties.py) reads RedirectURL and
    an <Error> in the base namespace's <Response>; on/off flags in any case."""
    redirect = pox(action="redirectUrl").replace(
        b"</Action>", b"</Action><RedirectURL>https://autodiscover.d.test/x.xml</RedirectURL>"
    )
    assert parse_response(redirect).redirect == "https://autodiscover.d.test/x.xml"
    assert codes(redirect) == ([], [])
    error = (
        b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
        b'responseschema/2006"><Response><Error Time="1" Id="2"><ErrorCode>500</ErrorCode>'
        b"<Message>The email address can't be found.</Message></Error></Response>"
        b"</Autodiscover>"
    )
    assert parse_response(error).error == ("500", "The email address can't be found.")
    upper = pox(IMAP_OK.replace("<SSL>on</SSL>", "<SSL>On</SSL>"), SMTP_OK)
    assert codes(upper) == ([], [])
