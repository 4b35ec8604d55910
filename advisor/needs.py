"""What the person needs: the answers the wizard asks for, with defaults.

One frozen :class:`Needs` value, filled from (lowest to highest precedence)
the defaults, a TOML answers file, and command-line flags. Every field has a
flat key (``devices.phone``, ``calendars``, ...) used by the answers file, by
``--need KEY=VALUE`` style flags, and as a name in the rules' conditions.

Answers file (every key optional; in TOML, keys after a ``[table]`` header
belong to that table, so the top-level keys come first)::

    calendars = "share"     # none | sync | share
    contacts = "sync"
    tasks = "none"
    collaborative = true    # works with others on shared mailboxes, folders, meetings
    remote_work = true
    organisation = "small-business"   # personal | small-business | enterprise
    organisation_size = 12
    microsoft = "microsoft365"        # none | microsoft365 | exchange | unknown
    mailbox_size_gb = 8.0
    quota_gb = 15.0         # the provider's mailbox quota, if known (0 = unknown)
    offline = true          # must read mail without a network
    occasional = false      # reads mail now and then, not every day
    backed_up = false       # the computer is backed up
    data_residency = false  # mail must not stay on a third party's servers
    clients = ["outlook", "ios-mail"]

    [devices]
    desktop = 1
    laptop = 1
    phone = 1
    tablet = 0
    shared = false          # devices used by several people

    [servers]               # optional: servers to use when discovery cannot find them
    imap = ["imap.example.com:993:ssl"]   # or pop3 = [...]; HOST:PORT:ssl|starttls
    smtp = ["smtp.example.com:465:ssl"]
    ews = "https://mail.example.com/EWS/Exchange.asmx"   # Exchange
    protocol = "imap"       # instead of the recommended one
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError
from advisor.i18n import _

MAX_DEVICES = 1000  # per kind: a person, or a team sharing a mailbox; larger is a typo
MAX_ANSWERS_BYTES = 256 * 1024  # an answers file is a few hundred bytes


class AnswersError(AdvisorError):
    """An answers file or a flag value is not usable."""


class Groupware(StrEnum):
    NONE = "none"
    SYNC = "sync"  # the same calendar/contacts/tasks on all one's devices
    SHARE = "share"  # shared with colleagues or family


class Organisation(StrEnum):
    PERSONAL = "personal"
    SMALL_BUSINESS = "small-business"
    ENTERPRISE = "enterprise"


class Microsoft(StrEnum):
    NONE = "none"
    MICROSOFT365 = "microsoft365"
    EXCHANGE = "exchange"  # on-premises Exchange Server
    UNKNOWN = "unknown"


class Client(StrEnum):
    THUNDERBIRD = "thunderbird"
    OUTLOOK = "outlook"  # classic Outlook for Windows
    NEW_OUTLOOK = "new-outlook"
    APPLE_MAIL = "apple-mail"
    IOS_MAIL = "ios-mail"
    ANDROID = "android"  # Gmail app, K-9/Thunderbird for Android, Outlook mobile...
    WEBMAIL = "webmail"


# Programs that run on a phone or tablet: choosing one means such a device exists.
MOBILE_CLIENTS = frozenset({Client.IOS_MAIL, Client.ANDROID})


@dataclass(frozen=True)
class Needs:
    desktops: int = 1
    laptops: int = 0
    phones: int = 1
    tablets: int = 0
    shared_devices: bool = False
    calendars: Groupware = Groupware.NONE
    contacts: Groupware = Groupware.NONE
    tasks: Groupware = Groupware.NONE
    collaborative: bool = False
    remote_work: bool = False
    organisation: Organisation = Organisation.PERSONAL
    organisation_size: int = 1
    microsoft: Microsoft = Microsoft.UNKNOWN
    mailbox_size_gb: float = 2.0
    quota_gb: float = 0.0  # 0: unknown
    offline: bool = False
    occasional: bool = False  # reads mail now and then (webmail may be all it takes)
    backed_up: bool = False
    data_residency: bool = False
    clients: tuple[Client, ...] = (Client.THUNDERBIRD,)

    @property
    def devices(self) -> int:
        """Every device the mail is read on; a phone app among the chosen programs
        counts as a phone even when no phone was given."""
        return self.desktops + self.laptops + self.phones_counted + self.tablets

    @property
    def phones_counted(self) -> int:
        mobile_app = any(c in MOBILE_CLIENTS for c in self.clients)
        return max(self.phones, 1 if mobile_app and self.phones + self.tablets == 0 else 0)

    @property
    def webmail_too(self) -> bool:
        """The mail is also read in webmail, which shows only what stays on the server."""
        return Client.WEBMAIL in self.clients

    def values(self) -> dict[str, object]:
        """The names the rules' conditions use, with plain values."""
        return {
            "devices.total": self.devices,
            "devices.desktop": self.desktops,
            "devices.laptop": self.laptops,
            "devices.phone": self.phones_counted,
            "devices.tablet": self.tablets,
            "devices.computers": self.desktops + self.laptops,
            "devices.mobile": self.phones_counted + self.tablets,
            "devices.shared": self.shared_devices,
            "calendars": self.calendars.value,
            "contacts": self.contacts.value,
            "tasks": self.tasks.value,
            "groupware": any(
                g is not Groupware.NONE for g in (self.calendars, self.contacts, self.tasks)
            ),
            "sharing": any(
                g is Groupware.SHARE for g in (self.calendars, self.contacts, self.tasks)
            ),
            "collaborative": self.collaborative,
            "remote_work": self.remote_work,
            "organisation": self.organisation.value,
            "organisation_size": self.organisation_size,
            "microsoft": self.microsoft.value,
            "mailbox_size_gb": self.mailbox_size_gb,
            "quota_gb": self.quota_gb,
            "over_quota": self.quota_gb > 0 and self.mailbox_size_gb > self.quota_gb,
            "near_quota": self.quota_gb > 0 and self.mailbox_size_gb > 0.8 * self.quota_gb,
            "offline": self.offline,
            "occasional": self.occasional,
            "backed_up": self.backed_up,
            "data_residency": self.data_residency,
            "clients": tuple(c.value for c in self.clients),
        }


# Answers-file key -> Needs field. Nested [devices] keys are flattened with a dot.
KEYS: dict[str, str] = {
    "devices.desktop": "desktops",
    "devices.laptop": "laptops",
    "devices.phone": "phones",
    "devices.tablet": "tablets",
    "devices.shared": "shared_devices",
    "calendars": "calendars",
    "contacts": "contacts",
    "tasks": "tasks",
    "collaborative": "collaborative",
    "remote_work": "remote_work",
    "organisation": "organisation",
    "organisation_size": "organisation_size",
    "microsoft": "microsoft",
    "mailbox_size_gb": "mailbox_size_gb",
    "quota_gb": "quota_gb",
    "offline": "offline",
    "occasional": "occasional",
    "backed_up": "backed_up",
    "data_residency": "data_residency",
    "clients": "clients",
}
FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in fields(Needs)}
_ENUMS: dict[str, type[StrEnum]] = {
    "calendars": Groupware,
    "contacts": Groupware,
    "tasks": Groupware,
    "organisation": Organisation,
    "microsoft": Microsoft,
}


def coerce(key: str, value: object) -> object:
    """Check and convert one answer (from TOML or a flag's text) for ``key``."""
    name = KEYS.get(key)
    if name is None:
        if key.startswith("devices.") and key.removeprefix("devices.") in KEYS:
            raise AnswersError(
                f"{key.removeprefix('devices.')!r} is inside [devices]: in TOML, put the"
                " top-level answers before the [devices] table"
            )
        raise AnswersError(f"unknown answer {key!r} (known: {', '.join(sorted(KEYS))})")
    default = getattr(Needs(), name)
    if name in _ENUMS:
        enum = _ENUMS[name]
        text = str(value).strip().lower()
        try:
            return enum(text)
        except ValueError:
            choices = " | ".join(m.value for m in enum)
            raise AnswersError(f"{key} = {value!r}: expected {choices}") from None
    if name == "clients":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise AnswersError(f"{key}: expected a list such as ['thunderbird', 'ios-mail']")
        out = []
        for item in items:
            try:
                out.append(Client(str(item).strip().lower()))
            except ValueError:
                choices = " | ".join(c.value for c in Client)
                raise AnswersError(f"{key}: {item!r} is not one of {choices}") from None
        return tuple(dict.fromkeys(c for c in out))
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "y", "1", "on", "oui", "o"):
            return True
        if text in ("false", "no", "n", "0", "off", "non"):
            return False
        raise AnswersError(f"{key} = {value!r}: expected true or false")
    if isinstance(default, int):
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise AnswersError(f"{key} = {value!r}: expected a whole number") from None
        if isinstance(value, bool) or not 0 <= number <= (
            MAX_DEVICES if key.startswith("devices.") else 10_000_000
        ):
            raise AnswersError(f"{key} = {value!r}: out of range")
        return number
    if isinstance(default, float):
        try:
            real = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
        except ValueError:
            raise AnswersError(f"{key} = {value!r}: expected a number") from None
        if isinstance(value, bool) or not math.isfinite(real) or not 0 <= real <= 1_000_000:
            raise AnswersError(f"{key} = {value!r}: out of range")
        return real
    raise AssertionError(f"no coercion for {key}")  # pragma: no cover - table is complete


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def apply(needs: Needs, answers: dict[str, object], *, where: str = "") -> Needs:
    changes: dict[str, object] = {}
    for key, value in answers.items():
        try:
            changes[KEYS.get(key, key)] = coerce(key, value)
        except AnswersError as exc:
            raise AnswersError(f"{where}{exc}") from None
    result = replace(needs, **changes)  # type: ignore[arg-type]
    if result.devices == 0:
        raise AnswersError(
            f"{where}no device at all: give at least one desktop, laptop, phone or tablet"
        )
    return result


def read_answers_table(path: Path) -> dict[str, Any]:
    """The TOML document of an answers file; one-line errors with the file name."""
    from advisor.fsutil import read_bounded, too_deep

    data = read_bounded(path, MAX_ANSWERS_BYTES, what=_("an answers file"), error=AnswersError)
    import tomllib

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise AnswersError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise AnswersError(f"{path}: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise AnswersError(too_deep(path, _("an answers file"))) from None


def load_answers(path: Path, base: Needs | None = None) -> Needs:
    """Read a TOML answers file over ``base`` (defaults); one-line errors with the file name.

    Its ``[servers]`` table (servers the person gives, see :mod:`advisor.manual`) is
    checked here too, so that a bad server fails as early as a bad answer.
    """
    parsed = read_answers_table(path)
    if "servers" in parsed:
        from advisor.manual import load_servers

        load_servers(path)
        parsed = {k: v for k, v in parsed.items() if k != "servers"}
    return apply(base or Needs(), flatten(parsed), where=f"{path}: ")


def to_toml(needs: Needs, servers: str = "") -> str:
    """The answers file that reproduces ``needs`` (for the wizard's "save answers"),
    with ``servers`` (a ``[servers]`` table, :meth:`ManualServers.to_toml`) at the end.

    The top-level keys come before ``[devices]``: in TOML every key after a
    table header belongs to that table.
    """
    v = needs
    clients = ", ".join(f'"{c.value}"' for c in v.clients)
    return (
        "# Mail Setup Advisor answers file (advisor recommend --answers FILE)\n"
        f'calendars = "{v.calendars.value}"\ncontacts = "{v.contacts.value}"\n'
        f'tasks = "{v.tasks.value}"\n'
        f"collaborative = {str(v.collaborative).lower()}\n"
        f"remote_work = {str(v.remote_work).lower()}\n"
        f'organisation = "{v.organisation.value}"\norganisation_size = {v.organisation_size}\n'
        f'microsoft = "{v.microsoft.value}"\n'
        f"mailbox_size_gb = {v.mailbox_size_gb}\nquota_gb = {v.quota_gb}\n"
        f"offline = {str(v.offline).lower()}\noccasional = {str(v.occasional).lower()}\n"
        f"backed_up = {str(v.backed_up).lower()}\n"
        f"data_residency = {str(v.data_residency).lower()}\n"
        f"clients = [{clients}]\n\n"
        "[devices]\n"
        f"desktop = {v.desktops}\nlaptop = {v.laptops}\nphone = {v.phones}\n"
        f"tablet = {v.tablets}\nshared = {str(v.shared_devices).lower()}\n"
        f"{servers}"
    )
