"""The wizard's question flow, through a scripted prompter and a fake discovery.

The discovery is replaced by a runner that returns a prepared report (the
real engine is tested against the lab in test_discovery.py, and the whole
wizard in a pseudo-terminal in test_wizard_pty.py).
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from advisor.errors import AdvisorError
from advisor.i18n import set_language
from advisor.models import (
    Candidate,
    DiscoveryReport,
    Endpoint,
    Protocol,
    ProviderFacts,
    Security,
    Source,
    Step,
    StepStatus,
)
from advisor.needs import Client, Groupware, Needs, load_answers
from advisor.prompter import DEFAULT, ScriptedPrompter, UnexpectedQuestion
from advisor.wizard import NoTerminal, WizardOptions, run_wizard
from tests.test_discovery import run_cli

ADDRESS = "jane@example.test"

# Every needs question, answered with its default.
NEEDS_DEFAULTS: dict[str, object] = {
    key: DEFAULT
    for key in (
        "devices.desktop",
        "devices.laptop",
        "devices.phone",
        "devices.tablet",
        "devices.shared",
        "calendars",
        "contacts",
        "tasks",
        "collaborative",
        "remote_work",
        "organisation",
        "microsoft",
        "mailbox_size_gb",
        "quota_gb",
        "offline",
        "backed_up",
        "data_residency",
        "clients",
        "recap",
    )
}


def candidate(protocol: Protocol, host: str, port: int, security: Security) -> Candidate:
    return Candidate(
        endpoint=Endpoint(protocol, host, port, security),
        username=ADDRESS,
        sources=(Source.SRV,),
        verified=True,
        auth=("PLAIN",),
        stated_auth=("password-cleartext",),
    )


REPORT = DiscoveryReport(
    address=ADDRESS,
    domain="example.test",
    domain_ascii="example.test",
    incoming=(candidate(Protocol.IMAP, "imap.example.test", 993, Security.SSL),),
    outgoing=(candidate(Protocol.SMTP, "smtp.example.test", 587, Security.STARTTLS),),
    exchange=None,
    provider=ProviderFacts("example.test", "Example Mail"),
    steps=(),
    warnings=(),
    elapsed_ms=12.0,
)


class FakeDiscovery:
    """Returns REPORT after reporting two steps; records when it was called."""

    def __init__(self, events: list[str], delay: float = 0.0) -> None:
        self.events = events
        self.delay = delay
        self.addresses: list[str] = []

    def __call__(self, address: str, observer: Any, given: Any = None) -> DiscoveryReport:
        self.events.append("discovery")
        self.addresses.append(address)
        observer.step(Step("srv", "_imaps._tcp.example.test", StepStatus.FOUND, 1.0, "found"))
        observer.step(
            Step("probe", "imap imap.example.test:993", StepStatus.FOUND, 2.0, "IMAP4rev1")
        )
        time.sleep(self.delay)
        return REPORT


@pytest.fixture(autouse=True)
def english() -> None:
    set_language("en")


@pytest.fixture
def in_tmp(tmp_path: Path) -> Path:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path  # type: ignore[misc]
    finally:
        os.chdir(cwd)


def wizard(
    answers: dict[str, object], options: WizardOptions, *, delay: float = 0.0
) -> tuple[ScriptedPrompter, list[str], Any, str]:
    events: list[str] = []
    prompter = ScriptedPrompter(answers, on_ask=lambda key: events.append(f"ask:{key}"))
    runner = FakeDiscovery(events, delay)
    out = io.StringIO()
    result = run_wizard(options, prompter, runner, Console(file=out, width=80))
    return prompter, events, result, out.getvalue()


def test_full_flow_writes_files_and_answers(tmp_path: Path) -> None:
    out = tmp_path / "mail"
    saved = tmp_path / "answers.toml"
    answers = {
        "address": ADDRESS,
        **NEEDS_DEFAULTS,
        "devices.laptop": 1,
        "calendars": "sync",
        "clients": ["thunderbird", "ios-mail"],
        "export": True,
        "client": DEFAULT,
        "out": str(out),
        "name": "Jane Doe",
        "save": True,
        "answers_path": str(saved),
    }
    prompter, _events, result, console = wizard(answers, WizardOptions())
    assert result.exit_code == 0
    assert "Recommended: IMAP" in console
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "README.txt",
        "apple/example.test.mobileconfig",
        "thunderbird/enterprise/defaults/pref/autoconfig.js",
        "thunderbird/enterprise/mozilla.cfg",
        "thunderbird/example.test.xml",
        "thunderbird/user.js",
    ]
    assert "Jane Doe" in (out / "thunderbird" / "user.js").read_text()
    assert any("Next steps" in line for line in prompter.said)
    # The saved answers reload to the very same needs.
    assert load_answers(saved) == result.needs
    assert result.needs.laptops == 1
    assert result.needs.calendars is Groupware.SYNC
    assert result.needs.clients == (Client.THUNDERBIRD, Client.IOS_MAIL)


def test_discovery_starts_before_the_first_needs_question(tmp_path: Path) -> None:
    answers = {"address": ADDRESS, **NEEDS_DEFAULTS, "export": False, "save": False}
    prompter, events, result, _console = wizard(answers, WizardOptions(), delay=0.3)
    assert events[0] == "ask:address"
    assert events.index("discovery") < events.index("ask:devices.desktop")
    assert result.written == []
    # While it ran, the status line showed its progress between questions.
    assert "discovery: 2 steps, imap.example.test:993 verified" in prompter.statuses


def test_answers_given_by_flags_and_file_are_not_asked(tmp_path: Path) -> None:
    answers_file = tmp_path / "in.toml"
    answers_file.write_text('calendars = "share"\n[devices]\nphone = 2\n')
    script = {
        key: value
        for key, value in NEEDS_DEFAULTS.items()
        if key not in ("calendars", "devices.phone", "offline")
    }
    script |= {"name": "", "save": False}
    options = WizardOptions(
        address=ADDRESS,
        answers=answers_file,
        need_flags={"offline": True},
        clients=["thunderbird"],
        out=tmp_path / "out",
    )
    prompter, _events, result, _console = wizard(script, options)
    for key in ("address", "calendars", "devices.phone", "offline", "client", "out", "export"):
        assert key not in prompter.asked
    assert result.needs.phones == 2
    assert result.needs.calendars is Groupware.SHARE
    assert result.needs.offline is True
    assert any("already answered: command line" in line for line in prompter.said)
    assert any("calendars = share (already answered" in line for line in prompter.said)


def test_existing_files_are_replaced_only_when_the_person_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out).mkdir()
    (out / "README.txt").write_text("mine")
    base = {**NEEDS_DEFAULTS, "name": "", "save": False}
    options = WizardOptions(address=ADDRESS, out=out, clients=["apple"])
    _p, _e, result, _c = wizard({**base, "replace": False}, options)
    assert result.written == []
    assert (out / "README.txt").read_text() == "mine"
    _p, _e, result, _c = wizard({**base, "replace": True}, options)
    assert (out / "README.txt").read_text() != "mine"
    assert (out / "apple" / "example.test.mobileconfig").exists()


def test_unexpected_question_is_loud() -> None:
    with pytest.raises(UnexpectedQuestion, match=r"devices\.desktop"):
        wizard({"address": ADDRESS}, WizardOptions())


def test_no_terminal_uses_defaults_and_asks_nothing(in_tmp: Path) -> None:
    prompter, _events, result, _console = wizard(
        {}, WizardOptions(address=ADDRESS, interactive=False)
    )
    assert prompter.asked == []
    assert result.needs == Needs()
    assert (in_tmp / "mail-setup-jane" / "README.txt").exists()
    assert result.answers_file is None  # not asked for: not saved


def test_no_terminal_missing_address_names_the_argument() -> None:
    with pytest.raises(NoTerminal, match="no terminal: give the address as an argument"):
        wizard({}, WizardOptions(interactive=False))


def test_bad_address_is_reasked_with_the_error() -> None:
    with pytest.raises(UnexpectedQuestion, match="refused"):
        wizard({"address": "not an address"}, WizardOptions())
    with pytest.raises(AdvisorError):
        wizard({}, WizardOptions(address="nope", interactive=False))


def test_cli_without_terminal_missing_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "wizard", "--offline")
    assert code == 1
    assert "no terminal: give the address as an argument" in err


def test_french_prompts(tmp_path: Path) -> None:
    set_language("fr")
    try:
        answers = {"address": ADDRESS, **NEEDS_DEFAULTS, "export": False, "save": False}
        prompter, _events, _result, console = wizard(answers, WizardOptions())
    finally:
        set_language("en")
    assert any("Ce que la recherche a trouvé" in line for line in prompter.said)
    assert "Recommand" in console


# ------------------------------------------------------------------ no dead ends

NOTHING = DiscoveryReport(
    address="jane@nothing.test",
    domain="nothing.test",
    domain_ascii="nothing.test",
    incoming=(),
    outgoing=(),
    exchange=None,
    provider=None,
    steps=(),
    warnings=(),
    elapsed_ms=5.0,
    live=False,  # nothing could be checked: no protocol is ruled out
)


class GivenOnly:
    """A discovery that finds nothing but the servers given (as the real one would list
    them, unverified when they cannot be checked)."""

    def __init__(self, base: DiscoveryReport = NOTHING) -> None:
        self.base = base
        self.given: list[Any] = []

    def __call__(self, address: str, observer: Any, given: Any) -> DiscoveryReport:
        self.given.append(given)
        return given.add_to_report(self.base)


EXCHANGE_NEEDS = {
    **NEEDS_DEFAULTS,
    "microsoft": "exchange",
    "calendars": "share",
    "collaborative": True,
}


def run_nothing(
    answers: dict[str, object], tmp_path: Path, base: DiscoveryReport = NOTHING
) -> tuple[Any, str, GivenOnly]:
    runner = GivenOnly(base)
    prompter = ScriptedPrompter({"address": "jane@nothing.test", **answers})
    out = io.StringIO()
    options = WizardOptions(save_answers=tmp_path / "answers.toml", out=tmp_path / "mail")
    result = run_wizard(options, prompter, runner, Console(file=out, width=80))
    return result, out.getvalue() + "\n".join(prompter.said), runner


def test_exchange_recommended_nothing_found_the_person_types_imap(tmp_path: Path) -> None:
    # Exchange is recommended; nothing can be set up; the person types the IMAP servers.
    answers = {
        **EXCHANGE_NEEDS,
        "servers_action": "imap",
        "imap": "imap.mailhost.test:993:ssl",
        "smtp": DEFAULT,  # the guessed smtp.nothing.test:465:ssl
        "client": ["thunderbird"],
        "name": "",
    }
    result, said, runner = run_nothing(answers, tmp_path)
    assert result.exit_code == 0, said
    assert "Recommended: Exchange" in said
    assert "discovery found no server for nothing.test" in said
    xml = (tmp_path / "mail" / "thunderbird" / "nothing.test.xml").read_text()
    assert "<hostname>imap.mailhost.test</hostname>" in xml
    assert "<hostname>smtp.nothing.test</hostname>" in xml
    assert runner.given[-1].protocol == "imap"
    assert 'protocol = "imap"' in (tmp_path / "answers.toml").read_text()


def test_typed_exchange_server_sets_up_exchange(tmp_path: Path) -> None:
    answers = {
        **EXCHANGE_NEEDS,
        "servers_action": "exchange",
        "ews": "mail.nothing.test",
        "client": ["outlook"],
        "name": "",
    }
    result, said, _runner = run_nothing(answers, tmp_path)
    assert result.exit_code == 0, said
    xml = (tmp_path / "mail" / "outlook" / "autodiscover-nothing.test.xml").read_text()
    assert "https://mail.nothing.test/EWS/Exchange.asmx" in xml
    saved = (tmp_path / "answers.toml").read_text()
    assert 'ews = "https://mail.nothing.test/EWS/Exchange.asmx"' in saved


def test_stopping_writes_nothing_but_keeps_the_answers(tmp_path: Path) -> None:
    result, said, _runner = run_nothing({**NEEDS_DEFAULTS, "servers_action": "stop"}, tmp_path)
    assert result.exit_code == 3
    assert "No configuration files can be written" in said
    assert not (tmp_path / "mail").exists()
    assert (tmp_path / "answers.toml").exists()


def test_exchange_recommended_not_found_the_next_protocol_when_chosen(tmp_path: Path) -> None:
    found = replace(
        NOTHING,
        incoming=(candidate(Protocol.IMAP, "imap.nothing.test", 993, Security.SSL),),
        outgoing=(candidate(Protocol.SMTP, "smtp.nothing.test", 587, Security.STARTTLS),),
    )
    answers = {**EXCHANGE_NEEDS, "servers_action": "next", "client": ["apple"], "name": ""}
    result, said, runner = run_nothing(answers, tmp_path, found)
    assert result.exit_code == 0, said
    assert "Exchange was recommended, but discovery found no Exchange server" in said
    assert (tmp_path / "mail" / "apple" / "nothing.test.mobileconfig").exists()
    assert len(runner.given) == 1  # no second discovery: nothing was typed
