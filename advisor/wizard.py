"""The guided wizard: questions only, through an injected prompter and discovery runner.

Flow: the address (discovery starts in the background at once), the needs
questions while discovery runs (a status line between questions shows its
progress), what was found and the recommendation, the files for the chosen
mail programs, and the answers file. Every question has a flag and an
answers-file key; answers given that way are shown, not asked again. Without
a terminal nothing is asked: defaults are used, and a missing required answer
(the address) is an error naming its flag.

Never a dead end: when nothing usable was found, or the recommended protocol
cannot be set up, the wizard offers to type the servers (defaults guessed
from the domain: imap.D:993:ssl, smtp.D:465:ssl...; they are then probed like
discovered ones) or to take the next protocol. Without a terminal it takes the
next protocol, or stops with the flags that would help (--imap, --smtp...).
The answers (typed servers included) are saved before any failure.

Nothing is written before the export step, and then only with atomic writes,
so Ctrl-C (``KeyboardInterrupt``, mapped to exit 130 by the CLI) leaves no
partial files.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor import i18n
from advisor.address import parse_address
from advisor.errors import AdvisorError
from advisor.i18n import _, current_language
from advisor.manual import ManualServers
from advisor.needs import MAX_ANSWERS_BYTES, Client, Needs, apply, flatten, to_toml
from advisor.prompter import Prompter

if TYPE_CHECKING:
    from rich.console import Console

    from advisor.formats.plan import AccountPlan
    from advisor.models import DiscoveryReport, Step
    from advisor.recommend import Recommendation

# The discovery seam: address, observer and the servers given in, report out (the CLI
# passes a closure over run_discovery with the --dns/--ca-file/--timeout/--offline options).
DiscoveryRunner = Callable[[str, Any, ManualServers], "DiscoveryReport"]

WAIT_TICK = 0.2  # seconds between refreshes of the "waiting for discovery" line
EXIT_OK = 0
EXIT_NOTHING_USABLE = 3

EXPORT_KINDS = ("thunderbird", "outlook", "apple")


class NoTerminal(AdvisorError):
    """A required answer is missing and there is no terminal to ask it on."""


@dataclass(frozen=True)
class WizardOptions:
    address: str | None = None
    answers: Path | None = None  # --answers FILE
    need_flags: Mapping[str, object] = field(default_factory=dict)
    clients: Sequence[str] | None = None  # --client: thunderbird | outlook | apple | all
    out: Path | None = None
    name: str | None = None
    save_answers: Path | None = None
    no_save_answers: bool = False
    yes: bool = False  # accept the default of every confirmation
    force: bool = False  # replace existing files without asking
    rules_dirs: Sequence[Path] = ()
    interactive: bool = True
    explain: bool = False  # --explain: rule ids and points, for IT staff
    # --quick: from the address alone: no needs questions, files for every program in
    # the default folder, nothing saved; only what safety needs is still asked.
    quick: bool = False
    manual: ManualServers = field(default_factory=ManualServers)  # --imap, --protocol...


@dataclass(frozen=True)
class WizardResult:
    exit_code: int
    needs: Needs
    written: list[Path]
    answers_file: Path | None


class _Progress:
    """Observer of the discovery (called from worker threads): counts steps, keeps
    the last verified server; the wizard reads :meth:`line` between questions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.verified = ""

    def step(self, step: Step) -> None:
        with self._lock:
            self.count += 1
            if step.source == "probe" and step.status == "found":
                self.verified = step.target.rsplit(" ", 1)[-1]

    def line(self) -> str:
        with self._lock:
            count, verified = self.count, self.verified
        if not count:
            return _("discovery: started")
        if verified:
            return _("discovery: {count} steps, {server} verified").format(
                count=count, server=verified
            )
        return _("discovery: {count} steps").format(count=count)


class _Background:
    """The discovery, in a daemon thread (Ctrl-C must not wait for it)."""

    def __init__(
        self, runner: DiscoveryRunner, address: str, observer: _Progress, given: ManualServers
    ) -> None:
        self.done = threading.Event()
        self.report: DiscoveryReport | None = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run,
            args=(runner, address, observer, given),
            name="discovery",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self, runner: DiscoveryRunner, address: str, observer: _Progress, given: ManualServers
    ) -> None:
        try:
            self.report = runner(address, observer, given)
        except BaseException as exc:  # handed to the wizard's thread, re-raised there
            self.error = exc
        finally:
            self.done.set()

    def result(self) -> DiscoveryReport:
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


def given_keys(options: WizardOptions) -> dict[str, str]:
    """Answers-file keys already answered, and where ("answers file" or "command line")."""
    out: dict[str, str] = {}
    if options.answers is not None:
        import tomllib

        from advisor.fsutil import read_bounded

        try:
            raw = read_bounded(options.answers, MAX_ANSWERS_BYTES, what="an answers file")
            data = tomllib.loads(raw.decode("utf-8"))
        except (AdvisorError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            data = {}  # load_answers reports the error in one line
        out.update(dict.fromkeys(flatten(data), _("answers file")))
    out.update(dict.fromkeys(options.need_flags, _("command line")))
    return out


def _groupware_choices() -> list[tuple[str, str]]:
    return [
        ("none", _("not needed")),
        ("sync", _("the same on all my devices")),
        ("share", _("shared with other people")),
    ]


def _yes_no(value: object) -> str:
    return _("yes") if value else _("no")


class Wizard:
    def __init__(
        self,
        options: WizardOptions,
        prompter: Prompter,
        runner: DiscoveryRunner,
        console: Console,
    ) -> None:
        self.options = options
        self.p = prompter
        self.runner = runner
        self.console = console
        self.progress = _Progress()
        self.background: _Background | None = None

    # ------------------------------------------------------------ helpers
    def _status(self) -> None:
        if self.background is not None and not self.background.done.is_set():
            self.p.status(self.progress.line())

    def _address(self) -> str:
        given = self.options.address
        if given is not None:
            parse_address(given)  # AddressError: one line, exit 1
            return given.strip()
        if not self.options.interactive:
            raise NoTerminal(_("no terminal: give the address as an argument"))

        def check(text: str) -> str | None:
            try:
                parse_address(text)
            except AdvisorError as exc:
                return str(exc)
            return None

        return self.p.text(
            "address",
            _("Your e-mail address:"),
            instruction=_("The address whose mail you want to read, e.g. jane@example.com."),
            validate=check,
        ).strip()

    # ------------------------------------------------------------ step 2: needs
    def _needs(self, base: Needs) -> Needs:
        given = given_keys(self.options)
        values = base.values()
        answers: dict[str, object] = {}

        def current(key: str) -> object:
            return answers.get(key, values[key])

        def devices_total(last: int) -> str | None:
            counts = [
                int(str(current(k))) for k in ("devices.desktop", "devices.laptop", "devices.phone")
            ]
            if sum(counts) + last == 0:
                return _("At least one device must read this mail.")
            return None

        questions: list[tuple[str, Callable[[], object]]] = []
        # For the recap: each question's text, and the labels of its choices.
        messages: dict[str, str] = {}
        labels: dict[str, dict[str, str]] = {}

        def integer(
            key: str, message: str, help_text: str, check: Callable[[int], str | None] | None = None
        ) -> None:
            messages[key] = message
            questions.append(
                (
                    key,
                    lambda: self.p.integer(
                        key,
                        message,
                        default=int(str(current(key))),
                        instruction=help_text,
                        maximum=1000 if key.startswith("devices.") else 10_000_000,
                        validate=check,
                    ),
                )
            )

        def confirm(key: str, message: str, help_text: str) -> None:
            messages[key] = message
            questions.append(
                (
                    key,
                    lambda: self.p.confirm(
                        key, message, default=bool(current(key)), instruction=help_text
                    ),
                )
            )

        def select(key: str, message: str, help_text: str, choices: list[tuple[str, str]]) -> None:
            messages[key] = message
            labels[key] = dict(choices)
            questions.append(
                (
                    key,
                    lambda: self.p.select(
                        key, message, choices, default=str(current(key)), instruction=help_text
                    ),
                )
            )

        def number(key: str, message: str, help_text: str) -> None:
            def check(text: str) -> str | None:
                try:
                    value = float(text.strip().replace(",", "."))
                except ValueError:
                    return _("Type a number, such as 2 or 0.5.")
                if not 0 <= value <= 1_000_000:
                    return _("Type a number from 0 to 1000000.")
                return None

            messages[key] = message
            questions.append(
                (
                    key,
                    lambda: float(
                        self.p.text(
                            key,
                            message,
                            default=f"{float(str(current(key))):g}",
                            instruction=help_text,
                            validate=check,
                        )
                        .strip()
                        .replace(",", ".")
                    ),
                )
            )

        integer(
            "devices.desktop",
            _("How many desktop computers will read this mail?"),
            _("Count the computers where a mail program will be set up; 0 if none."),
        )
        integer("devices.laptop", _("How many laptops?"), _("0 if none."))
        integer("devices.phone", _("How many phones?"), _("0 if none."))
        integer(
            "devices.tablet",
            _("How many tablets?"),
            _("0 if none; at least one device in all."),
            devices_total,
        )
        confirm(
            "devices.shared",
            _("Are these devices shared by several people?"),
            _("For example a family computer or a front-desk PC."),
        )
        for key, message in (
            ("calendars", _("Calendars:")),
            ("contacts", _("Contacts:")),
            ("tasks", _("Tasks:")),
        ):
            select(
                key,
                message,
                _("Should they follow you on every device, or be shared with others?"),
                _groupware_choices(),
            )
        confirm(
            "collaborative",
            _("Do you work with others on shared mail, folders or meetings?"),
            _("For example a shared mailbox for a team, or booking meeting rooms."),
        )
        confirm(
            "remote_work",
            _("Do you work away from the office?"),
            _("At home, on the road, at customers' sites."),
        )
        select(
            "organisation",
            _("Who is this mailbox for?"),
            _("Use the arrow keys, then Enter."),
            [
                ("personal", _("just me (personal use)")),
                ("small-business", _("a small business or association")),
                ("enterprise", _("a larger organisation")),
            ],
        )
        integer(
            "organisation_size",
            _("How many people are in the organisation?"),
            _("Roughly; 1 for personal use."),
        )
        select(
            "microsoft",
            _("Does your organisation use Microsoft 365 or an Exchange server?"),
            _('Choose "I don\'t know" if unsure: discovery checks it too.'),
            [
                ("none", _("no")),
                ("microsoft365", _("yes, Microsoft 365")),
                ("exchange", _("yes, our own Exchange server")),
                ("unknown", _("I don't know")),
            ],
        )
        number(
            "mailbox_size_gb",
            _("How big is the mailbox, or how big will it get (GB)?"),
            _("A rough figure is enough; decimals are fine (0.5)."),
        )
        number(
            "quota_gb",
            _("How much space does the provider give you (GB)?"),
            _("Type 0 if you don't know."),
        )
        confirm(
            "offline",
            _("Must mail be readable without an Internet connection?"),
            _("For example on a plane, or where the network is unreliable."),
        )
        confirm(
            "backed_up",
            _("Is the computer backed up regularly?"),
            _("Mail kept only on a computer is lost with it unless it is backed up."),
        )
        confirm(
            "data_residency",
            _("Must your mail stay off other companies' servers?"),
            _("Some professions must not leave mail at a provider once it is read."),
        )
        client_labels = {
            "thunderbird": _("Thunderbird"),
            "outlook": _("Outlook (classic, Windows)"),
            "new-outlook": _("the new Outlook"),
            "apple-mail": _("Apple Mail (Mac)"),
            "ios-mail": _("Mail on iPhone or iPad"),
            "android": _("a mail app on Android"),
            "webmail": _("webmail in a browser"),
        }
        messages["clients"] = _("Which mail programs will you use?")
        labels["clients"] = client_labels
        questions.append(
            (
                "clients",
                lambda: self.p.checkbox(
                    "clients",
                    _("Which mail programs will you use?"),
                    [(c.value, client_labels[c.value]) for c in Client],
                    default=[str(v) for v in values["clients"]],  # type: ignore[attr-defined]
                    instruction=_("Space to tick, Enter to confirm."),
                    validate=lambda chosen: (
                        None if chosen else _("Tick at least one mail program.")
                    ),
                ),
            )
        )

        for key, ask in questions:
            if key == "organisation_size" and current("organisation") == "personal":
                continue  # nothing to ask a person about their organisation's size
            if key in given:
                self.p.say(
                    _("{key} = {value} (already answered: {where})").format(
                        key=key, value=_show(current(key)), where=given[key]
                    )
                )
                continue
            if not self.options.interactive or self.options.quick:
                continue
            self._status()
            answers[key] = ask()

        def overall() -> str | None:
            return devices_total(int(str(current("devices.tablet"))))

        if answers:
            self._recap(answers, dict(questions), messages, labels, overall)
        return apply(base, answers)

    def _recap(
        self,
        answers: dict[str, object],
        asks: Mapping[str, Callable[[], object]],
        messages: Mapping[str, str],
        labels: Mapping[str, Mapping[str, str]],
        overall: Callable[[], str | None],
    ) -> None:
        """Every answer given, before the advice; choosing one asks it again.
        ``overall``: what no single answer can check (at least one device)."""

        def shown(key: str) -> str:
            value = answers[key]
            names = labels.get(key, {})
            if isinstance(value, tuple | list):
                return ", ".join(names.get(str(v), str(v)) for v in value)
            return names.get(str(value), _show(value))

        while True:
            choices = [("", _("Everything is right: continue"))] + [
                (key, f"{messages[key]} {shown(key)}") for key in answers
            ]
            chosen = self.p.select(
                "recap",
                _("Your answers: is everything right?"),
                choices,
                default="",
                instruction=_("Choose an answer to change it, or continue."),
            )
            if not chosen:
                problem = overall()
                if problem is None:
                    return
                self.p.say(problem)
                continue
            answers[chosen] = asks[chosen]()

    # ------------------------------------------------------------ step 3: results
    def _wait(self) -> DiscoveryReport:
        assert self.background is not None
        while not self.background.done.wait(WAIT_TICK):
            elapsed = time.monotonic() - self.background.started
            self.p.waiting(
                _("waiting for discovery... {seconds:.0f} s ({status})").format(
                    seconds=elapsed, status=self.progress.line()
                )
            )
        return self.background.result()

    def _summary(self, report: DiscoveryReport) -> None:
        security = {
            "ssl": _("encrypted from the start (SSL/TLS)"),
            "starttls": _("encrypted after connecting (STARTTLS)"),
            "plain": _("NOT encrypted"),
        }
        self.p.say("")
        self.p.say(
            _("What discovery found for {address} ({seconds} s):").format(
                address=report.address, seconds=i18n.decimal(report.elapsed_ms / 1000)
            )
        )
        if report.provider is not None:
            self.p.say("  " + _("Provider: {name}").format(name=report.provider.name))
        if report.exchange is not None:
            where = {
                "microsoft365": _("Exchange at Microsoft 365"),
                "on-premises": _("an Exchange server of your organisation"),
            }.get(report.exchange.hosted or "", _("an Exchange server"))
            self.p.say("  " + _("Exchange: {where}").format(where=where))
        for title, candidates in (
            (_("Incoming mail"), report.incoming),
            (_("Outgoing mail"), report.outgoing),
        ):
            if not candidates:
                self.p.say("  " + _("{title}: nothing found").format(title=title))
                continue
            best = candidates[0]
            checked = (
                _("checked live, trusted certificate") if best.verified else _("not checked live")
            )
            if "given" in best.sources:
                checked = _("{checked}; given by you").format(checked=checked)
            self.p.say(
                "  "
                + _("{title}: {protocol} {host}:{port}").format(
                    title=title,
                    protocol=best.endpoint.protocol.name,
                    host=best.endpoint.hostname,
                    port=best.endpoint.port,
                )
            )
            self.p.say(
                "    "
                + _("{security}; {checked}").format(
                    security=security.get(best.endpoint.security.value, ""), checked=checked
                )
            )
        for warning in report.warnings:
            self.p.say("  " + _("Warning: {text}").format(text=warning))
        self.p.say("")

    # ------------------------------------------------------------ step 4: files
    def _clients(self, needs: Needs) -> list[str]:
        if self.options.clients:
            chosen = [c for c in self.options.clients if c in (*EXPORT_KINDS, "all")]
            self.p.say(
                _("{key} = {value} (already answered: {where})").format(
                    key="client", value=", ".join(chosen), where=_("command line")
                )
            )
            return chosen
        from advisor.export import kinds_for

        default = [k.value for k in kinds_for(needs.clients)]
        if self.options.quick:
            return ["all"]
        if not self.options.interactive:
            return default or ["all"]
        labels = {
            "thunderbird": _("Thunderbird"),
            "outlook": _("Outlook for Windows"),
            "apple": _("Apple Mail, iPhone and iPad"),
        }
        return self.p.checkbox(
            "client",
            _("Files for which mail programs?"),
            [(k, labels[k]) for k in EXPORT_KINDS],
            default=default,
            instruction=_("Space to tick, Enter to confirm."),
            validate=lambda chosen: None if chosen else _("Tick at least one mail program."),
        )

    def _confirm(self, key: str, message: str, *, default: bool, instruction: str = "") -> bool:
        if not self.options.interactive or self.options.yes:
            return default
        return self.p.confirm(key, message, default=default, instruction=instruction)

    def _write(self, files: Mapping[Path, bytes]) -> bool:
        """Write atomically; existing files are replaced only when the person says so."""
        from advisor.fsutil import WouldOverwrite, write_all

        existing = [p for p in files if p.exists()]
        force = self.options.force
        if existing and not force:
            if not self.options.interactive or self.options.yes:
                raise WouldOverwrite(existing)
            for path in existing:
                self.p.say(_("Already exists: {path}").format(path=path))
            force = self.p.confirm(
                "replace", _("Replace these files?"), default=False, instruction=""
            )
            if not force:
                self.p.say(_("Nothing was written."))
                return False
        write_all(files, force=force)
        return True

    def _export(
        self,
        needs: Needs,
        report: DiscoveryReport,
        rec: Recommendation,
        local: str,
        protocol: str,
    ) -> list[Path]:
        from advisor.export import (
            ClientKind,
            account_plan,
            inside,
            refuse_what_lint_rejects,
            render_files,
        )

        wanted = self.options.quick or self.options.clients or self.options.out is not None
        if not wanted and not self._confirm(
            "export",
            _("Write the configuration files for your mail programs now?"),
            default=True,
        ):
            return []
        kinds = self._clients(needs)
        default_out = Path(f"mail-setup-{local}")
        if self.options.out is not None:
            out = self.options.out
        elif self.options.interactive and not self.options.quick:
            out = Path(
                self.p.text(
                    "out",
                    _("Folder for the files:"),
                    default=f"./{default_out}",
                    instruction=_("It is created if needed."),
                    validate=lambda t: None if t.strip() else _("Type a folder name."),
                ).strip()
            )
        else:
            out = default_out
        if self.options.name is not None:
            name = self.options.name
        elif self.options.interactive and not self.options.quick:
            name = self.p.text(
                "name",
                _("Your name, as recipients will see it (optional):"),
                instruction=_("Leave empty to set it later in the mail program."),
            ).strip()
        else:
            name = ""
        account = account_plan(
            report,
            protocol=protocol,
            full_name=name,
            leave_on_server=rec.leave_on_server,
            keep_days=rec.keep_days,
            calendars=rec.calendars == "caldav",
            contacts=rec.contacts == "carddav",
        )
        if not self._accept_off_domain(report, account):
            return []
        files = render_files(account, [ClientKind(k) for k in kinds], lang=current_language())
        refuse_what_lint_rejects(files)
        if not self._write({inside(out, f.name): f.data for f in files}):
            return []
        self.p.say("")
        self.p.say(
            _("{protocol} settings for {email} written to {folder}:").format(
                protocol={"imap": "IMAP", "pop3": "POP3"}.get(protocol, "Exchange"),
                email=account.email,
                folder=out,
            )
        )
        for f in files:
            self.p.say(f"  {f.name}")
        readme = next(f for f in files if f.name == "README.txt")
        self.p.say("")
        self.p.say(_("Next steps (also in {path}):").format(path=out / "README.txt"))
        self.p.say(readme.data.decode("utf-8").rstrip())
        return [out / f.name for f in files]

    def _accept_off_domain(self, report: DiscoveryReport, account: AccountPlan) -> bool:
        """Name each server outside the address's domains; ask before using them
        (without a terminal, or with --yes, the answer is no: the safe default)."""
        from advisor.offdomain import hop_warning, hops_for, plan_hosts

        hops = hops_for(report, plan_hosts(account))
        if not hops:
            return True
        for hop in hops:
            self.p.say(_("warning:") + " " + hop_warning(hop, report.domain))
        domains = ", ".join(sorted({hop.domain for hop in hops}))
        if self._confirm(
            "off-domain",
            _("Send your password to {domains} anyway?").format(domains=domains),
            default=False,
        ):
            return True
        self.p.say(
            _(
                "Nothing was written. Type the servers yourself (advisor wizard --imap"
                " HOST:PORT:ssl --smtp HOST:PORT:ssl) or ask your mail provider."
            )
        )
        return False

    # ------------------------------------------------------------ step 5: answers file
    def _save_answers(self, needs: Needs, given: ManualServers) -> Path | None:
        if self.options.no_save_answers:
            return None
        path = self.options.save_answers
        if path is None:
            if not self.options.interactive or self.options.quick:
                return None
            if not self._confirm(
                "save",
                _("Save your answers to a file, to reuse them later?"),
                default=True,
                instruction=_("For example: advisor recommend ADDRESS --answers FILE"),
            ):
                return None
            path = Path(
                self.p.text(
                    "answers_path",
                    _("Answers file:"),
                    default="./advisor-answers.toml",
                    validate=lambda t: None if t.strip() else _("Type a file name."),
                ).strip()
            )
        if not self._write({path: to_toml(needs, given.to_toml()).encode("utf-8")}):
            return None
        self.p.say(_("Answers saved to {path}.").format(path=path))
        return path

    # ------------------------------------------------------------ no dead ends
    def _settle(
        self, address: str, report: DiscoveryReport, rec: Recommendation, given: ManualServers
    ) -> tuple[str | None, DiscoveryReport, ManualServers]:
        """The protocol to set up, the report to set it up from and the servers given:
        the recommended protocol when it can be set up, else what the person chooses
        (type the servers, take the next protocol, stop). ``None``: stop."""
        from advisor.export import NotConfigurable, choose_protocol

        forced = given.protocol
        while True:
            problem = ""
            try:
                choice = choose_protocol(rec, report, forced=forced)
            except NotConfigurable as exc:
                choice, problem = None, str(exc)
            if choice is not None and choice.instead_of is None:
                return choice.protocol, report, given
            self.p.say(choice.note() if choice is not None else problem)
            if not self.options.interactive:
                if choice is not None:
                    return choice.protocol, report, given
                raise NotConfigurable(problem)
            wanted = forced or rec.recommended or "imap"
            action = self._what_now(wanted, choice.protocol if choice is not None else None)
            if action == "stop":
                return None, report, given
            if action == "next":
                assert choice is not None
                return choice.protocol, report, given
            typed = self._type_servers(action, report)
            given = typed.over(given)
            forced = typed.protocol
            report = self._rediscover(address, given)

    def _what_now(self, wanted: str, fallback: str | None) -> str:
        names = {"imap": "IMAP", "pop3": "POP3", "exchange": "Exchange"}
        choices: list[tuple[str, str]] = []
        if wanted == "exchange":
            choices.append(("exchange", _("type the Exchange server's address")))
        incoming = wanted if wanted in ("imap", "pop3") else "imap"
        choices.append(
            (incoming, _("type the {protocol} and SMTP servers").format(protocol=names[incoming]))
        )
        if fallback is not None:
            choices.append(
                ("next", _("set up {protocol} instead").format(protocol=names[fallback]))
            )
        choices.append(("stop", _("stop here (the answers can still be saved)")))
        return self.p.select(
            "servers_action",
            _("The recommended set-up needs servers that were not found. What now?"),
            choices,
            default=choices[0][0],
            instruction=_("Your provider's help pages or IT department give the servers."),
        )

    def _type_servers(self, kind: str, report: DiscoveryReport) -> ManualServers:
        """Ask for the servers of ``kind`` (imap, pop3 or exchange); defaults: what was
        found, else the names most providers use."""
        from advisor.manual import guessed_defaults, parse_ews, parse_server, server_text
        from advisor.models import Protocol, Security

        domain = report.domain_ascii
        guessed = guessed_defaults(domain)

        def check(parse: Callable[[str], object]) -> Callable[[str], str | None]:
            def validate(text: str) -> str | None:
                try:
                    parse(text)
                except AdvisorError as exc:
                    return str(exc)
                return None

            return validate

        if kind == "exchange":
            url = self.p.text(
                "ews",
                _("Exchange server (EWS URL or host name):"),
                default=guessed["ews"],
                instruction=_("For example https://mail.example.com/EWS/Exchange.asmx"),
                validate=check(lambda t: parse_ews(t, label="EWS")),
            )
            return ManualServers(ews=parse_ews(url, label="EWS"), protocol="exchange")
        protocol = Protocol(kind)
        found = [c.endpoint for c in report.outgoing if c.endpoint.security is not Security.PLAIN]
        smtp_default = (
            f"{found[0].hostname}:{found[0].port}:{found[0].security.value}"
            if found
            else guessed["smtp"]
        )
        example = _("HOST:PORT:SECURITY, security ssl or starttls")
        incoming = self.p.text(
            kind,
            _("Incoming mail server ({protocol}):").format(protocol=protocol.name),
            default=guessed[kind],
            instruction=example,
            validate=check(lambda t: parse_server(t, protocol, label=protocol.name)),
        )
        outgoing = self.p.text(
            "smtp",
            _("Outgoing mail server (SMTP):"),
            default=smtp_default,
            instruction=example,
            validate=check(lambda t: parse_server(t, Protocol.SMTP, label="SMTP")),
        )
        server = parse_server(incoming, protocol, label=protocol.name)
        smtp = parse_server(outgoing, Protocol.SMTP, label="SMTP")
        self.p.say(
            _("Checking {servers}...").format(
                servers=", ".join(server_text(s) for s in (server, smtp))
            )
        )
        if kind == "pop3":
            return ManualServers(pop3=(server,), smtp=(smtp,), protocol=kind)
        return ManualServers(imap=(server,), smtp=(smtp,), protocol=kind)

    def _rediscover(self, address: str, given: ManualServers) -> DiscoveryReport:
        """Discovery again, the typed servers probed among the others."""
        self.progress = _Progress()
        self.background = _Background(self.runner, address, self.progress, given)
        report = self._wait()
        self._summary(report)
        return report

    # ------------------------------------------------------------ the flow
    def run(self) -> WizardResult:
        from advisor.needs import load_answers
        from advisor.planning import build_manual
        from advisor.recommend import NAMES, facts_from_report, recommend
        from advisor.report import render_recommendation
        from advisor.rules.loader import load

        base = load_answers(self.options.answers) if self.options.answers else Needs()
        base = apply(base, dict(self.options.need_flags), where=_("command line: "))
        given = build_manual(self.options.answers, self.options.manual)
        ruleset = load(self.options.rules_dirs, names=NAMES)  # bad rules fail before questions
        if self.options.interactive and self.options.quick:
            self.p.say(
                _(
                    "Mail Setup Advisor, quick set-up:"
                    " the settings and files from the address alone."
                )
            )
        elif self.options.interactive:
            self.p.say(_("Mail Setup Advisor: a few questions to set up your mail."))
            self.p.say(_("Press Enter to keep the suggested answer; Ctrl-C to stop."))
        address = self._address()
        local = parse_address(address).local_part
        self.background = _Background(self.runner, address, self.progress, given)
        needs = self._needs(base)
        report = self._wait()
        self._summary(report)
        rec = recommend(needs, facts_from_report(report), ruleset)
        render_recommendation(
            rec,
            self.console,
            lang=current_language(),
            address=report.address,
            explain=self.options.explain,
        )
        self.p.say("")
        written: list[Path] = []
        try:
            protocol, report, given = self._settle(report.address, report, rec, given)
            if protocol is None:
                self.p.say(_("No configuration files can be written for this address."))
            else:
                written = self._export(needs, report, rec, local, protocol)
        except AdvisorError:
            # Whatever went wrong, the answers (and typed servers) are not lost; a failure
            # to save them must not hide the first error.
            with contextlib.suppress(AdvisorError):
                self._save_answers(needs, given)
            raise
        saved = self._save_answers(needs, given)
        code = EXIT_OK if protocol is not None else EXIT_NOTHING_USABLE
        return WizardResult(code, needs, written, saved)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


def run_wizard(
    options: WizardOptions, prompter: Prompter, runner: DiscoveryRunner, console: Console
) -> WizardResult:
    """Ask, discover, recommend, write; see the module docstring."""
    return Wizard(options, prompter, runner, console).run()
