"""One command-line flag per need, added to any command by a decorator.

Every question of the wizard has a flag (and an answers-file key): declaring
them once here keeps ``recommend``, ``export`` and ``wizard`` in step.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


# The choices, spelled here rather than imported from advisor.needs so that
# `advisor --help` does not pay for building the enums; a test keeps them equal.
GROUPWARE = "none|sync|share"
ORGANISATION = "personal|small-business|enterprise"
MICROSOFT = "none|microsoft365|exchange|unknown"
CLIENTS = "thunderbird|outlook|new-outlook|apple-mail|ios-mail|android|webmail"


# (parameter name, flag, type, answers-file key, help)
NEED_FLAGS: tuple[tuple[str, str, type, str, str], ...] = (
    (
        "desktops",
        "--desktops",
        int,
        "devices.desktop",
        "Desktop computers that read this mail.",
    ),
    (
        "laptops",
        "--laptops",
        int,
        "devices.laptop",
        "Laptops.",
    ),
    (
        "phones",
        "--phones",
        int,
        "devices.phone",
        "Phones.",
    ),
    (
        "tablets",
        "--tablets",
        int,
        "devices.tablet",
        "Tablets.",
    ),
    (
        "shared_devices",
        "--shared-devices",
        bool,
        "devices.shared",
        "The devices are shared by several people.",
    ),
    (
        "calendars",
        "--calendars",
        str,
        "calendars",
        f"Calendars: {GROUPWARE}.",
    ),
    (
        "contacts",
        "--contacts",
        str,
        "contacts",
        f"Contacts: {GROUPWARE}.",
    ),
    (
        "tasks",
        "--tasks",
        str,
        "tasks",
        f"Tasks: {GROUPWARE}.",
    ),
    (
        "collaborative",
        "--collaborative",
        bool,
        "collaborative",
        "Works with others on shared mail, folders, meetings.",
    ),
    (
        "remote_work",
        "--remote-work",
        bool,
        "remote_work",
        "Works remotely.",
    ),
    (
        "organisation",
        "--organisation",
        str,
        "organisation",
        f"{ORGANISATION}.",
    ),
    (
        "organisation_size",
        "--organisation-size",
        int,
        "organisation_size",
        "People in the organisation.",
    ),
    (
        "microsoft",
        "--microsoft",
        str,
        "microsoft",
        f"Microsoft in the organisation: {MICROSOFT}.",
    ),
    (
        "mailbox_size_gb",
        "--mailbox-size-gb",
        float,
        "mailbox_size_gb",
        "Expected mailbox size, GB.",
    ),
    (
        "quota_gb",
        "--quota-gb",
        float,
        "quota_gb",
        "The provider's mailbox quota, GB (0: unknown).",
    ),
    (
        "read_offline",
        "--read-offline",
        bool,
        "offline",
        "Mail must be readable without a network.",
    ),
    (
        "occasional",
        "--occasional",
        bool,
        "occasional",
        "Mail is read now and then, not every day.",
    ),
    (
        "backed_up",
        "--backed-up",
        bool,
        "backed_up",
        "The computer is backed up.",
    ),
    (
        "data_residency",
        "--data-residency",
        bool,
        "data_residency",
        "Mail must not stay on a third party's servers.",
    ),
    (
        "clients",
        "--clients",
        str,
        "clients",
        f"Comma-separated: {CLIENTS}.",
    ),
)


def _option(flag: str, kind: type, help_text: str) -> Any:
    if kind is bool:
        negative = "--no-" + flag[2:]
        return typer.Option(f"{flag}/{negative}", help=help_text, show_default=False)
    metavar = {int: "N", float: "GB"}.get(kind, "CHOICE")
    if flag == "--clients":
        metavar = "LIST"
    return typer.Option(flag, help=help_text, show_default=False, metavar=metavar)


@functools.cache
def _need_parameters() -> tuple[inspect.Parameter, ...]:
    """Built once for every command that takes the need flags (typer copies what it uses)."""
    out = []
    for name, flag, kind, _key, help_text in NEED_FLAGS:
        annotation = Annotated[kind | None, _option(flag, kind, help_text)]  # type: ignore[valid-type]
        keyword = inspect.Parameter.KEYWORD_ONLY
        out.append(inspect.Parameter(name, keyword, default=None, annotation=annotation))
    return tuple(out)


def with_need_flags(func: F) -> F:
    """Add every need flag to a typer command; the command receives ``need_flags``:
    a dict of answers-file keys to the values given on the command line."""
    # eval_str: the module uses postponed annotations; typer needs the real objects.
    signature = inspect.signature(func, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "need_flags"]
    extra = _need_parameters()
    annotations = {p.name: p.annotation for p in (*kept, *extra)}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {}
        for name, _flag, _kind, key, _help in NEED_FLAGS:
            value = kwargs.pop(name, None)
            if value is not None:
                flags[key] = value
        return func(*args, need_flags=flags, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*kept, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = annotations
    return wrapper  # type: ignore[return-value]
