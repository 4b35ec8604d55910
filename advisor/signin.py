"""How a person signs in: OAuth2 or a password, decided once for every output.

An account signs in with OAuth2 when

* the catalogue says the provider refuses the account password
  (``requires_oauth2``: Google, Microsoft 365, Outlook.com, Yahoo, AOL), or the
  discovery report says so (``provider.requires_oauth2``);
* the server advertises only OAuth2 SASL mechanisms (``XOAUTH2``,
  ``OAUTHBEARER``) on the session a client logs in on; or
* a configuration source states ``OAuth2`` for the server.

Then every file says OAuth2 first. A password method follows it only where
the provider accepts one: the catalogue lists an app-password page, or, for a
provider the catalogue does not rule on, the source itself states a password
method next to OAuth2. Microsoft 365 and Outlook.com get none: app passwords
do not help there.

Pure: a discovery report and the packaged catalogue in, values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from advisor.catalogue import Catalogue, CatalogueEntry
from advisor.formats.mozilla import LocalizedText
from advisor.formats.plan import OAuth2Setting, OAuthPlatform, ProviderHelp
from advisor.models import Candidate, DiscoveryReport

# SASL mechanisms that carry an OAuth2 token (RFC 7628 and Google's XOAUTH2).
OAUTH_MECHANISMS = frozenset({"XOAUTH2", "OAUTHBEARER"})
_MICROSOFT_IDS = frozenset({"microsoft365", "hotmail.com"})  # catalogue ids
_PASSWORD_METHODS = ("password-cleartext", "password-encrypted")


@dataclass(frozen=True)
class SignIn:
    platform: OAuthPlatform | None  # None: a password account
    oauth2: OAuth2Setting | None  # endpoints the catalogue knows
    app_passwords: ProviderHelp | None
    enable: ProviderHelp | None
    catalogue_rules: bool  # the catalogue decides whether a password may follow OAuth2

    def methods(self, candidate: Candidate) -> tuple[str, tuple[str, ...]]:
        """(method to use, methods accepted after it) for one server of the report."""
        stated = list(candidate.stated_auth)
        if self.platform is None:
            others = [a for a in stated if a != "OAuth2"]
            # Over TLS, a plain password exchange is what every client does by default.
            return (others[0] if others else "password-cleartext"), ()
        if self.catalogue_rules:
            fallback = self.app_passwords is not None
        else:
            fallback = any(a in _PASSWORD_METHODS for a in stated)
        if not fallback:
            return "OAuth2", ()
        password = next((a for a in stated if a in _PASSWORD_METHODS), "password-cleartext")
        return "OAuth2", (password,)


def catalogue_entry(report: DiscoveryReport) -> CatalogueEntry | None:
    """The catalogue's entry for the report: by provider id, then platform, then domain."""
    catalogue = Catalogue.load()
    by_id = {e.id: e for e in catalogue.entries()}
    if report.provider is not None:
        for key in (report.provider.id, report.provider.hosted_by):
            if key and key in by_id:
                return by_id[key]
    return catalogue.by_domain(report.domain_ascii) if report.domain_ascii else None


def _help(url: str | None, texts: Sequence[LocalizedText]) -> ProviderHelp:
    return ProviderHelp(url, tuple((t.lang or "", t.text) for t in texts))


def _oauth_only(candidate: Candidate) -> bool:
    offered = {m.upper() for m in candidate.auth}
    return bool(offered) and offered <= OAUTH_MECHANISMS


def sign_in(report: DiscoveryReport, servers: Sequence[Candidate]) -> SignIn:
    """The sign-in of the account made of ``servers`` (candidates of ``report``)."""
    entry = catalogue_entry(report)
    provider = report.provider
    hosted_by = provider.hosted_by if provider is not None else None
    exchange_hosted = report.exchange.hosted if report.exchange is not None else None
    on_m365 = "microsoft365" in (hosted_by, exchange_hosted)
    oauth = (
        on_m365
        or (provider is not None and provider.requires_oauth2)
        or (entry is not None and entry.requires_oauth2)
        or any(_oauth_only(s) for s in servers)
        or any("OAuth2" in s.stated_auth for s in servers)
    )
    platform: OAuthPlatform | None = None
    if oauth:
        entry_id = entry.id if entry is not None else None
        if on_m365 or entry_id in _MICROSOFT_IDS:
            platform = OAuthPlatform.MICROSOFT
        elif hosted_by == "google" or entry_id == "google":
            platform = OAuthPlatform.GOOGLE
        else:
            platform = OAuthPlatform.OTHER
    endpoints = None
    app_passwords = enable = None
    if entry is not None:
        o = entry.provider.oauth2
        if o is not None:
            endpoints = OAuth2Setting(o.issuer, o.scope, o.auth_url, o.token_url, o.client_id)
        if entry.app_passwords is not None:
            app_passwords = _help(entry.app_passwords.url, entry.app_passwords.steps)
        if entry.provider.enable is not None:
            e = entry.provider.enable
            enable = _help(e.visit_url, e.instructions)
    return SignIn(
        platform=platform,
        oauth2=endpoints if platform is not None else None,
        app_passwords=app_passwords,
        enable=enable,
        catalogue_rules=entry is not None and entry.requires_oauth2,
    )
