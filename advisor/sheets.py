"""Setup sheets for people and the onboarding index for IT staff: printable HTML and Markdown.

Pure: an account plan, a recommendation and the names of the files written
go in; text comes out. A sheet is first built as one language-resolved
:class:`Sheet` (every sentence already translated, every value already in
place) and then rendered twice, by :func:`render_html` and
:func:`render_markdown`: the two formats cannot say different things.

Everything that comes from outside (names and addresses from a CSV, host
names from discovery, rule explanations from rule files) is escaped where it
is written: ``html.escape(..., quote=True)`` for HTML, backslash escapes and
code spans for Markdown. The HTML pages are self-contained: inline CSS, no
script, no external resource, and a Content-Security-Policy that forbids
loading anything should a hostile value ever slip through.

No password is ever an input, so none can be printed; the sheets say so.
"""

from __future__ import annotations

import functools
import html
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote

from advisor import facts, i18n
from advisor.export import ENTERPRISE_CFG, ENTERPRISE_JS, XML_FOLDER_WINDOWS, outlook_takes_files
from advisor.formats.apple import GOOGLE_PAYLOAD, MAIL_PAYLOAD
from advisor.formats.apple import profile_kind as apple_kind
from advisor.formats.plan import AccountPlan, OAuthPlatform, ServerSetting
from advisor.i18n import _
from advisor.instructions import (
    INSTALL_LINUX,
    INSTALL_MACOS,
    INSTALL_WINDOWS,
    NEW_PROFILE_START,
    new_profile_command,
    sign_in_lines,
    unverified_text,
)
from advisor.needs import Client
from advisor.recommend import Choice, Recommendation

PROTOCOL_NAMES = {"imap": "IMAP", "pop3": "POP3", "exchange": "Exchange"}
SHEET_HTML = "setup-sheet.html"
SHEET_MARKDOWN = "setup-sheet.md"
INDEX_CHUNK_ROWS = 256  # rows per yielded chunk: big enough to write fast, small in memory
INDEX_NAV_ALL = 30  # up to this many pages, the navigation names every one
INDEX_NAV_NEAR = 3  # else the pages this close to the current one,
INDEX_NAV_MARKS = 20  # about this many evenly spaced ones, and the first and the last
INDEX_PAGE_SLACK = 1024  # bytes: a page's navigation may name a few more pages than measured

# Where Thunderbird reads isp/ files (as README.txt says; Mozilla's "Autoconfiguration"
# page: the isp folder of the installation directory).
_ISP_WINDOWS = "C:\\Program Files\\Mozilla Thunderbird\\isp\\"
_ISP_MACOS = "Thunderbird.app/Contents/Resources/isp/"
_ISP_LINUX = "/usr/lib/thunderbird/isp/"


# --------------------------------------------------------------- content


@dataclass(frozen=True)
class Code:
    """A literal value (host name, port, path, command): monospace, never reformatted."""

    text: str


@dataclass(frozen=True)
class FileLink:
    """A file of the employee's folder, by its relative POSIX path."""

    path: str


Inline = str | Code | FileLink
Text = tuple[Inline, ...]


@dataclass(frozen=True)
class Step:
    """One numbered step."""

    text: Text


@dataclass(frozen=True)
class Paragraph:
    text: Text
    role: str = ""  # "verdict" | "warning" | "": a CSS class in HTML, bold in Markdown


@dataclass(frozen=True)
class Bullets:
    label: str  # e.g. "Why:"; "" for none
    items: tuple[Text, ...]


@dataclass(frozen=True)
class Steps:
    label: str  # e.g. "Alternative for IT staff:"; "" for none
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Text, ...], ...]  # the first cell of each row is its label


Block = Paragraph | Bullets | Steps | Table


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]
    level: int = 2
    role: str = ""  # "client": kept on one printed page when it fits
    subsections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Sheet:
    """A whole setup sheet, every sentence in ``lang``: what both renderers write."""

    lang: str
    title: str
    subtitle: str  # the address under a name; "" when the title is the address
    sections: tuple[Section, ...]
    footer: str


_FORMATTER = string.Formatter()


@functools.lru_cache(maxsize=512)
def _pieces(template: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((literal, field) for literal, field, _spec, _conv in _FORMATTER.parse(template))


def _fill(template: str, **values: Inline) -> Text:
    """``template`` (a translated message) with its ``{name}`` fields replaced by ``values``.

    Unlike ``str.format``, a :class:`Code` or :class:`FileLink` value stays a
    separate piece, so each renderer can format (and escape) it its own way.
    """
    out: list[Inline] = []

    def add(piece: Inline) -> None:
        if isinstance(piece, str):
            if not piece:
                return
            if out and isinstance(out[-1], str):
                out[-1] += piece
                return
        out.append(piece)

    for literal, field in _pieces(template):
        add(literal)
        if field is not None:
            add(values[field])
    return tuple(out)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _clean(value: str) -> str:
    """One line of text: control characters and line breaks (a CSV may hold any) become
    spaces; bidi overrides and lone surrogates are shown escaped (``\\u202e``)."""
    from advisor.formats.text import escape_controls

    return escape_controls(_CONTROL.sub(" ", value).strip())


# ---------------------------------------------------------- vocabulary


def _security(value: str) -> str:
    names = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": _("no encryption")}
    return names.get(value, value)


def _auth(value: str) -> str:
    """Mozilla's sign-in vocabulary (see advisor.formats.plan) in words for people."""
    names = {
        "password-cleartext": _("normal password"),
        "password-encrypted": _("encrypted password (CRAM-MD5)"),
        "OAuth2": _("your provider's sign-in page (OAuth2)"),
        "NTLM": "NTLM",
        "GSSAPI": "Kerberos (GSSAPI)",
        "client-IP-address": _("none (by network address)"),
        "TLS-client-cert": _("TLS client certificate"),
        "none": _("none"),
    }
    return names.get(value, value)


def _confidence_label(label: str) -> str:
    labels = {"high": _("high"), "medium": _("medium"), "low": _("low")}
    return labels.get(label, label)


def _on_microsoft365(plan: AccountPlan) -> bool:
    return plan.on_microsoft365 or (
        plan.exchange is not None and plan.exchange.hosted == "microsoft365"
    )


def _oauth(plan: AccountPlan) -> bool:
    """The first sign-in happens on the provider's web page, not in the program."""
    if plan.protocol == "exchange":
        return _on_microsoft365(plan)
    return plan.oauth or any(
        s is not None and s.auth == "OAuth2" for s in (plan.incoming, plan.outgoing)
    )


@dataclass(frozen=True)
class _Files:
    """The file names render_files writes for this plan, kept only if they were written."""

    present: frozenset[str]
    domain: str

    def get(self, name: str) -> str | None:
        return name if name in self.present else None

    @property
    def isp_xml(self) -> str | None:
        return self.get(f"thunderbird/{self.domain}.xml")

    @property
    def user_js(self) -> str | None:
        return self.get("thunderbird/user.js")

    @property
    def enterprise_cfg(self) -> str | None:
        return self.get(ENTERPRISE_CFG)

    @property
    def enterprise_js(self) -> str | None:
        return self.get(ENTERPRISE_JS)

    @property
    def autodiscover_xml(self) -> str | None:
        return self.get(f"outlook/autodiscover-{self.domain}.xml")

    @property
    def autodiscover_reg(self) -> str | None:
        return self.get(f"outlook/autodiscover-{self.domain}.reg")

    @property
    def prf(self) -> str | None:
        return self.get(f"outlook/{self.domain}.prf")

    @property
    def mobileconfig(self) -> str | None:
        return self.get(f"apple/{self.domain}.mobileconfig")

    @property
    def readme(self) -> str | None:
        return self.get("README.txt")


# ------------------------------------------------------------- the sheet


def setup_sheet(
    plan: AccountPlan,
    rec: Recommendation,
    clients: Sequence[Client],
    files: Sequence[str],
    *,
    lang: str,
    generated: str,
    why: str = "",
) -> Sheet:
    """The content of one person's setup sheet, in ``lang`` (this thread only); ``why``:
    why the files set up another protocol than the recommended one (in ``lang``)."""
    with i18n.language(lang) as chosen:
        return _sheet(plan, rec, clients, files, lang=chosen, generated=generated, why=why)


def setup_sheet_markdown(
    plan: AccountPlan,
    rec: Recommendation,
    clients: Sequence[Client],
    files: Sequence[str],
    *,
    lang: str,
    generated: str,
) -> str:
    """The setup sheet as GitHub-flavoured Markdown."""
    return render_markdown(setup_sheet(plan, rec, clients, files, lang=lang, generated=generated))


def setup_sheet_html(
    plan: AccountPlan,
    rec: Recommendation,
    clients: Sequence[Client],
    files: Sequence[str],
    *,
    lang: str,
    generated: str,
) -> str:
    """The setup sheet as one self-contained, printable HTML page."""
    return render_html(setup_sheet(plan, rec, clients, files, lang=lang, generated=generated))


def _sheet(
    plan: AccountPlan,
    rec: Recommendation,
    clients: Sequence[Client],
    files: Sequence[str],
    *,
    lang: str,
    generated: str,
    why: str = "",
) -> Sheet:
    name = _clean(plan.full_name)
    email = _clean(plan.email)
    present = _Files(frozenset(files), plan.domain)
    sections = [
        _recommendation(plan, rec, lang, why),
        _settings(plan),
        _sign_in_section(plan, lang),
    ]
    chosen: list[Client] = []
    for client in clients:
        value = Client(client)
        if value not in chosen:
            chosen.append(value)
    if chosen:
        programs = tuple(_client_section(plan, c, present) for c in chosen)
        sections.append(Section(_("Your mail programs"), (), subsections=programs))
    sections.append(_good_to_know(plan, rec, present, lang))
    return Sheet(
        lang=lang,
        title=_("Mail setup for {name}").format(name=name or email),
        subtitle=email if name else "",
        sections=tuple(sections),
        footer=_("Made by Mail Setup Advisor on {date}").format(date=_clean(generated)),
    )


def _choice(rec: Recommendation, protocol: str | None) -> Choice | None:
    return next((c for c in rec.ranking if c.protocol == protocol), None)


def _recommendation(plan: AccountPlan, rec: Recommendation, lang: str, why: str = "") -> Section:
    blocks: list[Block] = []
    if rec.recommended is None:
        blocks.append(
            Paragraph((_("No protocol can be recommended: every one is excluded."),), "warning")
        )
    else:
        verdict = _("Recommended: {protocol} (confidence {label}, {percent})").format(
            protocol=PROTOCOL_NAMES.get(rec.recommended, rec.recommended),
            label=_confidence_label(rec.confidence_label),
            percent=i18n.percent(rec.confidence),
        )
        blocks.append(Paragraph((verdict,), "verdict"))
    written = PROTOCOL_NAMES.get(plan.protocol, plan.protocol)
    if plan.protocol != rec.recommended:
        if rec.recommended is None:
            note = _("Note: the files in this folder set up {protocol}.").format(protocol=written)
        else:
            note = _(
                "Note: the files in this folder set up {protocol}, not the recommended"
                " {recommended}."
            ).format(protocol=written, recommended=PROTOCOL_NAMES.get(rec.recommended, "?"))
        if why:
            note = " ".join((note, _("Reason: {why}.").format(why=_clean(why))))
        blocks.append(Paragraph((note,), "warning"))
    best = _choice(rec, rec.recommended)
    if best is not None:
        reasons = [rule for rule, points in sorted(best.reasons, key=lambda r: -r[1]) if points > 0]
        if reasons:
            blocks.append(
                Bullets(_("Why:"), tuple((_clean(r.explanation(lang)),) for r in reasons))
            )
        from advisor.report import unchecked_caveat

        unchecked = unchecked_caveat(rec.facts)
        if best.caveats or unchecked:
            caveats = tuple((_clean(r.explanation(lang)),) for r in best.caveats)
            if unchecked:
                caveats += ((_clean(unchecked),),)
            blocks.append(Bullets(_("Caveats:"), caveats))
    used = _choice(rec, plan.protocol)
    if used is not None and used is not best and used.caveats:
        label = _("Caveats of {protocol}:").format(protocol=written)
        blocks.append(Bullets(label, tuple((_clean(r.explanation(lang)),) for r in used.caveats)))
    return Section(_("Recommendation"), tuple(blocks))


def _server_column(s: ServerSetting | None) -> tuple[Text, ...]:
    if s is None:
        return (("-",),) * 6
    return (
        (s.protocol.name,),
        (Code(_clean(s.hostname)),),
        (Code(str(s.port)),),
        (_security(s.security.value),),
        (Code(_clean(s.username)),) if s.username else ("-",),
        (_auth(s.auth),),
    )


def _settings(plan: AccountPlan) -> Section:
    section = _settings_table(plan)
    unverified = unverified_text(plan)
    if unverified is None:
        return section
    return replace(section, blocks=(*section.blocks, Paragraph((_clean(unverified),))))


def _settings_table(plan: AccountPlan) -> Section:
    intro = Paragraph((_("To add the account by hand, or to check what a program filled in:"),))
    if plan.protocol == "exchange":
        ex = plan.exchange
        rows: list[tuple[Text, ...]] = [((_("Protocol"),), ("Exchange",))]
        if _on_microsoft365(plan):
            rows.append(((_("Hosting"),), ("Microsoft 365",)))
        elif ex is not None and ex.hosted == "on-premises":
            rows.append(((_("Hosting"),), (_("on-premises"),)))
        if ex is not None and ex.server:
            rows.append(((_("Server"),), (Code(_clean(ex.server)),)))
        if ex is not None and ex.ews_url:
            rows.append(((_("EWS URL"),), (Code(_clean(ex.ews_url)),)))
        rows.append(((_("User name"),), (Code(_clean(plan.email)),)))
        sign_in = _auth("OAuth2") if _oauth(plan) else _("password")
        rows.append(((_("Sign-in method"),), (sign_in,)))
        table = Table((_("Setting"), _("Value")), tuple(rows))
        return Section(_("Your settings"), (intro, table))
    labels = (
        _("Protocol"),
        _("Server"),
        _("Port"),
        _("Security"),
        _("User name"),
        _("Sign-in method"),
    )
    incoming = _server_column(plan.incoming)
    outgoing = _server_column(plan.outgoing)
    rows = [((label,), i, o) for label, i, o in zip(labels, incoming, outgoing, strict=True)]
    if plan.protocol == "pop3":
        if plan.pop3_leave_on_server:
            kept = _("kept {days} days after download").format(days=plan.pop3_keep_days or 14)
        else:
            kept = _("removed once downloaded")
        rows.append(((_("Mail on the server"),), (kept,), ("-",)))
    table = Table((_("Setting"), _("Incoming mail"), _("Outgoing mail")), tuple(rows))
    return Section(_("Your settings"), (intro, table))


def _sign_in_section(plan: AccountPlan, lang: str) -> Section:
    """How the person signs in, what to switch on first, where app passwords are made."""
    items = tuple((line,) for line in sign_in_lines(plan, lang))
    return Section(_("Sign-in"), (Bullets("", items),))


def _sign_in(plan: AccountPlan) -> Step:
    if _oauth(plan):
        return Step(
            (
                _(
                    "The first time, the program opens your provider's sign-in page (OAuth2):"
                    " sign in there."
                ),
            )
        )
    if plan.app_passwords is not None:
        return Step(
            (
                _(
                    'Type an app password (see "Sign-in") when the program asks for the'
                    " password the first time, not your usual password."
                ),
            )
        )
    return Step((_("Type your password when the program asks for it the first time."),))


def _step(template: str, **values: Inline) -> Step:
    return Step(_fill(template, **values))


def _client_section(plan: AccountPlan, client: Client, files: _Files) -> Section:
    heading, blocks = _CLIENT_SECTIONS[client](plan, files)
    return Section(heading, tuple(blocks), level=3, role="client")


_ClientContent = tuple[str, list[Block]]


def _thunderbird(plan: AccountPlan, files: _Files) -> _ClientContent:
    add_account = _step(
        _("In Thunderbird, choose Account Settings > Account Actions > Add Mail Account.")
    )
    steps: tuple[Step, ...]
    if plan.protocol == "exchange":
        heading = _("Thunderbird 145 or later (Windows, macOS, Linux)")
        steps = (
            add_account,
            _step(
                _(
                    "Type your name and address, then Continue, and choose Exchange among the"
                    " configurations found; if none is found, enter the server from"
                    ' "Your settings".'
                )
            ),
            _sign_in(plan),
        )
        note = _(
            "Thunderbird: no file for Exchange. Thunderbird 145 and later can add an Exchange"
            " account themselves (Add Mail Account, then choose Exchange); older versions need"
            " IMAP (if the server offers it) or an add-on such as Owl."
        )
        return heading, [Steps("", steps), Paragraph((note,))]
    heading = _("Thunderbird (version 102 or later; Windows, macOS, Linux)")
    blocks: list[Block] = []
    if files.isp_xml is not None:
        steps = (
            _step(
                _(
                    'Copy {file} into the "isp" folder of the Thunderbird installation (create it'
                    " if needed): {windows} on Windows, {macos} on macOS, {linux} on Linux."
                ),
                file=FileLink(files.isp_xml),
                windows=Code(_ISP_WINDOWS),
                macos=Code(_ISP_MACOS),
                linux=Code(_ISP_LINUX),
            ),
            _step(
                _(
                    "Start Thunderbird, then choose Account Settings > Account Actions > Add Mail"
                    " Account."
                )
            ),
            _step(
                _(
                    "Type your name and address, then Continue: the servers are filled in from this"
                    " file."
                )
            ),
            _sign_in(plan),
        )
        label = _("In the profile you use now (its other accounts stay as they are):")
        blocks.append(Steps(label, steps))
    if files.user_js is not None:
        steps = (
            _step(
                _("Quit Thunderbird, then create a new, empty profile: {command}"),
                command=Code(new_profile_command()),
            ),
            _step(
                _("Copy {file} into that folder."),
                file=FileLink(files.user_js),
            ),
            _step(
                _("Start Thunderbird with it: {command}. The account is there."),
                command=Code(NEW_PROFILE_START),
            ),
            _sign_in(plan),
            _step(
                _(
                    "Delete user.js from the profile folder, or Thunderbird applies it again at"
                    " every start."
                )
            ),
        )
        label = _(
            "Or in a new profile of its own (never copy user.js into a profile you already use:"
            " it replaces that profile's list of accounts):"
        )
        blocks.append(Steps(label, steps))
    if files.enterprise_cfg is not None and files.enterprise_js is not None:
        steps = (
            _step(
                _(
                    "Copy {file} into the Thunderbird installation folder: {windows} on Windows,"
                    " {macos} on macOS, {linux} on Linux."
                ),
                file=FileLink(files.enterprise_cfg),
                windows=Code(INSTALL_WINDOWS),
                macos=Code(INSTALL_MACOS),
                linux=Code(INSTALL_LINUX),
            ),
            _step(
                _('Copy {file} into its "defaults/pref" folder.'),
                file=FileLink(files.enterprise_js),
            ),
            _step(
                _(
                    "Restart Thunderbird: it adds the account to each profile that lacks it, once,"
                    " for every user of the computer. If the installation already has an"
                    " AutoConfig file, add the lines of mozilla.cfg to it instead."
                )
            ),
        )
        label = _(
            "For IT staff, to add the account to profiles already in use (their other accounts"
            " stay as they are):"
        )
        blocks.append(Steps(label, steps))
    if not blocks:
        steps = (
            add_account,
            _step(
                _(
                    "Type your name and address, then Continue; if the servers are not found,"
                    ' choose Configure manually and enter the values from "Your settings".'
                )
            ),
            _sign_in(plan),
        )
        blocks.append(Steps("", steps))
    blocks.extend(_thunderbird_dav(plan))
    return heading, blocks


def _thunderbird_dav(plan: AccountPlan) -> list[Block]:
    """The person's steps for calendars (CalDAV) and contacts (CardDAV) in Thunderbird."""
    blocks: list[Block] = []
    user = plan.incoming.username if plan.incoming is not None else plan.email
    if plan.caldav_url:
        steps = (
            _step(
                _("In Thunderbird, open the Calendar, then choose New Calendar > On the Network.")
            ),
            _step(
                _("Type your user name {user} and the address {url}, then Find Calendars."),
                user=Code(user),
                url=Code(plan.caldav_url),
            ),
            _step(_("Choose the calendars to show, then Subscribe; type your password if asked.")),
        )
        blocks.append(Steps(_("Your calendars (CalDAV):"), steps))
    if plan.carddav_url:
        steps = (
            _step(
                _("In Thunderbird, open the Address Book, then choose New Address Book > CardDAV.")
            ),
            _step(
                _("Type your user name {user} and the address {url}, then Continue."),
                user=Code(user),
                url=Code(plan.carddav_url),
            ),
            _step(
                _("Choose the address books to add, then Continue; type your password if asked.")
            ),
        )
        blocks.append(Steps(_("Your contacts (CardDAV):"), steps))
    return blocks


def _outlook(plan: AccountPlan, files: _Files) -> _ClientContent:
    heading = _(
        "Outlook classic for Windows (Outlook 2016, 2019, 2021, 2024 and Microsoft 365 Apps)"
    )
    blocks: list[Block] = []
    protocol = PROTOCOL_NAMES.get(plan.protocol, plan.protocol)
    if not outlook_takes_files(plan):
        return heading, [Steps("", (_outlook_own_sign_in(plan),))]
    if files.autodiscover_xml is not None and files.autodiscover_reg is not None:
        steps: tuple[Step, ...] = (
            _step(
                _("Copy {file} into {folder} (create the folder)."),
                file=FileLink(files.autodiscover_xml),
                folder=Code(XML_FOLDER_WINDOWS + "\\"),
            ),
            _step(
                _(
                    "Double-click {file} and accept: Outlook then reads these settings instead of"
                    " searching the network."
                ),
                file=FileLink(files.autodiscover_reg),
            ),
            _step(_("In Outlook, choose File > Add Account, type your address, then Connect.")),
            _sign_in(plan),
        )
    elif plan.protocol == "exchange":
        steps = (
            _step(
                _(
                    "In Outlook, choose File > Add Account, type your address, then Connect:"
                    " Outlook finds the Exchange server by itself."
                )
            ),
            _sign_in(plan),
        )
    else:
        steps = (
            _step(
                _(
                    "In Outlook, choose File > Add Account, type your address, then Advanced"
                    " options > Let me set up my account manually, and choose {protocol}."
                ),
                protocol=protocol,
            ),
            _step(_('Enter the values from "Your settings", then Connect.')),
            _sign_in(plan),
        )
    blocks.append(Steps("", steps))
    if files.prf is not None and plan.protocol != "exchange":
        folder = _("folder")  # a placeholder the technician replaces
        command = f'outlook.exe /importprf "<{folder}>\\{plan.domain}.prf"'
        prf = _step(
            _(
                "Copy {file} to the computer, then run {command} to create the account in the"
                " default Outlook profile."
            ),
            file=FileLink(files.prf),
            command=Code(command),
        )
        blocks.append(Steps(_("Alternative for IT staff:"), (prf,)))
    if plan.caldav_url or plan.carddav_url:
        note = _(
            "Outlook classic cannot sync calendars or contacts over CalDAV or CardDAV: use them"
            " in your provider's webmail or app, in Thunderbird or on your phone, or add an"
            " Outlook add-in that speaks CalDAV/CardDAV (for example CalDav Synchronizer)."
        )
        blocks.append(Paragraph((note,), role="warning"))
    return heading, blocks


def _outlook_own_sign_in(plan: AccountPlan) -> Step:
    if plan.oauth_platform is OAuthPlatform.GOOGLE:
        return _step(
            _(
                "In Outlook, choose File > Add Account, type your address, then Connect: Outlook"
                " opens Google's sign-in page (OAuth2); sign in there and allow access. No file"
                " is needed."
            )
        )
    return _step(
        _(
            "In Outlook, choose File > Add Account, type your address, then Connect: Outlook"
            " finds the account itself (Autodiscover) and opens Microsoft's sign-in page (OAuth2);"
            " sign in there. No file is needed."
        )
    )


def _new_outlook(plan: AccountPlan, files: _Files) -> _ClientContent:
    heading = _("New Outlook for Windows")
    ex = plan.exchange
    if plan.protocol == "exchange" and not _on_microsoft365(plan):
        steps: tuple[Step, ...] = (
            _step(
                _(
                    "The new Outlook cannot add an on-premises Exchange account: turn off the"
                    ' "New Outlook" switch at the top right of the window to go back to Outlook'
                    " classic."
                )
            ),
            _step(
                _("In Outlook classic, choose File > Add Account, type your address, then Connect.")
            ),
            _sign_in(plan),
        )
        if ex is not None and ex.server:
            return heading, [Steps("", steps), _webmail_hint(plan.webmail_url or ex.server)]
        return heading, [Steps("", steps)]
    add = _step(
        _(
            "In the new Outlook, open Settings > Accounts > Email accounts > Add account and type"
            " your address."
        )
    )
    if plan.protocol == "exchange":
        steps = (add, _sign_in(plan))
    else:
        steps = (
            add,
            _step(
                _(
                    "If Outlook asks which kind of account, choose {protocol} and enter the values"
                    ' from "Your settings".'
                ),
                protocol=PROTOCOL_NAMES.get(plan.protocol, plan.protocol),
            ),
            _sign_in(plan),
        )
    blocks: list[Block] = [
        Steps("", steps),
        Paragraph((_("The new Outlook accepts none of the files in this folder."),)),
    ]
    if plan.protocol == "imap":
        blocks.append(
            Paragraph(
                (
                    _(
                        "The new Outlook copies IMAP mail through Microsoft's cloud: if mail must"
                        " not leave your provider, use Outlook classic."
                    ),
                )
            )
        )
    return heading, blocks


def _webmail_hint(where: str) -> Paragraph:
    """``where``: the webmail URL discovery found, else the Exchange server (its /owa)."""
    address = where if "://" in where else _clean(where) + "/owa"
    return Paragraph(
        _fill(
            _("Outlook on the web also works: open {address} in a browser."),
            address=Code(address),
        )
    )


def _apple_profile_steps(plan: AccountPlan, profile: str, *, mac: bool) -> tuple[Step, ...]:
    if mac:
        first = _step(_("Double-click {file}."), file=FileLink(profile))
        install = _step(
            _(
                "Open System Settings > Privacy & Security > Profiles (on macOS 15: System Settings"
                ' > General > Device Management) and install the profile; it is shown as "Not'
                ' Verified" because it is not signed.'
            )
        )
    else:
        first = _step(
            _("Send {file} to the iPhone or iPad by AirDrop or e-mail, then open it."),
            file=FileLink(profile),
        )
        install = _step(
            _(
                'Open Settings > Profile Downloaded > Install; it is shown as "Not Verified"'
                " because it is not signed."
            )
        )
    if apple_kind(plan) == GOOGLE_PAYLOAD:
        credential = _step(_("Sign in on Google's page when the device asks, shortly after."))
    elif _on_microsoft365(plan) or plan.oauth_platform is OAuthPlatform.MICROSOFT:
        credential = _step(_("Sign in on Microsoft's page when the account is added."))
    elif plan.app_passwords is not None:
        credential = _sign_in(plan)
    else:
        credential = _step(_("Type your password when asked during the installation."))
    return (first, install, credential)


def _oauth_profile_note(profile: str | None) -> list[Block]:
    if profile is None:
        return []
    note = _fill(
        _(
            "The profile {file} cannot sign in with OAuth2: use it only with an app password from"
            " your provider."
        ),
        file=FileLink(profile),
    )
    return [Paragraph(note)]


def _apple_mail(plan: AccountPlan, files: _Files) -> _ClientContent:
    heading = _("Apple Mail on a Mac (macOS 10.14 or later)")
    profile = files.mobileconfig
    if plan.protocol == "exchange":
        steps: tuple[Step, ...] = (
            _step(
                _("Open System Settings > Internet Accounts > Add Account > Microsoft Exchange.")
            ),
            _step(
                _(
                    "Type your name and address, then Sign In; if the Mac cannot find the server,"
                    ' choose Configure Manually and enter the server from "Your settings".'
                )
            ),
            _sign_in(plan),
        )
        blocks: list[Block] = [Steps("", steps)]
        if profile is not None:
            note = _(
                "For Exchange the profile works on iPhone and iPad only (ActiveSync payload); on a"
                " Mac add the account in System Settings > Internet Accounts > Microsoft Exchange."
            )
            blocks.append(Paragraph((note,)))
        return heading, blocks
    if _oauth(plan) and profile is not None and apple_kind(plan) != MAIL_PAYLOAD:
        profile = None  # the Google and Exchange payloads exist on iPhone and iPad only
    if _oauth(plan):
        steps = (
            _step(
                _(
                    "Open System Settings > Internet Accounts > Add Account and choose your"
                    " provider if it is listed (Google, Microsoft Exchange for Microsoft 365,"
                    " Yahoo!), else Add Other Account > Mail account."
                )
            ),
            _step(
                _(
                    "Type your address; if Mail cannot find the servers, enter the values from"
                    ' "Your settings".'
                )
            ),
            _sign_in(plan),
        )
        return heading, [Steps("", steps), *_oauth_profile_note(profile)]
    if profile is not None:
        return heading, [Steps("", _apple_profile_steps(plan, profile, mac=True))]
    steps = (
        _step(_("Open System Settings > Internet Accounts > Add Other Account > Mail account.")),
        _step(
            _(
                "Type your address; if Mail cannot find the servers, enter the values from"
                ' "Your settings".'
            )
        ),
        _sign_in(plan),
    )
    return heading, [Steps("", steps)]


def _ios_mail(plan: AccountPlan, files: _Files) -> _ClientContent:
    heading = _("Mail on iPhone and iPad (iOS 12 or later)")
    profile = files.mobileconfig
    oauth_mail = _oauth(plan) and plan.protocol != "exchange"
    if profile is not None and (not oauth_mail or apple_kind(plan) != MAIL_PAYLOAD):
        return heading, [Steps("", _apple_profile_steps(plan, profile, mac=False))]
    if plan.protocol == "exchange":
        steps: tuple[Step, ...] = (
            _step(
                _(
                    "Open Settings > Mail > Accounts > Add Account > Microsoft Exchange (on iOS 18:"
                    " Settings > Apps > Mail > Mail Accounts)."
                )
            ),
            _step(
                _(
                    "Type your address, then Next; if the device cannot find the server, choose"
                    ' Configure Manually and enter the server from "Your settings".'
                )
            ),
            _sign_in(plan),
        )
        return heading, [Steps("", steps)]
    if oauth_mail:
        steps = (
            _step(
                _(
                    "Open Settings > Mail > Accounts > Add Account (on iOS 18: Settings > Apps >"
                    " Mail > Mail Accounts) and choose your provider if it is listed (Google,"
                    " Microsoft Exchange, Outlook.com, Yahoo!), else Other > Add Mail Account."
                )
            ),
            _sign_in(plan),
        )
        return heading, [Steps("", steps), *_oauth_profile_note(profile)]
    steps = (
        _step(
            _(
                "Open Settings > Mail > Accounts > Add Account > Other > Add Mail Account (on iOS"
                " 18: Settings > Apps > Mail > Mail Accounts)."
            )
        ),
        _step(
            _(
                "Type your name and address, then Next, choose {protocol} and enter the values"
                ' from "Your settings".'
            ),
            protocol=PROTOCOL_NAMES.get(plan.protocol, plan.protocol),
        ),
        _sign_in(plan),
    )
    return heading, [Steps("", steps)]


def _android(plan: AccountPlan, files: _Files) -> _ClientContent:
    heading = _("Android (Thunderbird for Android, K-9 Mail, Gmail app)")
    if plan.protocol == "exchange":
        steps: tuple[Step, ...] = (
            _step(
                _(
                    "Install Microsoft Outlook from Google Play, or in the Gmail app open"
                    " Settings > Add account > Exchange and Microsoft 365."
                )
            ),
            _step(
                _(
                    "Type your address; if the app asks for a server, enter the one from"
                    ' "Your settings".'
                )
            ),
            _sign_in(plan),
        )
        note = _("Thunderbird for Android and K-9 Mail do not support Exchange.")
        return heading, [Steps("", steps), Paragraph((note,))]
    steps = (
        _step(
            _(
                "Open Thunderbird for Android or K-9 Mail, choose Add account and type your address"
                " (in the Gmail app: Settings > Add account > Other)."
            )
        ),
        _step(
            _(
                "If the app does not find the servers, choose Manual setup, then {protocol}, and"
                ' enter the values from "Your settings".'
            ),
            protocol=PROTOCOL_NAMES.get(plan.protocol, plan.protocol),
        ),
        _sign_in(plan),
    )
    return heading, [Steps("", steps)]


def _webmail(plan: AccountPlan, files: _Files) -> _ClientContent:
    heading = _("Webmail (in a browser)")
    open_it = _("Open {address} in a browser.")
    ex = plan.exchange
    if plan.webmail_url:
        first = _step(open_it, address=Code(plan.webmail_url))
    elif _on_microsoft365(plan):
        first = _step(open_it, address=Code("outlook.office.com"))
    elif plan.provider_id == "google":
        first = _step(open_it, address=Code("mail.google.com"))
    elif plan.protocol == "exchange" and ex is not None and ex.server:
        first = _step(open_it, address=Code(_clean(ex.server) + "/owa"))
    else:
        first = _step(
            _("Open your provider's webmail in a browser (ask your IT staff for its address).")
        )
    steps = (first, _step(_("Sign in with your address.")))
    note = _("Webmail needs none of the files in this folder.")
    return heading, [Steps("", steps), Paragraph((note,))]


# One builder per program of the needs vocabulary (a test renders every member).
_CLIENT_SECTIONS: dict[Client, Callable[[AccountPlan, _Files], _ClientContent]] = {
    Client.THUNDERBIRD: _thunderbird,
    Client.OUTLOOK: _outlook,
    Client.NEW_OUTLOOK: _new_outlook,
    Client.APPLE_MAIL: _apple_mail,
    Client.IOS_MAIL: _ios_mail,
    Client.ANDROID: _android,
    Client.WEBMAIL: _webmail,
}


def _good_to_know(plan: AccountPlan, rec: Recommendation, files: _Files, lang: str) -> Section:
    # The plan knows Microsoft 365; other hosts (Google) only the discovery facts do.
    hosted_fact = rec.facts.get("provider.hosted_by")
    hosted = (
        "microsoft365"
        if plan.on_microsoft365
        else (str(hosted_fact) if hosted_fact not in (None, "none") else None)
    )
    exchange_hosted = plan.exchange.hosted if plan.exchange is not None else None
    items: list[Text] = [
        (_("No file contains a password: the mail program asks for it the first time."),)
    ]
    for note in facts.notes_for(hosted, exchange_hosted, lang=lang):
        # advisor.facts words its notes to be embedded; here each stands alone.
        sentence = note[:1].upper() + note[1:]
        items.append((sentence if sentence.endswith((".", "!", "?")) else sentence + ".",))
    if files.readme is not None:
        items.append(
            _fill(
                _("{file} describes every file of this folder in plain text."),
                file=FileLink(files.readme),
            )
        )
    return Section(_("Good to know"), (Bullets("", tuple(items)),))


# ------------------------------------------------------------------ HTML

_SHEET_CSS = """
:root{color-scheme:light;--ink:#1b1b1b;--muted:#5a5a5a;--line:#c9c9c9;--accent:#0b5cad}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:#fff;margin:0}
main,footer{max-width:46rem;margin:0 auto;padding:0 1rem}
h1{font-size:1.7rem;margin:1.5rem 0 .2rem}h2{font-size:1.3rem;margin:1.6rem 0 .5rem;
border-bottom:1px solid var(--line)}h3{font-size:1.1rem;margin:1.2rem 0 .4rem}
.subtitle{margin:0;color:var(--muted)}.verdict{font-weight:600;font-size:1.1rem}
.warning{border-left:4px solid #b36b00;padding-left:.6rem}.label{margin-bottom:.2rem}
code{font:.92em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
a{color:var(--accent)}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}ol li,ul li{margin:.2rem 0}
footer{color:var(--muted);font-size:.85rem;margin:2rem auto 1rem;padding-top:.5rem;
border-top:1px solid var(--line)}
@media print{body{font-size:11pt}main,footer{max-width:none;padding:0}
a{color:inherit;text-decoration:none}
h2,h3,.label{break-after:avoid;page-break-after:avoid}
.client,table,li{break-inside:avoid;page-break-inside:avoid}
thead th{background:none}@page{margin:1.5cm}}
"""
# Links are relative file names and their text is the name itself: a printed
# sheet still says which file each step means, without the URL after it.

# Nothing may load: no script, image, font, frame or fetch; only the inline <style>.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"  # a constant: no " to escape


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _html_text(text: Text) -> str:
    out: list[str] = []
    for part in text:
        if isinstance(part, str):
            out.append(_e(part))
        elif isinstance(part, Code):
            out.append(f"<code>{_e(part.text)}</code>")
        else:
            out.append(f'<a href="{_e(quote(part.path))}"><code>{_e(part.path)}</code></a>')
    return "".join(out)


def _html_head(lang: str, title: str, css: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
    )


def _html_block(block: Block, out: list[str]) -> None:
    if isinstance(block, Paragraph):
        role = f' class="{block.role}"' if block.role else ""
        out.append(f"<p{role}>{_html_text(block.text)}</p>\n")
    elif isinstance(block, Bullets | Steps):
        if block.label:
            out.append(f'<p class="label">{_e(block.label)}</p>\n')
        if isinstance(block, Bullets):
            items = "".join(f"<li>{_html_text(t)}</li>\n" for t in block.items)
            out.append(f"<ul>\n{items}</ul>\n")
        else:
            items = "".join(f"<li>{_html_text(s.text)}</li>\n" for s in block.steps)
            out.append(f"<ol>\n{items}</ol>\n")
    else:
        head = "".join(f'<th scope="col">{_e(h)}</th>' for h in block.header)
        out.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n")
        for row in block.rows:
            cells = "".join(f"<td>{_html_text(c)}</td>" for c in row[1:])
            out.append(f'<tr><th scope="row">{_html_text(row[0])}</th>{cells}</tr>\n')
        out.append("</tbody>\n</table>\n")


def _html_section(section: Section, out: list[str]) -> None:
    role = f' class="{section.role}"' if section.role else ""
    level = section.level
    out.append(f"<section{role}>\n<h{level}>{_e(section.heading)}</h{level}>\n")
    for block in section.blocks:
        _html_block(block, out)
    for sub in section.subsections:
        _html_section(sub, out)
    out.append("</section>\n")


def render_html(sheet: Sheet) -> str:
    """The sheet as a self-contained HTML page (inline CSS, no script, no external resource)."""
    out = [_html_head(sheet.lang, sheet.title, _SHEET_CSS), "<main>\n"]
    out.append(f"<h1>{_e(sheet.title)}</h1>\n")
    if sheet.subtitle:
        out.append(f'<p class="subtitle"><code>{_e(sheet.subtitle)}</code></p>\n')
    for section in sheet.sections:
        _html_section(section, out)
    out.append(f"</main>\n<footer><p>{_e(sheet.footer)}</p></footer>\n</body>\n</html>\n")
    return "".join(out)


# -------------------------------------------------------------- Markdown

# Characters that start Markdown syntax anywhere in a line (GFM: emphasis, code,
# links, raw HTML/autolinks, tables, strikethrough, headings' closing #, math),
# and entity references. Each is backslash-escaped (CommonMark §2.4).
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<|~#$]|&(?=#?[0-9A-Za-z]+;)")
# What is syntax only at the start of a block: quote, list item, setext underline.
_MD_BLOCK_START = re.compile(r"^(?:([>+=-])|(\d{1,9})([.)]))")


def _md_escape(value: str, *, at_start: bool = False) -> str:
    escaped = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), value)
    if at_start:
        escaped = _MD_BLOCK_START.sub(
            lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3),
            escaped.lstrip(),
        )
    return escaped


def _md_code(value: str, *, in_table: bool) -> str:
    if not value:
        return ""
    runs = re.findall(r"`+", value)
    fence = "`" * (max((len(r) for r in runs), default=0) + 1)
    if in_table:
        value = value.replace("|", "\\|")  # GFM splits cells before reading code spans
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _md_text(text: Text, *, in_table: bool = False) -> str:
    out: list[str] = []
    for index, part in enumerate(text):
        if isinstance(part, str):
            out.append(_md_escape(part, at_start=index == 0 and not in_table))
        elif isinstance(part, Code):
            out.append(_md_code(part.text, in_table=in_table))
        else:
            label = _md_code(part.path, in_table=in_table)
            out.append(f"[{label}]({quote(part.path)})")
    return "".join(out)


def _md_block(block: Block, out: list[str]) -> None:
    if isinstance(block, Paragraph):
        text = _md_text(block.text)
        out.append(f"**{text}**\n\n" if block.role else f"{text}\n\n")
    elif isinstance(block, Bullets | Steps):
        if block.label:
            out.append(f"{_md_escape(block.label, at_start=True)}\n\n")
        if isinstance(block, Bullets):
            out.append("".join(f"- {_md_text(t)}\n" for t in block.items))
        else:
            out.append(
                "".join(f"{n}. {_md_text(s.text)}\n" for n, s in enumerate(block.steps, start=1))
            )
        out.append("\n")
    else:
        cells = [_md_escape(h) for h in block.header]
        out.append("| " + " | ".join(cells) + " |\n")
        out.append("|" + " --- |" * len(block.header) + "\n")
        for row in block.rows:
            cells = [_md_text(c, in_table=True) or " " for c in row]
            out.append("| " + " | ".join(cells) + " |\n")
        out.append("\n")


def _md_section(section: Section, out: list[str]) -> None:
    out.append(f"{'#' * section.level} {_md_escape(section.heading)}\n\n")
    for block in section.blocks:
        _md_block(block, out)
    for sub in section.subsections:
        _md_section(sub, out)


def render_markdown(sheet: Sheet) -> str:
    """The sheet as GitHub-flavoured Markdown; every dynamic value reads literally."""
    out = [f"# {_md_escape(sheet.title)}\n\n"]
    if sheet.subtitle:
        out.append(_md_code(sheet.subtitle, in_table=False) + "\n\n")
    for section in sheet.sections:
        _md_section(section, out)
    out.append(f"---\n\n{_md_escape(sheet.footer, at_start=True)}\n")
    return "".join(out)


# ----------------------------------------------------------- IT's index


@dataclass(frozen=True)
class IndexRow:
    line: int  # CSV line number
    email: str
    name: str
    lang: str
    status: str  # "done" | "unchanged" | "failed" | "kept-edits"
    protocol: str | None  # "imap" | "pop3" | "exchange" | None
    folder: str | None  # the employee's folder, relative to the output folder (POSIX)
    files: tuple[str, ...]  # relative to `folder`, with "setup-sheet.html" and "setup-sheet.md"
    message: str  # error (failed), or which files were kept (kept-edits), or ""


@dataclass(frozen=True)
class DomainRow:
    domain: str
    origin: str  # "fresh" | "cached" | "failed"
    age_seconds: float | None  # for cached results
    summary: str  # e.g. "IMAP imap.example.com:993 SSL/TLS, SMTP ...", or the error


STATUSES = ("done", "unchanged", "kept-edits", "failed")


def format_age(seconds: float, lang: str) -> str:
    """How old a result is, for people: "just now", "12 min", "3 h", "2 days"."""
    with i18n.language(lang):
        if not seconds >= 60:  # also NaN and a clock that went backwards
            return _("just now")
        if seconds < 3600:
            return _("{n} min").format(n=int(seconds // 60))
        if seconds < 86400:
            return _("{n} h").format(n=int(seconds // 3600))
        days = int(seconds // 86400)
        return _("1 day") if days == 1 else _("{n} days").format(n=days)


def _status_labels() -> dict[str, str]:
    return {
        "done": _("done"),
        "unchanged": _("unchanged"),
        "kept-edits": _("kept local edits"),
        "failed": _("failed"),
        "total": _("employees"),
    }


def _origin(domain: DomainRow, lang: str) -> str:
    if domain.origin == "fresh":
        return _("discovered now")
    if domain.origin == "failed":
        return _("discovery failed")
    if domain.origin == "cached":
        if domain.age_seconds is None:
            return _("cached")
        if not domain.age_seconds >= 60:
            return _("cached just now")
        return _("cached {age} ago").format(age=format_age(domain.age_seconds, lang))
    return domain.origin


_INDEX_CSS = """
:root{color-scheme:light;--ink:#1b1b1b;--muted:#5a5a5a;--line:#c9c9c9;--accent:#0b5cad}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:#fff;margin:0 1rem}
h1{font-size:1.5rem;margin:1.2rem 0 .5rem}h2{font-size:1.2rem;margin:1.4rem 0 .4rem}
.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem}
.counts li{font-weight:600}
code{font:.92em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
a{color:var(--accent)}table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid var(--line);padding:.25rem .4rem;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}td.num{text-align:right}
.files a{margin-right:.6rem;white-space:nowrap}
.status-done{color:#1a7f37}.status-unchanged{color:var(--muted)}
.status-kept-edits{color:#9a6700;font-weight:600}.status-failed{color:#b3261e;font-weight:600}
.origin-failed{color:#b3261e}
nav.pages{margin:.6rem 0;display:flex;flex-wrap:wrap;gap:.3rem .6rem}nav .off{color:var(--muted)}
footer{color:var(--muted);font-size:.85rem;margin:1.5rem 0 1rem;padding-top:.5rem;
border-top:1px solid var(--line)}
@media print{body{font-size:9pt;margin:0}nav.pages{display:none}
a{color:inherit;text-decoration:none}
thead{display:table-header-group}tr{break-inside:avoid;page-break-inside:avoid}
h2{break-after:avoid;page-break-after:avoid}thead th{background:none}@page{margin:1cm}}
"""


def _status_class(status: str) -> str:
    return f"status-{status}" if status in STATUSES else "status-other"


def _link(folder: str, name: str, label: str) -> str:
    href = quote(f"{folder}/{name}")
    return f'<a href="{_e(href)}">{_e(label)}</a>'


def index_page_name(number: int) -> str:
    """Page 1 is ``index.html`` (with the totals); the others ``index-2.html`` and on."""
    return "index.html" if number == 1 else f"index-{number}.html"


def _page_list(number: int, pages: int) -> list[int | None]:
    """The pages the navigation names (``None``: a gap), a bounded number of them:
    all of a few; else the first, the last, the neighbours and evenly spaced marks."""
    if pages <= INDEX_NAV_ALL:
        return list(range(1, pages + 1))
    step = -(-pages // INDEX_NAV_MARKS)
    near = range(max(1, number - INDEX_NAV_NEAR), min(pages, number + INDEX_NAV_NEAR) + 1)
    keep = sorted({1, pages, *near, *range(step, pages, step)})
    shown: list[int | None] = []
    for n in keep:
        if shown and shown[-1] is not None and n != shown[-1] + 1:
            shown.append(None)
        shown.append(n)
    return shown


class IndexRenderer:
    """IT staff's index, over as many pages as it takes to keep each one small.

    Each employee or domain row is rendered once, to one line of HTML (every
    value passes :func:`_clean`, so no line break is left inside), which the
    caller may keep on disk; :meth:`page` then wraps a page's rows. Every label
    is translated here, so no language block is held open across a ``yield``
    (the caller's thread keeps its own language).
    """

    def __init__(self, *, lang: str, generated: str) -> None:
        self.lang = lang
        with i18n.language(lang) as chosen:
            self.chosen = chosen
            self.labels = _status_labels()
            self.labels["sheet"] = _("setup sheet")
            self.title = _("Mail setup: onboarding index")
            self.domains_heading = _("Domains")
            self.domain_columns = (_("Domain"), _("Discovery"), _("Servers or error"))
            self.employees_heading = _("Employees")
            self.employee_columns = (
                _("Line"),
                _("Name"),
                _("Address"),
                _("Language"),
                _("Protocol"),
                _("Status"),
                _("Files"),
                _("Message"),
            )
            self.nav_label = _("Pages")
            self.first = _("« first")
            self.previous = _("‹ previous")
            self.next = _("next ›")
            self.last = _("last »")
            self.page_of = _("page {number} of {pages}")
            self.count = _("{label}: {count}")
            self.footer = _("Made by Mail Setup Advisor on {date}").format(date=_clean(generated))

    def employee_row(self, row: IndexRow) -> str:
        labels = self.labels
        status = labels.get(row.status, row.status)
        protocol = PROTOCOL_NAMES.get(row.protocol or "", row.protocol or "-")
        links = ""
        if row.status != "failed" and row.folder:
            folder = row.folder.rstrip("/")
            parts = []
            if SHEET_HTML in row.files:
                parts.append(_link(folder, SHEET_HTML, labels["sheet"]))
            parts += [_link(folder, f, f) for f in row.files if f != SHEET_HTML]
            links = " ".join(parts)
        return (
            f'<tr class="{_status_class(row.status)}"><td class="num">{_e(str(row.line))}</td>'
            f"<td>{_e(_clean(row.name))}</td><td>{_e(_clean(row.email))}</td>"
            f"<td>{_e(_clean(row.lang))}</td><td>{_e(protocol)}</td>"
            f'<td class="{_status_class(row.status)}">{_e(status)}</td>'
            f'<td class="files">{links}</td><td>{_e(_clean(row.message))}</td></tr>\n'
        )

    def domain_row(self, domain: DomainRow) -> str:
        origin_class = "origin-failed" if domain.origin == "failed" else ""
        with i18n.language(self.chosen):
            origin = _origin(domain, self.chosen)
        return (
            f"<tr><td><code>{_e(_clean(domain.domain))}</code></td>"
            f'<td class="{origin_class}">{_e(origin)}</td>'
            f"<td>{_e(_clean(domain.summary))}</td></tr>\n"
        )

    def _nav(self, number: int, pages: int) -> str:
        if pages < 2:
            return ""

        def to(n: int, label: str, rel: str) -> str:
            return f'<a href="{index_page_name(n)}" rel="{rel}">{_e(label)}</a>'

        def off(label: str) -> str:
            return f'<span class="off">{_e(label)}</span>'

        parts = [
            to(1, self.first, "first") if number > 1 else off(self.first),
            to(number - 1, self.previous, "prev") if number > 1 else off(self.previous),
        ]
        for n in _page_list(number, pages):
            if n is None:
                parts.append("<span>…</span>")
            elif n == number:
                parts.append(f'<strong aria-current="page">{n}</strong>')
            else:
                parts.append(f'<a href="{index_page_name(n)}">{n}</a>')
        parts.append(to(number + 1, self.next, "next") if number < pages else off(self.next))
        parts.append(to(pages, self.last, "last") if number < pages else off(self.last))
        return f'<nav class="pages" aria-label="{_e(self.nav_label)}">{" ".join(parts)}</nav>\n'

    def _table(self, heading: str, columns: Sequence[str]) -> str:
        cells = "".join(f'<th scope="col">{_e(h)}</th>' for h in columns)
        return f"<h2>{_e(heading)}</h2>\n<table>\n<thead><tr>{cells}</tr></thead>\n<tbody>\n"

    def page(
        self,
        number: int,
        pages: int,
        *,
        counts: Mapping[str, int] | None,
        domains: Iterable[str] = (),
        employees: Iterable[str] = (),
        employees_table: bool = True,
    ) -> Iterator[str]:
        """Page ``number`` of ``pages``, in chunks: ``domains`` and ``employees`` are
        rows from :meth:`domain_row` and :meth:`employee_row`, read once, as they come.
        ``counts`` (the totals) go on the first page. A table without rows is left
        out, except the employees' when ``employees_table`` says so."""
        title = self.title
        if pages > 1:
            title += " — " + self.page_of.format(number=number, pages=pages)
        head = [_html_head(self.chosen, title, _INDEX_CSS), f"<h1>{_e(title)}</h1>\n"]
        if counts is not None:
            order = ["total", *STATUSES]
            order += sorted(k for k in counts if k not in order)
            summary = "".join(
                f'<li class="{_status_class(k)}">'
                + _e(self.count.format(label=self.labels.get(k, k), count=counts[k]))
                + "</li>"
                for k in order
                if k in counts
            )
            head.append(f'<ul class="counts">{summary}</ul>\n')
        nav = self._nav(number, pages)
        head.append(nav)
        yield "".join(head)
        for rows, heading, columns, always in (
            (domains, self.domains_heading, self.domain_columns, False),
            (employees, self.employees_heading, self.employee_columns, employees_table),
        ):
            batch: list[str] = [self._table(heading, columns)] if always else []
            for row in rows:
                if not batch:
                    batch.append(self._table(heading, columns))
                batch.append(row)
                if len(batch) >= INDEX_CHUNK_ROWS:
                    yield "".join(batch)
                    batch = [""]  # the table is open
            if batch:
                yield "".join(batch) + "</tbody>\n</table>\n"
        yield f"{nav}<footer><p>{_e(self.footer)}</p></footer>\n</body>\n</html>\n"

    def overhead(self, counts: Mapping[str, int], pages: int) -> int:
        """Bytes (UTF-8) of any page of at most ``pages`` pages, without its rows:
        the rows of a page may take the page size limit minus this."""
        sizes = []
        for number in sorted({1, 2, pages // 2, pages // 2 + 1, pages - 1, pages} - {0}):
            empty = self.page(number, pages, counts=counts, domains=[""], employees=[""])
            sizes.append(len("".join(empty).encode()))
        return max(sizes) + INDEX_PAGE_SLACK


def iter_index_html(
    rows: Iterable[IndexRow],
    domains: Sequence[DomainRow],
    *,
    counts: Mapping[str, int],
    lang: str,
    generated: str,
) -> Iterator[str]:
    """IT staff's index on one page, in chunks: ``rows`` is read once, as it comes."""
    renderer = IndexRenderer(lang=lang, generated=generated)
    yield from renderer.page(
        1,
        1,
        counts=counts,
        domains=[renderer.domain_row(d) for d in domains],
        employees=(renderer.employee_row(r) for r in rows),
    )
