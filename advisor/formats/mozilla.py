"""Mozilla autoconfig ``clientConfig`` documents: version 1.1 and the draft's 1.2.

The format is Thunderbird's (wiki "Autoconfiguration: ConfigFileFormat", read
by comm-central ``mail/components/accountcreation/modules/readFromXML.sys.mjs``)
as formalised by draft-ietf-mailmaint-autoconfig (RELAX NG schema
``autoconfig.rng`` in benbucksch/autoconfig-spec).

Two rules shape this parser:

* The bytes are untrusted (they come from any web server, or over plain HTTP).
  They are capped at :data:`MAX_CONFIG_BYTES` and parsed with ``defusedxml``
  with DTDs forbidden, so entity bombs and external entities are refused
  before anything is expanded. A document we cannot read at all raises
  :class:`ConfigError` with a one-line message.
* Must-ignore (draft, "XML validation" and "Multiple server sections"): an
  unknown element, attribute, value or server type is skipped, never fatal,
  and every skip is recorded as a one-line note in :attr:`ClientConfig.ignored`.
  A server section is dropped only when what is left of it cannot be used
  (no host name, no valid port, no known ``socketType``, only unknown
  authentication methods, or a URL-based type without a URL); a bad optional
  field only drops that field. Thunderbird for Android rejects the whole file
  on one unknown value instead, which loses 28 % of the ISPDB.

Element order is the provider's preference order (draft: "the one listed first
is the preferred one"), so servers, authentication methods and providers are
kept in document order.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import defusedxml
import defusedxml.ElementTree as DefusedET

from advisor.address import EmailAddress
from advisor.errors import AdvisorError
from advisor.formats.text import normalise_hostname, short
from advisor.models import Endpoint, Protocol, Security

# The largest ISPDB file is under 9 KB; a real autoconfig answer is a few KB.
# One MiB leaves room for verbose comments while bounding memory and parse
# time on a hostile or misconfigured server's answer.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_NOTES = 100  # notes kept about skipped items; a person reads a few, the rest are counted


class ConfigError(AdvisorError):
    """The bytes are not a clientConfig document we can read at all."""


# --- the data model --------------------------------------------------------


@dataclass(frozen=True)
class LocalizedText:
    """A human text with its optional ISO 639 language code (``lang``)."""

    text: str
    lang: str | None = None


@dataclass(frozen=True)
class Documentation:
    """``<documentation url>``: the provider's help page about these settings."""

    url: str
    descriptions: tuple[LocalizedText, ...] = ()


@dataclass(frozen=True)
class EnableInstructions:
    """``<enable visiturl>``: the user must switch IMAP/POP on at the provider first."""

    visit_url: str | None
    instructions: tuple[LocalizedText, ...] = ()


@dataclass(frozen=True)
class OAuth2Settings:
    """``<oAuth2>``: where a client gets tokens for the servers in the file."""

    issuer: str
    scope: str  # space-separated, as in the file
    auth_url: str
    token_url: str
    client_id: str | None = None


@dataclass(frozen=True)
class Pop3Options:
    """``<pop3>`` inside a POP3 server: the provider's recommended client settings."""

    leave_messages_on_server: bool | None = None
    download_on_biff: bool | None = None
    days_to_leave_messages_on_server: int | None = None
    delete_mail_left_on_server: bool | None = None
    check_interval_minutes: int | None = None  # the server refuses checks more often


@dataclass(frozen=True)
class ServerConfig:
    """One ``incomingServer`` or ``outgoingServer`` section.

    TCP-based kinds (imap, pop3, smtp, managesieve) have hostname, port and
    security; URL-based kinds (jmap, ews, activeSync, graph, caldav, ...) have
    ``url``. ``hostname``, ``username`` and ``url`` may hold placeholders
    until :meth:`ClientConfig.for_address` expands them.
    """

    kind: str  # the XML type, canonical spelling: "imap", "ews", "activeSync", ...
    protocol: Protocol | None  # set when the kind is one of ours
    hostname: str | None = None  # ASCII, lower case, no trailing dot
    port: int | None = None
    security: Security | None = None
    username: str | None = None  # template, e.g. "%EMAILADDRESS%"
    auth: tuple[str, ...] = ()  # Mozilla vocabulary, most preferred first
    url: str | None = None
    # Thunderbird's legacy <incomingServer type="exchange">: the EWS URL is ``url``
    # (<ewsURL>, newer <exchangeURL>), ActiveSync is <easURL>.
    activesync_url: str | None = None
    pop3: Pop3Options | None = None
    restriction: tuple[str, ...] = ()  # e.g. "client-IP-address": only inside the ISP's network
    add_this_server: bool | None = None
    use_global_preferred_server: bool | None = None

    @property
    def endpoint(self) -> Endpoint | None:
        """The server as a probe target, when it is a complete IMAP/POP3/SMTP server."""
        if (
            self.protocol is None
            or self.hostname is None
            or self.port is None
            or self.security is None
            or "%" in self.hostname
        ):
            return None
        return Endpoint(self.protocol, self.hostname, self.port, self.security)

    @property
    def label(self) -> str:
        """Short human name for notes: ``imap imap.example.com:993``."""
        return _label(self.kind, self.hostname or self.url, self.port)


@dataclass(frozen=True)
class EmailProvider:
    id: str
    domains: tuple[str, ...]
    display_name: str | None
    short_name: str | None
    incoming: tuple[ServerConfig, ...]
    outgoing: tuple[ServerConfig, ...]
    documentation: tuple[Documentation, ...] = ()
    web_mail_url: str | None = None
    oauth2: OAuth2Settings | None = None
    enable: EnableInstructions | None = None
    # Why Thunderbird's readFromXML refuses this whole provider (and so a client
    # configured from it would get nothing), or None. Discovery does not use it.
    refusal: str | None = None


@dataclass(frozen=True)
class ClientConfig:
    version: str | None  # as written; never a reason to reject (draft: "MUST NOT reject")
    providers: tuple[EmailProvider, ...]
    ignored: tuple[str, ...] = ()  # one line per skipped element, attribute or value
    more_ignored: int = 0  # further distinct notes past MAX_NOTES, counted, not kept
    # Draft sections beside <emailProvider>: <calendar type="caldav"> and
    # <addressBook type="carddav">, as ("caldav" | "carddav", https serverURL).
    dav: tuple[tuple[str, str], ...] = ()

    def for_address(self, address: EmailAddress, *, real_name: str = "") -> ClientConfig:
        """A copy with placeholders in host names, user names and URLs filled in.

        A malformed placeholder is left as written and noted in ``ignored``.
        """
        notes = _Notes(self.ignored, self.more_ignored)

        def fill(text: str | None, what: str) -> str | None:
            if text is None:
                return None
            for note in _placeholder_problems(text, what, is_url=what.startswith("url")):
                notes.add(note)
            return expand(text, address, real_name=real_name)

        def server(s: ServerConfig) -> ServerConfig:
            host = fill(s.hostname, f"hostname of {s.label}")
            if host is not None and "%" not in host:
                host = normalise_hostname(host) or host
            return replace(
                s,
                hostname=host,
                username=fill(s.username, f"username of {s.label}"),
                url=fill(s.url, f"url of {s.label}"),
                activesync_url=fill(s.activesync_url, f"url of {s.label}"),
            )

        providers = tuple(
            replace(
                p,
                incoming=tuple(server(s) for s in p.incoming),
                outgoing=tuple(server(s) for s in p.outgoing),
                web_mail_url=fill(p.web_mail_url, "url of webMail"),
            )
            for p in self.providers
        )
        return ClientConfig(self.version, providers, tuple(notes.items), notes.more, self.dav)


# --- placeholders ------------------------------------------------------------

# Draft "Placeholders"; %REALNAME% is Thunderbird's addition for display names.
_PLACEHOLDER_NAMES = ("EMAILADDRESS", "EMAILLOCALPART", "EMAILDOMAIN", "REALNAME")
_PLACEHOLDER = re.compile("%(" + "|".join(_PLACEHOLDER_NAMES) + ")%")
# What is left of a known name once the valid placeholders are gone, with one
# percent sign: "%EMAILADDRESS" (ISPDB office365.com.xml). Filling it in would
# build a wrong user name, so it is left as written and noted.
_HALF_PLACEHOLDER = re.compile("%?(?:" + "|".join(_PLACEHOLDER_NAMES) + ")%?")
_UNKNOWN_PLACEHOLDER = re.compile(r"%[A-Z][A-Z0-9_]*%")


def expand(template: str, address: EmailAddress, *, real_name: str = "") -> str:
    """Fill ``%EMAILADDRESS%``, ``%EMAILLOCALPART%``, ``%EMAILDOMAIN%``, ``%REALNAME%``.

    The domain is the ASCII (A-label) form, as a server sees it on the wire.
    Anything else, including a malformed placeholder, is left as written.
    """
    values = {
        "EMAILADDRESS": address.address_ascii,
        "EMAILLOCALPART": address.local_part,
        "EMAILDOMAIN": address.domain_ascii,
        "REALNAME": real_name,
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _placeholder_problems(text: str, what: str, *, is_url: bool = False) -> list[str]:
    """Notes for placeholders in ``text`` that :func:`expand` will leave alone."""
    residue = _PLACEHOLDER.sub("\0", text)
    notes = [
        f"malformed placeholder {m.group(0)!r} in {what}: left as is"
        for m in _HALF_PLACEHOLDER.finditer(residue)
        if "%" in m.group(0)
    ]
    if not is_url:  # in a URL, %AB%CD is percent-encoding, not a placeholder
        notes += [
            f"unknown placeholder {m.group(0)!r} in {what}: left as is"
            for m in _UNKNOWN_PLACEHOLDER.finditer(residue)
        ]
    return notes


# --- vocabulary tables ---------------------------------------------------------

# <socketType>. "TLS" is deliberately unknown: the draft's own example uses it,
# but Autodiscover's Encryption=TLS means STARTTLS, so guessing could send a
# password in the clear or fail; Thunderbird rejects it too.
_SOCKET_TYPES = {
    "plain": Security.PLAIN,
    "ssl": Security.SSL,
    "starttls": Security.STARTTLS,
}

# <authentication>, canonical spellings (wiki ConfigFileFormat; the draft adds
# http-basic and http-digest for URL-based types). Matched case-insensitively.
AUTH_METHODS = (
    "password-cleartext",
    "password-encrypted",
    "OAuth2",
    "NTLM",
    "GSSAPI",
    "client-IP-address",
    "TLS-client-cert",
    "none",
    "http-basic",
    "http-digest",
)
_AUTH_CANONICAL = {name.lower(): name for name in AUTH_METHODS}
_AUTH_ALIASES = {
    "plain": "password-cleartext",  # readFromXML: "@deprecated", still accepted
    "secure": "password-encrypted",  # readFromXML: "@deprecated", still accepted
    "oauth": "OAuth2",  # the draft's spelling of the same method
    # readFromXML maps it to "no SMTP AUTH"; the server admits the client's
    # IP address after a POP login, which is what client-IP-address says.
    "smtp-after-pop": "client-IP-address",
}
# Draft: "SASL SCRAM-SHA-256-PLUS" names one SASL mechanism.
_SASL_AUTH = re.compile(r"SASL\s+([A-Za-z0-9_-]{1,20})", re.IGNORECASE)

_MAIL_PROTOCOLS = {"imap": Protocol.IMAP, "pop3": Protocol.POP3, "smtp": Protocol.SMTP}
# What Thunderbird's readFromXML takes for mail servers, compared exactly: a value
# it does not take is one it skips, and a server left without one it skips whole.
THUNDERBIRD_SOCKET_TYPES = frozenset({"plain", "SSL", "STARTTLS"})
THUNDERBIRD_INCOMING_AUTH = frozenset(
    {"password-cleartext", "plain", "password-encrypted", "secure", "GSSAPI", "NTLM", "OAuth2"}
)
THUNDERBIRD_OUTGOING_AUTH = THUNDERBIRD_INCOMING_AUTH | {
    "none",
    "client-IP-address",
    "smtp-after-pop",
}
# Draft "type" registry, plus Thunderbird's spelling "activeSync".
_TCP_KINDS = ("imap", "pop3", "smtp", "managesieve")
_URL_KINDS = ("jmap", "ews", "activeSync", "graph", "caldav", "carddav", "webdav")
_EITHER_KINDS = ("xmpp",)
# Thunderbird's readFromXML still reads <incomingServer type="exchange"> (the ISPDB's
# office365.com.xml keeps one "for backwards compatibility"): hostname, port and
# socketType as for IMAP, plus <owaURL>, <ewsURL> (<exchangeURL> in newer releases)
# and <easURL>. We use its URLs.
_LEGACY_EXCHANGE = "exchange"
_EXCHANGE_URLS = ("ewsURL", "exchangeURL", "easURL", "owaURL")
_KINDS = {k.lower(): k for k in (*_TCP_KINDS, *_URL_KINDS, *_EITHER_KINDS, _LEGACY_EXCHANGE)}
_OUTGOING_KINDS = ("smtp",)  # draft: outgoingServer is only used for SMTP today

_URL_SCHEMES = ("https", "http", "wss", "ws")
_LINK_SCHEMES = ("https", "http")
_BOOLEANS = {"true": True, "false": False}

# Elements we know and deliberately do not use: skipped without a note.
_QUIET_PROVIDER_CHILDREN = frozenset({"inputField"})
_QUIET_SERVER_CHILDREN = frozenset({"password"})  # a config must not carry secrets
_QUIET_ROOT_CHILDREN = frozenset({"clientConfigUpdate"})
# Draft: calendars and address books beside emailProvider, used for CalDAV/CardDAV.
_DAV_SECTIONS = {
    ("calendar", "caldav"): "caldav",
    ("addressBook", "carddav"): "carddav",
    ("addressbook", "carddav"): "carddav",
}
# Draft: sections beside emailProvider for other kinds of account.
_OTHER_SECTIONS = frozenset(
    {
        "calendar",
        "addressbook",
        "addressBook",
        "fileShare",
        "chatServer",
        "videoConference",
        "setupServer",
    }
)


# --- helpers -------------------------------------------------------------------


def _local(name: str) -> str:
    """Drop an ElementTree ``{namespace}`` prefix: the format has no namespace."""
    return name.rpartition("}")[2]


def _children(elem: ET.Element) -> Iterable[tuple[str, ET.Element]]:
    for child in elem:
        if isinstance(child.tag, str):
            yield _local(child.tag), child


def _first(elem: ET.Element, name: str) -> ET.Element | None:
    return next((c for n, c in _children(elem) if n == name), None)


def _all(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for n, c in _children(elem) if n == name]


def _text(elem: ET.Element | None) -> str:
    return "" if elem is None or elem.text is None else elem.text.strip()


def _line(elem: ET.Element | None) -> str:
    """Element text on one line: whitespace runs become one space."""
    return "" if elem is None else " ".join("".join(elem.itertext()).split())


def _attr(elem: ET.Element, name: str) -> str | None:
    """An attribute by case-insensitive name (ISPDB writes ``visiturl``)."""
    exact = elem.get(name)
    if exact is not None:  # the usual case, without a walk over every attribute
        return exact.strip()
    wanted = name.lower()
    for key, value in elem.attrib.items():
        if _local(key).lower() == wanted:
            return value.strip()
    return None


def _label(kind: str, where: str | None, port: int | str | None) -> str:
    """``imap imap.example.com:993``; raw text from the file is shown escaped and short."""
    if not where:
        return f"{kind} server"
    shown = _printable(where, 60)
    return (
        f"{kind} {shown}"
        if port is None or port == ""
        else f"{kind} {shown}:{_printable(str(port), 8)}"
    )


def _printable(text: str, limit: int) -> str:
    """``text`` on one line: control and other unprintable characters escaped."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _normalise_host_template(text: str) -> str | None:
    """Like :func:`normalise_hostname`, keeping placeholders such as ``mail.%EMAILDOMAIN%``."""
    if "%" not in text:
        return normalise_hostname(text)
    sample = _PLACEHOLDER.sub(
        lambda m: {"EMAILDOMAIN": "example.com", "EMAILLOCALPART": "user"}.get(m.group(1), "@"),
        text,
    )
    if normalise_hostname(sample) is None:
        return None
    parts = _PLACEHOLDER.split(text.strip().rstrip("."))
    # re.split with one group alternates literal text and placeholder names.
    return "".join(p.lower() if i % 2 == 0 else f"%{p}%" for i, p in enumerate(parts))


def _url(text: str, schemes: tuple[str, ...]) -> str | None:
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in schemes or not parts.netloc or any(c.isspace() for c in text):
        return None
    return text


class _Notes:
    """Collects one-line notes about what was skipped, in document order.

    Each distinct note once (a set, not a search of the list: a document of
    1 MiB can hold 90,000 unknown attributes), and only the first
    :data:`MAX_NOTES`; the others are counted in ``more``.
    """

    def __init__(self, items: Iterable[str] = (), more: int = 0) -> None:
        self.items: list[str] = []
        self.more = more
        self._seen: set[str] = set()
        for note in items:
            self.add(note)

    def add(self, note: str) -> None:
        if note in self._seen:
            return
        self._seen.add(note)
        if len(self.items) < MAX_NOTES:
            self.items.append(note)
        else:
            self.more += 1

    def unknown_attributes(self, elem: ET.Element, known: Iterable[str], where: str) -> None:
        allowed = {k.lower() for k in known}
        for name in elem.attrib:
            key = _local(name)
            if key.lower() not in allowed and key != "lang":  # xml:lang is allowed anywhere
                self.add(f"unknown attribute {key!r} on {where}: ignored")

    def unknown_child(self, name: str, where: str) -> None:
        self.add(f"unknown element <{name}> in {where}: ignored")


# --- parsing ---------------------------------------------------------------------


def parse_client_config(data: bytes, *, source_name: str = "autoconfig document") -> ClientConfig:
    """Read a clientConfig document, or raise :class:`ConfigError` saying why not.

    ``source_name`` (a URL or a file name) starts the error message.
    """
    return parse_client_config_tree(data, source_name=source_name)[0]


def parse_client_config_tree(
    data: bytes, *, source_name: str = "autoconfig document"
) -> tuple[ClientConfig, ET.Element]:
    """:func:`parse_client_config`, and the element tree it read (not to be changed):
    ``advisor lint`` judges the values as written without parsing the bytes twice."""
    root = _parse_xml(data, source_name)
    notes = _Notes()
    notes.unknown_attributes(root, ("version",), "<clientConfig>")
    version = _attr(root, "version")

    shared_oauth2: OAuth2Settings | None = None
    shared_enable: EnableInstructions | None = None
    shared_webmail: str | None = None
    parsed: list[EmailProvider] = []
    dav: list[tuple[str, str]] = []
    for name, child in _children(root):
        if name == "emailProvider":
            parsed.append(_provider(child, notes))
        elif name == "oAuth2":
            shared_oauth2 = shared_oauth2 or _oauth2(child, notes)
        elif name == "enable":
            shared_enable = shared_enable or _enable(child, notes)
        elif name == "webMail":
            shared_webmail = shared_webmail or _webmail(child, notes)
        elif (name, (_attr(child, "type") or "").lower()) in _DAV_SECTIONS:
            kind = _DAV_SECTIONS[(name, (_attr(child, "type") or "").lower())]
            # The draft writes <url>; Thunderbird's older wiki, <serverURL>.
            raw = _text(_first(child, "url")) or _text(_first(child, "serverURL"))
            url = _url(raw, ("https",)) if raw else None
            if url is None or "%EMAIL" in url.upper():
                notes.add(f"<{name} type={kind}> without a plain https serverURL: ignored")
            elif (kind, url) not in dav:
                dav.append((kind, url))
        elif name in _OTHER_SECTIONS:
            kind = _attr(child, "type") or "?"
            notes.add(f"<{name}> section (type {short(kind)}) not used: skipped")
        elif name not in _QUIET_ROOT_CHILDREN:
            notes.unknown_child(name, "<clientConfig>")

    # Thunderbird and the ISPDB put <oAuth2>, <enable> and <webMail> beside
    # <emailProvider>; the draft says its children mean the same at either level.
    providers = [
        replace(
            p,
            oauth2=p.oauth2 or shared_oauth2,
            enable=p.enable or shared_enable,
            web_mail_url=p.web_mail_url or shared_webmail,
        )
        for p in parsed
    ]
    if not providers:
        notes.add("no <emailProvider> in the document: no servers")
    config = ClientConfig(
        version=version,
        providers=tuple(providers),
        ignored=tuple(notes.items),
        more_ignored=notes.more,
        dav=tuple(dav),
    )
    return config, root


def _parse_xml(data: bytes, source_name: str) -> ET.Element:
    def fail(reason: str) -> ConfigError:
        return ConfigError(f"{source_name}: {reason}")

    if len(data) > MAX_CONFIG_BYTES:
        raise fail(f"document larger than 1 MiB ({len(data):,} bytes); refused unread")
    body = data.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    if not body:
        raise fail("the document is empty")
    try:
        root: ET.Element = DefusedET.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden as exc:
        name = _local(str(exc.name or ""))
        if name.lower() == "html":  # <!DOCTYPE html>: a web page, say so plainly
            raise fail("not a clientConfig document: root element is <html>") from None
        raise fail(
            "DOCTYPE declarations are not allowed (they can hide entity bombs"
            " and external entities)"
        ) from None
    except defusedxml.EntitiesForbidden:
        raise fail("entity declarations are not allowed") from None
    except defusedxml.ExternalReferenceForbidden:
        raise fail("external references are not allowed") from None
    except defusedxml.DefusedXmlException as exc:
        raise fail(f"unsafe XML refused: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        root_name = _sniff_root(body)
        if root_name is not None and root_name != "clientConfig":
            raise fail(f"not a clientConfig document: root element is <{root_name}>") from None
        line, column = exc.position
        reason = str(exc).rpartition(": line ")[0] or "not well-formed"
        raise fail(f"XML syntax error at line {line}, column {column + 1}: {reason}") from None
    except LookupError as exc:  # expat defers an unknown declared encoding to codecs
        raise fail(f"unsupported character encoding: {exc}") from None
    root_name = _local(str(root.tag))
    if root_name != "clientConfig":
        raise fail(f"not a clientConfig document: root element is <{root_name}>")
    return root


# The first start tag after the prolog (declaration, comments, DOCTYPE, PIs).
_START_TAG = re.compile(rb"<(?![?!/])([A-Za-z_][A-Za-z0-9_.:-]{0,60})")


def _sniff_root(body: bytes) -> str | None:
    """Name of the first element, to say "this is HTML" rather than "line 7: bad tag"."""
    head = re.sub(rb"<!--.*?-->", b"", body[:8192], flags=re.DOTALL)
    match = _START_TAG.search(head)
    return None if match is None else match.group(1).decode("ascii").rpartition(":")[2]


def _provider(elem: ET.Element, notes: _Notes) -> EmailProvider:
    notes.unknown_attributes(elem, ("id",), "<emailProvider>")
    provider_id = _attr(elem, "id") or ""
    domains: list[str] = []
    incoming: list[ServerConfig] = []
    outgoing: list[ServerConfig] = []
    documentation: list[Documentation] = []
    oauth2 = enable = webmail = None
    where = f"emailProvider {short(provider_id)}"
    for name, child in _children(elem):
        if name == "domain":
            notes.unknown_attributes(child, ("purpose",), "<domain>")
            # purpose="mx" (draft) marks an MX host's domain: informational,
            # and a lookup key all the same.
            domain = normalise_hostname(_text(child))
            if domain is None:
                notes.add(f"invalid <domain> {short(_text(child))} in {where}: ignored")
            elif domain not in domains:
                domains.append(domain)
        elif name in ("displayName", "displayShortName"):
            notes.unknown_attributes(child, (), f"<{name}>")
        elif name == "incomingServer":
            server = _server(child, notes, incoming=True)
            if server is not None:
                incoming.append(server)
        elif name == "outgoingServer":
            server = _server(child, notes, incoming=False)
            if server is not None:
                outgoing.append(server)
        elif name == "documentation":
            doc = _documentation(child, notes)
            if doc is not None:
                documentation.append(doc)
        elif name == "oAuth2":
            oauth2 = oauth2 or _oauth2(child, notes)
        elif name == "enable":
            enable = enable or _enable(child, notes)
        elif name == "webMail":
            webmail = webmail or _webmail(child, notes)
        elif name not in _QUIET_PROVIDER_CHILDREN:
            notes.unknown_child(name, f"<emailProvider id={short(provider_id)}>")
    if not incoming:
        notes.add(f"{where} has no usable incoming server")
    return EmailProvider(
        refusal=_thunderbird_refusal(provider_id, domains, incoming, outgoing),
        id=provider_id or (domains[0] if domains else ""),
        domains=tuple(domains),
        display_name=_line(_first(elem, "displayName")) or None,
        short_name=_line(_first(elem, "displayShortName")) or None,
        incoming=tuple(incoming),
        outgoing=tuple(outgoing),
        documentation=tuple(documentation),
        web_mail_url=webmail,
        oauth2=oauth2,
        enable=enable,
    )


def _thunderbird_refusal(
    provider_id: str,
    domains: list[str],
    incoming: list[ServerConfig],
    outgoing: list[ServerConfig],
) -> str | None:
    """readFromXML throws, and Thunderbird drops the whole file, when the id is not a
    host name (Sanitizer.hostname), no <domain> is valid, or no incoming (pop3, imap,
    exchange) or no SMTP server is usable."""
    if not provider_id or normalise_hostname(provider_id) is None:
        return f"emailProvider id {short(provider_id)} is not a host name"
    if not domains:
        return "no valid <domain>"
    if not any(
        s.protocol in (Protocol.IMAP, Protocol.POP3) or s.kind == "exchange" for s in incoming
    ):
        return "no usable IMAP or POP3 server"
    if not any(s.protocol is Protocol.SMTP for s in outgoing):
        return "no usable SMTP server"
    return None


def _server(elem: ET.Element, notes: _Notes, *, incoming: bool) -> ServerConfig | None:
    section = "incomingServer" if incoming else "outgoingServer"
    raw_kind = _attr(elem, "type")
    notes.unknown_attributes(elem, ("type",), f"<{section}>")
    if not raw_kind:
        notes.add(f"{section} without a type: skipped")
        return None
    kind = _KINDS.get(raw_kind.lower())
    if kind is None:
        notes.add(f"{section} type {short(raw_kind)} not supported: skipped")
        return None
    if incoming == (kind in _OUTGOING_KINDS):
        notes.add(f"{section} type {short(raw_kind)} does not belong in <{section}>: skipped")
        return None
    if kind in _MAIL_PROTOCOLS and raw_kind != kind:
        # readFromXML: Sanitizer.enum(type, ["pop3", "imap", ...]) and == "smtp".
        notes.add(
            f"{section} type {short(raw_kind)} is not {kind!r}, which Thunderbird compares"
            " exactly: skipped"
        )
        return None

    host_text = _text(_first(elem, "hostname"))
    port_text = _text(_first(elem, "port"))
    url_text = _text(_first(elem, "url"))
    socket_values = [v for v in map(_text, _all(elem, "socketType")) if v]
    accepted = None
    if kind in _MAIL_PROTOCOLS:
        accepted = THUNDERBIRD_INCOMING_AUTH if incoming else THUNDERBIRD_OUTGOING_AUTH
    auth, unknown_auth = _auth_methods(_all(elem, "authentication"), notes, accepted)
    tcp = kind in _TCP_KINDS or (kind in _EITHER_KINDS and not url_text)

    hostname = port = security = url = None
    activesync_url: str | None = None
    problem: str | None = None
    if kind == _LEGACY_EXCHANGE:
        urls = {name: _text(_first(elem, name)) for name in _EXCHANGE_URLS}
        url_text = urls["ewsURL"] or urls["exchangeURL"]
        url = _url(url_text, _LINK_SCHEMES) if url_text else None
        activesync_url = _url(urls["easURL"], _LINK_SCHEMES) if urls["easURL"] else None
        hostname = _normalise_host_template(host_text) if host_text else None
        label = _label(kind, hostname or host_text or url_text or None, None)
        if url is None and activesync_url is None:
            problem = f"invalid ewsURL {short(url_text)}" if url_text else "no <ewsURL> or <easURL>"
    elif tcp:
        hostname = _normalise_host_template(host_text) if host_text else None
        if re.fullmatch(r"[0-9]{1,5}", port_text) and 1 <= int(port_text) <= 65535:
            port = int(port_text)
        # Thunderbird takes the first socketType it knows.
        # readFromXML's Sanitizer.translate compares exactly ("ssl" is skipped): so do
        # we for mail servers.
        known_sockets = [
            _SOCKET_TYPES[v.lower()]
            for v in socket_values
            if v.lower() in _SOCKET_TYPES
            and (kind not in _MAIL_PROTOCOLS or v in THUNDERBIRD_SOCKET_TYPES)
        ]
        security = known_sockets[0] if known_sockets else None
        label = _label(kind, hostname or host_text, port if port is not None else port_text)
        if hostname is None:
            problem = f"invalid hostname {short(host_text)}" if host_text else "no <hostname>"
        elif port is None:
            problem = f"invalid port {short(port_text)}" if port_text else "no <port>"
        elif security is None:
            # Without a socketType, guessing "plain" could send a password in the clear.
            problem = (
                f"unknown socketType {short(socket_values[0])}"
                if socket_values
                else "no <socketType>"
            )
    else:
        url = _url(url_text, _URL_SCHEMES) if url_text else None
        label = _label(kind, url_text or None, None)
        problem = None if url else (f"invalid url {short(url_text)}" if url_text else "no <url>")
    if problem is None and unknown_auth and not auth:
        # Draft "Multiple authentication alternatives": when none is supported,
        # the client MUST ignore that server section.
        problem = f"only unknown authentication {', '.join(map(short, unknown_auth))}"
    if problem is None and not auth and kind in _MAIL_PROTOCOLS:
        problem = "no <authentication>"  # readFromXML: "need proper <authentication>"
    if problem is not None:
        notes.add(f"{problem} on {label}: server skipped")
        return None
    for value in unknown_auth:
        notes.add(f"unknown authentication {short(value)} on {label}: ignored")
    if tcp:
        for value in socket_values:
            if value.lower() not in _SOCKET_TYPES or (
                kind in _MAIL_PROTOCOLS and value not in THUNDERBIRD_SOCKET_TYPES
            ):
                notes.add(f"unknown socketType {short(value)} on {label}: ignored")
    if not auth:
        notes.add(f"no <authentication> on {label}: method unknown")
    username = _text(_first(elem, "username")) or None
    for text, what in ((username, "username"), (host_text, "hostname"), (url_text, "url")):
        for note in _placeholder_problems(text or "", f"{what} of {label}", is_url=what == "url"):
            notes.add(note)

    pop3: Pop3Options | None = None
    restriction: list[str] = []
    flags: dict[str, bool | None] = {"addThisServer": None, "useGlobalPreferredServer": None}
    handled = {"hostname", "port", "socketType", "authentication", "username", "url"}
    if kind == _LEGACY_EXCHANGE:
        handled |= set(_EXCHANGE_URLS)
    for name, child in _children(elem):
        if name in handled or name in _QUIET_SERVER_CHILDREN:
            continue
        if name == "pop3" and kind == "pop3":
            pop3 = _pop3(child, notes, label)
        elif name == "restriction":
            value = _text(child)
            if value.lower() == "client-ip-address":
                restriction.append("client-IP-address")
            else:
                notes.add(f"unknown restriction {short(value)} on {label}: ignored")
        elif name in flags:
            flags[name] = _boolean(child, notes, f"<{name}> on {label}")
        else:
            notes.unknown_child(name, label)
    return ServerConfig(
        kind=kind,
        protocol=_MAIL_PROTOCOLS.get(kind),
        hostname=hostname,
        port=port,
        security=security,
        username=username,
        auth=auth,
        url=url,
        activesync_url=activesync_url,
        pop3=pop3,
        restriction=tuple(restriction),
        add_this_server=flags["addThisServer"],
        use_global_preferred_server=flags["useGlobalPreferredServer"],
    )


def _auth_methods(
    elems: list[ET.Element], notes: _Notes, accepted: frozenset[str] | None = None
) -> tuple[tuple[str, ...], list[str]]:
    """Known methods in document order, and the unknown values. ``accepted``: the exact
    words Thunderbird takes for this kind of server; any other value is unknown."""
    known: list[str] = []
    unknown: list[str] = []
    for elem in elems:
        notes.unknown_attributes(elem, ("system",), "<authentication>")
        value = _text(elem)
        if not value:
            continue
        if accepted is not None and value not in accepted:
            unknown.append(value)
            continue
        sasl = _SASL_AUTH.fullmatch(value)
        method = (
            f"SASL {sasl.group(1).upper()}"
            if sasl
            else _AUTH_CANONICAL.get(value.lower()) or _AUTH_ALIASES.get(value.lower())
        )
        if method is None:
            unknown.append(value)
        elif method not in known:
            known.append(method)
    return tuple(known), unknown


def _boolean(elem: ET.Element, notes: _Notes, where: str) -> bool | None:
    value = _BOOLEANS.get(_text(elem).lower())
    if value is None:
        notes.add(f"invalid boolean {short(_text(elem))} in {where}: ignored")
    return value


def _count(text: str, notes: _Notes, where: str) -> int | None:
    if re.fullmatch(r"[0-9]{1,6}", text.strip()):
        return int(text)
    notes.add(f"invalid number {short(text)} in {where}: ignored")
    return None


def _pop3(elem: ET.Element, notes: _Notes, label: str) -> Pop3Options:
    booleans: dict[str, bool | None] = {
        "leaveMessagesOnServer": None,
        "downloadOnBiff": None,
        "deleteMailLeftOnServer": None,
    }
    days = interval = None
    for name, child in _children(elem):
        where = f"<pop3><{name}> on {label}"
        if name in booleans:
            booleans[name] = _boolean(child, notes, where)
        elif name == "daysToLeaveMessagesOnServer":
            days = _count(_text(child), notes, where)
        elif name == "checkInterval":
            notes.unknown_attributes(child, ("minutes",), where)
            interval = _count(_attr(child, "minutes") or _text(child), notes, where)
        else:
            notes.unknown_child(name, f"<pop3> on {label}")
    return Pop3Options(
        leave_messages_on_server=booleans["leaveMessagesOnServer"],
        download_on_biff=booleans["downloadOnBiff"],
        days_to_leave_messages_on_server=days,
        delete_mail_left_on_server=booleans["deleteMailLeftOnServer"],
        check_interval_minutes=interval,
    )


def _localized(elems: list[ET.Element]) -> tuple[LocalizedText, ...]:
    return tuple(LocalizedText(_line(e), _attr(e, "lang") or None) for e in elems if _line(e))


def _checked_children(elem: ET.Element, known: Iterable[str], where: str, notes: _Notes) -> None:
    allowed = set(known)
    for name, _child in _children(elem):
        if name not in allowed:
            notes.unknown_child(name, where)


def _documentation(elem: ET.Element, notes: _Notes) -> Documentation | None:
    notes.unknown_attributes(elem, ("url",), "<documentation>")
    _checked_children(elem, ("descr",), "<documentation>", notes)
    raw = _attr(elem, "url") or ""
    url = _url(raw, _LINK_SCHEMES)
    if url is None:
        notes.add(f"<documentation> with invalid url {short(raw)}: ignored")
        return None
    return Documentation(url, _localized(_all(elem, "descr")))


def _enable(elem: ET.Element, notes: _Notes) -> EnableInstructions | None:
    notes.unknown_attributes(elem, ("visiturl",), "<enable>")
    _checked_children(elem, ("instruction",), "<enable>", notes)
    raw = _attr(elem, "visiturl")
    url = _url(raw, _LINK_SCHEMES) if raw else None
    if raw and url is None:
        notes.add(f"<enable> with invalid visiturl {short(raw)}: url ignored")
    instructions = _localized(_all(elem, "instruction"))
    if url is None and not instructions:
        return None
    return EnableInstructions(url, instructions)


def _webmail(elem: ET.Element, notes: _Notes) -> str | None:
    # loginPageInfo describes a web form for automatic login: known, not used.
    _checked_children(elem, ("loginPage", "loginPageInfo"), "<webMail>", notes)
    page = _first(elem, "loginPage")
    raw = "" if page is None else _attr(page, "url") or ""
    url = _url(raw, _LINK_SCHEMES)
    if raw and url is None:
        notes.add(f"<webMail> with invalid loginPage url {short(raw)}: ignored")
    return url


_OAUTH2_FIELDS: dict[str, Callable[[str], str | None]] = {
    "issuer": lambda v: v or None,
    "scope": lambda v: " ".join(v.split()) or None,
    "authURL": lambda v: _url(v, ("https",)),  # tokens never over plain HTTP
    "tokenURL": lambda v: _url(v, ("https",)),
    "clientID": lambda v: v or None,
}


def _oauth2(elem: ET.Element, notes: _Notes) -> OAuth2Settings | None:
    _checked_children(elem, (*_OAUTH2_FIELDS, "clientSecret"), "<oAuth2>", notes)
    values: dict[str, str | None] = {}
    for name, check in _OAUTH2_FIELDS.items():
        raw = _text(_first(elem, name))
        values[name] = check(raw) if raw else None
        if raw and values[name] is None:
            notes.add(f"invalid <{name}> {short(raw)} in <oAuth2>: ignored")
    missing = [n for n in ("issuer", "scope", "authURL", "tokenURL") if not values[n]]
    if missing:
        notes.add(f"<oAuth2> without {', '.join(f'<{n}>' for n in missing)}: ignored")
        return None
    return OAuth2Settings(
        issuer=values["issuer"] or "",
        scope=values["scope"] or "",
        auth_url=values["authURL"] or "",
        token_url=values["tokenURL"] or "",
        client_id=values["clientID"],
    )
