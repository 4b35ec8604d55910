"""Issue 18, part 3: files and steps for calendars and contacts without Exchange —
Apple CalDAV/CardDAV payloads, Thunderbird's steps, Outlook classic's limits."""

from __future__ import annotations

import pytest

from advisor import sheets
from advisor.export import ClientKind, account_plan, refuse_what_lint_rejects, render_files
from advisor.formats.apple import parse_mobileconfig
from advisor.needs import Client, Groupware, Needs
from advisor.recommend import facts_from_report, recommend
from advisor.report import from_json
from tests.test_groupware import GMX
from tests.test_sheets import DATE, RULES, page_text

CALDAV = "https://caldav.pop.example/"
CARDDAV = "https://carddav.pop.example/"


def plan_and_rec(*, wanted: bool = True):  # type: ignore[no-untyped-def]
    report = from_json(GMX)
    groupware = Groupware.SYNC if wanted else Groupware.NONE
    rec = recommend(
        Needs(calendars=groupware, contacts=groupware), facts_from_report(report), RULES
    )
    plan = account_plan(
        report,
        protocol=rec.recommended or "imap",
        calendars=rec.calendars == "caldav",
        contacts=rec.contacts == "carddav",
    )
    return plan, rec


def test_apple_profile_carries_caldav_and_carddav_payloads() -> None:
    plan, _rec = plan_and_rec()
    files = render_files(plan, [ClientKind.ALL], lang="en")
    refuse_what_lint_rejects(files)  # advisor's own lint accepts the profile
    profile = next(f for f in files if f.name.endswith(".mobileconfig"))
    content = parse_mobileconfig(profile.data)["PayloadContent"]
    by_type = {p["PayloadType"]: p for p in content}
    caldav = by_type["com.apple.caldav.account"]
    carddav = by_type["com.apple.carddav.account"]
    assert (caldav["CalDAVHostName"], caldav["CalDAVPort"], caldav["CalDAVUseSSL"]) == (
        "caldav.pop.example",
        443,
        True,
    )
    assert caldav["CalDAVUsername"] == "wes@pop.example"
    assert carddav["CardDAVHostName"] == "carddav.pop.example"
    assert carddav["CardDAVUsername"] == "wes@pop.example"
    for payload in (caldav, carddav):
        assert not [k for k in payload if "Password" in k]  # never on disk
    assert len({p["PayloadUUID"] for p in content}) == len(content)
    assert len({p["PayloadIdentifier"] for p in content}) == len(content)
    # Not wanted: not in the profile.
    plan, _rec = plan_and_rec(wanted=False)
    profile = next(
        f
        for f in render_files(plan, [ClientKind.ALL], lang="en")
        if f.name.endswith(".mobileconfig")
    )
    types = {p["PayloadType"] for p in parse_mobileconfig(profile.data)["PayloadContent"]}
    assert types == {"com.apple.mail.managed"}


@pytest.mark.parametrize(
    ("lang", "calendar_step", "contacts_step", "outlook"),
    [
        (
            "en",
            "New Calendar > On the Network",
            "New Address Book > CardDAV",
            "Outlook classic cannot sync calendars or contacts over CalDAV or CardDAV",
        ),
        (
            "fr",
            "Nouvel agenda > Sur le réseau",
            "Nouveau carnet d'adresses > CardDAV",
            "ne sait pas synchroniser agendas et contacts par CalDAV",
        ),
    ],
)
def test_sheets_and_readme_say_how_to_add_calendars_and_contacts(
    lang: str, calendar_step: str, contacts_step: str, outlook: str
) -> None:
    plan, rec = plan_and_rec()
    files = [f.name for f in render_files(plan, [ClientKind.ALL], lang=lang)]
    clients = (Client.THUNDERBIRD, Client.OUTLOOK)
    md = sheets.setup_sheet_markdown(plan, rec, clients, files, lang=lang, generated=DATE)
    page = sheets.setup_sheet_html(plan, rec, clients, files, lang=lang, generated=DATE)
    for out in (" ".join(md.split()), page_text(page)):
        assert calendar_step in out
        assert contacts_step in out
        assert CALDAV in out
        assert CARDDAV in out
        assert outlook in out
    readme = next(
        f.data.decode()
        for f in render_files(plan, [ClientKind.ALL], lang=lang)
        if f.name == "README.txt"
    )
    assert any("CalDAV" in line and CALDAV in line for line in readme.splitlines())
    assert any("CardDAV" in line and CARDDAV in line for line in readme.splitlines())
    plan, rec = plan_and_rec(wanted=False)
    md = sheets.setup_sheet_markdown(plan, rec, clients, files, lang=lang, generated=DATE)
    assert calendar_step not in md
    assert outlook not in md
