"""``advisor lint``: what is wrong in an autoconfig file that no XML parser finds.

A ``clientConfig`` file can be well-formed and valid against the draft's
RELAX NG schema (every content model there is "any of these, in any order",
and every value is text) and still send a client to the wrong port, put a
password on the wire in clear text or break the user name. These checks read
the file the way :func:`advisor.formats.mozilla.parse_client_config` does
(same safety limits; a document it refuses is one ``parse`` error) and then
judge its values.

Errors (the file is broken for some client, or lies about a server):

=================  ==============================================================
``parse``          not a clientConfig document we can read (the parser's message)
``port-security``  socketType contradicts the port: implicit-TLS ports 993, 995,
                   465 need ``SSL`` (RFC 8314 §7); 143, 110, 587, 25 start in
                   plain text and need ``STARTTLS`` or ``plain`` (RFC 2595,
                   RFC 3207, RFC 6409)
``port-protocol``  a protocol on another protocol's well-known port (POP3 on 993)
``placeholder``    ``%EMAILADDRESS`` without its closing ``%``, an unknown
                   ``%FOO%``, a lower-case ``%emailaddress%``, or a placeholder
                   other than ``%EMAILDOMAIN%`` in a host name
``host``           not a host name (RFC 1123 letters, digits, hyphens; no IDN
                   U-label: Thunderbird's ``Sanitizer.hostname`` has no IDN)
``port``           no port, or not 1-65535 (schema: ``positiveInteger``)
``socket-type``    no socketType a client knows (``SSL``, ``STARTTLS``, ``plain``)
``auth``           only unknown authentication values: clients skip the server
``server-type``    an SMTP server in ``incomingServer`` or the reverse
``no-incoming``    a provider with no usable incoming server
``no-outgoing``    IMAP/POP3 but no usable SMTP server
``domain``         no valid ``<domain>`` (Thunderbird: "need proper <domain>")
``provider-id``    ``emailProvider id`` missing or not a host name (Thunderbird
                   runs ``Sanitizer.hostname`` on it and refuses the whole file)
=================  ==============================================================

Warnings (legal, but worth a look): ``non-standard-port``, ``plaintext-first``
(the preferred server of a direction is unencrypted), ``host-ip`` (an IP
address: certificates name hosts), ``host-not-fqdn``, ``spelling`` (a value
Thunderbird matches case-sensitively, e.g. ``ssl``, or the draft's ``OAuth``),
``deprecated`` (``plain``/``secure`` authentication, readFromXML
"@deprecated"), ``auth`` and ``socket-type`` (an unknown value beside a known
one), ``display-name`` (longer than the draft's limits of 60 and 20
characters) and ``ignored``: every note of the parser's must-ignore reading
that is not already one of the findings above.

Each distinct finding is listed once and at most :data:`MAX_FINDINGS` of each
kind are (``more``: how many others there were), so a hostile document of
1 MiB lints in linear time and prints a readable report.

Every message is one line; values from the file are shown escaped and short.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final
from typing import Protocol as Protocol_

from advisor.formats.autodiscover import (
    DEFAULT_PORTS,
    AutodiscoverError,
    AutodiscoverProtocol,
    parse_response,
)
from advisor.formats.mozilla import (
    AUTH_METHODS,
    THUNDERBIRD_INCOMING_AUTH,
    THUNDERBIRD_OUTGOING_AUTH,
    ClientConfig,
    ConfigError,
    EmailProvider,
    parse_client_config_tree,
)
from advisor.models import Protocol, Security

# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    code: str  # stable, kebab-case: see the module docstring
    message: str  # one line for people
    where: str  # "emailProvider[1]/incomingServer[2]", "emailProvider[1]" or "clientConfig"


@dataclass(frozen=True)
class LintReport:
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


# --- vocabulary ---------------------------------------------------------------------------

# Well-known ports: RFC 8314 §7 (implicit TLS: imaps 993, pop3s 995,
# submissions 465); RFC 9051 (imap 143), RFC 1939 (pop3 110), RFC 6409
# (submission 587) and RFC 5321 (smtp 25) start in plain text and upgrade with
# STARTTLS (RFC 2595, RFC 3207).
_IMPLICIT_TLS: Final = {993: Protocol.IMAP, 995: Protocol.POP3, 465: Protocol.SMTP}
_STARTS_PLAIN: Final = {
    143: Protocol.IMAP,
    110: Protocol.POP3,
    587: Protocol.SMTP,
    25: Protocol.SMTP,
}
_PORT_NAMES: Final = {
    993: "IMAPS, IMAP over implicit TLS (RFC 8314 §7)",
    995: "POP3S, POP3 over implicit TLS (RFC 8314 §7)",
    465: "submissions, SMTP over implicit TLS (RFC 8314 §7)",
    143: "IMAP, which starts in plain text and upgrades with STARTTLS (RFC 2595)",
    110: "POP3, which starts in plain text and upgrades with STLS (RFC 2595)",
    587: "submission, which starts in plain text and upgrades with STARTTLS (RFC 6409, RFC 3207)",
    25: "SMTP relay, which starts in plain text and upgrades with STARTTLS (RFC 3207)",
}
_STANDARD_PORTS: Final = {
    Protocol.IMAP: "143 or 993",
    Protocol.POP3: "110 or 995",
    Protocol.SMTP: "587, 465 or 25",
}
_ARTICLE: Final = {Protocol.IMAP: "an", Protocol.POP3: "a", Protocol.SMTP: "an"}
_MAIL_KINDS: Final = {"imap": Protocol.IMAP, "pop3": Protocol.POP3, "smtp": Protocol.SMTP}
# The parser's server types (draft "type" registry plus Thunderbird's activeSync),
# lower case: TCP-based, URL-based, and xmpp (either, by the presence of <url>).
_TCP_KINDS: Final = frozenset({"imap", "pop3", "smtp", "managesieve"})
_URL_KINDS: Final = frozenset({"jmap", "ews", "activesync", "graph", "caldav", "carddav", "webdav"})

# <socketType>, in Thunderbird's exact spelling (readFromXML compares with ==).
_SOCKET_TYPES: Final = {"SSL": Security.SSL, "STARTTLS": Security.STARTTLS, "plain": Security.PLAIN}
_SOCKET_BY_LOWER: Final = {k.lower(): k for k in _SOCKET_TYPES}

_AUTH_BY_LOWER: Final = {a.lower(): a for a in AUTH_METHODS}
# readFromXML accepts these with a "@deprecated TODO remove" comment.
_DEPRECATED_AUTH: Final = {"plain": "password-cleartext", "secure": "password-encrypted"}
# Accepted quietly: readFromXML maps it to "no SMTP AUTH".
_OTHER_AUTH: Final = frozenset({"smtp-after-pop"})
_SASL_AUTH: Final = re.compile(r"SASL\s+[A-Za-z0-9_-]{1,20}", re.IGNORECASE)

# Draft "Placeholders"; %REALNAME% is Thunderbird's addition.
_PLACEHOLDER_NAMES: Final = ("EMAILADDRESS", "EMAILLOCALPART", "EMAILDOMAIN", "REALNAME")
_PLACEHOLDER: Final = re.compile("%(" + "|".join(_PLACEHOLDER_NAMES) + ")%")
_HALF_PLACEHOLDER: Final = re.compile("%?(?:" + "|".join(_PLACEHOLDER_NAMES) + ")%?")
_ANY_PLACEHOLDER: Final = re.compile(r"%[A-Za-z][A-Za-z0-9_]*%")

_LDH_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

# Draft "displayName and displayShortName": MUST be no longer than these.
_DISPLAY_NAME_MAX, _SHORT_NAME_MAX = 60, 20

MAX_FINDINGS: Final = 100  # errors, and warnings, listed; the rest are counted

# Parser notes that a check here already reports, with a better place and words.
_COVERED_NOTES: Final = re.compile(
    r"(?:malformed placeholder|unknown placeholder|unknown authentication"
    r"|only unknown authentication|invalid hostname|no <hostname>|invalid port|no <port>"
    r"|unknown socketType|no <socketType>|no <emailProvider>)"
    r"|.*(?:does not belong in <\w+>: skipped|has no usable incoming server)$"
)


# --- the walk over the document ---------------------------------------------------------


@dataclass
class _Findings:
    """Each distinct finding once (a set: a hostile document makes tens of thousands),
    the first :data:`MAX_FINDINGS` of each kind listed, the others counted."""

    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    more: int = 0
    _seen: set[Finding] = field(default_factory=set)

    def _add(self, into: list[Finding], finding: Finding) -> None:
        if finding in self._seen:
            return
        self._seen.add(finding)
        if len(into) < MAX_FINDINGS:
            into.append(finding)
        else:
            self.more += 1

    def error(self, code: str, where: str, message: str) -> None:
        self._add(self.errors, Finding(code, _one_line(message), where))

    def warn(self, code: str, where: str, message: str) -> None:
        self._add(self.warnings, Finding(code, _one_line(message), where))

    def report(self, root: str) -> LintReport:
        warnings = tuple(self.warnings)
        if self.more:
            warnings += (Finding("more", f"{self.more} more findings, not listed", root),)
        return LintReport(errors=tuple(self.errors), warnings=warnings)


@dataclass(frozen=True)
class _Section:
    """One raw ``incomingServer`` / ``outgoingServer`` element, as written."""

    where: str
    element: str
    kind: str  # the type attribute, lower case
    raw_kind: str  # the type attribute as written
    hostname: str | None
    port: str | None
    sockets: tuple[str, ...]
    auths: tuple[str, ...]
    username: str | None
    url: str | None

    @property
    def label(self) -> str:
        host = self.hostname or self.url or "server"
        return f"{self.kind} {_bare(host, 60)}" + (f":{_bare(self.port, 8)}" if self.port else "")

    @property
    def tcp(self) -> bool:
        return self.kind in _TCP_KINDS or (self.kind == "xmpp" and not self.url)


def lint(data: bytes, *, name: str) -> LintReport:
    """Check one autoconfig document, or an Autodiscover POX answer (what
    ``advisor autoconfig --format autodiscover`` writes); ``name`` starts a parse
    error's message."""
    if _root_name(data) == "Autodiscover":
        return lint_pox(data)
    try:
        # The tree the parser read (under its limits: size, no DTD, no entities):
        # the checks see the values exactly as written.
        config, root = parse_client_config_tree(data, source_name=name)
    except ConfigError as exc:
        return LintReport(
            errors=(Finding("parse", _one_line(str(exc)), "clientConfig"),), warnings=()
        )
    found = _Findings()
    providers = [elem for tag, elem in _children(root) if tag == "emailProvider"]
    if not providers:
        found.error("no-incoming", "clientConfig", "no <emailProvider>: the file names no server")
    for index, elem in enumerate(providers, start=1):
        where = f"emailProvider[{index}]"
        parsed = config.providers[index - 1] if index <= len(config.providers) else None
        _check_provider(elem, parsed, where, found)
    _parser_notes(config, found)
    return found.report("clientConfig")


def _check_provider(
    elem: ET.Element, parsed: EmailProvider | None, where: str, found: _Findings
) -> None:
    provider_id = _attr(elem, "id")
    if provider_id is None:
        found.error("provider-id", where, "<emailProvider> has no id attribute (schema: required)")
    elif (problem := _host_problem(provider_id)) is not None and problem[0] == "error":
        found.error(
            "provider-id",
            where,
            f"emailProvider id {_show(provider_id)} is not a host name: Thunderbird runs"
            " Sanitizer.hostname on it and refuses the whole file",
        )
    if parsed is not None and not parsed.domains:
        found.error(
            "domain", where, "no valid <domain>: Thunderbird refuses the file (readFromXML)"
        )
    for tag, limit in (("displayName", _DISPLAY_NAME_MAX), ("displayShortName", _SHORT_NAME_MAX)):
        for _name, child in (c for c in _children(elem) if c[0] == tag):
            text = " ".join("".join(child.itertext()).split())
            if len(text) > limit:
                found.warn(
                    "display-name",
                    where,
                    f"<{tag}> has {len(text)} characters; the draft allows at most {limit}",
                )

    sections = list(_sections(elem, where))
    for section in sections:
        _check_section(section, found)
    _check_order(sections, found)
    if parsed is not None:
        _check_completeness(parsed, where, found)


def _sections(provider: ET.Element, where: str) -> Iterator[_Section]:
    counts = {"incomingServer": 0, "outgoingServer": 0}
    for tag, elem in _children(provider):
        if tag not in counts:
            continue
        counts[tag] += 1

        def texts(name: str, elem: ET.Element = elem) -> tuple[str, ...]:
            return tuple(_text(c) for t, c in _children(elem) if t == name)

        def first(name: str, elem: ET.Element = elem) -> str | None:
            values = [_text(c) for t, c in _children(elem) if t == name]
            return values[0] if values else None

        yield _Section(
            where=f"{where}/{tag}[{counts[tag]}]",
            element=tag,
            kind=(_attr(elem, "type") or "").lower(),
            raw_kind=_attr(elem, "type") or "",
            hostname=first("hostname"),
            port=first("port"),
            sockets=tuple(v for v in texts("socketType") if v),
            auths=tuple(v for v in texts("authentication") if v),
            username=first("username"),
            url=first("url"),
        )


# --- one server section ----------------------------------------------------------------


def _check_section(s: _Section, found: _Findings) -> None:
    known = s.kind in _TCP_KINDS or s.kind in _URL_KINDS or s.kind == "xmpp"
    if not known:
        return  # no type, or one nobody knows: the parser's note says so
    if (s.element == "outgoingServer") != (s.kind == "smtp"):
        found.error(
            "server-type",
            s.where,
            f"{s.label}: type {_show(s.raw_kind)} does not belong in <{s.element}>;"
            " clients skip the server",
        )
        return
    if s.kind in _MAIL_KINDS and s.raw_kind != s.kind:
        # readFromXML: Sanitizer.enum(type, ["pop3", "imap", ...]) and "smtp" compare exactly.
        found.error(
            "spelling",
            s.where,
            f"{s.label}: type {_show(s.raw_kind)} is written {s.kind} in the format;"
            " Thunderbird compares exactly and skips the server",
        )
        return
    for value, what in ((s.username, "username"), (s.url, "url")):
        if value:
            _placeholder_findings(value, f"{s.label}: {what}", s.where, found, url=what == "url")
    _check_auth(s, found)
    if not s.tcp:
        return
    if not s.hostname:
        found.error("host", s.where, f"{s.label}: no <hostname>")
    else:
        _check_host(s.hostname, s, found)
    port = _port(s, found)
    security = _security(s, found)
    protocol = _MAIL_KINDS.get(s.kind)
    if port is not None and protocol is not None:
        _check_port(s, protocol, port, security, found)


def _port(s: _Section, found: _Findings) -> int | None:
    if not s.port:
        found.error("port", s.where, f"{s.label}: no <port>")
        return None
    if re.fullmatch(r"[0-9]{1,5}", s.port) and 1 <= int(s.port) <= 65535:
        return int(s.port)
    found.error("port", s.where, f"{s.label}: port {_show(s.port)} is not a number from 1 to 65535")
    return None


def _security(s: _Section, found: _Findings) -> Security | None:
    """The socketType a client uses: the first one it knows (readFromXML), spelled
    exactly on a mail server (Thunderbird's Sanitizer.translate compares with ==)."""
    chosen: Security | None = None
    unknown: list[str] = []
    spelled: list[tuple[str, str]] = []
    mail = s.kind in _MAIL_KINDS
    for value in s.sockets:
        canonical = _SOCKET_BY_LOWER.get(value.lower())
        if canonical is None:
            unknown.append(value)
            continue
        if value != canonical:
            spelled.append((value, canonical))
            if mail:
                continue
        if chosen is None:
            chosen = _SOCKET_TYPES[canonical]
    for value, canonical in spelled:
        message = (
            f"{s.label}: socketType {_show(value)} is written {canonical} in the format;"
            " Thunderbird compares exactly and skips other spellings"
        )
        if chosen is None:
            found.error("spelling", s.where, f"{message}, and so the server")
        else:
            found.warn("spelling", s.where, message)
    if spelled and chosen is None:
        return None
    listed = ", ".join(_show(v) for v in unknown)
    if chosen is None:
        found.error(
            "socket-type",
            s.where,
            f"{s.label}: no usable socketType"
            + (f" ({listed} is not SSL, STARTTLS or plain)" if unknown else "")
            + "; clients skip the server",
        )
    elif unknown:
        found.warn("socket-type", s.where, f"{s.label}: unknown socketType {listed} is ignored")
    return chosen


def _check_auth(s: _Section, found: _Findings) -> None:
    """Mail servers: Thunderbird's readFromXML takes its own words, compared exactly,
    and skips a server left without one (incoming servers take no ``none``); other
    kinds: the draft's words."""
    mail = s.kind in _MAIL_KINDS
    outgoing = s.element == "outgoingServer"
    accepted = (
        (THUNDERBIRD_OUTGOING_AUTH if outgoing else THUNDERBIRD_INCOMING_AUTH) if mail else None
    )
    usable = 0
    spelled: list[tuple[str, str]] = []  # (as written, as Thunderbird spells it)
    refused: list[str] = []  # words of the format Thunderbird does not take here
    unknown: list[str] = []
    for value in s.auths:
        lower = value.lower()
        exact = value in AUTH_METHODS or value in _OTHER_AUTH or value in _DEPRECATED_AUTH
        if (accepted is not None and value in accepted) or (
            accepted is None and (exact or _SASL_AUTH.fullmatch(value))
        ):
            usable += 1
            if value in _DEPRECATED_AUTH:
                found.warn(
                    "deprecated",
                    s.where,
                    f"{s.label}: authentication {_show(value)} is deprecated; write"
                    f" {_DEPRECATED_AUTH[value]}",
                )
        elif not exact and (
            lower in _AUTH_BY_LOWER
            or lower == "oauth"
            or lower in _DEPRECATED_AUTH
            or lower in _OTHER_AUTH
        ):
            canonical = _AUTH_BY_LOWER.get(lower) or (
                "OAuth2" if lower == "oauth" else _DEPRECATED_AUTH.get(lower, lower)
            )
            spelled.append((value, canonical))
        elif exact or _SASL_AUTH.fullmatch(value):
            refused.append(value)
        else:
            unknown.append(value)
    skipped = "Thunderbird skips the server (readFromXML)"
    for value, canonical in spelled:
        message = (
            f"{s.label}: authentication {_show(value)}: Thunderbird and the ISPDB write"
            f" {canonical} and Thunderbird compares exactly"
        )
        if usable or not mail:
            found.warn("spelling", s.where, message)
        else:
            found.error("spelling", s.where, f"{message}: {skipped}")
    if refused:
        listed = ", ".join(_show(v) for v in refused)
        side = "an outgoing" if outgoing else "an incoming"
        message = f"{s.label}: Thunderbird does not take {listed} for {side} mail server"
        if usable:
            found.warn("auth", s.where, f"{message}: ignored")
        elif not spelled:
            found.error("auth", s.where, f"{message}: {skipped}")
    if unknown:
        listed = ", ".join(_show(v) for v in unknown)
        if usable or spelled or refused:
            found.warn("auth", s.where, f"{s.label}: unknown authentication {listed} is ignored")
        else:
            found.error(
                "auth",
                s.where,
                f"{s.label}: only unknown authentication {listed}; clients skip the server"
                ' (draft, "Multiple authentication alternatives")',
            )
    if mail and not s.auths:
        found.error(
            "auth",
            s.where,
            f"{s.label}: no <authentication>: {skipped}, which needs one (the draft's"
            " clients assume a password)",
        )


class _Located(Protocol_):
    @property
    def label(self) -> str: ...
    @property
    def where(self) -> str: ...


def _check_port(
    s: _Located, protocol: Protocol, port: int, security: Security | None, found: _Findings
) -> None:
    owner = _IMPLICIT_TLS.get(port) or _STARTS_PLAIN.get(port)
    if owner is None:
        found.warn(
            "non-standard-port",
            s.where,
            f"{s.label}: port {port} is not a standard {protocol.value.upper()} port"
            f" ({_STANDARD_PORTS[protocol]}): check it with the provider",
        )
        return
    if owner is not protocol:
        found.error(
            "port-protocol",
            s.where,
            f"{s.label}: port {port} is {_PORT_NAMES[port]}, not"
            f" {_ARTICLE[protocol]} {protocol.value.upper()} port ({_STANDARD_PORTS[protocol]})",
        )
    if security is None:
        return
    if port in _IMPLICIT_TLS and security is not Security.SSL:
        found.error(
            "port-security",
            s.where,
            f"{s.label}: port {port} is {_PORT_NAMES[port]}, but socketType is"
            f" {_socket_word(security)}: the connection cannot work",
        )
    elif port in _STARTS_PLAIN and security is Security.SSL:
        found.error(
            "port-security",
            s.where,
            f"{s.label}: port {port} is {_PORT_NAMES[port]}, but socketType is SSL:"
            " the TLS handshake meets a plain-text greeting",
        )


def _socket_word(security: Security) -> str:
    return {Security.SSL: "SSL", Security.STARTTLS: "STARTTLS", Security.PLAIN: "plain"}[security]


# --- host names and placeholders ------------------------------------------------------------


def _check_host(text: str, s: _Section, found: _Findings) -> None:
    what = f"{s.label}: hostname"
    if "%" in text:
        _placeholder_findings(text, what, s.where, found, url=False)
        for match in _PLACEHOLDER.finditer(text):
            if match.group(1) != "EMAILDOMAIN":
                found.error(
                    "placeholder",
                    s.where,
                    f"{what} {_show(text)}: only %EMAILDOMAIN% can stand in a host name",
                )
        if not _whole_labels(text, "%EMAILDOMAIN%"):
            found.error(
                "placeholder",
                s.where,
                f"{what} {_show(text)}: %EMAILDOMAIN% must stand for whole labels"
                " (mail.%EMAILDOMAIN%)",
            )
        sample = _PLACEHOLDER.sub(
            lambda m: "example.com" if m.group(1) == "EMAILDOMAIN" else "x", text
        )
        if "%" in sample:
            return  # already reported as a placeholder problem
    else:
        sample = text
    problem = _host_problem(sample)
    if problem is None:
        return
    severity, code, why = problem
    message = f"{what} {_show(text)} {why}"
    if severity == "error":
        found.error(code, s.where, message)
    else:
        found.warn(code, s.where, message)


def _whole_labels(text: str, token: str) -> bool:
    """Every ``token`` in ``text`` stands for whole dot-separated labels."""
    for match in re.finditer(re.escape(token), text):
        before = text[match.start() - 1] if match.start() else "."
        after = text[match.end()] if match.end() < len(text) else "."
        if before != "." or after != ".":
            return False
    return True


def _host_problem(name: str) -> tuple[str, str, str] | None:
    """``(severity, code, why)`` when ``name`` is not a plain DNS host name."""
    name = name.strip()
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        return (
            "warning",
            "host-ip",
            "is an IP address: certificates name hosts, so TLS validation fails,"
            " and the address may change"
            + ("; advisor's own reader skips IPv6 literals" if address.version == 6 else ""),
        )
    if not name:
        return "error", "host", "is empty"
    if not name.isascii():
        try:
            import idna

            a_label = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return "error", "host", "is not a valid host name"
        return (
            "error",
            "host",
            f"is not ASCII: write the A-label {a_label} (Thunderbird's Sanitizer.hostname"
            " has no IDN support)",
        )
    labels = name.split(".")
    if len(name) > 253 or not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return (
            "error",
            "host",
            "is not a valid host name (RFC 1123: labels of 1-63 letters, digits and"
            " inner hyphens, 253 characters at most)",
        )
    if labels[-1].isdigit():
        return "error", "host", "is not a valid host name (its last label is a number)"
    if len(labels) == 1:
        return (
            "warning",
            "host-not-fqdn",
            'is not fully qualified (draft: "the fully qualified hostname")',
        )
    return None


def _placeholder_findings(text: str, what: str, where: str, found: _Findings, *, url: bool) -> None:
    """Malformed and unknown placeholders; in a URL, %AB% can be percent-encoding."""
    residue = _PLACEHOLDER.sub("\0", text)
    for match in _HALF_PLACEHOLDER.finditer(residue):
        if "%" in match.group(0):
            found.error(
                "placeholder",
                where,
                f"{what} {_show(text)}: malformed placeholder {_show(match.group(0))}"
                " (a placeholder is %NAME%, with both percent signs); clients leave it as is",
            )
    residue = _HALF_PLACEHOLDER.sub("\0", residue)
    if url:
        return
    for match in _ANY_PLACEHOLDER.finditer(residue):
        token = match.group(0)
        if token[1:-1].upper() in _PLACEHOLDER_NAMES:
            message = f"placeholder {_show(token)} must be written in upper case"
        else:
            message = (
                f"unknown placeholder {_show(token)} (known: %EMAILADDRESS%,"
                " %EMAILLOCALPART%, %EMAILDOMAIN%)"
            )
        found.error("placeholder", where, f"{what} {_show(text)}: {message}")


# --- order and completeness -------------------------------------------------------------------


def _usable(s: _Section) -> Security | None:
    """The section's security when a client would use it (mail kinds only), else None."""
    if s.kind not in _MAIL_KINDS or (s.element == "outgoingServer") != (s.kind == "smtp"):
        return None
    if not s.hostname or not s.port or not re.fullmatch(r"[0-9]{1,5}", s.port):
        return None
    if not 1 <= int(s.port) <= 65535:
        return None
    if s.auths and all(
        a.lower() not in _AUTH_BY_LOWER
        and a.lower() not in _DEPRECATED_AUTH
        and a.lower() not in _OTHER_AUTH
        and a.lower() != "oauth"
        and not _SASL_AUTH.fullmatch(a)
        for a in s.auths
    ):
        return None
    for value in s.sockets:
        canonical = _SOCKET_BY_LOWER.get(value.lower())
        if canonical is not None:
            return _SOCKET_TYPES[canonical]
    return None


def _check_order(sections: list[_Section], found: _Findings) -> None:
    """Warn when the preferred (first usable) server of a direction is unencrypted.

    Element order is preference order (draft, "Multiple server sections"), and
    clients take the first usable server, so a plain server listed first is
    what they use.
    """
    for element, direction in (("incomingServer", "incoming"), ("outgoingServer", "outgoing")):
        usable: list[tuple[_Section, Security]] = []
        for s in sections:
            security = _usable(s) if s.element == element else None
            if security is not None:
                usable.append((s, security))
        if not usable or usable[0][1] is not Security.PLAIN:
            continue
        first = usable[0][0]
        secure = next(((s, sec) for s, sec in usable if sec is not Security.PLAIN), None)
        tail = (
            f", although {secure[0].label} ({_socket_word(secure[1])}) is listed after it"
            if secure is not None
            else "; no encrypted alternative is listed"
        )
        found.warn(
            "plaintext-first",
            first.where,
            f"{first.label}: the preferred {direction} server is unencrypted (socketType"
            f" plain): clients take the first, so the password and mail cross the network"
            f" in clear text{tail}",
        )


def _check_completeness(provider: EmailProvider, where: str, found: _Findings) -> None:
    if not provider.incoming:
        found.error("no-incoming", where, "no usable incoming server")
        return
    mail = [s for s in provider.incoming if s.protocol is not None]
    if mail and not any(s.protocol is Protocol.SMTP for s in provider.outgoing):
        kinds = "/".join(sorted({s.kind.upper() for s in mail}))
        found.error(
            "no-outgoing",
            where,
            f"{kinds} but no usable SMTP server: clients cannot send mail"
            ' (Thunderbird: "Need proper <outgoingServer>")',
        )


def _parser_notes(config: ClientConfig, found: _Findings) -> None:
    for note in config.ignored:
        if not _COVERED_NOTES.match(note):
            found.warn("ignored", "clientConfig", note)
    found.more += config.more_ignored  # counted in the report's "more" line


# --- small helpers -----------------------------------------------------------------------------


def _children(elem: ET.Element) -> Iterator[tuple[str, ET.Element]]:
    for child in elem:
        if isinstance(child.tag, str):
            yield child.tag.rpartition("}")[2], child


def _text(elem: ET.Element) -> str:
    return (elem.text or "").strip()


def _attr(elem: ET.Element, name: str) -> str | None:
    for key, value in elem.attrib.items():
        if key.rpartition("}")[2].lower() == name.lower():
            return value.strip()
    return None


def _show(text: str, limit: int = 40) -> str:
    """A value from the file, quoted, escaped and short: safe on one terminal line."""
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return repr(shown)


def _bare(text: str, limit: int) -> str:
    """Like :func:`_show`, without quotes when the value is printable and has no space."""
    if text.isprintable() and " " not in text:
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return _show(text, limit)


def _one_line(text: str) -> str:
    """``text`` with every unprintable character (controls, line and bidi marks) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --- output ------------------------------------------------------------------------------------


def lint_text_report(report: LintReport, *, file: str) -> str:
    """Human output: one line per finding, then a summary line; ends with a newline."""
    name = _one_line(file)
    lines = [
        f"{name}: {severity} [{f.code}] {_one_line(f.where)}: {_one_line(f.message)}"
        for severity, findings in (("error", report.errors), ("warning", report.warnings))
        for f in findings
    ]
    errors, warnings = len(report.errors), len(report.warnings)
    if errors or warnings:
        lines.append(
            f"{name}: {errors} error{'s' if errors != 1 else ''},"
            f" {warnings} warning{'s' if warnings != 1 else ''}"
        )
    else:
        lines.append(f"{name}: ok")
    return "\n".join(lines) + "\n"


def to_json(report: LintReport, *, file: str) -> dict[str, object]:
    """``{"file", "errors": [{"code", "message", "where"}], "warnings": [...]}``."""

    def items(findings: tuple[Finding, ...]) -> list[dict[str, str]]:
        return [{"code": f.code, "message": f.message, "where": f.where} for f in findings]

    return {"file": file, "errors": items(report.errors), "warnings": items(report.warnings)}


# --- Autodiscover POX ------------------------------------------------------------------------
#
# The same judgement for the Outlook answer (MS-OXDSCLI §2.2.4), read the way
# advisor.formats.autodiscover reads server answers (must-ignore, both namespace
# spellings, BOM): ``parse``, ``pox-error`` (an <Error> answer), ``redirect`` (a
# redirect that goes nowhere usable), ``host``, ``port-security``, ``port-protocol``,
# ``placeholder`` (POX has no placeholders: a %EMAILADDRESS% LoginName is sent as
# written), ``no-incoming``, ``no-outgoing``; warnings ``non-standard-port``,
# ``plaintext-first``, ``port-security`` (SSL "on" without <Encryption> on a STARTTLS
# port: Outlook tries TLS first, Thunderbird reads STARTTLS; say which with
# <Encryption>) and ``ignored``.

_ROOT_TAG: Final = re.compile(rb"<(?![?!/])([A-Za-z_][A-Za-z0-9_.:-]{0,60})")


def _root_name(data: bytes) -> str | None:
    head = re.sub(rb"<!--.*?-->", b"", data[:8192], flags=re.DOTALL)
    match = _ROOT_TAG.search(head)
    return None if match is None else match.group(1).decode("ascii").rpartition(":")[2]


@dataclass(frozen=True)
class _PoxPlace:
    label: str
    where: str


def lint_pox(data: bytes) -> LintReport:
    """Check one Autodiscover POX response (MS-OXDSCLI)."""
    try:
        answer = parse_response(data)
    except AutodiscoverError as exc:
        return LintReport(
            errors=(Finding("parse", _one_line(str(exc)), "Autodiscover"),), warnings=()
        )
    found = _Findings()
    if answer.error is not None:
        code, message = answer.error
        found.error(
            "pox-error", "Response", f"an error answer ({_show(code)}: {_show(message, 80)})"
        )
    if answer.action in ("redirectAddr", "redirectUrl"):
        if answer.redirect is None:
            found.error("redirect", "Account", f"{answer.action} without a usable target")
        elif answer.action == "redirectUrl" and not answer.redirect.lower().startswith("https:"):
            found.error(
                "redirect", "Account", "redirectUrl over plain http: clients follow https only"
            )
        _pox_notes(answer.ignored, found)
        return found.report("Autodiscover")
    mail = answer.mail_protocols
    index = {id(p): i for i, p in enumerate(answer.protocols, start=1)}
    for p in mail:
        _check_pox_protocol(p, f"Account/Protocol[{index[id(p)]}]", found)
    exchange = any(p.type in ("EXCH", "EXPR", "EXHTTP") for p in answer.protocols)
    incoming = [p for p in mail if p.protocol is not Protocol.SMTP and p.server]
    outgoing = [p for p in mail if p.protocol is Protocol.SMTP and p.server]
    if answer.error is None and not incoming and not exchange:
        found.error("no-incoming", "Account", "no usable IMAP, POP3 or Exchange server")
    elif incoming and not outgoing:
        found.error("no-outgoing", "Account", "IMAP/POP3 but no usable SMTP server")
    for side in (incoming, outgoing):
        first = side[0] if side else None
        if first is not None and first.security() is Security.PLAIN:
            found.warn(
                "plaintext-first",
                f"Account/Protocol[{index[id(first)]}]",
                f"{first.type} {_bare(first.server or '', 60)}: the preferred server is"
                " unencrypted: the password and mail cross the network in clear text",
            )
    _pox_notes(answer.ignored, found)
    return found.report("Autodiscover")


def _check_pox_protocol(p: AutodiscoverProtocol, where: str, found: _Findings) -> None:
    protocol, security = p.protocol, p.security()
    if protocol is None or security is None:  # not a mail protocol: nothing to judge
        return
    if not p.server:
        found.error("host", where, f"{p.type}: no usable <Server>")
        return
    port = p.port or DEFAULT_PORTS[(protocol, security)]
    place = _PoxPlace(f"{p.type} {_bare(p.server, 60)}:{port}", where)
    if p.login_name and _ANY_PLACEHOLDER.search(p.login_name):
        found.error(
            "placeholder",
            where,
            f"{place.label}: LoginName {_show(p.login_name)}: POX has no placeholders,"
            " Outlook sends it as written",
        )
    if p.encryption is None and security is Security.SSL and port in _STARTS_PLAIN:
        found.warn(
            "port-security",
            where,
            f"{place.label}: SSL on without <Encryption> on port {port}, which starts in"
            " plain text: Outlook tries implicit TLS, Thunderbird STARTTLS; add"
            " <Encryption>TLS</Encryption> (MS-OXDSCLI: it overrides SSL)",
        )
        security = Security.STARTTLS
    _check_port(place, protocol, port, security, found)


def _pox_notes(notes: tuple[str, ...], found: _Findings) -> None:
    for note in notes:
        if "without a usable <Server>" not in note:
            found.warn("ignored", "Autodiscover", note)
