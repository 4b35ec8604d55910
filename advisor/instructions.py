"""README.txt of an export: how to import each file, and which client versions accept it.

Written for the person (or the IT technician) at the machine, in English here;
other languages come from the gettext catalogs (:mod:`advisor.i18n`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from advisor import facts, i18n
from advisor.i18n import _

if TYPE_CHECKING:
    from advisor.export import ClientKind
    from advisor.formats.plan import AccountPlan


def _security(value: str) -> str:
    names = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": _("no encryption")}
    return names[value]


def readme(plan: AccountPlan, clients: Sequence[ClientKind], *, lang: str) -> str:
    """The README.txt in ``lang`` (this thread only: exports in several languages can run at once)."""
    with i18n.language(lang):
        return _readme(plan, clients, lang=lang)


def _readme(plan: AccountPlan, clients: Sequence[ClientKind], *, lang: str) -> str:
    from advisor.export import XML_FOLDER_WINDOWS, ClientKind

    names = {"imap": "IMAP", "pop3": "POP3", "exchange": "Exchange"}
    out = [
        _("Mail settings for {email} ({protocol}), made by Mail Setup Advisor").format(
            email=plan.email, protocol=names[plan.protocol]
        ),
        "",
    ]
    out += [
        _("No file contains a password: the mail client asks for it the first time."),
        "",
        _("Servers"),
    ]
    if plan.incoming is not None:
        s = plan.incoming
        out.append(
            "  "
            + _("Incoming: {proto} {host}, port {port}, {security}, user name {user}").format(
                proto=s.protocol.name,
                host=s.hostname,
                port=s.port,
                security=_security(s.security.value),
                user=s.username,
            )
        )
    if plan.outgoing is not None:
        s = plan.outgoing
        out.append(
            "  "
            + _("Outgoing: SMTP {host}, port {port}, {security}, user name {user}").format(
                host=s.hostname,
                port=s.port,
                security=_security(s.security.value),
                user=s.username,
            )
        )
    if plan.protocol == "exchange" and plan.exchange is not None:
        what = plan.exchange.ews_url or plan.exchange.activesync_url or plan.exchange.server or "?"
        out.append("  " + _("Exchange: {what}").format(what=what))
    if plan.protocol == "pop3":
        if plan.pop3_leave_on_server:
            out.append(
                "  "
                + _("POP3: mail is left on the server for {days} days after download.").format(
                    days=plan.pop3_keep_days or 14
                )
            )
        else:
            out.append(
                "  "
                + _(
                    "POP3: mail is removed from the server once downloaded (one backed-up computer)."
                )
            )
    if any(s is not None and s.auth == "OAuth2" for s in (plan.incoming, plan.outgoing)):
        out.append(
            "  "
            + _(
                "Sign-in uses OAuth2: the client opens the provider's login page. Thunderbird, Outlook and Apple Mail can; the Apple profile cannot carry OAuth2 (add the account in Settings > Mail > Accounts instead); older clients that only know passwords cannot connect."
            )
        )
    for kind in clients:
        out.append("")
        if kind is ClientKind.THUNDERBIRD:
            out.append(_("Thunderbird (version 102 or later; Windows, macOS, Linux)"))
            if plan.protocol == "exchange":
                out.append(
                    "  - "
                    + _(
                        "Thunderbird: no file for Exchange. Thunderbird 145 and later can add an Exchange"
                        " account themselves (Add Mail Account, then choose Exchange); older versions need"
                        " IMAP (if the server offers it) or an add-on such as Owl."
                    )
                )
            else:
                out.append(
                    "  - "
                    + _(
                        "thunderbird/{domain}.xml - settings for every address of {domain}. Copy it into the"
                        " 'isp' folder of the Thunderbird installation (Windows: C:\\Program Files\\Mozilla"
                        " Thunderbird\\isp\\, macOS: Thunderbird.app/Contents/Resources/isp/, Linux:"
                        " /usr/lib/thunderbird/isp/ - create the folder if needed), then in Thunderbird choose"
                        " Account Settings > Account Actions > Add Mail Account and type the address: the"
                        " servers are filled in from this file."
                    ).format(domain=plan.domain)
                )
                out.append(
                    "  - "
                    + _(
                        "thunderbird/user.js - creates the account in a profile. Quit Thunderbird, copy the"
                        " file into the profile folder (Help > Troubleshooting Information > Profile Folder >"
                        " Open Folder), start Thunderbird: the account is there. Then delete user.js from the"
                        " profile, or Thunderbird applies it again at every start."
                    )
                )
        elif kind is ClientKind.OUTLOOK:
            out.append(
                _(
                    "Outlook classic for Windows (Outlook 2016, 2019, 2021, 2024 and Microsoft 365 Apps)"
                )
            )
            out.append(
                "  - "
                + _(
                    "outlook/autodiscover-{domain}.xml and outlook/autodiscover-{domain}.reg - copy the"
                    " .xml file to {folder}\\ (create the folder), then double-click the .reg file and"
                    " accept: Outlook then reads these settings instead of searching the network. Add the"
                    " account with File > Add Account and the address."
                ).format(domain=plan.domain, folder=XML_FOLDER_WINDOWS)
            )
            if plan.protocol == "exchange":
                out.append(
                    "  - "
                    + _(
                        "Exchange: in Outlook classic choose File > Add Account and type the address; the"
                        " registry file keeps Outlook from trying slow or wrong Autodiscover locations."
                    )
                )
            else:
                out.append(
                    "  - "
                    + _(
                        "outlook/{domain}.prf - alternative for IT staff: run outlook.exe /importprf"
                        ' "<path>\\{domain}.prf" to create the account in the default profile.'
                    ).format(domain=plan.domain)
                )
            out.append(
                "  - "
                + _(
                    "The new Outlook for Windows and Outlook on the web accept none of these files: open"
                    " Settings > Accounts > Add account and type the address."
                )
            )
        elif kind is ClientKind.APPLE:
            out.append(_("Apple Mail (macOS 10.14 or later) and iPhone/iPad (iOS 12 or later)"))
            out.append(
                "  - "
                + _(
                    "apple/{domain}.mobileconfig - on a Mac, double-click it, then open System Settings >"
                    " Privacy & Security > Profiles and install it; on an iPhone or iPad, send it by"
                    " AirDrop or e-mail, open it, then Settings > Profile Downloaded > Install. The"
                    ' profile is not signed, so the device shows it as "Not Verified". The password is'
                    " asked during the installation."
                ).format(domain=plan.domain)
            )
            if plan.protocol == "exchange":
                out.append(
                    "  - "
                    + _(
                        "For Exchange the profile works on iPhone and iPad only (ActiveSync payload); on a Mac add the account in System Settings > Internet Accounts > Microsoft Exchange."
                    )
                )
    hosted = "microsoft365" if plan.on_microsoft365 else None
    exchange_hosted = plan.exchange.hosted if plan.exchange is not None else None
    notes = facts.notes_for(hosted, exchange_hosted, lang="fr" if lang == "fr" else "en")
    if notes:
        out += ["", _("Good to know")] + [f"  - {n}" for n in notes]
    return "\n".join(_wrap(line) for line in out) + "\n"


def _wrap(line: str, width: int = 78) -> str:
    """Wrap long lines for a plain-text README, keeping the list indentation."""
    import textwrap

    if len(line) <= width:
        return line
    indent = len(line) - len(line.lstrip(" -"))
    return textwrap.fill(line, width=width, subsequent_indent=" " * indent)
