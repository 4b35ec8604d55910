"""Servers the person gives: ``--imap/--pop3/--smtp HOST:PORT:ssl|starttls``, ``--ews
URL``, ``--config-dir DIR`` and ``--protocol``, on every command, in an answers file
and in an onboarding CSV.

One table, :data:`advisor.cli_servers.SERVER_FIELDS`, names each setting once: its
command-line flag, its key (the ``[servers]`` table of an answers file, a column of
the onboarding CSV or of ``advisor onboard --servers FILE``) and its help. The CLI
builds its options from it; the parsers here check every value the same way wherever
it came from, with one-line errors that name where it came from.

Given servers are a discovery source like the others (``given``, ranked first): they
are probed, shown with their source, and an export uses them even when a probe from
this network could not reach them (the person knows their servers; the report says
what the probe saw). Plain (unencrypted) servers are refused: a configuration written
by advisor never sends a password in clear text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.cli_servers import PROTOCOLS, SERVER_FIELDS
from advisor.errors import AdvisorError
from advisor.i18n import _

if TYPE_CHECKING:
    from advisor.address import EmailAddress
    from advisor.formats.plan import ServerSetting
    from advisor.models import DiscoveryReport, Protocol
    from advisor.sources import SourceResult

MAX_SERVERS = 8  # per kind: a person has one or two; more is a pasted list gone wrong
EWS_PATH = "/EWS/Exchange.asmx"  # where every Exchange server answers EWS


# The table lives beside the CLI's other flag tables (cheap to import at start-up).
FIELDS = SERVER_FIELDS
FILE_KEYS = tuple(f.name for f in FIELDS if f.in_files)  # answers [servers] keys, CSV columns


@dataclass(frozen=True)
class ManualServers:
    """What the person gave; empty by default. Values are already checked."""

    imap: tuple[ServerSetting, ...] = ()
    pop3: tuple[ServerSetting, ...] = ()
    smtp: tuple[ServerSetting, ...] = ()
    ews: str | None = None
    config_dir: Path | None = None
    protocol: str | None = None

    @property
    def servers(self) -> tuple[ServerSetting, ...]:
        return (*self.imap, *self.pop3, *self.smtp)

    @property
    def given(self) -> bool:
        """Servers or an EWS URL were given (to be probed and ranked first)."""
        return bool(self.servers or self.ews)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def over(self, base: ManualServers) -> ManualServers:
        """These settings where given, ``base``'s elsewhere (a row over its domain's)."""
        changes = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        return replace(base, **changes)

    def describe(self) -> str:
        """One line: ``imap imap.example.com:993:ssl, smtp ...:465:ssl, ews https://...``."""
        parts = [f"{s.protocol.value} {server_text(s)}" for s in self.servers]
        if self.ews:
            parts.append(f"ews {self.ews}")
        return ", ".join(parts)

    def source(self, address: EmailAddress) -> SourceResult:
        """The discovery source ``given``: these servers, in the order given."""
        from advisor.models import Endpoint, ExchangeFacts, Source, Step, StepStatus
        from advisor.sources import NamedServer, SourceResult

        named = tuple(
            NamedServer(Endpoint(s.protocol, s.hostname, s.port, s.security)) for s in self.servers
        )
        steps = [
            Step(
                "given",
                server_text(s),
                StepStatus.FOUND,
                0.0,
                f"{s.protocol.name} server given by the person",
                trusted=True,
            )
            for s in self.servers
        ]
        exchange = None
        if self.ews:
            host = self.ews.split("/")[2].split(":")[0]
            hosted = "microsoft365" if host == "outlook.office365.com" else "on-premises"
            exchange = ExchangeFacts(ews_url=self.ews, hosted=hosted)
            steps.append(
                Step(
                    "given",
                    self.ews,
                    StepStatus.FOUND,
                    0.0,
                    "EWS URL given by the person (not probed: EWS answers only a login;"
                    " advisor verify --protocol exchange checks it)",
                    trusted=True,
                )
            )
        return SourceResult(
            Source.GIVEN,
            tuple(steps),
            servers=named,
            trusted=True,
            exchange=exchange,
            origin=f"given for {address.domain_ascii}",
        )

    def add_to_report(self, report: DiscoveryReport) -> DiscoveryReport:
        """A saved report (``--from-json``) with these servers first, as given, unprobed."""
        if not self.given:
            return report
        from advisor.models import Candidate, Endpoint, ExchangeFacts, Source

        user = f"{report.address.rpartition('@')[0]}@{report.domain_ascii}"

        def first(
            servers: tuple[ServerSetting, ...], others: tuple[Candidate, ...]
        ) -> tuple[Candidate, ...]:
            given = tuple(
                Candidate(
                    Endpoint(s.protocol, s.hostname, s.port, s.security),
                    username=user,
                    sources=(Source.GIVEN,),
                    verified=False,
                )
                for s in servers
            )
            keys = {c.endpoint.key for c in given}
            return given + tuple(c for c in others if c.endpoint.key not in keys)

        exchange = report.exchange
        if self.ews:
            exchange = replace(exchange or ExchangeFacts(hosted="on-premises"), ews_url=self.ews)
        return replace(
            report,
            incoming=first((*self.imap, *self.pop3), report.incoming),
            outgoing=first(self.smtp, report.outgoing),
            exchange=exchange,
        )

    def to_toml(self) -> str:
        """The ``[servers]`` table of an answers file ('' when nothing was given)."""
        lines = []
        for kind in ("imap", "pop3", "smtp"):
            servers: tuple[ServerSetting, ...] = getattr(self, kind)
            if servers:
                items = ", ".join(f'"{server_text(s)}"' for s in servers)
                lines.append(f"{kind} = [{items}]")
        if self.ews:
            lines.append(f'ews = "{self.ews}"')
        if self.protocol:
            lines.append(f'protocol = "{self.protocol}"')
        if not lines:
            return ""
        return "\n[servers]\n" + "\n".join(lines) + "\n"


def server_text(s: ServerSetting) -> str:
    """``host:port:security``, as typed."""
    return f"{s.hostname}:{s.port}:{s.security.value}"


# ------------------------------------------------------------------ parsing


def _label(name: str, where: str, *, flags: bool) -> str:
    if flags:
        return next(f.flag for f in FIELDS if f.name == name)
    return f"{where}{name}"


def parse_server(text: str, protocol: Protocol, *, label: str | None = None) -> ServerSetting:
    """``HOST:PORT:SECURITY`` (security ssl|starttls; plain is refused)."""
    from advisor.formats.plan import ServerSetting
    from advisor.models import Security

    label = label or f"--{protocol.value}"
    shown = text if len(text) <= 80 else text[:77] + "..."
    parts = text.strip().rsplit(":", 2)
    if len(parts) != 3 or not parts[1].strip().isdigit():
        raise AdvisorError(
            _("{label} {text!r}: expected HOST:PORT:SECURITY, e.g. {example}").format(
                label=label, text=shown, example=f"{protocol.value}.example.com:993:ssl"
            )
        )
    host, port, security = (
        parts[0].strip().lower().rstrip("."),
        int(parts[1].strip()),
        parts[2].strip().lower(),
    )
    if not 0 < port < 65536:
        raise AdvisorError(
            _("{label} {text!r}: the port must be from 1 to 65535").format(label=label, text=shown)
        )
    if security in ("tls", "implicit"):
        security = "ssl"
    if security not in ("ssl", "starttls"):
        raise AdvisorError(
            _(
                "{label} {text!r}: security must be ssl or starttls (plain would send"
                " passwords in clear text)"
            ).format(label=label, text=shown)
        )
    from advisor.address import normalise_domain

    try:
        host = normalise_domain(host)[0]
    except AdvisorError:
        raise AdvisorError(
            _("{label} {text!r}: {host!r} is not a host name").format(
                label=label, text=shown, host=host[:80]
            )
        ) from None
    return ServerSetting(protocol, host, port, Security(security), "%EMAILADDRESS%")


def parse_ews(text: str, *, label: str = "--ews") -> str:
    """An HTTPS EWS URL; a bare host name means ``https://HOST/EWS/Exchange.asmx``."""
    from urllib.parse import urlsplit

    from advisor.address import normalise_domain

    value = text.strip()
    shown = value if len(value) <= 120 else value[:117] + "..."
    if "://" not in value:
        value = f"https://{value.rstrip('/')}{EWS_PATH}"
    try:
        parts = urlsplit(value)
        port = parts.port
        host = normalise_domain(parts.hostname or "")[0]
    except (ValueError, AdvisorError):
        raise AdvisorError(
            _("{label} {text!r}: expected an https:// URL or a host name").format(
                label=label, text=shown
            )
        ) from None
    if parts.scheme != "https":
        raise AdvisorError(
            _(
                "{label} {text!r}: the URL must start with https:// (over http the password"
                " would cross the network in clear text)"
            ).format(label=label, text=shown)
        )
    if parts.username or parts.password or parts.query or parts.fragment or not value.isprintable():
        raise AdvisorError(
            _("{label} {text!r}: expected a plain URL (no user, query or fragment)").format(
                label=label, text=shown
            )
        )
    path = parts.path or EWS_PATH
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return f"https://{netloc}{path}"


def parse_protocol(text: str, *, label: str = "--protocol") -> str:
    value = text.strip().lower()
    if value == "pop":
        value = "pop3"
    if value not in PROTOCOLS:
        raise AdvisorError(
            _("{label} {text!r}: expected imap, pop3 or exchange").format(
                label=label, text=text[:40]
            )
        )
    return value


def _items(value: object) -> list[str]:
    """A list, or one text (a CSV cell) holding servers separated by spaces, commas or ';'."""
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").replace(";", " ").split() if v]
    if isinstance(value, list | tuple):  # one server per item (a flag each, a TOML list)
        if not all(isinstance(item, str) for item in value):
            raise AdvisorError(_("expected text such as imap.example.com:993:ssl"))
        return [str(item) for item in value]
    raise AdvisorError(_("expected text such as imap.example.com:993:ssl"))


def from_values(
    values: Mapping[str, object], *, where: str = "", flags: bool = False
) -> ManualServers:
    """Check the settings of one place (the command line, an answers file's [servers],
    a CSV row): keys of :data:`FIELDS`, empty values ignored; errors name ``where``."""
    known = {f.name for f in FIELDS} if flags else set(FILE_KEYS)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise AdvisorError(
                _("{where}unknown server setting {key!r} (known: {known})").format(
                    where=where, key=key, known=", ".join(sorted(known))
                )
            )
        if value is None or value in ("", [], ()):
            continue
        label = _label(key, where, flags=flags)
        if key in ("imap", "pop3", "smtp"):
            try:
                texts = _items(value)
            except AdvisorError as exc:
                raise AdvisorError(f"{label}: {exc}") from None
            if len(texts) > MAX_SERVERS:
                raise AdvisorError(
                    _("{label}: more than {count} servers").format(label=label, count=MAX_SERVERS)
                )
            from advisor.models import Protocol

            protocol = Protocol(key)
            out[key] = tuple(dict.fromkeys(parse_server(t, protocol, label=label) for t in texts))
        elif key == "ews":
            if not isinstance(value, str):
                raise AdvisorError(_("{label}: expected a URL").format(label=label))
            out[key] = parse_ews(value, label=label)
        elif key == "protocol":
            if not isinstance(value, str):
                raise AdvisorError(
                    _("{label}: expected imap, pop3 or exchange").format(label=label)
                )
            out[key] = parse_protocol(value, label=label)
        elif key == "config_dir":
            path = Path(str(value))
            if not path.is_dir():
                raise AdvisorError(
                    _("{label} {path}: no such folder").format(label=label, path=path)
                )
            out[key] = path
    return ManualServers(**out)


def load_servers(path: Path) -> ManualServers:
    """The ``[servers]`` table of an answers file (empty if it has none)."""
    from advisor.needs import read_answers_table

    table = read_answers_table(path).get("servers")
    if table is None:
        return ManualServers()
    if not isinstance(table, dict):
        raise AdvisorError(_("{path}: servers: expected a [servers] table").format(path=path))
    return from_values(table, where=f"{path}: servers.")


def guessed_defaults(domain: str) -> dict[str, str]:
    """What the wizard offers to type over: the names most providers use (RFC 8314 ports)."""
    return {
        "imap": f"imap.{domain}:993:ssl",
        "pop3": f"pop3.{domain}:995:ssl",
        "smtp": f"smtp.{domain}:465:ssl",
        "ews": f"https://mail.{domain}{EWS_PATH}",
    }


def what_to_give(domain: str) -> str:
    """The advice when nothing usable was found for ``domain``: what to give, and how."""
    return _(
        "give the servers: --imap HOST:PORT:ssl|starttls (or --pop3) and --smtp"
        " HOST:PORT:ssl|starttls, or --ews URL for Exchange, or --config-dir DIR holding"
        " {domain}.xml"
    ).format(domain=domain)


def names(values: Iterable[str]) -> str:
    return ", ".join(v.upper() if v != "exchange" else "Exchange" for v in values)


MAX_SERVERS_FILE_BYTES = 4 * 1024 * 1024  # one line per domain: thousands of domains at most


def load_domain_servers(path: Path) -> dict[str, ManualServers]:
    """``advisor onboard --servers FILE``: a CSV with a ``domain`` column and any of
    ``imap, pop3, smtp, ews, protocol`` (comma, semicolon or tab separated, UTF-8).
    One-line errors name the file and the line."""
    import csv

    from advisor.address import normalise_domain
    from advisor.fsutil import read_bounded

    data = read_bounded(path, MAX_SERVERS_FILE_BYTES, what=_("a servers file"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AdvisorError(_("{path}: not UTF-8 text").format(path=path)) from None
    lines = text.splitlines()
    header = lines[0] if lines else ""
    delimiter = max((",", ";", "\t"), key=lambda d: (header.count(d), d == ","))
    rows = csv.reader(lines, delimiter=delimiter)
    columns = [c.strip().lower() for c in next(rows, [])]
    if "domain" not in columns:
        raise AdvisorError(
            _("{path}: line 1: expected a 'domain' column and server columns ({keys})").format(
                path=path, keys=", ".join(FILE_KEYS)
            )
        )
    out: dict[str, ManualServers] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}: line {number}: "
        cells = dict(zip(columns, (c.strip() for c in row), strict=False))
        try:
            domain = normalise_domain(cells.pop("domain", ""))[0]
        except AdvisorError as exc:
            raise AdvisorError(f"{where}domain: {exc}") from None
        if domain in out:
            raise AdvisorError(
                _("{where}{domain} appears twice").format(where=where, domain=domain)
            )
        out[domain] = from_values(cells, where=where)
    return out
