"""README.txt of an export: how to import each file, and which client versions accept it.

Written for the person (or the IT technician) at the machine, in English here;
other languages come from the gettext catalogs (:mod:`advisor.i18n`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from advisor import facts, i18n
from advisor.formats.plan import AccountPlan, OAuthPlatform, ProviderHelp
from advisor.i18n import _

if TYPE_CHECKING:
    from advisor.export import ClientKind


def _security(value: str) -> str:
    names = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": _("no encryption")}
    return names[value]


def readme(plan: AccountPlan, clients: Sequence[ClientKind], *, lang: str) -> str:
    """The README.txt in ``lang`` (this thread only: exports in several languages can run at once)."""
    from advisor.formats.text import escape_controls

    with i18n.language(lang):
        # Names and notes come from reports, servers and rule files: a README opened
        # in a terminal (cat, less -r) must not carry their control or bidi characters.
        return escape_controls(_readme(plan, clients, lang=lang), keep_lines=True)


def _readme(plan: AccountPlan, clients: Sequence[ClientKind], *, lang: str) -> str:
    from advisor.export import XML_FOLDER_WINDOWS, ClientKind, outlook_takes_files

    names = {"imap": "IMAP", "pop3": "POP3", "exchange": "Exchange"}
    out = [
        _("Mail settings for {email} ({protocol}), made by Mail Setup Advisor").format(
            email=plan.email, protocol=names[plan.protocol]
        ),
        "",
    ]
    if plan.oauth:
        out.append(_("No file contains a password."))
    else:
        out.append(_("No file contains a password: the mail client asks for it the first time."))
    out += sign_in_lines(plan, lang)
    out += ["", _("Servers")]
    unverified = unverified_text(plan)
    if unverified is not None:
        out.append("  " + unverified)
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
    if plan.caldav_url:
        out.append("  " + _("Calendars (CalDAV): {url}").format(url=plan.caldav_url))
    if plan.carddav_url:
        out.append("  " + _("Contacts (CardDAV): {url}").format(url=plan.carddav_url))
    if plan.webmail_url:
        out.append(
            "  "
            + _("Webmail: {url} (in a browser, nothing to set up)").format(url=plan.webmail_url)
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
                        " servers are filled in from this file. This is the way for a profile that"
                        " already has accounts: they stay as they are."
                    ).format(domain=plan.domain)
                )
                out.append(
                    "  - "
                    + _(
                        "thunderbird/user.js - only for a NEW profile of its own, never for one you"
                        " already use (it replaces the profile's list of accounts). Quit Thunderbird and"
                        " create the profile: {command} (or thunderbird -ProfileManager > Create"
                        " Profile). Copy user.js into that folder, start {start}: the account is there."
                        " Then delete user.js from the folder, or Thunderbird applies it again at every"
                        " start."
                    ).format(command=new_profile_command(), start=NEW_PROFILE_START)
                )
                out.append("  - " + enterprise_text())
        elif kind is ClientKind.OUTLOOK:
            out.append(
                _(
                    "Outlook classic for Windows (Outlook 2016, 2019, 2021, 2024 and Microsoft 365 Apps)"
                )
            )
            if not outlook_takes_files(plan):
                out.append("  - " + _outlook_oauth_step(plan))
                continue
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
            if plan.protocol != "exchange" and plan.oauth:
                special = _apple_oauth_lines(plan)
                if special:
                    out += ["  - " + line for line in special]
                    continue
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
            if plan.app_passwords is not None:
                out.append(
                    "  - "
                    + _(
                        "When the device asks for the password, type an app password (see"
                        " above), not your usual password."
                    )
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


# A new, empty profile for user.js (Thunderbird's command-line options -CreateProfile
# "name folder" and -P name; the folder is created).
NEW_PROFILE_NAME = "mail-setup"


def new_profile_command() -> str:
    """The command that creates the new profile; ``<folder>`` in the reader's language."""
    return f'thunderbird -CreateProfile "{NEW_PROFILE_NAME} <{_("folder")}>"'


NEW_PROFILE_START = f"thunderbird -P {NEW_PROFILE_NAME}"


# Where Thunderbird's installation folder is (AutoConfig files go there).
INSTALL_WINDOWS = "C:\\Program Files\\Mozilla Thunderbird\\"
INSTALL_MACOS = "Thunderbird.app/Contents/Resources/"
INSTALL_LINUX = "/usr/lib/thunderbird/"


def enterprise_text() -> str:
    """README.txt's paragraph on the AutoConfig files (advisor.export.ENTERPRISE_DIR)."""
    return _(
        "thunderbird/enterprise/ - for IT staff, to add the account to profiles already in use"
        " without touching their other accounts: copy mozilla.cfg into the Thunderbird"
        " installation folder ({windows} on Windows, {macos} on macOS, {linux} on Linux) and"
        " defaults/pref/autoconfig.js into its defaults/pref folder, then restart Thunderbird."
        " At the next start Thunderbird adds the account to each profile that lacks it, once;"
        " the files act for every user of the computer. If the installation already has an"
        " AutoConfig file, add the lines of mozilla.cfg to it instead."
    ).format(windows=INSTALL_WINDOWS, macos=INSTALL_MACOS, linux=INSTALL_LINUX)


def provider_text(help_: ProviderHelp, lang: str) -> str:
    """The provider's own text in ``lang`` if it wrote one, else its English text, marked so."""
    text, in_lang = help_.text(lang)
    text = " ".join(text.split())
    if text and not in_lang:
        return _("(the provider's words, in English:) {text}").format(text=text)
    return text


def unverified_text(plan: AccountPlan) -> str | None:
    """One sentence when no live check confirmed the servers: where they come from
    (the built-in catalogue, the --config-dir folder, the servers typed...)."""
    if not plan.unverified_from:
        return None
    names = {
        "catalogue": _("the built-in catalogue"),
        "local": _("your --config-dir folder"),
        "given": _("the servers you typed"),
    }
    where = [names[s] for s in plan.unverified_from if s in names]
    if any(s not in names for s in plan.unverified_from):
        where.append(_("the settings the provider publishes"))
    return _(
        "Not checked: these settings come from {where}, and no live connection confirmed"
        " them from this network. If the mail program cannot connect, check them with"
        " your provider."
    ).format(where=_(" and ").join(where))


def sign_in_lines(plan: AccountPlan, lang: str) -> list[str]:
    """How the person signs in, what to switch on first, and where app passwords are made."""
    out: list[str] = []
    if plan.oauth:
        out.append(_("Sign-in: your provider's sign-in page (OAuth2)."))
    elif plan.app_passwords is not None:
        out.append(_("Sign-in: an app password from your provider, not your usual password."))
    else:
        out.append(_("Sign-in: your password, typed when the mail program asks for it."))
    if plan.app_passwords is not None:
        steps = provider_text(plan.app_passwords, lang)
        if plan.oauth:
            lead = _(
                "A mail program that cannot open the sign-in page can use an app password instead:"
            )
        else:
            lead = _("To make the app password:")
        out.append(" ".join(x for x in (lead, steps, plan.app_passwords.url or "") if x))
    elif plan.oauth:
        out.append(
            _(
                "Your provider accepts no password from mail programs, not even an app password:"
                " a program that cannot open the sign-in page cannot connect."
            )
        )
    if plan.enable is not None and plan.protocol != "exchange":
        text = provider_text(plan.enable, lang)
        lead = _("Before you start, switch on IMAP/POP access at your provider:")
        out.append(" ".join(x for x in (lead, text, plan.enable.url or "") if x))
    return out


def _outlook_oauth_step(plan: AccountPlan) -> str:
    """Outlook classic's own sign-in for Google and Microsoft accounts: no file needed."""
    if plan.oauth_platform is OAuthPlatform.GOOGLE:
        return _(
            "No file for Outlook: choose File > Add Account, type {email} and Connect. Outlook"
            " opens Google's sign-in page (OAuth2): sign in there and allow access. A PRF or"
            " registry file could only set up a password account, which Google refuses."
        ).format(email=plan.email)
    return _(
        "No file for Outlook: choose File > Add Account, type {email} and Connect. Outlook finds"
        " the account itself (Autodiscover) and opens Microsoft's sign-in page (OAuth2): sign in"
        " there. A PRF or registry file could only set up a password account, which Microsoft"
        " refuses."
    ).format(email=plan.email)


def _apple_oauth_lines(plan: AccountPlan) -> list[str]:
    """The Apple lines for an OAuth2 account; empty for a password profile (app password)."""
    from advisor.formats import apple

    kind = apple.profile_kind(plan)
    if kind == apple.GOOGLE_PAYLOAD:
        return [
            _(
                "apple/{domain}.mobileconfig - iPhone and iPad: open it, then Settings > Profile"
                " Downloaded > Install; it adds the Google account and asks you to sign in on"
                " Google's page. It holds no password."
            ).format(domain=plan.domain),
            _(
                "On a Mac: System Settings > Internet Accounts > Google, and sign in on"
                " Google's page."
            ),
        ]
    if kind == apple.EAS_PAYLOAD:
        return [
            _(
                "apple/{domain}.mobileconfig - iPhone and iPad: open it, then Settings > Profile"
                " Downloaded > Install; it adds the account as Exchange with OAuth2 and you sign"
                " in on Microsoft's page. It holds no password."
            ).format(domain=plan.domain),
            _(
                "On a Mac: System Settings > Internet Accounts > Microsoft Exchange, and sign in"
                " on Microsoft's page."
            ),
        ]
    if kind is None:
        return [
            _(
                "No Apple profile: this provider signs in only with OAuth2, which a profile cannot"
                " carry. Add the account in System Settings > Internet Accounts on a Mac, or"
                " Settings > Mail > Accounts > Add Account on an iPhone or iPad, and sign in on"
                " the provider's page."
            )
        ]
    return []


def _wrap(line: str, width: int = 78) -> str:
    """Wrap long lines for a plain-text README, keeping the list indentation."""
    import textwrap

    if len(line) <= width:
        return line
    indent = len(line) - len(line.lstrip(" -"))
    return textwrap.fill(line, width=width, subsequent_indent=" " * indent)
