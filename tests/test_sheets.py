"""Setup sheets (HTML and Markdown) and the onboarding index: content, languages, escaping.

Plans come from ``account_plan`` over small saved-report dicts and
recommendations from the shipped rules, as the onboarding command makes them;
nothing touches the network. Markdown is checked by rendering it with
markdown-it-py (CommonMark plus GFM tables), HTML with the stdlib parser.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from advisor import sheets
from advisor.export import ClientKind, account_plan, render_files
from advisor.formats.plan import AccountPlan
from advisor.i18n import current_language
from advisor.needs import Client, Groupware, Microsoft, Needs
from advisor.recommend import NAMES, Recommendation, facts_from_report, recommend
from advisor.report import from_json
from advisor.rules.loader import RuleSet, load
from advisor.sheets import DomainRow, IndexRow, format_age, iter_index_html
from tests.test_export import report, server

RULES = load([], names=NAMES)
DATE = "2026-11-27"
SHEET_FILES = ("setup-sheet.html", "setup-sheet.md")
PASSWORD_NOTE = {
    "en": "No file contains a password: the mail program asks for it the first time.",
    "fr": "Aucun fichier ne contient de mot de passe",
}
EWS_ONPREM = "https://mail.example.test/EWS/Exchange.asmx"
EWS_M365 = "https://outlook.office365.com/EWS/Exchange.asmx"


# ------------------------------------------------------------- builders


ON_PREMISES: dict[str, Any] = {
    "ews_url": EWS_ONPREM,
    "activesync_url": "https://mail.example.test/Microsoft-Server-ActiveSync",
    "autodiscover_url": None,
    "auth": ["NTLM"],
    "hosted": "on-premises",
}
MICROSOFT365: dict[str, Any] = {
    "ews_url": EWS_M365,
    "activesync_url": None,
    "autodiscover_url": None,
    "auth": [],
    "hosted": "microsoft365",
}
POP_ONLY = [server("pop3", "pop.example.test", 995, "ssl")]

# kind: (report changes, needs, protocol the rules must recommend)
CASES: dict[str, tuple[dict[str, Any], Needs, str]] = {
    "imap": ({}, Needs(), "imap"),
    "pop3-removed": (
        {"incoming": POP_ONLY},
        Needs(desktops=1, phones=0, backed_up=True),
        "pop3",
    ),
    "pop3-kept": ({"incoming": POP_ONLY}, Needs(desktops=1, phones=0), "pop3"),
    "exchange-onprem": (
        {"exchange": ON_PREMISES},
        Needs(microsoft=Microsoft.EXCHANGE, calendars=Groupware.SHARE),
        "exchange",
    ),
    "exchange-m365": (
        {
            "exchange": MICROSOFT365,
            "provider": {
                "id": "microsoft365",
                "name": "Microsoft 365",
                "hosted_by": "microsoft365",
                "requires_oauth2": True,
            },
        },
        Needs(microsoft=Microsoft.MICROSOFT365),
        "exchange",
    ),
    "oauth2": (
        {
            "provider": {
                "id": "google",
                "name": "Google",
                "hosted_by": "google",
                "requires_oauth2": True,
            }
        },
        Needs(),
        "imap",
    ),
}


def make(
    kind: str,
    *,
    name: str = "Jane Doe",
    protocol: str | None = None,
    rules: RuleSet = RULES,
    **changes: Any,
) -> tuple[AccountPlan, Recommendation, list[str]]:
    doc_changes, needs, expected = CASES[kind]
    doc = from_json(report(**{**doc_changes, **changes}))
    rec = recommend(needs, facts_from_report(doc), rules)
    if rules is RULES:
        assert rec.recommended == expected, kind
    plan = account_plan(
        doc,
        protocol=protocol or expected,
        full_name=name,
        leave_on_server=rec.leave_on_server,
        keep_days=rec.keep_days,
    )
    files = [f.name for f in render_files(plan, [ClientKind.ALL], lang="en")]
    return plan, rec, [*files, *SHEET_FILES]


def both(
    plan: AccountPlan,
    rec: Recommendation,
    files: Sequence[str],
    *,
    lang: str = "en",
    clients: Sequence[Client] = tuple(Client),
) -> tuple[str, str]:
    md = sheets.setup_sheet_markdown(plan, rec, clients, files, lang=lang, generated=DATE)
    page = sheets.setup_sheet_html(plan, rec, clients, files, lang=lang, generated=DATE)
    return md, page


# ------------------------------------------------------------- readers

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Page(HTMLParser):
    """Checks nesting and collects links, text and the client sections' steps."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.clients: list[tuple[str, int]] = []  # (h3 text, numbered steps)
        self._client_depth: int | None = None
        self._in_h3 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.tags.append((tag, named))
        if tag == "a" and named.get("href") is not None:
            self.hrefs.append(str(named["href"]))
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag == "section" and named.get("class") == "client":
            self._client_depth = len(self.stack)
            self.clients.append(("", 0))
        elif self._client_depth is not None:
            if tag == "h3":
                self._in_h3 = True
            elif tag == "li" and "ol" in self.stack[self._client_depth :]:
                heading, steps = self.clients[-1]
                self.clients[-1] = (heading, steps + 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        if tag == "section" and self._client_depth == len(self.stack):
            self._client_depth = None
        if tag == "h3":
            self._in_h3 = False
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack[-1:] == ["style"]:
            self.style.append(data)
            return
        self.text.append(data)
        if self._in_h3:
            heading, steps = self.clients[-1]
            self.clients[-1] = (heading + data, steps)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert parser.errors == [], parser.errors
    assert parser.stack == [], f"never closed: {parser.stack}"
    return parser


def page_text(page: str) -> str:
    return " ".join(parse(page).text)


MARKDOWN = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def markdown_clients(md: str) -> list[tuple[str, int]]:
    """Each ``###`` heading with the number of ``N.`` steps under it."""
    found: list[tuple[str, int]] = []
    for line in md.splitlines():
        if line.startswith("### "):
            found.append((line[4:], 0))
        elif line.startswith("#"):
            found.append(("", 0))  # another section: stop counting
        elif found and re.match(r"\d+\. ", line):
            heading, steps = found[-1]
            found[-1] = (heading, steps + 1)
    return [c for c in found if c[0]]


def check_self_contained(page: str) -> None:
    lowered = page.lower()
    assert lowered.startswith("<!doctype html>")
    assert '<meta charset="utf-8">' in lowered
    assert (
        '<meta http-equiv="content-security-policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">" in lowered
    )
    parsed = parse(page)
    loaders = {"script", "link", "img", "iframe", "object", "embed", "base", "source", "video"}
    for tag, attrs in parsed.tags:
        assert tag not in loaders, tag
        assert not any(k == "src" or k.startswith("on") for k in attrs), (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert "://" not in href
            assert not href.startswith(("/", "javascript:", "data:"))
    style = "".join(parsed.style).lower()
    assert "url(" not in style
    assert "@import" not in style
    # The text may mention a URL (an EWS address to type); the markup never loads one.
    assert "<script" not in lowered


# ---------------------------------------------------------------- sheets


def test_imap_sheet_says_everything_in_both_formats() -> None:
    plan, rec, files = make("imap")
    md, page = both(plan, rec, files)
    text = page_text(page)
    for out in (md, text):
        assert "Mail setup for Jane Doe" in out
        assert "jane@example.test" in out
        assert "Recommended: IMAP (confidence high, 100%)" in out
        assert "IMAP works with every mail client" in out  # a reason, from the rules
        assert "Your settings" in out
        assert "imap.example.test" in out
        assert "smtp.example.test" in out
        assert "993" in out
        assert "587" in out
        assert "SSL/TLS" in out
        assert "STARTTLS" in out
        assert "normal password" in out
        assert PASSWORD_NOTE["en"] in out
        assert f"Made by Mail Setup Advisor on {DATE}" in out
        assert "Note: the files" not in out
    check_self_contained(page)
    assert '<html lang="en">' in page
    assert "<table>" in page
    assert "| Setting | Incoming mail | Outgoing mail |" in md
    assert "| Server | `imap.example.test` | `smtp.example.test` |" in md
    hrefs = set(parse(page).hrefs)
    assert hrefs == {
        "thunderbird/example.test.xml",
        "thunderbird/user.js",
        "thunderbird/enterprise/mozilla.cfg",
        "thunderbird/enterprise/defaults/pref/autoconfig.js",
        "outlook/autodiscover-example.test.xml",
        "outlook/autodiscover-example.test.reg",
        "outlook/example.test.prf",
        "apple/example.test.mobileconfig",
        "README.txt",
    }
    for href in hrefs:
        assert f"]({href})" in md


def test_thunderbird_steps_never_put_user_js_into_a_profile_in_use() -> None:
    plan, rec, files = make("imap")
    for lang, folder in (("en", "folder"), ("fr", "dossier")):
        md, _page = both(plan, rec, files, lang=lang, clients=(Client.THUNDERBIRD,))
        section = md.split("### Thunderbird")[1]
        # The isp/ file for the profile in use comes first; user.js only in a new
        # profile the steps create; AutoConfig for IT staff.
        assert section.index("example.test.xml") < section.index("user.js")
        assert f'-CreateProfile "mail-setup <{folder}>"' in section
        assert "thunderbird -P mail-setup" in section
        assert "Profile Folder" not in section  # the old "copy it into your profile" route
        assert "quickest" not in section
        assert "enterprise/mozilla.cfg" in section
    english = both(plan, rec, files, clients=(Client.THUNDERBIRD,))[0]
    assert "never copy user.js into a profile you already use" in english
    french = both(plan, rec, files, lang="fr", clients=(Client.THUNDERBIRD,))[0]
    assert "ne copiez jamais user.js dans un profil que vous utilisez déjà" in french


def test_title_is_the_address_when_there_is_no_name() -> None:
    plan, rec, files = make("imap", name="")
    md, page = both(plan, rec, files)
    assert md.startswith("# Mail setup for jane@example.test\n")
    assert "<h1>Mail setup for jane@example.test</h1>" in page
    assert 'class="subtitle"' not in page


@pytest.mark.parametrize(
    ("kind", "row_md", "row_text"),
    [
        ("pop3-kept", "| Mail on the server | kept 14 days after download | - |", "14 days"),
        ("pop3-removed", "| Mail on the server | removed once downloaded | - |", "removed once"),
    ],
)
def test_pop3_says_what_happens_to_mail_on_the_server(
    kind: str, row_md: str, row_text: str
) -> None:
    plan, rec, files = make(kind)
    md, page = both(plan, rec, files)
    assert "Recommended: POP3" in md
    assert "| Protocol | POP3 | SMTP |" in md
    assert row_md in md
    assert row_text in page_text(page)


def test_exchange_on_premises() -> None:
    plan, rec, files = make("exchange-onprem")
    assert not any(f.startswith("thunderbird/") for f in files)
    md, page = both(plan, rec, files)
    text = page_text(page)
    for out in (md, text):
        assert "Recommended: Exchange" in out
        assert EWS_ONPREM in out
        assert "mail.example.test" in out
        assert "on-premises" in out
        assert "Thunderbird 145 or later" in out
        assert "cannot add an on-premises Exchange account" in out  # new Outlook
        assert "on a Mac add the account in System Settings > Internet Accounts" in out
        assert "mail.example.test/owa" in out
        assert "Type your password when the program asks for it" in out
        assert "your provider's sign-in page (OAuth2)" not in out
    assert "| EWS URL | `https://mail.example.test/EWS/Exchange.asmx` |" in md
    hrefs = set(parse(page).hrefs)
    assert not any(h.startswith("thunderbird/") for h in hrefs)  # no file for Exchange
    assert "outlook/example.test.prf" not in hrefs
    assert {"outlook/autodiscover-example.test.reg", "apple/example.test.mobileconfig"} <= hrefs
    check_self_contained(page)  # the EWS URL is text, never a link or a resource


def test_exchange_microsoft365_signs_in_on_microsofts_page() -> None:
    plan, rec, files = make("exchange-m365")
    md, page = both(plan, rec, files)
    for out in (md, page_text(page)):
        assert "Microsoft 365" in out
        assert "outlook.office365.com" in out
        assert "your provider's sign-in page (OAuth2)" in out
        assert "opens your provider's sign-in page" in out
        assert "Sign in on Microsoft's page when the account is added." in out  # iPhone profile
        assert "outlook.office.com" in out  # webmail
        assert "turned Basic authentication off" in out  # advisor.facts note
        assert "Type your password" not in out
    check_self_contained(page)


def test_google_signs_in_on_googles_page_everywhere() -> None:
    plan, rec, files = make("oauth2")
    assert plan.incoming is not None
    assert plan.incoming.auth == "OAuth2"
    assert "apple/example.test.mobileconfig" in files  # com.apple.google-oauth
    assert not [f for f in files if f.startswith("outlook/")]  # Outlook's own Google sign-in
    md, page = both(plan, rec, files)
    for out in (md, page_text(page)):
        assert "Sign-in: your provider's sign-in page (OAuth2)." in out
        # The catalogue's app-password steps and link, for programs without OAuth2.
        assert "2-Step Verification" in out
        assert "https://myaccount.google.com/apppasswords" in out
        # The catalogue's "enable IMAP" instruction and link.
        assert "You need to enable IMAP access" in out
        assert "opens Google's sign-in page (OAuth2)" in out  # Outlook classic
        assert "Sign in on Google's page when the device asks" in out  # iPhone profile
        assert "Google Workspace and Gmail accept IMAP" in out  # advisor.facts note
        assert "mail.google.com" in out
        assert "Type your password" not in out
    apple = md.split("### Apple Mail")[1].split("###")[0]
    # The Google payload does not exist on macOS: the Mac adds the account itself.
    assert re.search(r"^1\. Open System Settings > Internet Accounts", apple, re.MULTILINE)
    assert "mobileconfig" not in apple


def test_a_plan_other_than_the_recommendation_is_pointed_out() -> None:
    plan, rec, files = make("imap", protocol="pop3")
    md, page = both(plan, rec, files)
    note = "Note: the files in this folder set up POP3, not the recommended IMAP."
    assert note in md
    assert note in page_text(page)
    assert "| Protocol | POP3 | SMTP |" in md


def test_reasons_are_the_rules_that_scored_the_recommendation() -> None:
    plan, rec, files = make("imap")
    md, _page = both(plan, rec, files)
    best = rec.ranking[0]
    for rule, points in best.reasons:
        assert (rule.explanation("en") in md) == (points > 0)


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("client", list(Client))
def test_every_client_has_a_heading_and_numbered_steps(
    kind: str, client: Client, lang: str
) -> None:
    plan, rec, files = make(kind)
    md, page = both(plan, rec, files, lang=lang, clients=[client, client])  # deduplicated
    in_html = parse(page).clients
    in_md = markdown_clients(md)
    assert len(in_html) == len(in_md) == 1
    assert in_html[0][0] == in_md[0][0].replace("\\", "")
    assert in_html[0][1] >= 1
    assert in_md[0][1] == in_html[0][1]
    assert PASSWORD_NOTE[lang] in md


def test_clients_keep_their_order() -> None:
    plan, rec, files = make("imap")
    order = [Client.WEBMAIL, Client.THUNDERBIRD, Client.ANDROID]
    md, page = both(plan, rec, files, clients=order)
    headings = [h for h, _ in parse(page).clients]
    assert [h.split()[0] for h in headings] == ["Webmail", "Thunderbird", "Android"]
    assert [h for h, _ in markdown_clients(md)] == headings


@pytest.mark.parametrize("kind", sorted(CASES))
def test_french_sheet_is_french_through(kind: str) -> None:
    plan, rec, files = make(kind)
    md_en, _page_en = both(plan, rec, files, lang="en")
    md_fr, page_fr = both(plan, rec, files, lang="fr")
    assert '<html lang="fr">' in page_fr
    for out in (md_fr, page_text(page_fr)):
        assert "Configuration de la messagerie de Jane Doe" in out
        assert "Vos réglages" in out
        assert "Bon à savoir" in out
        assert "Recommandé\u202f:" in out
        assert PASSWORD_NOTE["fr"] in out
        assert f"Préparé par Mail Setup Advisor le {DATE}" in out
    # No English heading, label, step or note leaks into the French sheet.
    leaks = [
        line
        for line in md_en.splitlines()
        if line.strip()
        and not line.startswith("|")  # table rows hold host names, ports
        and line in md_fr.splitlines()
        and not re.fullmatch(r"[-`\[\]()./\w@ ]*", line)  # a bare address or link
    ]
    assert leaks == []
    assert "Your settings" not in md_fr
    assert "Your mail programs" not in md_fr
    assert "Good to know" not in md_fr
    assert "Type your password" not in md_fr


def test_language_block_does_not_leak() -> None:
    plan, rec, files = make("imap")
    both(plan, rec, files, lang="fr")
    assert current_language() == "en"


def test_links_only_to_the_files_given() -> None:
    plan, rec, _files = make("imap")
    given = ["thunderbird/user.js", "setup-sheet.html"]
    md, page = both(plan, rec, given)
    assert set(parse(page).hrefs) == {"thunderbird/user.js"}
    assert re.findall(r"\]\(([^)]*)\)", md) == ["thunderbird/user.js"]
    # Without files every client gets manual steps (and still numbered ones).
    md, page = both(plan, rec, [])
    assert parse(page).hrefs == []
    assert "](" not in md
    assert all(steps >= 1 for _, steps in parse(page).clients)
    assert "Configure manually" in md  # Thunderbird without its files


def test_file_names_are_quoted_in_links() -> None:
    plan, rec, _files = make("imap")
    # A plan refuses such a domain (advisor.formats.plan); the sheet quotes links anyway.
    object.__setattr__(plan, "domain", "odd name#.test")
    files = ["thunderbird/user.js", "thunderbird/odd name#.test.xml"]
    md, page = both(plan, rec, files)
    assert 'href="thunderbird/odd%20name%23.test.xml"' in page
    assert "](thunderbird/odd%20name%23.test.xml)" in md


HOSTILE_NAME = "*Bob* [x](y) <b>bold</b> <script>alert(1)</script> & | `tick` _u_ #"
# Markup characters an address may hold (RFC 5322 atext); a quote or a host name
# with markup never gets this far: advisor.report.from_json refuses them.
HOSTILE_LOCAL = "x`'&*_|~"
HOSTILE_HOST = "imap_x--i.example.test"
HOSTILE_RULE = """
[[rule]]
id = "hostile"
when = "true"
score = { imap = 5 }
explain.en = "<img src=x onerror=alert(3)> **loud** [click](javascript:alert(4)) | done"
explain.fr = "<img src=x onerror=alert(3)> **fort** [clic](javascript:alert(4)) | fini"
"""


def test_hostile_values_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "hostile.toml").write_text(HOSTILE_RULE, encoding="utf-8")
    rules = load([tmp_path], names=NAMES)
    plan, rec, files = make(
        "imap",
        name=HOSTILE_NAME,
        rules=rules,
        address=f"{HOSTILE_LOCAL}@example.test",
        incoming=[server("imap", HOSTILE_HOST, 993, "ssl", username="a|b`c")],
    )
    md, page = both(plan, rec, files)
    # HTML: nothing of the values became markup.
    check_self_contained(page)
    text = page_text(page)
    assert HOSTILE_NAME in text
    assert HOSTILE_LOCAL in text
    assert HOSTILE_HOST in text
    assert "<img src=x onerror=alert(3)>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Markdown: rendered, every value reads literally and makes no element.
    rendered = MARKDOWN.render(md)
    check_self_contained(
        '<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy"'
        " content=\"default-src 'none'; style-src 'unsafe-inline'\">" + rendered
    )
    shown = page_text(rendered)
    assert HOSTILE_NAME in shown
    assert HOSTILE_LOCAL in shown
    assert HOSTILE_HOST in shown
    assert "<img src=x onerror=alert(3)> **loud** [click](javascript:alert(4)) | done" in shown
    for element in ("<em>", "<strong>", "<b>", "<i>", "<img", "<script", "<s>"):
        assert element not in rendered.replace("<strong>Recommended", "")
    # The settings table keeps its three columns despite the pipes.
    table = rendered.split("<table>")[1].split("</table>")[0]
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)[1:]:
        assert row.count("<td") == 3
    assert "<code>a|b`c</code>" in table


def test_a_name_with_line_breaks_stays_on_its_line() -> None:
    plan, rec, files = make("imap", name="Jane\n# Doe\r\n- x")
    md, page = both(plan, rec, files)
    assert md.startswith("# Mail setup for Jane \\# Doe - x\n")
    assert "<h1>" + "Mail setup for Jane # Doe - x</h1>" in page


def test_output_is_deterministic() -> None:
    plan, rec, files = make("exchange-m365")
    first = both(plan, rec, files, lang="fr")
    both(plan, rec, files, lang="en")
    seen: list[tuple[str, str]] = []
    thread = threading.Thread(target=lambda: seen.append(both(plan, rec, files, lang="fr")))
    thread.start()
    thread.join()
    assert seen == [first]
    assert both(plan, rec, files, lang="fr") == first


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_password_anywhere(lang: str) -> None:
    sentinel = "correct horse battery staple"
    plan, rec, files = make("imap", name="Name <with> sentinel")
    md, page = both(plan, rec, files, lang=lang)
    for out in (md, page):
        assert sentinel not in out
        assert PASSWORD_NOTE[lang] in out
    assert "Name &lt;with&gt; sentinel" in page
    assert "Name \\<with> sentinel" in md


def test_printable_and_readable() -> None:
    plan, rec, files = make("imap")
    _md, page = both(plan, rec, files)
    assert "@media print" in page
    assert "break-inside:avoid" in page
    assert '<section class="client">' in page
    assert page.count("<ol>") >= 7


# ----------------------------------------------------------------- index


def index_rows() -> list[IndexRow]:
    return [
        IndexRow(
            2,
            "jane@example.test",
            "Jane Doe",
            "en",
            "done",
            "imap",
            "example.test/jane",
            ("setup-sheet.html", "setup-sheet.md", "thunderbird/user.js"),
            "",
        ),
        IndexRow(
            3, "joe@example.test", "Joe", "fr", "unchanged", "pop3", "example.test/joe",
            ("setup-sheet.html", "setup-sheet.md"), "",
        ),
        IndexRow(
            4, "ann@example.test", "Ann <b>", "en", "kept-edits", "exchange",
            "example.test/ann b#1", ("setup-sheet.html", "outlook/x y.reg"),
            "kept your edits of outlook/x y.reg",
        ),
        IndexRow(
            5, "bad@", "<script>alert(1)</script>", "en", "failed", None, "example.test/bad",
            ("setup-sheet.html",), "not an address: <bad@>",
        ),
    ]  # fmt: skip


DOMAINS = [
    DomainRow("example.test", "fresh", None, "IMAP imap.example.test:993 SSL/TLS"),
    DomainRow("cached.test", "cached", 3 * 3600 + 5, "IMAP imap.cached.test:993 SSL/TLS"),
    DomainRow("broken.test", "failed", None, "no server found <here>"),
]
COUNTS = {"total": 4, "done": 1, "unchanged": 1, "kept-edits": 1, "failed": 1}


def index(lang: str = "en", rows: list[IndexRow] | None = None) -> str:
    chunks = iter_index_html(
        iter(index_rows() if rows is None else rows),
        DOMAINS,
        counts=COUNTS,
        lang=lang,
        generated=DATE,
    )
    return "".join(chunks)


def test_index_lists_every_employee_with_links() -> None:
    page = index()
    check_self_contained(page)
    parsed = parse(page)
    assert parsed.hrefs == [
        "example.test/jane/setup-sheet.html",
        "example.test/jane/setup-sheet.md",
        "example.test/jane/thunderbird/user.js",
        "example.test/joe/setup-sheet.html",
        "example.test/joe/setup-sheet.md",
        "example.test/ann%20b%231/setup-sheet.html",
        "example.test/ann%20b%231/outlook/x%20y.reg",
    ]  # the failed row has none
    text = " ".join(parsed.text)
    for label in ("employees: 4", "done: 1", "unchanged: 1", "kept local edits: 1", "failed: 1"):
        assert label in text
    for status in ("done", "unchanged", "kept-edits", "failed"):
        assert f'<td class="status-{status}">' in page
    assert "not an address: <bad@>" in text
    assert "<script>alert(1)</script>" in text
    assert "Ann <b>" in text
    assert "kept your edits of outlook/x y.reg" in text
    assert "cached 3 h ago" in text
    assert "discovered now" in text
    assert "no server found <here>" in text
    assert f"Made by Mail Setup Advisor on {DATE}" in text


def test_index_in_french() -> None:
    text = page_text(index("fr"))
    for label in ("employés\u202f: 4", "terminé\u202f: 1", "inchangé\u202f: 1", "échec\u202f: 1"):
        assert label in text
    assert "modifications locales conservées\u202f: 1" in text
    assert "mis en cache il y a 3 h" in text
    assert "fiche de configuration" in text
    assert "Employés" in text
    assert "Employees" not in text
    assert current_language() == "en"


def test_index_streams_its_rows() -> None:
    pulled: list[int] = []

    def rows() -> Iterator[IndexRow]:
        for n in range(1000):
            pulled.append(n)
            yield IndexRow(
                n + 2, f"u{n}@example.test", f"U {n}", "en", "done", "imap",
                f"example.test/u{n}", ("setup-sheet.html",), "",
            )  # fmt: skip

    chunks = iter_index_html(rows(), [], counts={"total": 1000}, lang="fr", generated=DATE)
    head = next(chunks)
    assert pulled == []  # nothing read before the page starts
    assert current_language() == "en"  # no language block held across a yield
    second = next(chunks)
    assert 0 < len(pulled) < 1000
    rest = list(chunks)
    assert len(rest) >= 2
    page = head + second + "".join(rest)
    assert len(parse(page).hrefs) == 1000
    assert "<h2>Domaines</h2>" not in page  # no domain table without domains


@pytest.mark.parametrize(
    ("seconds", "en", "fr"),
    [
        (0, "just now", "à l'instant"),
        (59.9, "just now", "à l'instant"),
        (-30, "just now", "à l'instant"),
        (float("nan"), "just now", "à l'instant"),
        (60, "1 min", "1 min"),
        (12 * 60 + 30, "12 min", "12 min"),
        (3 * 3600 + 59, "3 h", "3 h"),
        (86400, "1 day", "1 jour"),
        (2 * 86400 + 5, "2 days", "2 jours"),
    ],
)
def test_format_age(seconds: float, en: str, fr: str) -> None:
    assert format_age(seconds, "en") == en
    assert format_age(seconds, "fr") == fr


@pytest.mark.parametrize(
    ("sources", "lang", "words"),
    [
        (["catalogue"], "en", "Not checked: these settings come from the built-in catalogue"),
        (["local"], "en", "Not checked: these settings come from your --config-dir folder"),
        (["catalogue"], "fr", "Non vérifié (source : le catalogue intégré)"),  # spaces folded
    ],
)
def test_unverified_settings_say_where_they_come_from(
    sources: list[str], lang: str, words: str
) -> None:
    unverified = {"verified": False, "sources": sources, "auth": []}
    changes = {
        "incoming": [{**server("imap", "imap.example.test", 993, "ssl"), **unverified}],
        "outgoing": [{**server("smtp", "smtp.example.test", 587, "starttls"), **unverified}],
        "live": False,
    }
    doc = from_json(report(**changes))
    plan = account_plan(doc, protocol="imap", full_name="Jane Doe")
    assert plan.unverified_from == tuple(sources)
    rec = recommend(Needs(), facts_from_report(doc), RULES)
    md, page = both(plan, rec, SHEET_FILES, lang=lang)
    readme = next(
        f for f in render_files(plan, [ClientKind.ALL], lang=lang) if f.name == "README.txt"
    )
    for text in (md, page_text(page), " ".join(readme.data.decode().split())):
        assert words in " ".join(text.split())


def test_verified_settings_carry_no_such_note() -> None:
    plan, rec, files = make("imap")
    assert plan.unverified_from == ()
    md, _page = both(plan, rec, files)
    assert "Not checked" not in md
