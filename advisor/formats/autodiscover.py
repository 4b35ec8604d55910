"""Autodiscover "POX" (plain old XML, MS-OXDSCLI): the Outlook request and its response.

The request is what Outlook and Thunderbird send (MS-OXDSCLI §2.2.3 and §4.1);
the response is read as MS-OXDSCLI §2.2.4 describes it, with the lessons of
real traffic:

* Namespaces are ``http://schemas.microsoft.com/...``; Microsoft's web pages
  print ``https://``, and some servers copy that. Both spellings, and no
  namespace at all, are accepted; any other root is refused.
* The bytes come from any web server, often over a hostile path: they are
  capped at :data:`MAX_RESPONSE_BYTES` and parsed with ``defusedxml`` with
  DTDs forbidden, so entity bombs and external entities are refused unread.
* Web hosts answer 200 with an HTML page on every path: that is recognised
  and refused with "HTML page, not Autodiscover".
* Must-ignore: unknown elements and values are skipped; a bad value only
  drops that field, and is noted in :attr:`AutodiscoverResponse.ignored`.

Mapping to our vocabulary (:meth:`AutodiscoverProtocol.security`): MS-OXDSCLI
§2.2.4.1.1.2.6.x: ``Encryption`` (``None``, ``SSL``, ``TLS``, ``Auto``)
overrides ``SSL``; ``TLS`` means STARTTLS (as Outlook's account dialog uses the
words); ``SSL`` ``on`` (the default when absent, §2.2.4.1.1.2.6.44) means
implicit TLS. Thunderbird (``ExchangeAutoDiscover.sys.mjs``) found that many
servers say ``SSL on`` for a STARTTLS port (143, 110, 587, 25), so there
:meth:`AutodiscoverProtocol.endpoints` also names the STARTTLS reading second,
and the live probes decide.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree as DefusedET

from advisor.errors import AdvisorError
from advisor.formats.text import normalise_hostname, short
from advisor.models import Endpoint, Protocol, Security

# A real POX answer is 1-20 KB; 1 MiB (the HTTP client's cap too) bounds the
# memory and parse time a hostile server can cost.
MAX_RESPONSE_BYTES = 1024 * 1024

REQUEST_NAMESPACE: Final = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
)
RESPONSE_SCHEMA: Final = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)
# outlook.com needs exactly this (Thunderbird bug 1454325 comment 15).
CONTENT_TYPE: Final = "text/xml; charset=utf-8"

_SCHEMA_PATHS = (
    "schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
    "schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
    "schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006",
    "schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
)
# Namespaces accepted on the root <Autodiscover>: both spellings, or none.
_ROOT_NAMESPACES = frozenset(
    {""} | {f"{scheme}://{path}" for scheme in ("http", "https") for path in _SCHEMA_PATHS}
)

Action = Literal["settings", "redirectAddr", "redirectUrl"]
_ACTIONS: dict[str, Action] = {
    "settings": "settings",
    "redirectaddr": "redirectAddr",
    "redirecturl": "redirectUrl",
}
Encryption = Literal["None", "SSL", "TLS", "Auto"]
_ENCRYPTIONS: dict[str, Encryption] = {"none": "None", "ssl": "SSL", "tls": "TLS", "auto": "Auto"}
_MAIL_TYPES = {"IMAP": Protocol.IMAP, "POP3": Protocol.POP3, "SMTP": Protocol.SMTP}

# Ports when <Port> is absent. Implicit TLS: RFC 8314 §7 (IMAP 993, POP3 995,
# submissions 465). Otherwise: IMAP 143 (RFC 9051), POP3 110 (RFC 1939) and
# message submission 587 (RFC 6409 §3.1; 25 is for relaying between servers).
DEFAULT_PORTS: Final = {
    (Protocol.IMAP, Security.SSL): 993,
    (Protocol.POP3, Security.SSL): 995,
    (Protocol.SMTP, Security.SSL): 465,
    (Protocol.IMAP, Security.STARTTLS): 143,
    (Protocol.POP3, Security.STARTTLS): 110,
    (Protocol.SMTP, Security.STARTTLS): 587,
    (Protocol.IMAP, Security.PLAIN): 143,
    (Protocol.POP3, Security.PLAIN): 110,
    (Protocol.SMTP, Security.PLAIN): 587,
}
_IMPLICIT_TLS_PORTS = frozenset({993, 995, 465})
# Ports where "SSL on" most likely means STARTTLS (Thunderbird's reading).
_STARTTLS_PORTS = frozenset({143, 110, 587, 25})

_START_TAG = re.compile(rb"<(?![?!/])([A-Za-z_][A-Za-z0-9_.:-]{0,60})")


class AutodiscoverError(AdvisorError):
    """The bytes are not an Autodiscover POX response; ``str()`` says why in one line."""


@dataclass(frozen=True)
class AutodiscoverProtocol:
    """One ``<Protocol>`` of ``<Account>``, as stated (validated, not interpreted)."""

    type: str  # upper case as in the file: EXCH, EXPR, EXHTTP, WEB, IMAP, POP3, SMTP, ...
    server: str | None = None  # IMAP/POP3/SMTP: ASCII host name, lower case; others as written
    port: int | None = None
    ssl: bool | None = None  # <SSL>; None: absent (MS-OXDSCLI default "on")
    encryption: Encryption | None = None  # <Encryption>; overrides ssl
    login_name: str | None = None
    spa: bool | None = None  # Secure Password Authentication (NTLM/Kerberos)
    auth_required: bool | None = None
    domain_required: bool | None = None
    domain_name: str | None = None
    auth_package: str | None = None  # EXPR/EXHTTP: basic, ntlm, negotiate, ...
    ews_url: str | None = None
    # MS-OXDSCLI: ASUrl is the Availability service (free/busy), NOT ActiveSync;
    # the Outlook response schema carries no ActiveSync URL at all.
    as_url: str | None = None
    oab_url: str | None = None
    owa_url: str | None = None  # WEB: External (else Internal) OWAUrl
    server_version: str | None = None

    @property
    def protocol(self) -> Protocol | None:
        return _MAIL_TYPES.get(self.type)

    def security(self) -> Security | None:
        """Our reading for an IMAP/POP3/SMTP protocol (None for the others).

        ``Encryption`` overrides ``SSL``; ``TLS`` is STARTTLS; ``SSL`` on
        (or absent: its default) is implicit TLS. ``Auto`` follows the port.
        """
        if self.protocol is None:
            return None
        if self.encryption == "None":
            return Security.PLAIN
        if self.encryption == "TLS":
            return Security.STARTTLS
        if self.encryption == "SSL":
            return Security.SSL
        if self.encryption == "Auto":
            # "Negotiate the best the server offers": RFC 8314 prefers implicit TLS.
            if self.port is None or self.port in _IMPLICIT_TLS_PORTS:
                return Security.SSL
            return Security.STARTTLS
        return Security.PLAIN if self.ssl is False else Security.SSL

    def endpoint(self) -> Endpoint | None:
        """The server this protocol names, or None if not an IMAP/POP3/SMTP server."""
        found = self.endpoints()
        return found[0] if found else None

    def endpoints(self) -> tuple[Endpoint, ...]:
        """The stated reading first, then a plausible second reading to probe.

        Second readings: ``SSL on`` without ``Encryption`` on a STARTTLS port
        (143/110/587/25) may mean STARTTLS; ``Auto`` means either.
        """
        protocol, security = self.protocol, self.security()
        if protocol is None or security is None or self.server is None:
            return ()
        port = self.port or DEFAULT_PORTS[(protocol, security)]
        first = Endpoint(protocol, self.server, port, security)
        other: Endpoint | None = None
        if self.encryption == "Auto":
            second = Security.STARTTLS if security is Security.SSL else Security.SSL
            other_port = self.port or DEFAULT_PORTS[(protocol, second)]
            other = Endpoint(protocol, self.server, other_port, second)
        elif self.encryption is None and security is Security.SSL and port in _STARTTLS_PORTS:
            other = Endpoint(protocol, self.server, port, Security.STARTTLS)
        return (first,) if other is None else (first, other)


@dataclass(frozen=True)
class AutodiscoverResponse:
    action: Action | None
    redirect: str | None  # RedirectAddr (an address) or RedirectUrl (an https URL)
    error: tuple[str, str] | None  # (ErrorCode, Message), e.g. ("500", "...")
    account_type: str | None  # "email"
    protocols: tuple[AutodiscoverProtocol, ...]
    display_name: str | None = None
    email: str | None = None  # User/AutoDiscoverSMTPAddress
    ignored: tuple[str, ...] = ()  # one line per value we could not use

    @property
    def mail_protocols(self) -> tuple[AutodiscoverProtocol, ...]:
        """IMAP, POP3 and SMTP, in document order (the server's preference)."""
        return tuple(p for p in self.protocols if p.protocol is not None)

    def protocol(self, *types: str) -> AutodiscoverProtocol | None:
        """The first protocol of the first of ``types`` present (``"EXPR", "EXCH"``)."""
        for wanted in types:
            for p in self.protocols:
                if p.type == wanted:
                    return p
        return None

    @property
    def ews_url(self) -> str | None:
        """External first: EXPR (Outlook Anywhere) is what a client outside uses."""
        return next((p.ews_url for p in self._exchange() if p.ews_url), None)

    @property
    def activesync_url(self) -> str | None:
        """Where ActiveSync conventionally lives: ``/Microsoft-Server-ActiveSync`` on the EWS
        host. A candidate for the probe to confirm (the POX answer names no ActiveSync URL)."""
        ews = self.ews_url
        if not ews or "://" not in ews:
            return None
        scheme, rest = ews.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/Microsoft-Server-ActiveSync"

    @property
    def owa_url(self) -> str | None:
        """Outlook on the web (OWA), the mailbox's webmail: WEB first, then EXPR/EXCH."""
        order = {"WEB": 0, "EXPR": 1, "EXHTTP": 2, "EXCH": 3}
        found = sorted((p for p in self.protocols if p.owa_url), key=lambda p: order.get(p.type, 9))
        return found[0].owa_url if found else None

    def _exchange(self) -> list[AutodiscoverProtocol]:
        order = {"EXPR": 0, "EXHTTP": 1, "EXCH": 2, "WEB": 3}
        return sorted((p for p in self.protocols if p.type in order), key=lambda p: order[p.type])


# ---------------------------------------------------------------- request


def request_body(email: str) -> bytes:
    """The POX request Outlook sends for ``email`` (MS-OXDSCLI §4.1)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{REQUEST_NAMESPACE}">\n'
        "  <Request>\n"
        f"    <EMailAddress>{escape(email)}</EMailAddress>\n"
        f"    <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\n"
        "  </Request>\n"
        "</Autodiscover>\n"
    ).encode()


# ---------------------------------------------------------------- response


def parse_response(data: bytes) -> AutodiscoverResponse:
    """Read a POX response or raise :class:`AutodiscoverError` with a one-line reason."""
    root = _parse_xml(data)
    notes: list[str] = []
    response = _first(root, "Response")
    if response is None:
        raise AutodiscoverError("Autodiscover document without <Response>")
    user = _first(response, "User")
    account = _first(response, "Account")
    error = _error(_first(response, "Error"))
    if error is None and account is not None:
        error = _error(_first(account, "Error"))
    display_name = _text(_first(user, "DisplayName")) or None
    email = _text(_first(user, "AutoDiscoverSMTPAddress")) or None

    action: Action | None = None
    redirect: str | None = None
    account_type: str | None = None
    protocols: list[AutodiscoverProtocol] = []
    if account is not None:
        account_type = _text(_first(account, "AccountType")) or None
        actions = [_text(e) for e in _all(account, "Action") if _text(e)]
        if actions:
            action = _ACTIONS.get(actions[0].lower())
            if action is None:
                notes.append(f"unknown <Action> {short(actions[0])}: ignored")
            if len(set(actions)) > 1:
                notes.append(f"several <Action> values {actions!r}: the first is used")
        addr = _text(_first(account, "RedirectAddr")) or None
        url = _text(_first(account, "RedirectUrl")) or None
        if action is None and (addr or url):
            action = "redirectAddr" if addr else "redirectUrl"
            element = "RedirectAddr" if addr else "RedirectUrl"
            notes.append(f"no usable <Action>: {action} assumed from <{element}>")
        if action == "redirectAddr":
            redirect = addr if addr and _looks_like_address(addr) else None
            if redirect is None:
                notes.append(f"invalid <RedirectAddr> {short(addr or '')}: ignored")
        elif action == "redirectUrl":
            redirect = _url(url or "")
            if redirect is None:
                notes.append(f"invalid <RedirectUrl> {short(url or '')}: ignored")
        for elem in _all(account, "Protocol"):
            protocol = _protocol(elem, notes)
            if protocol is not None:
                protocols.append(protocol)
        if action is None and protocols:
            action = "settings"
    if account is None and error is None:
        raise AutodiscoverError("Autodiscover <Response> with neither <Account> nor <Error>")
    return AutodiscoverResponse(
        action=action,
        redirect=redirect,
        error=error,
        account_type=account_type,
        protocols=tuple(protocols),
        display_name=display_name,
        email=email,
        ignored=tuple(dict.fromkeys(notes)),
    )


def _parse_xml(data: bytes) -> ET.Element:
    if len(data) > MAX_RESPONSE_BYTES:
        raise AutodiscoverError(f"answer larger than 1 MiB ({len(data):,} bytes): refused unread")
    body = data.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    if not body:
        raise AutodiscoverError("empty answer, not Autodiscover")
    sniffed = _sniff_root(body)
    if (sniffed or "").lower() == "html" or re.match(rb"(?i)<!doctype\s+html", body):
        raise AutodiscoverError("HTML page, not Autodiscover")
    if not body.startswith(b"<"):
        what = "JSON" if body[:1] in (b"{", b"[") else "text"
        raise AutodiscoverError(f"{what}, not Autodiscover XML")
    try:
        root: ET.Element = DefusedET.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise AutodiscoverError(
            "DOCTYPE declaration refused (it can hide entity bombs and external entities)"
        ) from None
    except defusedxml.EntitiesForbidden:
        raise AutodiscoverError("entity declarations refused") from None
    except defusedxml.DefusedXmlException as exc:
        raise AutodiscoverError(f"unsafe XML refused: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise AutodiscoverError(
            f"not well-formed XML (line {line}, column {column + 1}), not Autodiscover"
        ) from None
    except (LookupError, ValueError) as exc:  # unknown declared encoding, bad characters
        raise AutodiscoverError(f"unreadable XML ({exc}), not Autodiscover") from None
    namespace, name = _split(str(root.tag))
    if name.lower() == "html":
        raise AutodiscoverError("HTML page, not Autodiscover")
    if name != "Autodiscover":
        raise AutodiscoverError(f"XML document <{name[:40]}>, not Autodiscover")
    if namespace not in _ROOT_NAMESPACES:
        raise AutodiscoverError(f"<Autodiscover> in unknown namespace {short(namespace, 80)}")
    return root


def _protocol(elem: ET.Element, notes: list[str]) -> AutodiscoverProtocol | None:
    # <Type> is a child in MS-OXDSCLI; Exchange 2013+ also writes
    # <Protocol Type="mapiHttp" Version="1"> with an attribute.
    kind = (_text(_first(elem, "Type")) or elem.attrib.get("Type", "")).strip().upper()
    if not kind:
        notes.append("<Protocol> without <Type>: ignored")
        return None
    where = f"{kind} protocol"
    mail = kind in _MAIL_TYPES
    server_text = _text(_first(elem, "Server"))
    if mail:
        server = normalise_hostname(server_text) if server_text else None
        if server_text and server is None:
            notes.append(f"invalid <Server> {short(server_text)} in {where}: ignored")
    else:
        # EXCH names a mailbox GUID@domain since Exchange 2013: kept as written.
        server = server_text[:255] if server_text.isprintable() and server_text else None
    port_text = _text(_first(elem, "Port"))
    port = int(port_text) if re.fullmatch(r"[0-9]{1,5}", port_text) else None
    if port is not None and not 1 <= port <= 65535:
        port = None
    if port_text and port is None and mail:  # EXCH writes <Port>0</Port>
        notes.append(f"invalid <Port> {short(port_text)} in {where}: ignored")
    encryption_text = _text(_first(elem, "Encryption"))
    encryption = _ENCRYPTIONS.get(encryption_text.lower()) if encryption_text else None
    if encryption_text and encryption is None:
        notes.append(f"unknown <Encryption> {short(encryption_text)} in {where}: ignored")

    def flag(name: str) -> bool | None:
        text = _text(_first(elem, name))
        if not text:
            return None
        value = {"on": True, "off": False, "true": True, "false": False}.get(text.lower())
        if value is None:
            notes.append(f"invalid <{name}> {short(text)} in {where}: ignored")
        return value

    def url(name: str, parent: ET.Element = elem) -> str | None:
        text = _text(_first(parent, name))
        value = _url(text) if text else None
        if text and value is None:
            notes.append(f"invalid <{name}> {short(text)} in {where}: ignored")
        return value

    owa_url = None
    for section in ("External", "Internal"):
        block = _first(elem, section)
        if block is not None and owa_url is None:
            owa_url = url("OWAUrl", block)
    protocol = AutodiscoverProtocol(
        type=kind,
        server=server,
        port=port,
        ssl=flag("SSL"),
        encryption=encryption,
        login_name=_text(_first(elem, "LoginName")) or None,
        spa=flag("SPA"),
        auth_required=flag("AuthRequired"),
        domain_required=flag("DomainRequired"),
        domain_name=_text(_first(elem, "DomainName")) or None,
        auth_package=_text(_first(elem, "AuthPackage")) or None,
        ews_url=url("EwsUrl"),
        as_url=url("ASUrl"),
        oab_url=url("OABUrl"),
        owa_url=owa_url,
        server_version=_text(_first(elem, "ServerVersion")) or None,
    )
    if protocol.protocol is not None and server is None:
        notes.append(f"{where} without a usable <Server>: no server named")
    return protocol


def _error(elem: ET.Element | None) -> tuple[str, str] | None:
    if elem is None:
        return None
    code = _text(_first(elem, "ErrorCode")) or "?"
    message = " ".join(_text(_first(elem, "Message")).split()) or "no message"
    return (code[:20], message[:200])


# ---------------------------------------------------------------- helpers


def _split(tag: str) -> tuple[str, str]:
    """``{namespace}name`` -> (namespace, name)."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _children(elem: ET.Element) -> Iterable[tuple[str, ET.Element]]:
    for child in elem:
        if isinstance(child.tag, str):
            yield _split(child.tag)[1], child


# Element names are matched without regard to case: servers write both MS-OXDSCLI's
# RedirectUrl and the RedirectURL exchangelib reads (its POX model, exchangelib 4.x).
def _first(elem: ET.Element | None, name: str) -> ET.Element | None:
    if elem is None:
        return None
    wanted = name.lower()
    return next((c for n, c in _children(elem) if n.lower() == wanted), None)


def _all(elem: ET.Element, name: str) -> list[ET.Element]:
    wanted = name.lower()
    return [c for n, c in _children(elem) if n.lower() == wanted]


def _text(elem: ET.Element | None) -> str:
    return "" if elem is None or elem.text is None else elem.text.strip()


def _sniff_root(body: bytes) -> str | None:
    """Name of the first element, to say "HTML page" rather than "line 7: bad tag"."""
    head = re.sub(rb"<!--.*?-->", b"", body[:8192], flags=re.DOTALL)
    match = _START_TAG.search(head)
    return None if match is None else match.group(1).decode("ascii").rpartition(":")[2]


def _url(text: str) -> str | None:
    """An http(s) URL with a host, without spaces; else None."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(c.isspace() or ord(c) < 32 for c in text):
        return None
    return text


def _looks_like_address(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in text))
