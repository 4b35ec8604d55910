"""The manual-server options, declared once for every command that configures mail.

``--imap/--pop3/--smtp HOST:PORT:ssl|starttls``, ``--ews URL``, ``--config-dir DIR``
and ``--protocol`` mean the same on ``discover``, ``recommend``, ``export``,
``wizard``, ``onboard`` and ``verify``. :data:`SERVER_FIELDS` is the one table: the
CLI builds the options from it, and :mod:`advisor.manual` reads the same names as
keys of an answers file's ``[servers]`` table and as onboarding CSV columns.
Plain tuples and no typer at import, so that ``advisor --help`` and the modules
that read the table (not the CLI) pay nothing for it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

PROTOCOLS = ("imap", "pop3", "exchange")  # what --protocol accepts
SERVER_METAVAR = "HOST:PORT:ssl|starttls"


class ServerField(NamedTuple):
    name: str  # the parameter, the answers-file key ([servers]) and the CSV column
    flag: str
    metavar: str
    help: str
    repeatable: bool = False
    in_files: bool = True  # may come from an answers file or a CSV


SERVER_FIELDS: tuple[ServerField, ...] = (
    ServerField(
        "imap",
        "--imap",
        SERVER_METAVAR,
        "An IMAP server to use (repeatable); probed like the discovered ones.",
        repeatable=True,
    ),
    ServerField("pop3", "--pop3", SERVER_METAVAR, "A POP3 server to use (repeatable).", True),
    ServerField(
        "smtp", "--smtp", SERVER_METAVAR, "An SMTP (sending) server to use (repeatable).", True
    ),
    ServerField(
        "ews",
        "--ews",
        "URL",
        "The Exchange server's EWS URL (https://HOST/EWS/Exchange.asmx), or its host name.",
    ),
    ServerField(
        "config_dir",
        "--config-dir",
        "DIR",
        "Local override folder of <domain>.xml autoconfig files (trusted).",
        in_files=False,  # a path on the machine that runs advisor, not a person's answer
    ),
    ServerField(
        "protocol",
        "--protocol",
        "|".join(PROTOCOLS),
        "Use this protocol instead of the recommended one.",
    ),
)


def _annotation(field: ServerField, help_text: str) -> Any:
    import typer  # here: advisor.manual reads the table without the CLI

    option = typer.Option(field.flag, metavar=field.metavar, help=help_text, show_default=False)
    if field.repeatable:
        return Annotated[list[str] | None, option]
    if field.name == "config_dir":
        return Annotated[Path | None, option]
    return Annotated[str | None, option]


def with_server_flags(
    *, exclude: tuple[str, ...] = (), helps: dict[str, str] | None = None
) -> Callable[[F], F]:
    """Add the manual-server options to a typer command; it receives ``manual``: a
    checked :class:`advisor.manual.ManualServers` (one-line errors naming the flag).
    ``helps`` overrides a flag's help where a command gives it a narrower meaning."""
    chosen = [f for f in SERVER_FIELDS if f.name not in exclude]

    def decorate(func: F) -> F:
        # Not eval_str: ``manual``'s annotation names a type imported for mypy only; the
        # CLI module has no postponed annotations, so the others are objects already.
        signature = inspect.signature(func)
        kept = [p for p in signature.parameters.values() if p.name != "manual"]
        extra = [
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=_annotation(f, (helps or {}).get(f.name, f.help)),
            )
            for f in chosen
        ]
        # Keyword-only parameters of typer commands must follow the others.
        positional = [p for p in kept if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keyword = [p for p in kept if p.kind is inspect.Parameter.KEYWORD_ONLY]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from advisor.manual import from_values

            values = {f.name: kwargs.pop(f.name, None) for f in chosen}
            return func(*args, manual=from_values(values, flags=True), **kwargs)

        params = [*positional, *keyword, *extra]
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper  # type: ignore[return-value]

    return decorate
