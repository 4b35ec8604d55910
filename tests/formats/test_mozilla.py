"""The clientConfig parser: the whole ISPDB, must-ignore, placeholders, hostile input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.address import parse_address
from advisor.errors import AdvisorError
from advisor.formats.mozilla import (
    MAX_CONFIG_BYTES,
    ClientConfig,
    ConfigError,
    EmailProvider,
    EnableInstructions,
    LocalizedText,
    OAuth2Settings,
    Pop3Options,
    expand,
    parse_client_config,
)
from advisor.models import Endpoint, Protocol, Security

ISPDB = Path(__file__).resolve().parents[2] / ".." / "shared" / "ispdb"


@pytest.fixture(scope="module")
def ispdb_files() -> list[Path]:
    files = sorted(ISPDB.glob("*.xml"))
    if not files:
        pytest.skip(f"the ISPDB corpus is not at {ISPDB.resolve()} (CI has it there)")
    return files


def doc(body: str, *, version: str = "1.1") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="{version}">'
        f"{body}</clientConfig>"
    ).encode()


def provider(servers: str, *, pid: str = "example.com", domains: str = "example.com") -> str:
    domain_elems = "".join(f"<domain>{d}</domain>" for d in domains.split())
    return f'<emailProvider id="{pid}">{domain_elems}{servers}</emailProvider>'


def imap(
    host: str = "imap.example.com",
    port: str = "993",
    socket: str = "SSL",
    *,
    auth: str = "password-cleartext",
    extra: str = "",
) -> str:
    auth_elems = "".join(f"<authentication>{a}</authentication>" for a in auth.split(","))
    return (
        f'<incomingServer type="imap"><hostname>{host}</hostname><port>{port}</port>'
        f"<socketType>{socket}</socketType>{auth_elems}"
        f"<username>%EMAILADDRESS%</username>{extra}</incomingServer>"
    )


SMTP = (
    '<outgoingServer type="smtp"><hostname>smtp.example.com</hostname><port>587</port>'
    "<socketType>STARTTLS</socketType><authentication>password-cleartext</authentication>"
    "<username>%EMAILADDRESS%</username></outgoingServer>"
)


def only(config: ClientConfig) -> EmailProvider:
    assert len(config.providers) == 1
    return config.providers[0]


def parse_error(data: bytes) -> str:
    with pytest.raises(ConfigError) as info:
        parse_client_config(data, source_name="test.xml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("test.xml: ")
    assert isinstance(info.value, AdvisorError)
    return message


# --- the ISPDB corpus -------------------------------------------------------------


def test_every_ispdb_file_loads_with_every_usable_server(ispdb_files: list[Path]) -> None:
    assert len(ispdb_files) == 163
    for path in ispdb_files:
        config = parse_client_config(path.read_bytes(), source_name=path.name)
        root = ET.fromstring(path.read_bytes())  # our own trusted corpus
        p = only(config)
        has_incoming = root.find("./emailProvider/incomingServer") is not None
        has_outgoing = root.find("./emailProvider/outgoingServer") is not None
        assert p.domains, path.name
        assert bool(p.incoming) == has_incoming, path.name
        assert bool(p.outgoing) == has_outgoing, path.name
        # Every server section is kept, or skipped with exactly one note.
        sections = len(root.findall("./emailProvider/incomingServer")) + len(
            root.findall("./emailProvider/outgoingServer")
        )
        skipped = [n for n in config.ignored if n.endswith("skipped")]
        assert len(p.incoming) + len(p.outgoing) + len(skipped) == sections, path.name
        for server in (*p.incoming, *p.outgoing):
            if server.protocol is not None:
                assert server.endpoint is not None or "%" in (server.hostname or ""), path.name


def test_ispdb_notes_are_the_known_cases(ispdb_files: list[Path]) -> None:
    notes = {}
    for path in ispdb_files:
        config = parse_client_config(path.read_bytes(), source_name=path.name)
        if config.ignored:
            notes[path.name] = config.ignored
    assert sorted(notes) == [
        "ipax.at.xml",  # <instruction url> beside <documentation>
        "messagingengine.com.xml",  # the same
        "nili.ca.xml",  # <displayNameShort>, a typo of displayShortName
        "office365.com.xml",
    ]
    office = notes["office365.com.xml"]
    assert any("malformed placeholder '%EMAILADDRESS'" in n for n in office)
    # Thunderbird's legacy type="exchange" section is read, not skipped (readFromXML).
    assert not any("'exchange'" in n for n in office)
    assert "incomingServer type 'owa' not supported: skipped" in office
    assert notes["nili.ca.xml"] == (
        "unknown element <displayNameShort> in <emailProvider id='nili.ca'>: ignored",
    )


def test_office365_keeps_its_mail_and_url_servers_despite_the_exchange_section(
    ispdb_files: list[Path],
) -> None:
    config = parse_client_config((ISPDB / "office365.com.xml").read_bytes())
    p = only(config)
    assert [(s.kind, s.hostname or s.url) for s in p.incoming] == [
        ("imap", "outlook.office365.com"),
        ("pop3", "outlook.office365.com"),
        ("ews", "https://outlook.office365.com/ews/exchange.asmx"),
        ("graph", "https://graph.microsoft.com/"),
        ("exchange", "outlook.office365.com"),
    ]
    legacy = p.incoming[4]
    assert legacy.url == "https://outlook.office365.com/ews/exchange.asmx"  # its <ewsURL>
    assert legacy.auth == ("OAuth2",)
    assert p.incoming[2].username == "%EMAILADDRESS"  # left as written, and noted
    assert p.outgoing[0].endpoint == Endpoint(
        Protocol.SMTP, "smtp.office365.com", 587, Security.STARTTLS
    )
    # <oAuth2> sits beside <emailProvider> in the ISPDB.
    assert p.oauth2 is not None
    assert p.oauth2.issuer == "login.microsoftonline.com"


# --- the format, version 1.1 and 1.2 --------------------------------------------------

FULL_11 = doc(
    """
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <domain>Example.NET.</domain>
    <domain purpose="mx">mx.example-hosting.com</domain>
    <displayName>Example   Mail</displayName>
    <displayShortName>Example</displayShortName>
    <incomingServer type="imap">
      <hostname>IMAP.Example.COM.</hostname>
      <port> 993 </port>
      <socketType>SSL</socketType>
      <authentication>OAuth2</authentication>
      <authentication>plain</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.com</hostname>
      <port>110</port>
      <socketType>STARTTLS</socketType>
      <authentication>secure</authentication>
      <username>%EMAILLOCALPART%</username>
      <pop3>
        <leaveMessagesOnServer>true</leaveMessagesOnServer>
        <downloadOnBiff>false</downloadOnBiff>
        <daysToLeaveMessagesOnServer>14</daysToLeaveMessagesOnServer>
        <checkInterval minutes="15"/>
      </pop3>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname>
      <port>25</port>
      <socketType>plain</socketType>
      <authentication>client-IP-address</authentication>
      <restriction>client-IP-address</restriction>
      <addThisServer>true</addThisServer>
      <useGlobalPreferredServer>false</useGlobalPreferredServer>
    </outgoingServer>
    <documentation url="https://example.com/help">
      <descr lang="en">Settings</descr>
      <descr lang="de">Einstellungen</descr>
    </documentation>
    <enable visiturl="https://example.com/settings">
      <instruction>Allow IMAP first</instruction>
    </enable>
  </emailProvider>
  <webMail><loginPage url="https://webmail.example.com/"/>
    <loginPageInfo url="https://webmail.example.com/"><username>%EMAILADDRESS%</username>
    <usernameField id="u"/></loginPageInfo></webMail>
  <clientConfigUpdate url="https://example.com/config.xml"/>
"""
)


def test_version_1_1_document_reads_every_field() -> None:
    config = parse_client_config(FULL_11)
    assert config.version == "1.1"
    assert config.ignored == ()
    p = only(config)
    assert p.id == "example.com"
    assert p.domains == ("example.com", "example.net", "mx.example-hosting.com")
    assert (p.display_name, p.short_name) == ("Example Mail", "Example")
    first, pop = p.incoming
    assert first.kind == "imap"
    assert first.protocol is Protocol.IMAP
    assert first.endpoint == Endpoint(Protocol.IMAP, "imap.example.com", 993, Security.SSL)
    assert first.auth == ("OAuth2", "password-cleartext")  # legacy "plain", order kept
    assert first.username == "%EMAILADDRESS%"
    assert pop.security is Security.STARTTLS
    assert pop.auth == ("password-encrypted",)  # legacy "secure"
    assert pop.pop3 == Pop3Options(
        leave_messages_on_server=True,
        download_on_biff=False,
        days_to_leave_messages_on_server=14,
        check_interval_minutes=15,
    )
    (smtp,) = p.outgoing
    assert smtp.security is Security.PLAIN
    assert smtp.auth == ("client-IP-address",)
    assert smtp.username is None
    assert smtp.restriction == ("client-IP-address",)
    assert (smtp.add_this_server, smtp.use_global_preferred_server) == (True, False)
    assert p.documentation[0].url == "https://example.com/help"
    assert p.documentation[0].descriptions == (
        LocalizedText("Settings", "en"),
        LocalizedText("Einstellungen", "de"),
    )
    assert p.enable == EnableInstructions(
        "https://example.com/settings", (LocalizedText("Allow IMAP first"),)
    )
    assert p.web_mail_url == "https://webmail.example.com/"


def test_version_1_2_document_with_url_based_servers() -> None:
    config = parse_client_config(
        doc(
            provider(
                """
      <incomingServer type="jmap">
        <url>https://jmap.example.com/session</url>
        <authentication>OAuth</authentication>
        <authentication>http-basic</authentication>
        <username>%EMAILADDRESS%</username>
      </incomingServer>
      <incomingServer type="activesync">
        <url>https://mail.example.com/Microsoft-Server-ActiveSync</url>
        <authentication>http-basic</authentication>
      </incomingServer>"""
                + imap(auth="SASL scram-sha-256-plus,password-encrypted")
                + SMTP
            )
            + """
      <calendar type="caldav"><url>https://cal.example.com/dav</url></calendar>
      <oAuth2>
        <authURL>https://login.example.com/auth</authURL>
        <tokenURL>https://login.example.com/token</tokenURL>
        <issuer>login.example.com</issuer>
        <scope>IMAP   SMTP offline_access</scope>
        <clientID>open</clientID>
        <clientSecret>not-a-secret</clientSecret>
      </oAuth2>
      <clientConfigUpdate url="https://www.example.com/config/mail.xml" />""",
            version="1.2",
        )
    )
    assert config.version == "1.2"
    p = only(config)
    jmap, activesync, imap_server = p.incoming
    assert (jmap.kind, jmap.protocol, jmap.url) == (
        "jmap",
        None,
        "https://jmap.example.com/session",
    )
    assert jmap.auth == ("OAuth2", "http-basic")  # the draft spells it "OAuth"
    assert jmap.endpoint is None
    assert activesync.kind == "activeSync"
    # On a mail server Thunderbird takes only its own words: the draft's SASL form is
    # skipped there (readFromXML), so it is here.
    assert imap_server.auth == ("password-encrypted",)
    assert p.oauth2 == OAuth2Settings(
        issuer="login.example.com",
        scope="IMAP SMTP offline_access",
        auth_url="https://login.example.com/auth",
        token_url="https://login.example.com/token",
        client_id="open",
    )
    assert activesync.auth == ("http-basic",)
    assert config.ignored == (
        "unknown authentication 'SASL scram-sha-256-plus' on imap imap.example.com:993: ignored",
    )
    # The draft's calendar section is what CalDAV discovery uses (issue 18).
    assert config.dav == (("caldav", "https://cal.example.com/dav"),)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.0", "banana", ""])
def test_any_version_is_accepted(version: str) -> None:
    config = parse_client_config(doc(provider(imap() + SMTP), version=version))
    assert config.version == version
    assert only(config).incoming


def test_missing_version_is_accepted() -> None:
    data = f"<clientConfig>{provider(imap() + SMTP)}</clientConfig>".encode()
    assert parse_client_config(data).version is None


def test_several_providers_and_servers_keep_document_order() -> None:
    config = parse_client_config(
        doc(
            provider(
                imap("b.example.com") + imap("a.example.com"), pid="one", domains="one.example"
            )
            + provider(imap("c.example.com") + SMTP, pid="two", domains="two.example")
        )
    )
    assert [p.id for p in config.providers] == ["one", "two"]
    assert [s.hostname for s in config.providers[0].incoming] == ["b.example.com", "a.example.com"]
    assert config.providers[0].outgoing == ()
    assert config.providers[1].domains == ("two.example",)


def test_provider_level_oauth2_wins_over_the_shared_one() -> None:
    own = (
        "<oAuth2><issuer>own.example</issuer><scope>s</scope>"
        "<authURL>https://own.example/a</authURL><tokenURL>https://own.example/t</tokenURL>"
        "</oAuth2>"
    )
    shared = own.replace("own.example", "shared.example")
    config = parse_client_config(
        doc(provider(imap() + own, pid="a") + provider(imap(), pid="b") + shared)
    )
    assert [p.oauth2.issuer if p.oauth2 else None for p in config.providers] == [
        "own.example",
        "shared.example",
    ]


def test_incomplete_or_insecure_oauth2_is_dropped_with_a_note() -> None:
    block = (
        "<oAuth2><issuer>x.example</issuer><scope>s</scope>"
        "<authURL>http://x.example/a</authURL></oAuth2>"
    )
    config = parse_client_config(doc(provider(imap()) + block))
    assert only(config).oauth2 is None
    assert config.ignored == (
        "invalid <authURL> 'http://x.example/a' in <oAuth2>: ignored",
        "<oAuth2> without <authURL>, <tokenURL>: ignored",
    )


def test_namespaces_bom_and_leading_whitespace_are_tolerated() -> None:
    body = provider(imap() + SMTP).replace("<", "<m:").replace("<m:/", "</m:")
    data = (
        b"\xef\xbb\xbf \r\n\t"
        + b'<?xml version="1.0" encoding="UTF-8"?>'
        + f'<m:clientConfig xmlns:m="urn:example:autoconfig" version="1.1">{body}'
        "</m:clientConfig>".encode()
    )
    p = only(parse_client_config(data))
    assert p.incoming[0].hostname == "imap.example.com"
    assert p.outgoing[0].port == 587


def test_other_encodings_and_idn_hostnames() -> None:
    data = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><clientConfig version="1.1">'
        + provider(imap("imap.bücher.example"), domains="bücher.example")
        + "</clientConfig>"
    ).encode("latin-1")
    p = only(parse_client_config(data))
    assert p.domains == ("xn--bcher-kva.example",)
    assert p.incoming[0].hostname == "imap.xn--bcher-kva.example"


# --- must-ignore ------------------------------------------------------------------------


def test_unknown_elements_attributes_values_and_types_are_skipped_and_noted() -> None:
    config = parse_client_config(
        doc(
            provider(
                '<incomingServer type="exchange"><hostname>x.example.com</hostname>'
                "</incomingServer>"
                '<incomingServer type="nntp"/>'
                + imap(
                    auth="password-cleartext,kerberos-magic",
                    extra="<color>blue</color><pop3><leaveMessagesOnServer>true"
                    "</leaveMessagesOnServer></pop3>",
                ).replace('type="imap"', 'type="imap" priority="1"')
                + '<futureThing a="1"><nested/></futureThing>'
                + SMTP
            )
            + "<adverts>buy</adverts>"
        )
    )
    p = only(config)
    (server,) = p.incoming
    assert server.auth == ("password-cleartext",)
    assert server.pop3 is None
    assert p.outgoing[0].hostname == "smtp.example.com"
    assert config.ignored == (
        "no <ewsURL> or <easURL> on exchange x.example.com: server skipped",
        "incomingServer type 'nntp' not supported: skipped",
        "unknown attribute 'priority' on <incomingServer>: ignored",
        "unknown authentication 'kerberos-magic' on imap imap.example.com:993: ignored",
        "unknown element <color> in imap imap.example.com:993: ignored",
        "unknown element <pop3> in imap imap.example.com:993: ignored",
        "unknown element <futureThing> in <emailProvider id='example.com'>: ignored",
        "unknown element <adverts> in <clientConfig>: ignored",
    )


@pytest.mark.parametrize(
    ("server", "note"),
    [
        (
            imap(socket="TLS"),
            "unknown socketType 'TLS' on imap imap.example.com:993: server skipped",
        ),
        (imap(socket=""), "no <socketType> on imap imap.example.com:993: server skipped"),
        (imap(port="99999"), "invalid port '99999' on imap imap.example.com:99999: server skipped"),
        (imap(port="imap"), "invalid port 'imap' on imap imap.example.com:imap: server skipped"),
        (imap(host=""), "no <hostname> on imap server: server skipped"),
        (
            imap(host="imap example.com"),
            "invalid hostname 'imap example.com' on imap imap example.com:993: server skipped",
        ),
        (
            imap(auth="magic,voodoo"),
            "only unknown authentication 'magic', 'voodoo' on imap imap.example.com:993:"
            " server skipped",
        ),
        (
            '<incomingServer type="ews"><url>javascript:alert(1)</url></incomingServer>',
            "invalid url 'javascript:alert(1)' on ews javascript:alert(1): server skipped",
        ),
        ('<incomingServer type="jmap"/>', "no <url> on jmap server: server skipped"),
        (SMTP.replace("outgoingServer", "incomingServer"), None),
    ],
)
def test_an_unusable_server_is_skipped_and_the_next_one_used(server: str, note: str | None) -> None:
    config = parse_client_config(doc(provider(server + imap("imap2.example.com") + SMTP)))
    p = only(config)
    assert [s.hostname for s in p.incoming] == ["imap2.example.com"]
    assert p.outgoing
    if note is None:
        assert config.ignored == (
            "incomingServer type 'smtp' does not belong in <incomingServer>: skipped",
        )
    else:
        assert config.ignored == (note,)


def test_a_bad_optional_field_drops_only_that_field() -> None:
    config = parse_client_config(
        doc(
            provider(
                '<incomingServer type="pop3"><hostname>pop.example.com</hostname>'
                "<port>995</port><socketType>TLS</socketType><socketType>SSL</socketType>"
                "<authentication>password-cleartext</authentication><pop3><leaveMessagesOnServer>maybe</leaveMessagesOnServer>"
                "<daysToLeaveMessagesOnServer>two weeks</daysToLeaveMessagesOnServer>"
                "<downloadOnBiff>TRUE</downloadOnBiff></pop3></incomingServer>"
                '<documentation url="ftp://example.com/help"/>'
                "<domain>not a domain</domain>"
            )
        )
    )
    p = only(config)
    (pop,) = p.incoming
    assert pop.security is Security.SSL  # the first socketType we know, as Thunderbird does
    assert pop.auth == ("password-cleartext",)
    assert pop.pop3 == Pop3Options(download_on_biff=True)
    assert p.documentation == ()
    assert p.domains == ("example.com",)
    assert config.ignored == (
        "unknown socketType 'TLS' on pop3 pop.example.com:995: ignored",
        "invalid boolean 'maybe' in <pop3><leaveMessagesOnServer> on pop3"
        " pop.example.com:995: ignored",
        "invalid number 'two weeks' in <pop3><daysToLeaveMessagesOnServer> on pop3"
        " pop.example.com:995: ignored",
        "<documentation> with invalid url 'ftp://example.com/help': ignored",
        "invalid <domain> 'not a domain' in emailProvider 'example.com': ignored",
    )


def test_a_provider_without_servers_is_kept_and_noted() -> None:
    config = parse_client_config(doc(provider("")))
    assert only(config).incoming == ()
    assert config.ignored == ("emailProvider 'example.com' has no usable incoming server",)


def test_a_document_without_provider_is_empty_not_an_error() -> None:
    config = parse_client_config(doc(""))
    assert config.providers == ()
    assert config.ignored == ("no <emailProvider> in the document: no servers",)


# --- placeholders --------------------------------------------------------------------


def test_expand_fills_every_placeholder_with_the_ascii_domain() -> None:
    address = parse_address("Jane.Doe@Bücher.example")
    assert expand("%EMAILADDRESS%", address) == "Jane.Doe@xn--bcher-kva.example"
    assert expand("%EMAILLOCALPART%", address) == "Jane.Doe"
    assert expand("mail.%EMAILDOMAIN%", address) == "mail.xn--bcher-kva.example"
    assert expand("%REALNAME%", address) == ""
    assert expand("%REALNAME% <x>", address, real_name="Jane") == "Jane <x>"
    assert expand("%EMAILADDRESS", address) == "%EMAILADDRESS"
    assert expand("100%", address) == "100%"


def test_for_address_expands_hostnames_usernames_and_urls() -> None:
    config = parse_client_config(
        doc(
            provider(
                imap("Mail.%EMAILDOMAIN%")
                + '<incomingServer type="jmap"><url>https://jmap.%EMAILDOMAIN%/s?u=%EMAILLOCALPART%'
                "</url><authentication>http-basic</authentication></incomingServer>"
                + SMTP.replace("%EMAILADDRESS%", "%EMAILLOCALPART%.%EMAILDOMAIN%")
            )
        )
    )
    template = only(config)
    assert template.incoming[0].hostname == "mail.%EMAILDOMAIN%"
    assert template.incoming[0].endpoint is None  # not a host name yet
    filled = config.for_address(parse_address("fred@Example.ORG"))
    p = only(filled)
    assert p.incoming[0].endpoint == Endpoint(Protocol.IMAP, "mail.example.org", 993, Security.SSL)
    assert p.incoming[0].username == "fred@example.org"
    assert p.incoming[1].url == "https://jmap.example.org/s?u=fred"
    assert p.outgoing[0].username == "fred.example.org"
    assert filled.ignored == config.ignored == ()
    assert only(config).incoming[0].hostname == "mail.%EMAILDOMAIN%"  # the original is unchanged


def test_a_malformed_placeholder_is_left_and_noted() -> None:
    config = parse_client_config(doc(provider(imap().replace("%EMAILADDRESS%", "%EMAILADDRESS"))))
    note = (
        "malformed placeholder '%EMAILADDRESS' in username of imap imap.example.com:993: left as is"
    )
    assert config.ignored == (note,)
    filled = config.for_address(parse_address("fred@example.com"))
    assert only(filled).incoming[0].username == "%EMAILADDRESS"
    assert filled.ignored == (note,)


def test_an_unknown_placeholder_is_noted() -> None:
    config = parse_client_config(doc(provider(imap().replace("%EMAILADDRESS%", "%USERID%"))))
    assert config.ignored == (
        "unknown placeholder '%USERID%' in username of imap imap.example.com:993: left as is",
    )


def test_a_placeholder_that_cannot_make_a_hostname_skips_the_server() -> None:
    config = parse_client_config(doc(provider(imap("%EMAILADDRESS%"))))
    assert only(config).incoming == ()


# --- hostile and broken input -----------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE clientConfig [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<clientConfig version="1.1"><emailProvider id="x"><displayName>&lol9;</displayName>
</emailProvider></clientConfig>"""


def test_billion_laughs_is_refused_quickly() -> None:
    # Refused for its DOCTYPE, before any entity is expanded: a parser that
    # expanded first would need 10**9 copies (memory error or a hang), never
    # reach this message. No stopwatch needed.
    message = parse_error(BILLION_LAUGHS)
    assert "DOCTYPE declarations are not allowed" in message


def test_external_entities_are_refused_unread() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE clientConfig [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<clientConfig version="1.1"><emailProvider id="&x;"/></clientConfig>'
    )
    assert "DOCTYPE declarations are not allowed" in parse_error(data)
    external_dtd = (
        b'<?xml version="1.0"?><!DOCTYPE clientConfig SYSTEM "http://evil.example/x.dtd">'
        b'<clientConfig version="1.1"/>'
    )
    assert "DOCTYPE declarations are not allowed" in parse_error(external_dtd)


def test_an_undeclared_entity_is_a_syntax_error_not_an_expansion() -> None:
    message = parse_error(b'<clientConfig version="1.1">&x;</clientConfig>')
    assert "XML syntax error at line 1, column 29: undefined entity" in message


def test_a_huge_body_is_refused_before_parsing() -> None:
    padding = b" " * MAX_CONFIG_BYTES
    message = parse_error(doc(provider(imap())) + padding)
    assert "document larger than 1 MiB" in message
    at_limit = doc(provider(imap()))
    at_limit += b" " * (MAX_CONFIG_BYTES - len(at_limit))
    assert only(parse_client_config(at_limit)).incoming


@pytest.mark.parametrize(
    "page",
    [
        b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>Hi</body></html>",
        b"<html><body><p>Welcome<br></p>&nbsp;</body></html>",  # not well-formed either
        b"\n\n<!-- cms -->\n<HTML lang=en><body>Parked domain</body></HTML>".replace(
            b"HTML", b"html"
        ),
    ],
)
def test_an_html_page_is_named_as_such(page: bytes) -> None:
    assert parse_error(page) == "test.xml: not a clientConfig document: root element is <html>"


def test_another_xml_document_is_named() -> None:
    data = b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"/>'
    assert parse_error(data).endswith("root element is <Autodiscover>")


def test_broken_xml_gives_line_and_column() -> None:
    data = (
        b'<?xml version="1.0"?>\n<clientConfig version="1.1">\n'
        b'  <emailProvider id="x">\n</clientConfig>'
    )
    assert parse_error(data) == "test.xml: XML syntax error at line 4, column 3: mismatched tag"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the document is empty"),
        (b"\xef\xbb\xbf  \n", "the document is empty"),
        (b"just text", "XML syntax error at line 1, column 1"),
        (
            b'<?xml version="1.0" encoding="no-such"?><clientConfig/>',
            "unsupported character encoding",
        ),
        (b"<clientConfig>\x00</clientConfig>", "XML syntax error at line 1, column 15"),
    ],
)
def test_other_unreadable_documents(data: bytes, reason: str) -> None:
    assert reason in parse_error(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_raise_config_error(data: bytes) -> None:
    try:
        parse_client_config(data)
    except ConfigError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message


# Any character XML 1.0 can carry (tab, newline and CR are its only controls).
_VALUES = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Cn"), include_characters="\t\n\r"
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["imap", "pop3", "smtp", "jmap", "ews", "xmpp", "IMAP", "", "x"]),
    host=_VALUES,
    port=_VALUES,
    socket=_VALUES,
    auth=_VALUES,
    username=_VALUES,
    url=_VALUES,
)
def test_arbitrary_field_values_never_crash(
    kind: str, host: str, port: str, socket: str, auth: str, username: str, url: str
) -> None:
    from xml.sax.saxutils import escape, quoteattr

    fields = {
        "hostname": host,
        "port": port,
        "socketType": socket,
        "authentication": auth,
        "username": username,
        "url": url,
    }
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    section = "outgoingServer" if kind == "smtp" else "incomingServer"
    xml = f"<{section} type={quoteattr(kind)}>{body}</{section}>"
    config = parse_client_config(doc(provider(xml)))
    filled = config.for_address(parse_address("a@example.com"))
    assert all(note.isprintable() for note in filled.ignored)  # one line each
    for server in (*only(filled).incoming, *only(filled).outgoing):
        if server.port is not None:
            assert 1 <= server.port <= 65535
        if server.protocol is not None and server.hostname and "%" not in server.hostname:
            assert server.hostname == server.hostname.lower().strip()
