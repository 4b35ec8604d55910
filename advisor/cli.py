"""The ``advisor`` command: parses, calls, renders; nothing else.

Exit codes: 0 a usable configuration was found; 3 nothing usable (the report
is still printed); 4 ``advisor verify``: a server did not accept the login;
1 a problem the user can fix (one line, no traceback); 2 usage; 130
interrupted (Ctrl-C).

Heavy modules (dnspython, rich, the probes) are imported inside the commands
so that ``advisor --help`` costs little more than importing typer.
"""

# No "from __future__ import annotations" here: typer reads these annotations at
# every start, and string annotations cost an eval() each (~10 ms in all).

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO, cast

import typer

from advisor.cli_needs import with_need_flags
from advisor.cli_servers import with_server_flags
from advisor.errors import AdvisorError, os_error_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from advisor.manual import ManualServers
    from advisor.models import DiscoveryReport
    from advisor.offdomain import OffDomain

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_NOTHING_USABLE = 3
EXIT_INTERRUPTED = 130

_ROOT_LANG: str | None = None  # `advisor --lang fr` (no command: the wizard)

app = typer.Typer(
    name="advisor",
    help="Mail Setup Advisor: find how a mailbox is reached and configure mail clients.",
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    # No arguments: the guided wizard (see _root).
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    # Plain click-style help: rich-formatted help imports ~60 ms of rich and
    # markdown-it on every `--help`, for decoration only.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option("--lang", metavar="en|fr", help="Language of the wizard (default: locale)."),
    ] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours.")] = False,
) -> None:
    """Mail Setup Advisor: find how a mailbox is reached and configure mail clients.

    Without a command: the guided wizard (advisor wizard).
    """
    global _ROOT_LANG  # noqa: PLW0603 - `advisor --lang fr wizard` as well as `advisor wizard --lang fr`
    # Checked here, not when a command reads it: `advisor --lang de recommend` must not
    # run in English without a word.
    _ROOT_LANG = None if lang is None else _lang(lang)
    from advisor.i18n import set_language

    # From the first message on, errors included: --lang, else the locale
    # (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), else English.
    set_language(_ROOT_LANG)
    if no_color:
        os.environ["NO_COLOR"] = "1"  # read by rich and prompt_toolkit
    if version:
        from advisor import __version__

        sys.stdout.write(f"advisor {__version__}\n")
        raise typer.Exit(EXIT_OK)
    if ctx.invoked_subcommand is None:
        # Called directly, so the environment variables click reads for options are read here.
        dns_env = os.environ.get("ADVISOR_DNS", "").split()
        ca_env = os.environ.get("ADVISOR_CA_FILE")
        wizard(dns=dns_env or None, ca_file=Path(ca_env) if ca_env else None, no_color=no_color)


# Options shared by every command that runs a discovery (discover, and later
# recommend, export, onboard): declared once so they cannot drift apart.
DnsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--dns",
        metavar="HOST[:PORT]",
        envvar="ADVISOR_DNS",
        help="DNS server to ask instead of the system's (repeatable).",
    ),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        metavar="PEM",
        envvar="ADVISOR_CA_FILE",
        help="Extra trusted CA certificates, added to the system store.",
    ),
]
# Longer than anyone waits for a mail server; larger values (inf, 1e308) overflow the
# clocks that threads and sockets wait on. NaN fails both bounds: click compares.
MAX_TIMEOUT = 3600.0
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", min=0.1, max=MAX_TIMEOUT, help="Overall time budget."
    ),
]
NoSendAddressOpt = Annotated[
    bool,
    typer.Option(
        "--no-send-address",
        help="Do not send the address to the domain's autoconfig server (privacy).",
    ),
]
IspdbOpt = Annotated[
    str,
    typer.Option("--ispdb-url", metavar="URL", help="Base URL of the ISPDB (Thunderbird's)."),
]
OfflineOpt = Annotated[
    bool,
    typer.Option("--offline", help="Use only the built-in catalogue (and --config-dir)."),
]
NoAutodiscoverOpt = Annotated[
    bool,
    typer.Option("--no-autodiscover", help="Skip Microsoft Autodiscover and Exchange probes."),
]
AskMicrosoftOpt = Annotated[
    bool,
    typer.Option(
        "--ask-microsoft",
        help="Always ask Microsoft 365's Autodiscover v2 about the address (by default"
        " only when DNS points at Microsoft 365); it sends the address to Microsoft.",
    ),
]
ExchangeUserOpt = Annotated[
    str | None,
    typer.Option(
        "--exchange-user",
        metavar="USER",
        help="Log in to Exchange Autodiscover (exchangelib) as USER; the password is"
        " asked for, or read with --password-stdin.",
    ),
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]


@app.command()
@with_server_flags(exclude=("protocol",))
def discover(
    address: Annotated[str, typer.Argument(help="The e-mail address, e.g. jane@example.com.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (advisor.discovery/1).")
    ] = False,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    no_send_address: NoSendAddressOpt = False,
    ispdb_url: IspdbOpt = "https://autoconfig.thunderbird.net/v1.1/",
    offline: OfflineOpt = False,
    no_autodiscover: NoAutodiscoverOpt = False,
    ask_microsoft: AskMicrosoftOpt = False,
    exchange_user: ExchangeUserOpt = None,
    password_stdin: PasswordStdinOpt = False,
    wait_all: Annotated[
        bool,
        typer.Option(
            "--wait-all", help="Wait for every probe (up to --timeout), not just for the answer."
        ),
    ] = False,
    all_steps: Annotated[
        bool, typer.Option("--all-steps", help="Also list the probes that found nothing.")
    ] = False,
    debug: DebugOpt = False,
    manual: "ManualServers | None" = None,
) -> None:
    """Find every way to reach the mailbox: DNS, autoconfig, Autodiscover, live probes."""
    _set_debug(debug)
    from advisor.discovery import Options
    from advisor.runner import run_discovery

    options = Options(
        timeout=timeout,
        wait_all=wait_all,
        send_address=not no_send_address,
        ispdb_url=ispdb_url,
        config_dir=manual.config_dir if manual else None,
        given=manual,
        offline=offline,
        autodiscover=not no_autodiscover,
        ask_microsoft=ask_microsoft,
        autodiscover_v2_url=os.environ.get(
            "ADVISOR_AUTODISCOVER_V2_URL", Options.autodiscover_v2_url
        ),
    )
    observer = None if json_output else _progress_observer()
    try:
        report = run_discovery(
            address,
            nameservers=dns or [],
            ca_file=ca_file,
            options=options,
            observer=observer,
            exchange_user=exchange_user,
            password_stdin=password_stdin,
        )
    finally:
        if observer is not None:
            observer.close()
    if json_output:
        import json

        from advisor.report import to_json

        sys.stdout.write(json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n")
    else:
        from advisor.report import render_text

        render_text(report, _console(), all_steps=all_steps)
    raise typer.Exit(EXIT_OK if report.usable else EXIT_NOTHING_USABLE)


RulesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        metavar="DIR",
        help="A folder of rule files that add to or override the shipped rules by id"
        " (repeatable; later folders win).",
    ),
]
AnswersOpt = Annotated[
    Path | None,
    typer.Option("--answers", metavar="FILE", help="A TOML answers file (see the README)."),
]
FromJsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--from-json",
        metavar="REPORT",
        help="Reuse a saved `advisor discover --json` report instead of discovering.",
    ),
]
LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang", metavar="en|fr", help="Language of the explanations (default: from the locale)."
    ),
]

ExplainOpt = Annotated[
    bool,
    typer.Option(
        "--explain", help="Show each reason's points and rule id, and the alternatives' scores."
    ),
]


@app.command()
@with_need_flags
@with_server_flags()
def recommend(
    address: Annotated[str, typer.Argument(help="The e-mail address, e.g. jane@example.com.")],
    answers: AnswersOpt = None,
    rules: RulesOpt = None,
    from_json: FromJsonOpt = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (advisor.recommendation/1).")
    ] = False,
    lang: LangOpt = None,
    explain: ExplainOpt = False,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    offline: OfflineOpt = False,
    debug: DebugOpt = False,
    need_flags: dict[str, object] | None = None,
    manual: "ManualServers | None" = None,
) -> None:
    """Recommend Exchange, IMAP or POP3 for this person, with the reasons."""
    _set_debug(debug)
    from advisor.planning import plan, setup_choice

    result = plan(
        address,
        answers=answers,
        need_flags=need_flags or {},
        rules_dirs=rules or [],
        from_json=from_json,
        lang=_lang(lang),
        nameservers=dns or [],
        ca_file=ca_file,
        timeout=timeout,
        offline=offline,
        manual=manual,
    )
    setup = setup_choice(result)
    if json_output:
        import json

        from advisor.recommend import to_json

        doc = to_json(result.recommendation, address=result.address, lang=result.lang)
        doc["setup"] = setup.to_json()
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        from advisor.report import render_recommendation

        console = _console()
        render_recommendation(
            result.recommendation,
            console,
            lang=result.lang,
            address=result.address,
            explain=explain,
        )
        # With nothing recommended, render_recommendation has said so already.
        if setup.text() and (result.recommendation.recommended or setup.protocol):
            console.print(setup.text(), style="yellow", markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK if result.recommendation.recommended else EXIT_NOTHING_USABLE)


ClientOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--client",
        metavar="thunderbird|outlook|apple|all",
        help="Which clients to write files for (repeatable; default all).",
    ),
]


@app.command()
@with_need_flags
@with_server_flags()
def export(
    address: Annotated[str, typer.Argument(help="The e-mail address, e.g. jane@example.com.")],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write the files into.")
    ],
    client: ClientOpt = None,
    name: Annotated[
        str, typer.Option("--name", metavar="TEXT", help="The person's name, for the identity.")
    ] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Replace files that already exist.")
    ] = False,
    answers: AnswersOpt = None,
    rules: RulesOpt = None,
    from_json: FromJsonOpt = None,
    lang: LangOpt = None,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    offline: OfflineOpt = False,
    debug: DebugOpt = False,
    need_flags: dict[str, object] | None = None,
    manual: "ManualServers | None" = None,
) -> None:
    """Write ready-to-import files for Thunderbird, Outlook and Apple, and a README.txt."""
    _set_debug(debug)
    from advisor.export import (
        ClientKind,
        account_plan,
        choose_protocol,
        inside,
        refuse_what_lint_rejects,
        render_files,
    )
    from advisor.fsutil import write_all
    from advisor.offdomain import plan_hosts
    from advisor.planning import plan

    kinds = _client_kinds(client or ["all"])
    result = plan(
        address,
        answers=answers,
        need_flags=need_flags or {},
        rules_dirs=rules or [],
        from_json=from_json,
        lang=_lang(lang),
        nameservers=dns or [],
        ca_file=ca_file,
        timeout=timeout,
        offline=offline,
        manual=manual,
    )
    rec = result.recommendation
    choice = choose_protocol(
        rec, result.report, forced=manual.protocol if manual is not None else None
    )
    chosen = choice.protocol
    if choice.note():
        sys.stderr.write(f"advisor: {choice.note()}\n")
    account = account_plan(
        result.report,
        protocol=chosen,
        full_name=name,
        leave_on_server=rec.leave_on_server,
        keep_days=rec.keep_days,
        calendars=rec.calendars == "caldav",
        contacts=rec.contacts == "carddav",
    )
    _warn_off_domain(result.report, plan_hosts(account))
    files = render_files(account, [ClientKind(k) for k in kinds], lang=result.lang)
    refuse_what_lint_rejects(files)
    # All clients' files or none, never through a link planted inside --out.
    written = write_all({inside(out, f.name): f.data for f in files}, force=force, root=out)
    from advisor.formats.text import escape_controls

    shown = escape_controls(str(out))  # the folder as typed: may hold anything
    names = {"imap": "IMAP", "pop3": "POP3", "exchange": "Exchange"}
    sys.stdout.write(
        _t("{protocol} settings for {email} written to {folder}:").format(
            protocol=names.get(chosen, chosen), email=account.email, folder=shown
        )
        + "\n"
    )
    for f in files:
        sys.stdout.write(f"  {f.name:<42} {f.what}\n")
    readme = escape_controls(str(out / "README.txt"))
    sys.stdout.write(_t("Next: read {path} for the import steps.").format(path=readme) + "\n")
    raise typer.Exit(EXIT_OK if written else EXIT_USER_ERROR)


@app.command()
@with_need_flags
@with_server_flags()
def wizard(
    address: Annotated[
        str | None,
        typer.Argument(help="The e-mail address (asked for when missing, on a terminal)."),
    ] = None,
    answers: AnswersOpt = None,
    client: ClientOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIR", help="Folder for the files (default ./mail-setup-<local part>)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="TEXT", help="The person's name, for the identity."),
    ] = None,
    save_answers: Annotated[
        Path | None,
        typer.Option("--save-answers", metavar="FILE", help="Save the answers to this TOML file."),
    ] = None,
    no_save_answers: Annotated[
        bool, typer.Option("--no-save-answers", help="Do not offer to save the answers.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accept the default answer of every confirmation.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files that already exist.")
    ] = False,
    rules: RulesOpt = None,
    lang: Annotated[
        str | None,
        typer.Option("--lang", metavar="en|fr", help="Language (default: from the locale)."),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")
    ] = False,
    explain: ExplainOpt = False,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="From the address alone: no questions about needs; the settings and files"
            " for every mail program, in ./mail-setup-<local part>.",
        ),
    ] = False,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    offline: OfflineOpt = False,
    debug: DebugOpt = False,
    need_flags: dict[str, object] | None = None,
    manual: "ManualServers | None" = None,
) -> None:
    """Guided set-up: asks the questions while discovery runs, recommends, writes the files.

    Without a terminal nothing is asked: give the address, and any answer, by flags or
    --answers FILE.
    """
    _set_debug(debug)
    from advisor.i18n import set_language

    lang = lang or _ROOT_LANG
    set_language(_lang(lang) if lang is not None else None)
    if no_color:
        os.environ["NO_COLOR"] = "1"  # read by prompt_toolkit and rich
    if client:
        client = _client_kinds(client)

    from dataclasses import replace

    from advisor.discovery import Options
    from advisor.manual import ManualServers
    from advisor.prompter import QuestionaryPrompter
    from advisor.runner import run_discovery
    from advisor.wizard import WizardOptions, run_wizard

    options = Options(
        timeout=timeout,
        offline=offline,
        autodiscover_v2_url=os.environ.get(
            "ADVISOR_AUTODISCOVER_V2_URL", Options.autodiscover_v2_url
        ),
    )

    def runner(addr: str, observer: object, given: ManualServers) -> object:
        return run_discovery(
            addr,
            nameservers=dns or [],
            ca_file=ca_file,
            options=replace(options, config_dir=given.config_dir, given=given),
            observer=observer,  # type: ignore[arg-type]
        )

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    result = run_wizard(
        WizardOptions(
            address=address,
            answers=answers,
            need_flags=need_flags or {},
            clients=client,
            out=out,
            name=name,
            save_answers=save_answers,
            no_save_answers=no_save_answers,
            yes=yes,
            force=force,
            rules_dirs=rules or [],
            interactive=interactive,
            explain=explain,
            quick=quick,
            manual=manual or ManualServers(),
        ),
        QuestionaryPrompter(color=not no_color and "NO_COLOR" not in os.environ),
        runner,  # type: ignore[arg-type]
        _console(),
    )
    raise typer.Exit(result.exit_code)


@app.command()
@with_server_flags(
    helps={
        "protocol": "Set up this protocol for every row instead of the recommended one (a"
        " row's protocol column wins)."
    }
)
def onboard(
    employees: Annotated[
        Path,
        typer.Argument(
            metavar="EMPLOYEES.csv",
            help="One row per employee: email (required), name, lang, clients, devices and any"
            " answers-file key.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for the employees' folders.")
    ],
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            metavar="FILE",
            help="The organisation's answers file: the defaults for every row.",
        ),
    ] = None,
    rules: RulesOpt = None,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="en|fr",
            help="Language of rows without one, and of index.html (default: from the locale).",
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            min=1,
            max=64,
            help="Employees written at once; domains are discovered twice as many at once.",
        ),
    ] = 8,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            metavar="N",
            min=1,
            max=64,
            help="Worker processes sharing the rows (default: two per CPU, at most --jobs,"
            " from 1,000 rows).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Redo finished rows too (files edited by hand are still kept, see NAME.new).",
        ),
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Discover every domain again; ignore the cache.")
    ] = False,
    cache_ttl: Annotated[
        str,
        typer.Option(
            "--cache-ttl",
            metavar="DURATION",
            help="How long a domain's discovery is reused, e.g. 30m, 12h, 7d; 0: no cache.",
        ),
    ] = "24h",
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            metavar="DIR",
            envvar="ADVISOR_CACHE_DIR",
            help="Cache folder (default: the user's cache folder, e.g. ~/.cache/advisor).",
        ),
    ] = None,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    offline: OfflineOpt = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar, even on a terminal.")
    ] = False,
    servers: Annotated[
        Path | None,
        typer.Option(
            "--servers",
            metavar="FILE",
            help="A CSV of servers per domain: domain, imap, pop3, smtp, ews, protocol"
            " (used where discovery cannot find them; a row's own columns win).",
        ),
    ] = None,
    debug: DebugOpt = False,
    manual: "ManualServers | None" = None,
) -> None:
    """Configurations and a setup sheet for every employee of a CSV, plus summary.csv and
    index.html for IT."""
    _set_debug(debug)
    from advisor.cache import parse_duration
    from advisor.manual import ManualServers
    from advisor.onboard import Onboarding, Settings

    settings = Settings(
        out=out,
        answers=answers,
        rules_dirs=tuple(rules or ()),
        lang=_lang(lang),
        jobs=jobs,
        processes=processes,
        force=force,
        refresh=refresh,
        cache_dir=cache_dir,
        cache_ttl=parse_duration(cache_ttl),
        nameservers=tuple(dns or ()),
        ca_file=ca_file,
        timeout=timeout,
        offline=offline,
        manual=manual or ManualServers(),
        servers=servers,
    )
    show = None if no_progress or not sys.stderr.isatty() else _OnboardProgress()
    try:
        outcome = Onboarding(employees, settings, observer=show).run()
    finally:
        if show is not None:
            show.close()
    from advisor.onboard import render_outcome

    sys.stdout.write(render_outcome(outcome))
    raise typer.Exit(EXIT_USER_ERROR if outcome.failed else EXIT_OK)


EXIT_CHECK_FAILED = 4  # advisor verify: a server did not accept the login


@app.command()
@with_server_flags(
    helps={
        "protocol": "Check this way of reading mail only (default: the best incoming server,"
        " the SMTP server, and Exchange when there is an EWS URL)."
    }
)
def verify(
    address: Annotated[str, typer.Argument(help="The e-mail address to log in as.")],
    from_json: Annotated[
        Path | None,
        typer.Option(
            "--from-json",
            metavar="REPORT",
            help="Take the servers from a saved `advisor discover --json` report.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Take the servers from a configuration file: autoconfig XML (Thunderbird,"
            " `advisor export`/`advisor autoconfig`) or Autodiscover XML (Outlook).",
        ),
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(
            "--username",
            metavar="USER",
            help="Log in as USER (default: the configuration's user name, usually the address).",
        ),
    ] = None,
    password_stdin: PasswordStdinOpt = False,
    oauth_token_stdin: Annotated[
        bool,
        typer.Option(
            "--oauth-token-stdin",
            help="Read an OAuth2 access token from stdin and log in with XOAUTH2/OAUTHBEARER"
            " (or a Bearer header for Exchange) instead of a password.",
        ),
    ] = False,
    allow_insecure: Annotated[
        bool,
        typer.Option(
            "--allow-insecure",
            help="Send the password even without encryption or to a certificate that failed"
            " validation (warns loudly).",
        ),
    ] = False,
    send_test_to: Annotated[
        str | None,
        typer.Option(
            "--send-test-to",
            metavar="ADDR",
            help="After the SMTP login, send a short test message to ADDR.",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (advisor.verify/1).")
    ] = False,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=0.1,
            max=MAX_TIMEOUT,
            help="Time allowed per server.",
        ),
    ] = 15.0,
    debug: DebugOpt = False,
    manual: "ManualServers | None" = None,
) -> None:
    """Log in to each server as the mail client would (once each), and say what happened.

    Given servers (--imap/--pop3/--smtp/--ews) are the ones logged in to; the others
    come from discovery."""
    _set_debug(debug)
    from advisor.address import parse_address
    from advisor.manual import ManualServers as ManualServersType
    from advisor.net.resolver import DnsClient, parse_nameservers
    from advisor.net.trust import client_context
    from advisor.secrets import read_password, read_token
    from advisor.verify import Check, VerifyOptions, run_checks, to_json, unreachable

    parsed = parse_address(address)
    manual = manual or ManualServersType()
    if from_json is not None and config is not None:
        raise AdvisorError("give --from-json or --config, not both")
    if config is not None and manual.given:
        raise AdvisorError("give --config or servers (--imap/--pop3/--smtp/--ews), not both")
    if password_stdin and oauth_token_stdin:
        raise AdvisorError("give --password-stdin or --oauth-token-stdin, not both")
    if send_test_to is not None:
        send_test_to = parse_address(send_test_to).address_ascii
    if username is not None and (not username.strip() or not username.isprintable()):
        raise AdvisorError("--username: empty or not printable")
    context = client_context(ca_file)
    dns_client = DnsClient(parse_nameservers(list(dns or [])))
    who = username or parsed.address_ascii
    source, targets = _verify_targets(
        parsed, from_json=from_json, config=config, manual=manual, dns=dns, ca_file=ca_file
    )
    # Then each server is looked up and connected to, without credentials: the
    # secret is asked for only when at least one of them can be reached.
    unreachable_now = unreachable(targets, dns=dns_client)
    console = None if json_output else _console()
    if targets and len(unreachable_now) == len(targets):
        _no_server_reachable(
            [unreachable_now[t] for t in targets],
            dns_client,
            console,
            json_output=json_output,
            address=parsed.address_ascii,
            source=source,
        )
    password = token = None
    if oauth_token_stdin:
        token = read_token()
    else:
        password = read_password(stdin=password_stdin, prompt=f"Password for {who}: ")
    options = VerifyOptions(
        address=parsed.address_ascii,
        username=username,
        password=password,
        token=token,
        allow_insecure=allow_insecure,
        send_test_to=send_test_to,
        timeout=timeout,
        ca_file=ca_file,
    )
    if console is not None:
        headline = (
            _t("Logging in as {who} to {count} server (from {source}), once:")
            if len(targets) == 1
            else _t("Logging in as {who} to {count} servers (from {source}), once each:")
        )
        console.print(
            headline.format(who=who, count=len(targets), source=source),
            markup=False,
            soft_wrap=True,
        )

    def show(check: Check) -> None:
        if console is not None:
            _print_check(console, check)

    checks = run_checks(
        targets, options, dns=dns_client, context=context, on_check=show, known=unreachable_now
    )
    insecure = [c for c in checks if c.insecure]
    for c in insecure:
        sys.stderr.write(
            f"advisor: WARNING: the {'token' if token else 'password'} was sent to"
            f" {c.target.label} without verified encryption (--allow-insecure). Anyone on"
            " the way could read it: change it unless this network is entirely yours.\n"
        )
    if json_output:
        import json

        doc = to_json(parsed.address_ascii, source, checks)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    ok = bool(checks) and all(str(c.result) == "ok" for c in checks)
    raise typer.Exit(EXIT_OK if ok else EXIT_CHECK_FAILED)


def _warn_off_domain(report: "DiscoveryReport", hosts: list[str]) -> None:
    """On stderr: each server outside the address's domains, and where the password goes."""
    from advisor.offdomain import hops_for

    for hop in hops_for(report, hosts):
        _print_off_domain(hop, report.domain)


def _print_off_domain(hop: "OffDomain", domain: str) -> None:
    from advisor.i18n import _
    from advisor.offdomain import hop_warning

    sys.stderr.write(f"advisor: {_('warning:')} {hop_warning(hop, domain)}\n")


def _verify_targets(
    parsed: Any,
    *,
    from_json: Path | None,
    config: Path | None,
    manual: Any,
    dns: list[str] | None,
    ca_file: Path | None,
) -> tuple[str, list[Any]]:
    """Where verify's servers come from (a configuration file, a saved report or a
    fresh discovery) and the servers; each one outside the address's domains is named
    on stderr with where the password would go, before any login."""
    from advisor.verify import targets_from_config, targets_from_report

    protocol = manual.protocol
    if config is not None:
        from advisor.offdomain import home_domains, off_domain

        targets = targets_from_config(config, parsed.address_ascii, protocol)
        checked = [t.url or t.host for t in targets]
        for hop in off_domain(checked, home_domains(parsed.domain_ascii)):
            _print_off_domain(hop, parsed.domain)
        return f"config {config}", targets
    if from_json is not None:
        from advisor.planning import read_report

        # A report made for another address is refused: the password can never go
        # to that mailbox's servers.
        report = manual.add_to_report(read_report(from_json, parsed.address))
        source = f"report {from_json}"
    else:
        from advisor.discovery import Options
        from advisor.runner import run_discovery

        report = run_discovery(
            parsed.address,
            nameservers=dns or [],
            ca_file=ca_file,
            options=Options(config_dir=manual.config_dir, given=manual),
        )
        source = "discovery"
    targets = targets_from_report(report, protocol)
    _warn_off_domain(report, [t.url or t.host for t in targets])
    return source, targets


def _no_server_reachable(
    checks: list[Any],
    dns: Any,
    console: "Console | None",
    *,
    json_output: bool,
    address: str,
    source: str,
) -> NoReturn:
    """Every server is out of reach: say so, and why DNS may be the cause, without
    asking for the secret (nothing could have used it)."""
    from advisor.i18n import _
    from advisor.verify import dns_looks_filtered, to_json

    if json_output:
        import json

        doc = to_json(address, source, checks)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    elif console is not None:
        for check in checks:
            _print_check(console, check)
    tld = dns_looks_filtered(checks, dns=dns)
    if tld is not None:
        sys.stderr.write(
            "advisor: "
            + _(
                "your DNS server says even the top-level domain {tld!r} does not exist:"
                " its view looks filtered or offline (captive portal, closed network)."
                " Try another network, or another DNS server with --dns."
            ).format(tld=tld)
            + "\n"
        )
    sys.stderr.write(
        "advisor: " + _("no server could be reached, so no password was asked for or sent") + "\n"
    )
    raise typer.Exit(EXIT_CHECK_FAILED)


def _t(message: str) -> str:
    """``message`` in the user's language (the catalog is loaded only when needed)."""
    from advisor.i18n import _

    return _(message)


def _print_check(console: "Console", check: object) -> None:
    from rich.text import Text

    from advisor.verify import Check, Result

    assert isinstance(check, Check)
    mark, style = {
        Result.OK: ("✓", "green"),
        Result.SKIPPED: ("-", "dim"),
        Result.OAUTH2_REQUIRED: ("!", "yellow"),
        Result.UNTESTED: ("?", "yellow"),
    }.get(check.result, ("✗", "red"))
    line = Text(f"{mark} ", style=style)
    line.append(f"{check.target.role:<9} {check.target.label}", style="bold")
    line.append(f"  as {check.user}" if check.user else "")
    console.print(line, soft_wrap=True)
    detail = Text(f"    {check.result}: ", style=style)
    detail.append(check.detail)
    mailbox = check.mailbox if check.mailbox and check.mailbox not in check.detail else None
    extras = [x for x in (mailbox, f"over {check.tls}" if check.tls else None) if x]
    if extras:
        detail.append("; " + "; ".join(extras))
    console.print(detail, soft_wrap=True)
    if check.reply:
        console.print(Text(f"    server said: {check.reply}", style="dim"), soft_wrap=True)
    if check.sent:
        console.print(Text(f"    test message: {check.sent}"), soft_wrap=True)


@app.command()
@with_server_flags(
    exclude=("ews", "config_dir", "protocol"),
    helps={
        "imap": "An IMAP server to publish (repeatable); without servers, discovery finds them.",
        "pop3": "A POP3 server to publish (repeatable).",
        "smtp": "An SMTP server to publish (repeatable).",
    },
)
def autoconfig(
    domain: Annotated[str, typer.Argument(help="The mail domain, e.g. example.com.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="FILE|FOLDER",
            help="The file to write, or a folder to write config-v1.1.xml (autodiscover.xml"
            " with --format autodiscover) into.",
        ),
    ],
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="mozilla|autodiscover",
            help="Mozilla config-v1.1.xml (default) or the matching Autodiscover POX answer.",
        ),
    ] = "mozilla",
    name: Annotated[
        str | None, typer.Option("--name", metavar="TEXT", help="Display name of the provider.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    debug: DebugOpt = False,
    manual: "ManualServers | None" = None,
) -> None:
    """For domain admins: the autoconfig file to host, and where to publish it."""
    _set_debug(debug)
    from dataclasses import replace

    from advisor.address import normalise_domain
    from advisor.export import domain_config_from_report
    from advisor.formats.lint import lint as lint_file
    from advisor.formats.outlook import render_autodiscover
    from advisor.formats.plan import DomainConfig
    from advisor.formats.thunderbird import render_autoconfig
    from advisor.fsutil import write_all
    from advisor.i18n import _

    if output_format not in _PUBLISHED_NAMES:
        raise AdvisorError(f"--format {output_format!r}: expected mozilla or autodiscover")
    if "@" in domain:
        raise AdvisorError(
            _("{value!r} is an address: give the domain, not an address (e.g. {domain})").format(
                value=domain, domain=domain.rpartition("@")[2] or "example.com"
            )
        )
    ascii_domain, _unicode = normalise_domain(domain)
    if out.is_dir():
        # A folder: the file takes the name clients ask for there.
        out = out / _PUBLISHED_NAMES[output_format]
    if manual is not None and manual.servers:
        incoming = (*manual.imap, *manual.pop3)
        outgoing = manual.smtp
        if not incoming or not outgoing:
            raise AdvisorError("give at least one --imap or --pop3 server and one --smtp server")
        config = DomainConfig(
            domain=ascii_domain,
            provider_id=ascii_domain,
            display_name=name or ascii_domain,
            short_name=(name or ascii_domain).split()[0],
            incoming=incoming,
            outgoing=outgoing,
        )
    else:
        from advisor.discovery import Options
        from advisor.runner import run_discovery

        # A role address every domain must have (RFC 2142) and no person's: servers
        # that need ?emailaddress= (automx2 answers 400 without it) then answer, and
        # the file turns every place it shows up back into a placeholder.
        report = run_discovery(
            f"postmaster@{ascii_domain}",
            nameservers=dns or [],
            ca_file=ca_file,
            options=Options(timeout=timeout, send_address=True),
        )
        config = domain_config_from_report(report)
        if name:
            config = replace(config, display_name=name, short_name=name.split()[0])
    render = render_autoconfig if output_format == "mozilla" else render_autodiscover
    text = render(config)
    # What we publish must pass our own lint (and so Thunderbird's reading of it):
    # refuse with lint's reasons before anything is written.
    problems = lint_file(text.encode(), name=str(out)).errors
    if problems:
        reasons = "; ".join(f.message for f in problems)
        raise AdvisorError(_("nothing written: {reasons}").format(reasons=reasons))
    write_all({out: text.encode()}, force=force)
    sys.stdout.write(f"wrote {out}\n")
    sys.stdout.write(_publishing_steps(config, output_format))


# The file name clients ask for, per --format: what --out FOLDER writes.
_PUBLISHED_NAMES = {"mozilla": "config-v1.1.xml", "autodiscover": "autodiscover.xml"}


def _publishing_steps(config: object, output_format: str) -> str:
    from advisor.formats.plan import DomainConfig

    assert isinstance(config, DomainConfig)
    d = config.domain
    lines = ["Publish it so that mail clients find it:"]
    if output_format == "mozilla":
        lines += [
            f"  https://autoconfig.{d}/mail/config-v1.1.xml   (Thunderbird, K-9/Thunderbird for"
            " Android, Evolution, KMail...)",
            f"  https://{d}/.well-known/autoconfig/mail/config-v1.1.xml   (IETF draft location)",
            "  Serve it as text/xml over HTTPS with a certificate valid for the host name; the",
            "  query string ?emailaddress=... may be ignored.",
            "DNS records:",
            f"  autoconfig.{d}. IN CNAME <your web server>.",
        ]
    else:
        lines += [
            f"  https://autodiscover.{d}/autodiscover/autodiscover.xml   (answer POST requests"
            " with this file)",
            f"  https://{d}/autodiscover/autodiscover.xml   (optional, tried first by Outlook)",
            "DNS records:",
            f"  autodiscover.{d}. IN CNAME <your web server>.",
            f"  _autodiscover._tcp.{d}. IN SRV 0 0 443 autodiscover.{d}.",
        ]
    service = {
        ("imap", "ssl"): "_imaps._tcp",
        ("imap", "starttls"): "_imap._tcp",
        ("pop3", "ssl"): "_pop3s._tcp",
        ("pop3", "starttls"): "_pop3._tcp",
        ("smtp", "ssl"): "_submissions._tcp",
        ("smtp", "starttls"): "_submission._tcp",
    }
    lines.append("  RFC 6186 / RFC 8314 SRV records (used by some clients, and by advisor):")
    for priority, server in enumerate((*config.incoming, *config.outgoing)):
        label = service[(server.protocol.value, server.security.value)]
        lines.append(f"  {label}.{d}. IN SRV {priority} 1 {server.port} {server.hostname}.")
    return "\n".join(lines) + "\n"


@app.command()
def lint(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Autoconfig XML files.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Semantic checks of autoconfig XML that no XML parser does."""
    from advisor.formats.lint import Finding, LintReport, lint_text_report
    from advisor.formats.lint import lint as lint_file
    from advisor.formats.lint import to_json as lint_json
    from advisor.fsutil import read_bounded
    from advisor.i18n import _

    def unreadable(message: str) -> LintReport:
        # A file that cannot be read is that file's error: the others are still checked.
        return LintReport(errors=(Finding("unreadable", message, "file"),), warnings=())

    reports = []
    for path in files:
        try:
            data = read_bounded(path, 4 * 1024 * 1024, what=_("an autoconfig file"))
        except AdvisorError as exc:  # a device, a FIFO, too large, unreadable
            reason = str(exc).removeprefix(f"{path}: ").removeprefix(f"{path} : ")  # en, fr
            reports.append((str(path), unreadable(reason)))
            continue
        reports.append((str(path), lint_file(data, name=str(path))))
    if json_output:
        import json

        doc = {"schema": "advisor.lint/1", "files": [lint_json(r, file=n) for n, r in reports]}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        for file_name, report in reports:
            sys.stdout.write(lint_text_report(report, file=file_name))
    failed = sum(1 for _, r in reports if r.errors)
    raise typer.Exit(EXIT_USER_ERROR if failed else EXIT_OK)


@app.command()
@with_server_flags(exclude=("imap", "pop3", "smtp", "ews", "protocol"))
def check(
    domains: Annotated[
        list[str] | None,
        typer.Argument(metavar="DOMAIN...", help="Mail domains to check, e.g. example.com."),
    ] = None,
    domains_file: Annotated[
        Path | None,
        typer.Option(
            "--domains",
            metavar="FILE",
            help="Check the domains of FILE (one per line); prints one JSON document per"
            " line as each finishes.",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", metavar="N", min=1, max=256, help="Domains checked at once.")
    ] = 8,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            metavar="N",
            min=1,
            max=64,
            help="Worker processes sharing --jobs (default 1: threads in this process).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON (advisor.check/1).")
    ] = False,
    html_file: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML report."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the HTML file.")] = False,
    lang: LangOpt = "",
    dns: DnsOpt = None,
    ca_file: CaFileOpt = None,
    timeout: TimeoutOpt = 10.0,
    ispdb_url: IspdbOpt = "https://autoconfig.thunderbird.net/v1.1/",
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar (shown only on a terminal).")
    ] = False,
    debug: DebugOpt = False,
    manual: "ManualServers | None" = None,
) -> None:
    """What Thunderbird, Thunderbird for Android, Outlook and Apple Mail do with a domain."""
    _set_debug(debug)
    from advisor.check.cli import run_check
    from advisor.discovery import Options
    from advisor.i18n import set_language

    if lang:
        set_language(_lang(lang))
    if not domains and domains_file is None:
        raise typer.BadParameter("give DOMAIN... or --domains FILE", param_hint="DOMAIN")
    options = Options(
        timeout=timeout,
        ispdb_url=ispdb_url,
        config_dir=manual.config_dir if manual is not None else None,
        autodiscover_v2_url=os.environ.get(
            "ADVISOR_AUTODISCOVER_V2_URL", Options.autodiscover_v2_url
        ),
    )
    code = run_check(
        list(domains or []),
        domains_file=domains_file,
        jobs=jobs,
        processes=processes,
        json_output=json_output,
        html_file=html_file,
        force=force,
        nameservers=dns or [],
        ca_file=ca_file,
        options=options,
        progress=not no_progress and sys.stderr.isatty(),
    )
    raise typer.Exit(code)


def _client_kinds(values: list[str]) -> list[str]:
    out = []
    for value in values:
        for part in value.replace(",", " ").split():
            if part not in ("thunderbird", "outlook", "apple", "all"):
                raise AdvisorError(
                    f"--client {part!r}: expected thunderbird, outlook, apple or all"
                )
            out.append(part)
    return out


rules_app = typer.Typer(help="List and check recommendation rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(
    rules: RulesOpt = None,
    lang: LangOpt = None,
) -> None:
    """Print every active rule: id, condition, effect, explanation."""
    from advisor.recommend import NAMES
    from advisor.rules.loader import load

    ruleset = load(rules or [], names=NAMES)
    language = _lang(lang)
    for rule in ruleset.rules:
        state = "" if rule.enabled else " (disabled)"
        sys.stdout.write(f"{rule.id}{state}  [{rule.origin}]\n")
        if rule.enabled:
            sys.stdout.write(f"  when:   {rule.when.source}\n")
            sys.stdout.write(f"  effect: {rule.effect_text()}\n")
            sys.stdout.write(f"  why:    {rule.explanation(language)}\n")
            if rule.reference:
                sys.stdout.write(f"  ref:    {rule.reference}\n")
    sys.stdout.write(f"{len(ruleset.active())} active rules from {', '.join(ruleset.sources)}\n")


@rules_app.command("check")
def rules_check(
    folders: Annotated[list[Path], typer.Argument(metavar="DIR...", help="Rule folders to check.")],
) -> None:
    """Validate rule files: every error with its file, line and rule id."""
    from advisor.recommend import NAMES
    from advisor.rules.loader import RuleError, load_dir

    count = 0
    errors: list[str] = []
    for folder in folders:
        try:
            count += len(load_dir(folder, names=NAMES))
        except RuleError as exc:
            errors.extend(exc.errors)
    if errors:
        for error in errors:
            sys.stderr.write(f"advisor: {_t('error:')} {error}\n")
        sys.stderr.write(f"advisor: {len(errors)} error(s) in the rule files\n")
        raise typer.Exit(1)
    sys.stdout.write(f"ok: {count} rules in {len(folders)} folder(s)\n")


def _lang(value: str | None) -> str:
    """The command's --lang, else the one given before the command, else the locale's.
    A command's own --lang also becomes the language of its messages from here on."""
    if value is None:
        from advisor.i18n import current_language

        return _ROOT_LANG or current_language()
    lang = value.strip().lower()[:2]
    if lang not in ("en", "fr"):
        raise AdvisorError(f"--lang {value!r}: expected en or fr")
    from advisor.i18n import set_language

    set_language(lang)
    return lang


# ------------------------------------------------------------------ helpers


class _Progress:
    """A one-line live status on stderr while discovery runs (only on a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._status = self._console.status("Discovering...")
        self._status.start()
        self._count = 0

    def step(self, step: object) -> None:
        self._count += 1
        target = getattr(step, "target", "")
        self._status.update(f"Discovering... {self._count} steps done, last: {target}")

    def close(self) -> None:
        self._status.stop()


class _OnboardProgress:
    """Rows done of all, failures, rate and ETA on stderr (only on a terminal)."""

    def __init__(self) -> None:
        from advisor.progress import progress_bar

        self._progress = progress_bar()
        self._progress.start()
        self._rows = self._progress.add_task("Employees", total=None, failed=0)
        self._domains = self._progress.add_task("Domains", total=None, failed=0)
        self._failed = 0
        self._domain_failed = 0

    def started(self, rows: int, domains: int, cached: int) -> None:
        self._progress.update(self._rows, total=rows)
        self._progress.update(
            self._domains,
            total=domains,
            completed=0,
            description=f"Domains ({cached} cached)" if cached else "Domains",
        )

    def domain_done(self, result: object) -> None:
        if getattr(result, "failed", False):
            self._domain_failed += 1
        self._progress.update(self._domains, advance=1, failed=self._domain_failed)

    def row_done(self, result: object) -> None:
        if str(getattr(result, "status", "")) == "failed":
            self._failed += 1
        self._progress.update(self._rows, advance=1, failed=self._failed)

    def close(self) -> None:
        self._progress.stop()


def _progress_observer() -> _Progress | None:
    return _Progress() if sys.stderr.isatty() else None


class _TrimmedLines:
    """stdout without the spaces rich pads wrapped lines and table cells with: a file
    or a pipe gets text that diffs and greps cleanly."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending.rstrip(" "))
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False


def _console() -> "Console":
    from rich.console import Console

    # rich honours NO_COLOR itself and writes no colour to a pipe; width falls back
    # to 80 when not a terminal, and the padding it adds up to that width is trimmed.
    if sys.stdout.isatty():
        return Console(highlight=False, soft_wrap=False)
    trimmed = cast("TextIO", _TrimmedLines(sys.stdout))  # write/flush/isatty is all rich uses
    return Console(file=trimmed, highlight=False, soft_wrap=False)


_DEBUG = False


def _set_debug(flag: bool) -> None:
    global _DEBUG  # noqa: PLW0603 - one process, one command: a module flag is enough
    _DEBUG = flag or os.environ.get("ADVISOR_DEBUG") == "1"


def _listing_app() -> typer.Typer:
    """The app as ``advisor --help`` needs it: every command's name and help, none of
    their options. typer builds each command's ~20 options (type hints, defaults,
    click parameters) to list them; for the top-level page that cost more than
    importing typer. The page is the same (tests/test_cli_help.py)."""
    import copy

    lean = copy.copy(app)
    lean.registered_commands = []
    for info in app.registered_commands:
        listed = copy.copy(info)
        listed.callback = _bare(info.callback)
        lean.registered_commands.append(listed)
    return lean


def _bare(callback: object) -> "Callable[[], None]":
    def bare() -> None:
        raise AssertionError("only listed, never run")

    bare.__name__ = getattr(callback, "__name__", "command")
    bare.__doc__ = getattr(callback, "__doc__", None)
    return bare


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps every outcome to the documented exit code."""
    from advisor.i18n import set_language

    # Each run starts from the locale's language; --lang of a command overrides it.
    set_language(None)
    args = sys.argv[1:] if argv is None else argv
    # `advisor --help` only lists the commands: no need to build their options.
    runner = _listing_app() if args in (["--help"], ["-h"]) else app
    try:
        # Not standalone: our errors get our exit codes and one-line messages.
        code = runner(args=args, standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        code = EXIT_INTERRUPTED
    except typer.Exit as exc:
        code = getattr(exc, "exit_code", EXIT_OK)
    except AdvisorError as exc:
        from advisor.formats.text import escape_controls

        # Messages quote what the user gave (addresses, file contents): never raw.
        sys.stderr.write(f"advisor: {_t('error:')} {escape_controls(str(exc))}\n")
        code = exc.exit_code
    except typer.TyperException as exc:  # usage errors: unknown option, bad value
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            sys.stderr.write(f"advisor: {exc.format_message()}\n")
        code = exc.exit_code
    except OSError as exc:  # a file the user can fix (permissions, full disk), else a bug
        if _DEBUG:
            raise
        text = os_error_text(exc)
        if text is None:
            text = f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)"
        else:
            text = f"{_t('error:')} {text}"
        sys.stderr.write(f"advisor: {text}\n")
        code = EXIT_USER_ERROR
    except Exception as exc:
        if _DEBUG:
            raise
        from advisor.formats.text import escape_controls

        sys.stderr.write(
            f"advisor: {_t('internal error:')} {type(exc).__name__}: {escape_controls(str(exc))}"
            " (run with --debug for details)\n"
        )
        code = EXIT_USER_ERROR
    if code == EXIT_INTERRUPTED:  # typer itself also turns Ctrl-C into 130
        sys.stderr.write(f"\nadvisor: {_t('interrupted')}\n")
    sys.exit(code if isinstance(code, int) else EXIT_OK)
