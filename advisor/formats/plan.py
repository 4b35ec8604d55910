"""What every exporter renders: an account (for one person) or a domain (for admins).

The exporters in ``advisor.formats`` are pure functions from these values to
text or bytes; choosing the servers (discovery + recommendation) happens
before, writing files after. Authentication uses Mozilla's vocabulary
(``password-cleartext``, ``password-encrypted``, ``OAuth2``, ``NTLM``,
``GSSAPI``, ``client-IP-address``, ``TLS-client-cert``, ``none``); each format
maps it to its own words next to its renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from advisor.models import Protocol, Security


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


@dataclass(frozen=True)
class OAuth2Setting:
    issuer: str
    scope: str
    auth_url: str
    token_url: str
    client_id: str | None = None


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

    @property
    def oauth(self) -> bool:
        """The person signs in on the provider's page (OAuth2), not with a password."""
        return self.oauth_platform is not None
