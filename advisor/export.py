"""From a discovery report and a recommendation to the files each client imports.

Choosing is done here (which server of the report, which protocol, which
sign-in method); rendering is done by the pure formatters of
``advisor.formats``; writing by ``advisor.fsutil``. Nothing here touches the
network, and nothing ever holds a password.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from advisor.errors import AdvisorError
from advisor.formats.plan import (
    AccountPlan,
    DomainConfig,
    ExchangeSetting,
    OAuth2Setting,
    OAuthPlatform,
    ServerSetting,
)
from advisor.formats.text import normalise_hostname
from advisor.i18n import _
from advisor.models import Candidate, DiscoveryReport, Protocol, ProviderFacts, Security, Source
from advisor.signin import SignIn, sign_in

if TYPE_CHECKING:
    from advisor.recommend import Recommendation

XML_FOLDER_WINDOWS = r"C:\ProgramData\MailSetupAdvisor"  # where the README puts the POX file
# Thunderbird's enterprise AutoConfig, laid out as in the installation folder.
ENTERPRISE_DIR = "thunderbird/enterprise"
ENTERPRISE_CFG = f"{ENTERPRISE_DIR}/mozilla.cfg"
ENTERPRISE_JS = f"{ENTERPRISE_DIR}/defaults/pref/autoconfig.js"


class NotConfigurable(AdvisorError):
    """The report lacks what this protocol needs (a server for it, an SMTP server)."""


class ClientKind(StrEnum):
    THUNDERBIRD = "thunderbird"
    OUTLOOK = "outlook"
    APPLE = "apple"
    ALL = "all"


# Which mail programs of the needs question (advisor.needs.Client) import which files;
# the new Outlook, Android apps and webmail import none.
CLIENT_FILES: dict[str, ClientKind] = {
    "thunderbird": ClientKind.THUNDERBIRD,
    "outlook": ClientKind.OUTLOOK,
    "apple-mail": ClientKind.APPLE,
    "ios-mail": ClientKind.APPLE,
}


def kinds_for(clients: Iterable[str]) -> list[ClientKind]:
    """The export files for a person's mail programs, once each, in their order."""
    return list(dict.fromkeys(CLIENT_FILES[c] for c in clients if c in CLIENT_FILES))


def expand_clients(kinds: Sequence[ClientKind]) -> list[ClientKind]:
    chosen = set(kinds)
    if ClientKind.ALL in chosen or not chosen:
        return [ClientKind.THUNDERBIRD, ClientKind.OUTLOOK, ClientKind.APPLE]
    return [
        k for k in (ClientKind.THUNDERBIRD, ClientKind.OUTLOOK, ClientKind.APPLE) if k in chosen
    ]


def pick(candidates: Sequence[Candidate], protocol: str | None) -> Candidate | None:
    """The best candidate for ``protocol``: one the person gave, else verified first, in
    the report's order."""
    pool = [c for c in candidates if protocol is None or c.endpoint.protocol.value == protocol]
    for c in pool:
        if Source.GIVEN in c.sources and c.endpoint.security is not Security.PLAIN:
            return c
    for c in pool:
        if c.verified:
            return c
    return pool[0] if pool else None


def _auth_for(candidate: Candidate, oauth: bool) -> str:
    if oauth:
        return "OAuth2"
    stated = [a for a in candidate.stated_auth if a != "OAuth2"]
    if stated:
        return stated[0]
    if candidate.stated_auth:
        # The source states OAuth2 and nothing else: a password would be refused.
        return "OAuth2"
    # Over TLS, a plain password exchange is what every client does by default.
    return "password-cleartext"


def _signed_in(server: ServerSetting, candidate: Candidate, how: SignIn) -> ServerSetting:
    auth, also = how.methods(candidate)
    return replace(server, auth=auth, also_auth=also)


def _server(candidate: Candidate, oauth: bool) -> ServerSetting:
    e = candidate.endpoint
    if e.security is Security.PLAIN:
        raise AdvisorError(
            f"{e.hostname}:{e.port} offers no encryption: advisor does not"
            " write a configuration that would send a password in clear text"
        )
    return ServerSetting(
        protocol=e.protocol,
        hostname=e.hostname,
        port=e.port,
        security=e.security,
        username=candidate.username,
        auth=_auth_for(candidate, oauth),
    )


def _oauth2_for(provider_id: str | None) -> OAuth2Setting | None:
    """OAuth2 endpoints the catalogue knows for this provider, if any."""
    if not provider_id:
        return None
    from advisor.catalogue import Catalogue

    catalogue = Catalogue.load()
    entry = next((e for e in catalogue.entries() if e.id == provider_id), None)
    if entry is None or entry.provider.oauth2 is None:
        return None
    o = entry.provider.oauth2
    return OAuth2Setting(o.issuer, o.scope, o.auth_url, o.token_url, o.client_id)


def account_plan(
    report: DiscoveryReport,
    *,
    protocol: str,
    full_name: str = "",
    leave_on_server: bool = True,
    keep_days: int | None = 14,
    calendars: bool = False,
    contacts: bool = False,
) -> AccountPlan:
    """The account to export for the report's address and the chosen protocol;
    ``calendars`` / ``contacts``: also their CalDAV / CardDAV address (the report's
    best ``dav`` entry), for people who want them synced without Exchange."""
    domain = report.domain_ascii
    email = f"{report.address.rpartition('@')[0]}@{domain}"
    provider = report.provider or ProviderFacts(id="", name="")
    exchange = report.exchange
    on_m365 = provider.hosted_by == "microsoft365" or (
        exchange is not None and exchange.hosted == "microsoft365"
    )
    oauth = provider.requires_oauth2
    # <emailProvider id> must be a host name: Thunderbird refuses the whole file
    # otherwise (lint: provider-id). A report may carry a domain's own free-form id.
    provider_id = normalise_hostname(provider.id) or domain
    provider_name = provider.name or domain
    exchange_setting = None
    if exchange is not None:
        server = None
        for url in (exchange.ews_url, exchange.activesync_url):
            if url:
                server = urlsplit(url).hostname
                break
        exchange_setting = ExchangeSetting(
            ews_url=exchange.ews_url,
            activesync_url=exchange.activesync_url,
            autodiscover_url=exchange.autodiscover_url,
            server=server,
            hosted=exchange.hosted,
        )
    incoming = outgoing = None
    found = sending = None
    if protocol == "exchange":
        if exchange_setting is None or not (
            exchange_setting.ews_url or exchange_setting.activesync_url or on_m365
        ):
            raise NotConfigurable(
                _("discovery found no Exchange server for {domain}").format(domain=domain)
            )
        if exchange_setting.server is None and on_m365:
            exchange_setting = replace(exchange_setting, server="outlook.office365.com")
        how = sign_in(report, [])
    else:
        found = pick(report.incoming, protocol)
        if found is None:
            raise NotConfigurable(
                _("discovery found no {protocol} server for {domain}").format(
                    protocol=protocol.upper(), domain=domain
                )
            )
        sending = pick(report.outgoing, None)
        if sending is None:
            raise NotConfigurable(
                _("discovery found no SMTP server for {domain}").format(domain=domain)
            )
        how = sign_in(report, [found, sending])
        incoming = _signed_in(_server(found, oauth), found, how)
        outgoing = _signed_in(_server(sending, oauth), sending, how)
    return AccountPlan(
        email=email,
        full_name=full_name,
        domain=domain,
        protocol=protocol,
        provider_id=provider_id,
        provider_name=provider_name,
        incoming=incoming,
        outgoing=outgoing,
        pop3_leave_on_server=leave_on_server,
        pop3_keep_days=keep_days if leave_on_server else None,
        exchange=exchange_setting,
        oauth2=how.oauth2 or (_oauth2_for(provider.id) if oauth or on_m365 else None),
        on_microsoft365=on_m365,
        oauth_platform=how.platform,
        app_passwords=how.app_passwords,
        enable=how.enable,
        unverified_from=tuple(
            dict.fromkeys(
                str(source)
                for c in (found, sending)
                if c is not None and not c.verified
                for source in c.sources
            )
        ),
        webmail_url=report.webmail.url if report.webmail is not None else None,
        caldav_url=report.dav.caldav[0].url if calendars and report.dav.caldav else None,
        carddav_url=report.dav.carddav[0].url if contacts and report.dav.carddav else None,
    )


# Characters that continue a local part or a host name: a match next to one of them is
# part of a longer word ("jane" in "jane.doe", "example.com" in "mail.example.com").
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._+-")


_PLACEHOLDER = re.compile(r"(%[A-Z]+%)")


def _replace_words(text: str, word: str, placeholder: str) -> str:
    """``text`` with every whole-word, case-insensitive occurrence of ``word`` outside
    the placeholders already there replaced by ``placeholder``."""
    if not word:
        return text
    return "".join(
        part if _PLACEHOLDER.fullmatch(part) else _replace_in(part, word.lower(), placeholder)
        for part in _PLACEHOLDER.split(text)
    )


def _replace_in(text: str, needle: str, placeholder: str) -> str:
    lower = text.lower()
    out: list[str] = []
    start = scan = 0
    while (at := lower.find(needle, scan)) >= 0:
        end = at + len(needle)
        before = lower[at - 1] if at else ""
        after = lower[end] if end < len(lower) else ""
        if before in _WORD_CHARS or after in _WORD_CHARS:
            scan = at + 1
            continue
        out.append(text[start:at] + placeholder)
        start = scan = end
    out.append(text[start:])
    return "".join(out)


def _template(username: str, email: str) -> str:
    """A login written for one address turned back into the domain's template.

    Discovery for a domain runs with a synthetic address (``postmaster@D``) and the
    sources expand their placeholders with it: every place where the address or its
    local part appears becomes the placeholder again, so the file serves every user
    (``CORP\\postmaster`` -> ``CORP\\%EMAILLOCALPART%``). The domain becomes
    ``%EMAILDOMAIN%`` only in a login that names the user (``D\\postmaster`` ->
    ``%EMAILDOMAIN%\\%EMAILLOCALPART%``): in a shared login (``relay@D``) or inside a
    longer host name (``mail.D``) it does not stand for the address's domain.
    """
    local, _, domain = email.rpartition("@")
    text = _replace_words(username, email, "%EMAILADDRESS%")
    text = _replace_words(text, local, "%EMAILLOCALPART%")
    if "%EMAILLOCALPART%" in text and "%EMAILLOCALPART%" not in username:
        text = _replace_words(text, domain, "%EMAILDOMAIN%")
    return text


def domain_config_from_plan(plan: AccountPlan) -> DomainConfig:
    """The domain file (placeholders instead of the person's names) for Thunderbird's isp/."""
    servers = []
    for s in (plan.incoming, plan.outgoing):
        if s is not None:
            servers.append(replace(s, username=_template(s.username, plan.email)))
    incoming = tuple(s for s in servers if s.protocol is not Protocol.SMTP)
    outgoing = tuple(s for s in servers if s.protocol is Protocol.SMTP)
    return DomainConfig(
        domain=plan.domain,
        provider_id=plan.provider_id,
        display_name=plan.provider_name,
        short_name=plan.provider_name.split()[0] if plan.provider_name else plan.domain,
        incoming=incoming,
        outgoing=outgoing,
        pop3_leave_on_server=plan.pop3_leave_on_server,
        pop3_keep_days=plan.pop3_keep_days,
        oauth2=plan.oauth2,
    )


def domain_config_from_report(report: DiscoveryReport) -> DomainConfig:
    """Every verified server of a report, ranked, with placeholders: for domain admins."""
    domain = report.domain_ascii
    email = f"{report.address.rpartition('@')[0]}@{domain}"
    provider = report.provider or ProviderFacts(id="", name="")
    incoming: list[ServerSetting] = []
    outgoing: list[ServerSetting] = []
    for candidates, bucket in ((report.incoming, incoming), (report.outgoing, outgoing)):
        usable = [c for c in candidates if c.verified and c.endpoint.security is not Security.PLAIN]
        # When the domain's sources name servers, publish those: a port that only
        # answered a guess carries no login template or method, and a domain file that
        # offers it would sign people in the wrong way (the "%EMAILADDRESS%" default).
        stated = [c for c in usable if set(c.sources) - _GUESSED_ONLY]
        for c in stated or usable:
            server = _server(c, provider.requires_oauth2)
            bucket.append(replace(server, username=_template(server.username, email)))
    if not incoming or not outgoing:
        raise AdvisorError(
            f"discovery verified no {'incoming' if not incoming else 'outgoing'} server for"
            f" {domain}: give the servers with --imap/--pop3 and --smtp"
        )
    name = provider.name or domain
    return DomainConfig(
        domain=domain,
        provider_id=domain,
        display_name=name,
        short_name=name.split(maxsplit=1)[0],
        incoming=tuple(incoming),
        outgoing=tuple(outgoing),
        oauth2=_oauth2_for(provider.id) if provider.requires_oauth2 else None,
    )


# Sources that name a server without stating how to sign in to it.
_GUESSED_ONLY = frozenset({Source.GUESS, Source.PROBE})


# ------------------------------------------------------------------ which protocol


@dataclass(frozen=True)
class ProtocolChoice:
    """The protocol to configure, and why it is not the recommended one (if it is not)."""

    protocol: str
    instead_of: str | None = None  # the recommended protocol, when it could not be configured
    why: str = ""  # what it lacked

    def note(self) -> str:
        """One sentence for people ('' when the recommendation itself is configured)."""
        if self.instead_of is None:
            return ""
        return _(
            "{recommended} was recommended, but {why}: {chosen}, the next choice, is set up instead"
        ).format(
            recommended=_protocol_name(self.instead_of),
            why=self.why,
            chosen=_protocol_name(self.protocol),
        )


def _protocol_name(protocol: str) -> str:
    return "Exchange" if protocol == "exchange" else protocol.upper()


def unconfigurable(report: DiscoveryReport, protocol: str) -> str | None:
    """Why ``protocol`` cannot be set up from this report; None when it can."""
    try:
        account_plan(report, protocol=protocol)
    except AdvisorError as exc:
        return str(exc)
    return None


def choose_protocol(
    rec: Recommendation, report: DiscoveryReport, *, forced: str | None = None
) -> ProtocolChoice:
    """``forced`` (``--protocol``) if it can be set up; else the best-ranked protocol the
    rules leave open that can be. One-line errors say what would make it work."""
    from advisor.manual import what_to_give
    from advisor.recommend import TIE_ORDER

    domain = report.domain_ascii
    open_choices = [c.protocol for c in rec.ranking if not c.excluded]
    if forced is not None:
        why = unconfigurable(report, forced)
        if why is None:
            return ProtocolChoice(forced)
        others = [p for p in TIE_ORDER if p != forced and unconfigurable(report, p) is None]
        if others:
            advice = _("choose --protocol {protocols}, or {give}").format(
                protocols=" or ".join(others), give=what_to_give(domain)
            )
        else:
            advice = what_to_give(domain)
        raise NotConfigurable(f"{why}: {advice}")
    if not open_choices:
        raise NotConfigurable(
            _(
                "no protocol can be recommended for this address: every one is excluded by"
                " the rules (see advisor recommend); choose one with --protocol"
            )
        )
    reasons: list[str] = []
    for protocol in open_choices:
        why = unconfigurable(report, protocol)
        if why is None:
            first = open_choices[0]
            if protocol == first:
                return ProtocolChoice(protocol)
            return ProtocolChoice(protocol, first, reasons[0])
        reasons.append(why)
    if not (report.incoming or report.outgoing or report.exchange):
        reasons = [_("discovery found no server for {domain}").format(domain=domain)]
    raise NotConfigurable(
        _("nothing can be set up ({reasons}): {give}").format(
            reasons="; ".join(dict.fromkeys(reasons)), give=what_to_give(domain)
        )
    )


# A file name of an export: folder/name.ext from validated host names, nothing else.
_FILE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
MAX_FILE_DEPTH = 8  # thunderbird/enterprise/defaults/pref/autoconfig.js is 5


def check_file_name(name: str) -> str:
    """``name`` if it is a relative path of plain parts (no ``..``, no root, no
    backslash); AdvisorError otherwise: every output path is built from it."""
    parts = name.split("/")
    if len(parts) > MAX_FILE_DEPTH or not all(
        _FILE_PART.fullmatch(p) and ".." not in p for p in parts
    ):
        raise AdvisorError(f"refusing to write the file {name!r}: not a plain file name")
    return name


def inside(out: Path, name: str) -> Path:
    """``out/name``, checked to stay inside ``out`` (even through a symbolic link
    already there); AdvisorError otherwise, before anything is written."""
    path = out / check_file_name(name)
    step = out
    for part in name.split("/"):
        step = step / part
        if step.is_symlink():  # the name has no "..": only a link can lead elsewhere
            raise AdvisorError(
                f"refusing to write {path}: {step} is a symbolic link (it could lead outside {out})"
            )
    root = os.path.realpath(out)
    step = out
    for part in name.split("/"):  # the clearer refusal first: a link planted inside --out
        step = step / part
        if step.is_symlink():
            target = os.path.realpath(step)
            where = "" if os.path.commonpath([root, target]) == root else f" leading outside {out}"
            raise AdvisorError(
                f"refusing to write through {step}: it is a symbolic link{where}"
                " (nothing is written through links inside the output folder)"
            )
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise AdvisorError(f"refusing to write {path}: it would land outside {out}")
    return path


def refuse_what_lint_rejects(files: Sequence[ExportFile]) -> None:
    """The autoconfig and Autodiscover XML must pass our own lint (so clients read them
    as meant): a report stating POP3 on IMAPS's port, or SSL on a STARTTLS port, is
    refused with lint's reasons before anything is written."""
    from advisor.formats.lint import lint

    for f in files:
        if f.name.endswith(".xml"):
            problems = lint(f.data, name=f.name).errors
            if problems:
                reasons = "; ".join(dict.fromkeys(p.message for p in problems[:3]))
                raise AdvisorError(f"refusing to write {f.name}: {reasons}")


@dataclass(frozen=True)
class ExportFile:
    name: str  # relative to the output folder
    data: bytes
    client: ClientKind
    what: str  # one line for people

    def __post_init__(self) -> None:
        check_file_name(self.name)


def outlook_takes_files(plan: AccountPlan) -> bool:
    """Whether classic Outlook gets the Autodiscover/.reg/PRF files for this account.

    Not for IMAP/POP3 accounts at Google, Microsoft 365 or Outlook.com: those
    files can only state a password account, while Outlook's own "Add account"
    signs in with OAuth2 (Microsoft through Autodiscover, Google on Google's
    page). Exchange plans keep their Autodiscover redirect.
    """
    if plan.protocol == "exchange":
        return True
    return plan.oauth_platform not in (OAuthPlatform.GOOGLE, OAuthPlatform.MICROSOFT)


# The same for every address of a domain: rendered once per domain when onboarding many.
@functools.lru_cache(maxsize=256)
def _autoconfig_text(config: DomainConfig) -> str:
    from advisor.formats import thunderbird

    return thunderbird.render_autoconfig(config)


@functools.lru_cache(maxsize=256)
def _reg_bytes(domain: str, xml_path: str, *, on_microsoft365: bool, exchange: bool) -> bytes:
    from advisor.formats import outlook

    return outlook.render_reg_bytes(
        domain, xml_path, on_microsoft365=on_microsoft365, exchange=exchange
    )


def render_files(
    plan: AccountPlan, clients: Sequence[ClientKind], *, lang: str, with_readme: bool = True
) -> list[ExportFile]:
    """Every file for every chosen client, plus README.txt (onboarding writes setup sheets)."""
    from advisor.formats import apple, outlook, thunderbird
    from advisor.instructions import readme

    domain = plan.domain
    files: list[ExportFile] = []
    for kind in expand_clients(clients):
        if kind is ClientKind.THUNDERBIRD:
            if plan.protocol != "exchange":
                text = _autoconfig_text(domain_config_from_plan(plan))
                files.append(
                    ExportFile(
                        f"thunderbird/{domain}.xml", text.encode(), kind, "autoconfig for isp/"
                    )
                )
                js = thunderbird.render_user_js(plan)
                files.append(
                    ExportFile("thunderbird/user.js", js.encode(), kind, "user.js (new profile)")
                )
                # For IT staff: AutoConfig adds the account to the profiles already there.
                cfg = thunderbird.render_mozilla_cfg(plan)
                files += [
                    ExportFile(ENTERPRISE_CFG, cfg.encode(), kind, "AutoConfig script (IT)"),
                    ExportFile(
                        ENTERPRISE_JS,
                        thunderbird.AUTOCONFIG_JS.encode(),
                        kind,
                        "AutoConfig pref file (IT)",
                    ),
                ]
        elif kind is ClientKind.OUTLOOK:
            if not outlook_takes_files(plan):
                continue  # README.txt and the sheet give Outlook's own sign-in steps
            xml_name = f"autodiscover-{domain}.xml"
            xml = outlook.render_autodiscover(plan)
            files.append(
                ExportFile(f"outlook/{xml_name}", xml.encode(), kind, "Autodiscover answer")
            )
            reg = _reg_bytes(
                domain,
                f"{XML_FOLDER_WINDOWS}\\{xml_name}",
                on_microsoft365=plan.on_microsoft365,
                exchange=plan.protocol == "exchange",
            )
            files.append(ExportFile(f"outlook/autodiscover-{domain}.reg", reg, kind, "registry"))
            if plan.protocol != "exchange":
                # UTF-16 with a BOM: Windows reads a BOM-less INI in the ANSI code page.
                prf = outlook.render_prf_bytes(plan)
                files.append(ExportFile(f"outlook/{domain}.prf", prf, kind, "PRF profile"))
        elif kind is ClientKind.APPLE:
            if apple.profile_kind(plan) is None:
                continue  # OAuth2 only, neither Google nor Microsoft: README.txt says what to do
            data = apple.render_mobileconfig(plan)
            files.append(
                ExportFile(f"apple/{domain}.mobileconfig", data, kind, "configuration profile")
            )
    if not with_readme:
        return files
    files.append(
        ExportFile(
            "README.txt",
            readme(plan, expand_clients(clients), lang=lang).encode(),
            ClientKind.ALL,
            "how to import",
        )
    )
    return files
