"""``advisor lint``: the ISPDB's known data errors, one small case per check, output shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.formats.lint import Finding, LintReport, lint, lint_text_report, to_json
from advisor.formats.mozilla import parse_client_config
from advisor.models import Protocol, Security

ISPDB = Path(__file__).resolve().parents[3] / "shared" / "ispdb"
GOLDEN = Path(__file__).resolve().parent / "golden" / "thunderbird"

# The files of the ISPDB (commit c6ad796) with at least one lint error, and why
# (shared/ispdb/README.md "KNOWN DATA ERRORS"). Everything else must lint clean
# of errors: a regression either way changes this set.
ISPDB_ERRORS = {
    "arubapec.it.xml": {"port-protocol"},  # POP3 on 993, the IMAPS port
    "charter.net.xml": {"port-security"},  # SMTP 587 with SSL
    "office365.com.xml": {"placeholder"},  # %EMAILADDRESS without its closing %
    "pdx.edu.xml": {"port-protocol"},  # IMAP on 587, the submission port
}


@pytest.fixture(scope="module")
def ispdb() -> dict[str, LintReport]:
    files = sorted(ISPDB.glob("*.xml"))
    if not files:
        pytest.skip(f"the ISPDB corpus is not at {ISPDB} (CI has it there)")
    return {p.name: lint(p.read_bytes(), name=p.name) for p in files}


def codes(findings: tuple[Finding, ...]) -> set[str]:
    return {f.code for f in findings}


# --- the ISPDB corpus ------------------------------------------------------------------


def test_exactly_the_known_ispdb_files_have_errors(ispdb: dict[str, LintReport]) -> None:
    assert len(ispdb) == 163
    with_errors = {name: codes(r.errors) for name, r in ispdb.items() if r.errors}
    assert with_errors == ISPDB_ERRORS


def test_ispdb_known_errors_in_detail(ispdb: dict[str, LintReport]) -> None:
    (aruba,) = ispdb["arubapec.it.xml"].errors
    assert aruba.where == "emailProvider[1]/incomingServer[2]"
    assert "pop3 pop3s.pec.aruba.it:993" in aruba.message
    assert "IMAPS" in aruba.message

    (pdx,) = ispdb["pdx.edu.xml"].errors
    assert pdx.where == "emailProvider[1]/incomingServer[2]"
    assert "imap psumail.pdx.edu:587" in pdx.message

    (charter,) = ispdb["charter.net.xml"].errors
    assert charter.where == "emailProvider[1]/outgoingServer[1]"
    assert "smtp mobile.charter.net:587" in charter.message
    assert "socketType is SSL" in charter.message

    (office,) = ispdb["office365.com.xml"].errors
    assert "malformed placeholder '%EMAILADDRESS'" in office.message
    assert office.where == "emailProvider[1]/incomingServer[3]"
    # The parser's own note about it is not repeated as a warning.
    assert not any("placeholder" in w.message for w in ispdb["office365.com.xml"].warnings)

    rediff = ispdb["rediffmail.com.xml"]
    assert rediff.errors == ()
    (port,) = [w for w in rediff.warnings if w.code == "non-standard-port"]
    assert "smtp smtp.rediffmail.com:586" in port.message


def test_ispdb_plaintext_first_warnings(ispdb: dict[str, LintReport]) -> None:
    outgoing = set()
    incoming = set()
    for name, report in ispdb.items():
        for w in report.warnings:
            if w.code == "plaintext-first":
                (outgoing if "/outgoingServer[" in w.where else incoming).add(name)
    # README: "33 files list a plaintext SMTP server first".
    assert len(outgoing) == 33
    assert len(incoming) == 34
    assert len(outgoing | incoming) == 34
    # The same files, found independently with the parser: first SMTP server plain.
    first_plain = set()
    for path in ISPDB.glob("*.xml"):
        (provider,) = parse_client_config(path.read_bytes()).providers
        if provider.outgoing and provider.outgoing[0].security is Security.PLAIN:
            first_plain.add(path.name)
    assert outgoing == first_plain


def test_ispdb_warning_codes(ispdb: dict[str, LintReport]) -> None:
    counts: dict[str, int] = {}
    for report in ispdb.values():
        for w in report.warnings:
            counts[w.code] = counts.get(w.code, 0) + 1
    assert counts == {
        "plaintext-first": 67,
        "ignored": 4,  # the parser's notes: <instruction>, <displayNameShort>, owa
        "display-name": 1,  # gransy.com: a 25-character displayShortName
        "non-standard-port": 1,  # rediffmail.com: 586
    }


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.xml")), ids=lambda p: p.name)
def test_our_own_autoconfig_files_lint_clean(path: Path) -> None:
    assert lint(path.read_bytes(), name=path.name) == LintReport((), ())


# --- one small document per check ------------------------------------------------------------


def server(
    kind: str = "imap",
    host: str | None = "imap.example.com",
    port: str | None = "993",
    socket: tuple[str, ...] = ("SSL",),
    auth: tuple[str, ...] = ("password-cleartext",),
    user: str = "%EMAILADDRESS%",
    *,
    element: str | None = None,
    url: str | None = None,
) -> str:
    element = element or ("outgoingServer" if kind == "smtp" else "incomingServer")
    parts = [f'<{element} type="{kind}">']
    if url is not None:
        parts.append(f"<url>{url}</url>")
    if host is not None:
        parts.append(f"<hostname>{host}</hostname>")
    if port is not None:
        parts.append(f"<port>{port}</port>")
    parts += [f"<socketType>{s}</socketType>" for s in socket]
    parts += [f"<authentication>{a}</authentication>" for a in auth]
    parts.append(f"<username>{user}</username></{element}>")
    return "".join(parts)


SMTP_OK = server("smtp", "smtp.example.com", "465")
IMAP_OK = server()


def document(*servers: str, pid: str = "example.com", extra: str = "") -> bytes:
    body = "".join(servers)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">'
        f'<emailProvider id="{pid}"><domain>example.com</domain>'
        f"<displayName>Example</displayName>{extra}{body}</emailProvider></clientConfig>"
    ).encode()


def run(*servers: str, **kwargs: str) -> LintReport:
    report = lint(document(*servers, **kwargs), name="test.xml")
    for f in (*report.errors, *report.warnings):
        assert "\n" not in f.message
        assert f.message.isprintable()
    return report


def test_a_correct_document_is_clean() -> None:
    assert run(IMAP_OK, SMTP_OK) == LintReport((), ())


@pytest.mark.parametrize(
    ("kind", "port", "socket"),
    [
        ("imap", "993", "STARTTLS"),
        ("imap", "993", "plain"),
        ("pop3", "995", "STARTTLS"),
        ("smtp", "465", "plain"),
        ("imap", "143", "SSL"),
        ("pop3", "110", "SSL"),
        ("smtp", "587", "SSL"),
        ("smtp", "25", "SSL"),
    ],
)
def test_port_and_security_must_agree(kind: str, port: str, socket: str) -> None:
    host = f"{kind}.example.com"
    report = run(IMAP_OK, SMTP_OK, server(kind, host, port, (socket,)))
    assert codes(report.errors) == {"port-security"}
    assert f"{kind} {host}:{port}" in report.errors[0].message


@pytest.mark.parametrize(
    ("kind", "port", "socket"),
    [
        ("imap", "143", "STARTTLS"),
        ("pop3", "110", "STARTTLS"),
        ("smtp", "587", "STARTTLS"),
        ("smtp", "25", "STARTTLS"),
        ("imap", "993", "SSL"),
        ("pop3", "995", "SSL"),
        ("smtp", "465", "SSL"),
    ],
)
def test_consistent_ports_pass(kind: str, port: str, socket: str) -> None:
    report = run(IMAP_OK, SMTP_OK, server(kind, f"{kind}.example.com", port, (socket,)))
    assert report.errors == ()


@pytest.mark.parametrize(
    ("kind", "port", "socket"),
    [
        ("pop3", "993", "SSL"),
        ("imap", "587", "STARTTLS"),
        ("smtp", "995", "SSL"),
        ("imap", "110", "STARTTLS"),
    ],
)
def test_a_protocol_on_another_protocols_port(kind: str, port: str, socket: str) -> None:
    report = run(IMAP_OK, SMTP_OK, server(kind, f"{kind}.example.com", port, (socket,)))
    assert codes(report.errors) == {"port-protocol"}


@pytest.mark.parametrize(("kind", "port"), [("smtp", "2525"), ("smtp", "586"), ("imap", "1143")])
def test_non_standard_ports_are_a_warning(kind: str, port: str) -> None:
    report = run(IMAP_OK, SMTP_OK, server(kind, f"{kind}.example.com", port, ("SSL",)))
    assert report.errors == ()
    assert codes(report.warnings) == {"non-standard-port"}


@pytest.mark.parametrize(
    ("user", "host", "url", "why"),
    [
        ("%EMAILADDRESS", None, None, "malformed placeholder '%EMAILADDRESS'"),
        ("EMAILADDRESS%", None, None, "malformed placeholder"),
        ("%FOO%", None, None, "unknown placeholder '%FOO%'"),
        ("%emailaddress%", None, None, "upper case"),
        ("%EMAILADDRESS%", "%EMAILLOCALPART%.example.com", None, "only %EMAILDOMAIN%"),
        ("%EMAILADDRESS%", "mail%EMAILDOMAIN%", None, "whole labels"),
        ("%EMAILADDRESS%", "mail.%EMAILDOMAIN", None, "malformed placeholder"),
        ("%EMAILADDRESS%", None, "https://jmap.example.com/%EMAILADDRESS", "malformed"),
    ],
)
def test_placeholders(user: str, host: str | None, url: str | None, why: str) -> None:
    if url is not None:
        section = server("jmap", None, None, (), ("http-basic",), user, url=url)
    else:
        section = server(host=host or "imap.example.com", user=user)
    report = run(section, IMAP_OK, SMTP_OK)
    assert "placeholder" in codes(report.errors)
    assert any(why in f.message for f in report.errors), report.errors
    assert not any("placeholder" in w.message for w in report.warnings)


@pytest.mark.parametrize(
    "text",
    ["%EMAILLOCALPART%", "%EMAILADDRESS%", "%EMAILDOMAIN%\\%EMAILLOCALPART%", "user%example.com"],
)
def test_good_user_names(text: str) -> None:
    assert run(server(user=text), SMTP_OK).errors == ()


def test_placeholders_in_host_names_and_urls_that_are_fine() -> None:
    fine = server(host="mail.%EMAILDOMAIN%")
    url = server("jmap", None, None, (), ("http-basic",), url="https://x.example.com/a%20b%41%")
    assert run(fine, url, SMTP_OK) == LintReport((), ())


@pytest.mark.parametrize(
    ("auth", "severity", "code"),
    [
        (("kerberos",), "error", "auth"),
        (("kerberos", "password-cleartext"), "warning", "auth"),
        (("plain",), "warning", "deprecated"),
        (("secure",), "warning", "deprecated"),
        # Thunderbird compares exactly and skips a mail server left without a word
        # it takes (readFromXML): errors; beside a good word, warnings.
        (("OAuth",), "error", "spelling"),
        (("PASSWORD-CLEARTEXT",), "error", "spelling"),
        (("PASSWORD-CLEARTEXT", "NTLM"), "warning", "spelling"),
        (("SASL SCRAM-SHA-256-PLUS",), "error", "auth"),
        (("none",), "error", "auth"),  # an incoming server: none is for SMTP only
        (("TLS-client-cert",), "error", "auth"),
        (("SASL SCRAM-SHA-256-PLUS", "password-cleartext"), "warning", "auth"),
    ],
)
def test_authentication_values(auth: tuple[str, ...], severity: str, code: str) -> None:
    report = run(IMAP_OK, server(host="imap2.example.com", auth=auth), SMTP_OK)
    findings = report.errors if severity == "error" else report.warnings
    assert codes(findings) == {code}
    if severity == "warning":
        assert report.errors == ()
    assert not any(w.code == "ignored" for w in report.warnings)


@pytest.mark.parametrize(
    "auth", ["smtp-after-pop", "none", "client-IP-address", "NTLM", "OAuth2", "GSSAPI"]
)
def test_known_authentication_values_pass(auth: str) -> None:
    assert run(IMAP_OK, server("smtp", "smtp.example.com", "465", auth=(auth,))) == LintReport(
        (), ()
    )


@pytest.mark.parametrize(
    ("host", "severity", "code", "why"),
    [
        ("imap example.com", "error", "host", "not a valid host name"),
        ("imap_1.example.com", "error", "host", "not a valid host name"),
        ("-imap.example.com", "error", "host", "not a valid host name"),
        ("imap..example.com", "error", "host", "not a valid host name"),
        ("a" * 64 + ".example.com", "error", "host", "not a valid host name"),
        ("imap.example.123", "error", "host", "last label is a number"),
        ("imap.müller.de", "error", "host", "xn--mller-kva"),
        ("192.0.2.1", "warning", "host-ip", "IP address"),
        ("[2001:db8::1]", "warning", "host-ip", "IP address"),
        ("mailhost", "warning", "host-not-fqdn", "fully qualified"),
        ("", "error", "host", "no <hostname>"),
    ],
)
def test_host_names(host: str, severity: str, code: str, why: str) -> None:
    report = run(server(host=host), SMTP_OK)
    findings = report.errors if severity == "error" else report.warnings
    assert code in codes(findings)
    assert any(why in f.message for f in findings), findings
    if severity == "warning":
        assert "host" not in codes(report.errors)


def test_upper_case_and_trailing_dot_host_names_pass() -> None:
    assert run(server(host="IMAP.Example.COM."), SMTP_OK) == LintReport((), ())


@pytest.mark.parametrize(
    ("port", "why"),
    [(None, "no <port>"), ("99999", "1 to 65535"), ("x", "1 to 65535"), ("0", "1 to 65535")],
)
def test_ports(port: str | None, why: str) -> None:
    report = run(server(port=port), SMTP_OK)
    assert codes(report.errors) >= {"port"}
    assert any(why in f.message for f in report.errors)


def test_socket_types() -> None:
    assert codes(run(server(socket=("TLS",)), SMTP_OK).errors) >= {"socket-type"}
    assert codes(run(server(socket=()), SMTP_OK).errors) >= {"socket-type"}
    both = run(server(socket=("TLS", "SSL")), SMTP_OK)
    assert both.errors == ()
    assert codes(both.warnings) == {"socket-type"}
    # Thunderbird compares exactly: "ssl" alone loses the server, beside "SSL" it is
    # only ignored.
    lower = run(server(socket=("ssl",)), SMTP_OK)
    assert codes(lower.errors) >= {"spelling"}
    assert "socket-type" not in codes(lower.errors)
    beside = run(server(socket=("ssl", "SSL")), SMTP_OK)
    assert beside.errors == ()
    assert codes(beside.warnings) == {"spelling"}


def test_incoming_and_outgoing_are_required() -> None:
    assert codes(run(SMTP_OK).errors) == {"no-incoming"}
    assert codes(run(IMAP_OK).errors) == {"no-outgoing"}
    assert "IMAP but no usable SMTP server" in run(IMAP_OK).errors[0].message
    # A URL-based mail server (EWS, JMAP) needs no SMTP server.
    ews = server(
        "ews", None, None, (), ("http-basic",), url="https://mail.example.com/EWS/Exchange.asmx"
    )
    assert run(ews) == LintReport((), ())
    empty = lint(b'<clientConfig version="1.1"/>', name="empty.xml")
    assert codes(empty.errors) == {"no-incoming"}
    assert empty.warnings == ()


def test_server_type_spelling() -> None:
    report = run(IMAP_OK.replace('type="imap"', 'type="IMAP"'), SMTP_OK)
    assert codes(report.errors) >= {"spelling"}
    assert "type 'IMAP' is written imap" in report.errors[0].message


def test_a_server_in_the_wrong_section() -> None:
    report = run(
        IMAP_OK,
        SMTP_OK,
        server("smtp", "smtp.example.com", "587", ("STARTTLS",), element="incomingServer"),
    )
    assert codes(report.errors) == {"server-type"}
    assert report.warnings == ()


def test_plaintext_first() -> None:
    plain = server("imap", "imap.example.com", "143", ("plain",))
    report = run(plain, IMAP_OK, SMTP_OK)
    (warning,) = report.warnings
    assert warning.code == "plaintext-first"
    assert warning.where == "emailProvider[1]/incomingServer[1]"
    assert "although imap imap.example.com:993 (SSL) is listed after it" in warning.message

    only = run(IMAP_OK, server("smtp", "smtp.example.com", "25", ("plain",)))
    (warning,) = only.warnings
    assert warning.where == "emailProvider[1]/outgoingServer[1]"
    assert "no encrypted alternative" in warning.message

    # A plain server after a secure one is a fallback, not a preference.
    assert run(IMAP_OK, plain, SMTP_OK) == LintReport((), ())
    # An unusable first section does not count: the first usable one does.
    broken = server("imap", "imap.example.com", "993", ("TLS",))
    report = run(broken, plain, SMTP_OK)
    assert "plaintext-first" in codes(report.warnings)


def test_the_parsers_notes_become_warnings() -> None:
    report = run(IMAP_OK, SMTP_OK, extra="<futureThing>x</futureThing>")
    assert report.errors == ()
    (note,) = report.warnings
    assert note.code == "ignored"
    assert "unknown element <futureThing>" in note.message
    skipped = run(IMAP_OK, SMTP_OK, server("owa", url="https://owa.example.com/"))
    assert [w.code for w in skipped.warnings] == ["ignored"]
    assert "type 'owa' not supported" in skipped.warnings[0].message


def test_provider_id_and_domain() -> None:
    assert codes(run(IMAP_OK, SMTP_OK, pid="not a host").errors) == {"provider-id"}
    assert run(IMAP_OK, SMTP_OK, pid="MessagingEngine") == LintReport((), ())
    no_domain = document(IMAP_OK, SMTP_OK).replace(b"<domain>example.com</domain>", b"")
    assert codes(lint(no_domain, name="x").errors) == {"domain"}
    no_id = document(IMAP_OK, SMTP_OK).replace(b' id="example.com"', b"")
    assert codes(lint(no_id, name="x").errors) == {"provider-id"}


def test_display_name_lengths() -> None:
    long_name = "<displayShortName>" + "x" * 21 + "</displayShortName>"
    report = run(IMAP_OK, SMTP_OK, extra=long_name)
    assert codes(report.warnings) == {"display-name"}
    assert "at most 20" in report.warnings[0].message


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"<html><body>404</body></html>", "root element is <html>"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><clientConfig/>', "DOCTYPE"),
        (b"<clientConfig><oops></clientConfig>", "XML syntax error"),
    ],
)
def test_unreadable_documents_are_one_parse_error(data: bytes, why: str) -> None:
    report = lint(data, name="bad.xml")
    (error,) = report.errors
    assert error.code == "parse"
    assert why in error.message
    assert error.message.startswith("bad.xml: ")
    assert report.warnings == ()


def test_hostile_values_stay_on_one_line() -> None:
    evil = server(host="imap.example.com&#10;x\u2028", user="%FOO%\u2028\u202e&#13;")
    report = run(evil, IMAP_OK, SMTP_OK)
    assert codes(report.errors) == {"host", "placeholder"}
    text = lint_text_report(report, file="a\x1b[31m\nb\u202e.xml")
    for bad in ("\x1b", "\u2028", "\u202e", "\r"):
        assert bad not in text
    assert len(text.splitlines()) == len(report.errors) + len(report.warnings) + 1
    assert all(line.isprintable() for line in text.splitlines())


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300)
    | st.builds(lambda s: document(server(host=s), SMTP_OK), st.text(max_size=30))
)
def test_lint_never_raises(data: bytes) -> None:
    report = lint(data, name="fuzz.xml")
    for f in (*report.errors, *report.warnings):
        assert "\n" not in f.message
    json.dumps(to_json(report, file="fuzz.xml"))


# --- output ------------------------------------------------------------------------------------


def test_text_report() -> None:
    report = run(IMAP_OK, server("smtp", "smtp.example.com", "587", ("SSL",)))
    text = lint_text_report(report, file="x.xml")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0].startswith("x.xml: error [port-security] emailProvider[1]/outgoingServer[1]: ")
    assert lines[-1] == "x.xml: 1 error, 0 warnings"
    assert lint_text_report(LintReport((), ()), file="ok.xml") == "ok.xml: ok\n"


def test_json_report() -> None:
    report = run(server("imap", "imap.example.com", "143", ("plain",)), SMTP_OK)
    doc = to_json(report, file="x.xml")
    assert json.loads(json.dumps(doc)) == doc
    assert doc["file"] == "x.xml"
    assert doc["errors"] == []
    assert doc["warnings"] == [
        {"code": w.code, "message": w.message, "where": w.where} for w in report.warnings
    ]
    assert report.ok


def test_protocol_tables_cover_every_mail_protocol() -> None:
    from advisor.formats import lint as module

    assert set(module._STANDARD_PORTS) == set(Protocol)
    assert set(module._MAIL_KINDS.values()) == set(Protocol)
