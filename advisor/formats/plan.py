"""What every exporter renders: an account (for one person) or a domain (for admins).

The exporters in ``advisor.formats`` are pure functions from these values to
text or bytes; choosing the servers (discovery + recommendation) happens
before, writing files after. Authentication uses Mozilla's vocabulary
(``password-cleartext``, ``password-encrypted``, ``OAuth2``, ``NTLM``,
``GSSAPI``, ``client-IP-address``, ``TLS-client-cert``, ``none``); each format
maps it to its own words next to its renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from advisor.errors import AdvisorError
from advisor.formats.text import is_hostname, short, unsafe_char, url_problem
from advisor.models import Protocol, Security

# Defence in depth: whatever built the plan (a checked report, command-line
# options, a CSV row, a test), no writer is handed a value that no file may
# carry. Each check is a few microseconds: onboarding builds one plan a row.
MAX_NAME = 320  # a login or a person's name (RFC 5321 §4.5.3.1 bounds addresses at 64 + 255)
_AUTH = re.compile(r"[A-Za-z0-9 _-]{1,40}")  # Mozilla words, or "SASL NAME"
# A template host as a domain's file may name it: mail.%EMAILDOMAIN% stands for a host name.
_HOST_PLACEHOLDER = "%EMAILDOMAIN%"
_LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]")  # folded by every writer
PROTOCOL_CHOICES = ("imap", "pop3", "exchange")
EXCHANGE_HOSTING = ("microsoft365", "on-premises")


class UnsafeValueError(AdvisorError):
    """A value a configuration file must not carry; nothing is written."""


def _refuse(what: str, value: object, expected: str) -> UnsafeValueError:
    shown = short(value, 60) if isinstance(value, str) else repr(value)[:60]
    return UnsafeValueError(f"refusing to write {what} {shown}: expected {expected}")


def check_text(value: object, what: str, *, limit: int = MAX_NAME, lines: bool = False) -> None:
    """A string of at most ``limit`` characters with no control or bidi character
    (with ``lines``, tabs and line breaks pass: the writers fold them)."""
    if not isinstance(value, str) or len(value) > limit:
        raise _refuse(what, value, f"text of at most {limit} characters")
    bad = unsafe_char(_LINE_BREAKS.sub(" ", value) if lines else value)
    if bad is not None:
        raise _refuse(what, value, f"text without the control or bidi character {bad}")


def check_hostname(value: object, what: str, *, template: bool = False) -> None:
    sample = value.replace(_HOST_PLACEHOLDER, "example.com") if isinstance(value, str) else value
    # Upper case is harmless (host names are case-blind); what a file must not carry is
    # anything but letters, digits, '-', '_' and dots.
    if not (
        isinstance(sample, str) and (template or sample == value) and is_hostname(sample.lower())
    ):
        raise _refuse(what, value, "a host name (letters, digits, '-', '_' and dots)")


def check_port(value: object, what: str) -> None:
    # bool is an int in Python: True would be written as port 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise _refuse(what, value, "a port from 1 to 65535")


def check_url(value: object, what: str) -> None:
    if value is None:
        return
    problem = url_problem(value) if isinstance(value, str) else "an https:// URL"
    if problem is not None:
        raise _refuse(what, value, problem)


@dataclass(frozen=True)
class ServerSetting:
    protocol: Protocol  # IMAP, POP3 or SMTP
    hostname: str  # ASCII (punycode)
    port: int
    security: Security
    username: str  # concrete ("jane@example.com") or a template ("%EMAILADDRESS%")
    auth: str = "password-cleartext"  # Mozilla vocabulary, the one method to use
    # Methods the server also accepts, in order, after ``auth``: an autoconfig
    # file lists them (OAuth2 first, then a password where app passwords work);
    # formats that hold one method ignore them.
    also_auth: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, Protocol) or not isinstance(self.security, Security):
            raise _refuse("a server", self.protocol, "a protocol and a security")
        check_hostname(self.hostname, "the host name", template=True)
        check_port(self.port, f"the port of {self.hostname}")
        check_text(self.username, f"the user name for {self.hostname}")
        for auth in (self.auth, *self.also_auth):
            if not isinstance(auth, str) or not _AUTH.fullmatch(auth):
                raise _refuse(f"the sign-in method for {self.hostname}", auth, "a method name")


@dataclass(frozen=True)
class OAuth2Setting:
    issuer: str
    scope: str
    auth_url: str
    token_url: str
    client_id: str | None = None

    def __post_init__(self) -> None:
        check_url(self.auth_url, "the OAuth2 authorization URL")
        check_url(self.token_url, "the OAuth2 token URL")
        for what, value in (("issuer", self.issuer), ("scope", self.scope)):
            check_text(value, f"the OAuth2 {what}", limit=2048)
        if self.client_id is not None:
            check_text(self.client_id, "the OAuth2 client id", limit=2048)


@dataclass(frozen=True)
class ProviderHelp:
    """A provider's own instructions: a link and the same text in several languages."""

    url: str | None
    texts: tuple[tuple[str, str], ...] = ()  # (language code or "", text)

    def text(self, lang: str) -> tuple[str, bool]:
        """The text in ``lang`` if the provider wrote one, else its default (English) text;
        and whether it is in ``lang``."""
        for code, text in self.texts:
            if code == lang:
                return text, True
        for code, text in self.texts:
            if code in ("", "en"):
                return text, lang == "en"
        return "", False


class OAuthPlatform(StrEnum):
    """Whose sign-in page an OAuth2 account uses, where the clients have a flow of their own."""

    GOOGLE = "google"  # Apple's com.apple.google-oauth, Outlook's Gmail sign-in
    MICROSOFT = "microsoft"  # Microsoft 365 and Outlook.com: Exchange with OAuth
    OTHER = "other"


@dataclass(frozen=True)
class ExchangeSetting:
    ews_url: str | None = None
    activesync_url: str | None = None
    autodiscover_url: str | None = None
    server: str | None = None  # the Exchange / ActiveSync host name
    hosted: str | None = None  # "microsoft365" | "on-premises" | None

    def __post_init__(self) -> None:
        check_url(self.ews_url, "the EWS URL")
        check_url(self.activesync_url, "the ActiveSync URL")
        check_url(self.autodiscover_url, "the Autodiscover URL")
        if self.server is not None:
            check_hostname(self.server, "the Exchange server")
        if self.hosted is not None and self.hosted not in EXCHANGE_HOSTING:
            raise _refuse("the Exchange hosting", self.hosted, "microsoft365 or on-premises")


@dataclass(frozen=True)
class DomainConfig:
    """A domain's servers for any user: what a domain admin hosts (placeholders)."""

    domain: str  # ASCII
    provider_id: str
    display_name: str
    short_name: str
    incoming: tuple[ServerSetting, ...]  # preference order
    outgoing: tuple[ServerSetting, ...]
    pop3_leave_on_server: bool = True
    pop3_keep_days: int | None = 14
    oauth2: OAuth2Setting | None = None
    documentation_url: str | None = None

    def __post_init__(self) -> None:
        check_hostname(self.domain, "the domain")
        check_hostname(self.provider_id, "the provider id")
        check_text(self.display_name, "the provider's name")
        check_text(self.short_name, "the provider's short name")
        check_url(self.documentation_url, "the documentation URL")
        _check_keep_days(self.pop3_keep_days)


@dataclass(frozen=True)
class AccountPlan:
    """One person's account, as recommended: concrete names, one protocol."""

    email: str  # ASCII form of the address (punycode domain)
    full_name: str  # may be ""
    domain: str  # ASCII
    protocol: str  # "imap" | "pop3" | "exchange"
    provider_id: str
    provider_name: str
    incoming: ServerSetting | None  # None for Exchange
    outgoing: ServerSetting | None
    pop3_leave_on_server: bool = True
    pop3_keep_days: int | None = 14
    exchange: ExchangeSetting | None = None
    oauth2: OAuth2Setting | None = None
    on_microsoft365: bool = False  # the domain's mail is in Microsoft 365
    # Set when the account signs in with OAuth2 (advisor.signin): whose page.
    oauth_platform: OAuthPlatform | None = None
    app_passwords: ProviderHelp | None = None  # where the provider makes app passwords
    enable: ProviderHelp | None = None  # "switch IMAP/POP on first", from the catalogue
    # Where the servers come from when no live check confirmed them ("catalogue",
    # "local", "given", ...: report source names); empty when they were verified.
    unverified_from: tuple[str, ...] = ()
    webmail_url: str | None = None  # the provider's webmail page (advisor.discovery)
    # Calendars and contacts without Exchange (RFC 6764 entry points), when wanted.
    caldav_url: str | None = None
    carddav_url: str | None = None

    @property
    def oauth(self) -> bool:
        """The person signs in on the provider's page (OAuth2), not with a password."""
        return self.oauth_platform is not None

    def __post_init__(self) -> None:
        from advisor.address import parse_address

        check_hostname(self.domain, "the domain")
        check_text(self.email, "the address")
        try:
            parsed = parse_address(self.email)
        except AdvisorError:
            raise _refuse("the address", self.email, "an e-mail address") from None
        if parsed.domain_ascii != self.domain:
            raise _refuse("the address", self.email, f"an address at {self.domain}")
        check_text(self.full_name, "the person's name", lines=True)
        if self.protocol not in PROTOCOL_CHOICES:
            raise _refuse("the protocol", self.protocol, "imap, pop3 or exchange")
        check_hostname(self.provider_id, "the provider id")
        check_text(self.provider_name, "the provider's name")
        _check_keep_days(self.pop3_keep_days)
        check_url(self.webmail_url, "the webmail address")
        check_url(self.caldav_url, "the CalDAV address")
        check_url(self.carddav_url, "the CardDAV address")


def _check_keep_days(days: object) -> None:
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 36500
    ):
        raise _refuse("the days to keep mail on the server", days, "a number of days")
