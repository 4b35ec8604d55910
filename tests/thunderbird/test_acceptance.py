"""Thunderbird itself reads the files advisor writes (issue 9).

Golden files prove we write what we meant; these tests prove a real
Thunderbird (Debian package ``thunderbird``) understands it the same way:

* the isp/ autoconfig files, from ``advisor export`` (``thunderbird/<domain>.xml``)
  and ``advisor autoconfig``, go through Thunderbird's own loader
  (``FetchConfig.fromDisk`` + ``AccountConfig.replaceVariables``), and the
  servers it proposes are compared with the discovery report or the servers
  given on the command line;
* each exported ``thunderbird/user.js`` is put in a fresh profile, and the
  account, identity and SMTP server are read back from Thunderbird's account
  manager (``MailServices.accounts``, ``MailServices.outgoingServer``);
* files Thunderbird must refuse are refused.

The files are produced by the real CLI from synthetic discovery reports: no
network. Expectations are written in Thunderbird's vocabulary (constant names
of ``nsMsgSocketType`` and ``nsMsgAuthMethod``), not with advisor's mapping
tables, so a wrong table cannot agree with itself.

Cost: one Thunderbird start for all autoconfig files, one per user.js.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from advisor.cli import main
from tests.thunderbird.client import (
    IspConfig,
    Pop3Settings,
    ProfileAccounts,
    ServerView,
    Thunderbird,
)
from tests.thunderbird.support import started

pytestmark = pytest.mark.thunderbird

LOCAL_PART = "jane"
# A quote, a backslash, non-ASCII and a character outside the BMP: user.js writes
# them as escapes (\", \\, \u00eb, a surrogate pair) that libpref must decode.
FULL_NAME = 'Jane "J\\D" Doë 📬'

# Our vocabulary (report "security", Mozilla <authentication>) -> Thunderbird's
# constant names (comm-central mailnews/base/public/MailNewsTypes2.idl).
TB_SOCKET = {"ssl": "SSL", "starttls": "alwaysSTARTTLS"}
TB_AUTH = {"password-cleartext": "passwordCleartext", "OAuth2": "OAuth2"}

# What advisor promises for POP3 unless one backed-up computer is all there is:
# keep mail on the server, delete it after 14 days (README "advisor export").
KEEP_14_DAYS = Pop3Settings(
    leave_on_server=True, days_to_leave=14, delete_by_age=True, download_on_biff=True
)


# --- the inputs: discovery reports and server options ---------------------------------


def candidate(protocol: str, host: str, port: int, security: str, username: str) -> dict[str, Any]:
    """One server of a discovery report (schema advisor.discovery/1), verified."""
    return {
        "protocol": protocol,
        "hostname": host,
        "port": port,
        "security": security,
        "username": username,
        "auth": ["PLAIN"],
        "verified": True,
        "sources": ["autoconfig"],
        "stated_auth": ["password-cleartext"],
    }


@dataclass(frozen=True)
class Export:
    """``advisor export --from-json`` of one synthetic report, for Thunderbird."""

    name: str
    domain: str
    protocol: str
    incoming: dict[str, Any]
    outgoing: dict[str, Any]
    auth: str  # the Mozilla authentication word we mean to select
    provider: dict[str, Any] = field(default_factory=dict)
    pop3: Pop3Settings | None = None

    @property
    def provider_name(self) -> str:
        return str(self.provider.get("name", "Example & Co <Mail>"))  # XML-escaped in files

    @property
    def address(self) -> str:
        return f"{LOCAL_PART}@{self.domain}"

    def report(self) -> dict[str, Any]:
        return {
            "schema": "advisor.discovery/1",
            "address": self.address,
            "domain": self.domain,
            "domain_ascii": self.domain,
            "incoming": [self.incoming],
            "outgoing": [self.outgoing],
            "exchange": None,
            "provider": self.provider or {"id": self.domain, "name": self.provider_name},
            "steps": [],
            "warnings": [],
            "elapsed_ms": 1.0,
            "live": True,
        }

    def expected(self, server: dict[str, Any]) -> ServerView:
        """``server`` of the report as Thunderbird should end up with it."""
        return ServerView(
            type=server["protocol"],
            hostname=server["hostname"],
            port=server["port"],
            socket_type=TB_SOCKET[server["security"]],
            auth=TB_AUTH[self.auth],
            username=server["username"],
        )


IMAP = Export(
    "imap",
    "example-imap.test",
    "imap",
    incoming=candidate("imap", "imap.example-imap.test", 993, "ssl", "jane@example-imap.test"),
    outgoing=candidate("smtp", "smtp.example-imap.test", 587, "starttls", "jane@example-imap.test"),
    auth="password-cleartext",
)
# The user name is the local part: the isp/ file says %EMAILLOCALPART%. SMTP on 465.
POP3 = Export(
    "pop3",
    "example-pop.test",
    "pop3",
    incoming=candidate("pop3", "pop.example-pop.test", 995, "ssl", "jane"),
    outgoing=candidate("smtp", "smtp.example-pop.test", 465, "ssl", "jane"),
    auth="password-cleartext",
    pop3=KEEP_14_DAYS,
)
# Microsoft 365 requires OAuth2; its hosts are on Thunderbird's OAuth2Providers list.
OAUTH2 = Export(
    "oauth2",
    "contoso.test",
    "imap",
    incoming=candidate("imap", "outlook.office365.com", 993, "ssl", "jane@contoso.test"),
    outgoing=candidate("smtp", "smtp.office365.com", 587, "starttls", "jane@contoso.test"),
    auth="OAuth2",
    provider={
        "id": "microsoft365",
        "name": "Microsoft 365",
        "hosted_by": "microsoft365",
        "requires_oauth2": True,
    },
)
# Gmail (issue 14): OAuth2 first, then a password method (Google's app passwords);
# Thunderbird must pick OAuth2 from the isp/ file and from user.js.
GMAIL = Export(
    "gmail",
    "gmail.test",
    "imap",
    incoming=candidate("imap", "imap.gmail.com", 993, "ssl", "jane@gmail.test"),
    outgoing=candidate("smtp", "smtp.gmail.com", 465, "ssl", "jane@gmail.test"),
    auth="OAuth2",
    provider={
        "id": "google",
        "name": "Google Workspace / Gmail",
        "hosted_by": "google",
        "requires_oauth2": True,
    },
)
# Outlook.com (the catalogue's "hotmail.com" entry): OAuth2 only, no app passwords.
OUTLOOK_COM = Export(
    "outlook-com",
    "outlook-com.test",
    "imap",
    incoming=candidate("imap", "outlook.office365.com", 993, "ssl", "jane@outlook-com.test"),
    outgoing=candidate("smtp", "smtp-mail.outlook.com", 587, "starttls", "jane@outlook-com.test"),
    auth="OAuth2",
    provider={"id": "hotmail.com", "name": "Outlook.com (Microsoft)", "requires_oauth2": True},
)
# iCloud (the catalogue's "me.com" entry): an app-specific password, no OAuth2.
ICLOUD = Export(
    "icloud",
    "icloud.test",
    "imap",
    incoming=candidate("imap", "imap.mail.me.com", 993, "ssl", "jane"),
    outgoing=candidate("smtp", "smtp.mail.me.com", 587, "starttls", "jane"),
    auth="password-cleartext",
    provider={"id": "me.com", "name": "Apple iCloud"},
)
EXPORTS = (IMAP, POP3, OAUTH2, GMAIL, OUTLOOK_COM, ICLOUD)
# The report's provider id as a domain's own autoconfig file may give it (the
# autoconfig source keeps <emailProvider id> as found): not a host name.
FOREIGN_ID = Export(
    "foreign-id",
    "example-id.test",
    "imap",
    incoming=candidate("imap", "imap.example-id.test", 993, "ssl", "jane@example-id.test"),
    outgoing=candidate("smtp", "smtp.example-id.test", 587, "starttls", "jane@example-id.test"),
    auth="password-cleartext",
    provider={"id": "Example Mail", "name": "Example Mail", "hosted_by": None},
)


@dataclass(frozen=True)
class Autoconfig:
    """``advisor autoconfig DOMAIN --out FILE`` with explicit servers, in preference order."""

    domain: str
    servers: tuple[tuple[str, str, int, str], ...]  # (protocol, host, port, security)

    def args(self) -> list[str]:
        args = []
        for protocol, host, port, security in self.servers:
            args += [f"--{protocol}", f"{host}:{port}:{security}"]
        return args

    def expected(self, *protocols: str) -> tuple[ServerView, ...]:
        return tuple(
            ServerView(
                type=protocol,
                hostname=host,
                port=port,
                socket_type=TB_SOCKET[security],
                auth="passwordCleartext",
                username=f"{LOCAL_PART}@{self.domain}",
            )
            for protocol, host, port, security in self.servers
            if protocol in protocols
        )


ADMIN = Autoconfig(
    "admin.test",
    (
        ("imap", "imap.admin.test", 993, "ssl"),
        ("pop3", "pop.admin.test", 995, "ssl"),
        ("smtp", "smtp.admin.test", 465, "ssl"),
        ("smtp", "smtp.admin.test", 587, "starttls"),
    ),
)
STARTTLS_ONLY = Autoconfig(
    "starttls.test",
    (
        ("imap", "mail.starttls.test", 143, "starttls"),
        ("smtp", "mail.starttls.test", 587, "starttls"),
    ),
)
AUTOCONFIGS = (ADMIN, STARTTLS_ONLY)

# Files Thunderbird must refuse, made from our IMAP export: (domain, how).
BROKEN = {
    # readFromXML compares <socketType> case-sensitively ("SSL", "STARTTLS", "plain").
    "lowercase-socket.test": "socketType ssl",
    "not-xml.test": "truncated in the middle of an element",
    "no-outgoing.test": "no <outgoingServer>",
}


# --- producing the files with the real CLI ----------------------------------------------


def advisor(*args: str) -> None:
    """Run the advisor CLI in-process; anything but exit status 0 fails the test."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 0, f"advisor {' '.join(args)}: exit {exit_info.value.code}"


def break_file(good: str, how: str) -> str:
    if how == "socketType ssl":
        broken = good.replace("<socketType>SSL</socketType>", "<socketType>ssl</socketType>")
    elif how == "truncated in the middle of an element":
        broken = good[: good.index("<port>") + 3]
    else:
        start, end = good.index("<outgoingServer"), good.index("</outgoingServer>")
        broken = good[:start] + good[end + len("</outgoingServer>") :]
    assert broken != good
    return broken


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``advisor export`` folder of each :data:`EXPORTS` entry, by name."""
    root = tmp_path_factory.mktemp("exports")
    folders = {}
    for export in (*EXPORTS, FOREIGN_ID):
        saved = root / f"{export.name}.json"
        saved.write_text(json.dumps(export.report()))
        folder = root / export.name
        advisor(
            "export",
            export.address,
            "--from-json",
            str(saved),
            "--out",
            str(folder),
            "--protocol",
            export.protocol,
            "--client",
            "thunderbird",
            "--name",
            FULL_NAME,
        )
        folders[export.name] = folder
    return folders


@pytest.fixture(scope="module")
def isp_files(
    tmp_path_factory: pytest.TempPathFactory, exports: dict[str, Path]
) -> dict[str, Path]:
    """Every autoconfig file under test, by the domain it is for."""
    root = tmp_path_factory.mktemp("autoconfig")
    files = {
        e.domain: exports[e.name] / "thunderbird" / f"{e.domain}.xml"
        for e in (*EXPORTS, FOREIGN_ID)
    }
    for config in AUTOCONFIGS:
        target = root / f"{config.domain}.xml"
        advisor("autoconfig", config.domain, "--out", str(target), *config.args())
        files[config.domain] = target
    good = files[IMAP.domain].read_text()
    for domain, how in BROKEN.items():
        target = root / f"{domain}.xml"
        target.write_text(break_file(good, how).replace(IMAP.domain, domain))
        files[domain] = target
    return files


# --- what Thunderbird understood -----------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, isp_files: dict[str, Path]
) -> dict[str, IspConfig]:
    """All autoconfig files through Thunderbird's isp/ loader, in one start."""
    with started(Thunderbird(tmp_path_factory.mktemp("tb-isp"))) as thunderbird:
        return thunderbird.read_isp_files(isp_files, local_part=LOCAL_PART, real_name=FULL_NAME)


@pytest.fixture(scope="module", params=EXPORTS, ids=lambda e: e.name)
def profile(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    exports: dict[str, Path],
) -> tuple[Export, ProfileAccounts]:
    """A fresh profile started with one exported user.js, as the account manager sees it."""
    export: Export = request.param
    user_js = (exports[export.name] / "thunderbird" / "user.js").read_text(encoding="utf-8")
    workdir = tmp_path_factory.mktemp(f"tb-{export.name}")
    with started(Thunderbird(workdir, user_js=user_js)) as thunderbird:
        accounts = thunderbird.profile_accounts()
    return export, accounts


@pytest.mark.parametrize("export", EXPORTS, ids=lambda e: e.name)
def test_exported_isp_file_gives_the_reported_servers(
    loaded: dict[str, IspConfig], export: Export
) -> None:
    config = loaded[export.domain]
    assert config.error is None, f"Thunderbird refused {export.domain}.xml: {config.error}"
    assert config.sub_source == "xml-from-disk"  # read from our isp/ folder, nothing else
    assert config.domains == (export.domain,)
    assert config.display_name == export.provider_name
    assert config.incoming == (export.expected(export.incoming),)
    assert config.outgoing == (export.expected(export.outgoing),)
    assert config.pop3 == (export.pop3,)


def test_exported_isp_file_with_a_provider_id_that_is_no_host_name(
    loaded: dict[str, IspConfig],
) -> None:
    config = loaded[FOREIGN_ID.domain]
    assert config.error is None, f"Thunderbird refused {FOREIGN_ID.domain}.xml: {config.error}"
    assert config.incoming == (FOREIGN_ID.expected(FOREIGN_ID.incoming),)


def test_autoconfig_file_gives_the_servers_in_order(loaded: dict[str, IspConfig]) -> None:
    config = loaded[ADMIN.domain]
    assert config.error is None, config.error
    assert config.domains == (ADMIN.domain,)
    # First IMAP (993, SSL), POP3 as the alternative; first SMTP on 465 (implicit TLS).
    assert config.incoming == ADMIN.expected("imap", "pop3")
    assert config.pop3 == (None, KEEP_14_DAYS)
    assert config.outgoing[0] == ADMIN.expected("smtp")[0]
    # AccountConfig.replaceVariables leaves outgoing alternatives alone (Thunderbird 153):
    # the 587 STARTTLS alternative keeps the file's placeholder.
    alternative = dataclasses.replace(ADMIN.expected("smtp")[1], username="%EMAILADDRESS%")
    assert config.outgoing[1:] == (alternative,)


def test_autoconfig_file_with_starttls_everywhere(loaded: dict[str, IspConfig]) -> None:
    config = loaded[STARTTLS_ONLY.domain]
    assert config.error is None, config.error
    assert config.incoming == STARTTLS_ONLY.expected("imap")
    assert config.outgoing == STARTTLS_ONLY.expected("smtp")


@pytest.mark.parametrize("domain", sorted(BROKEN))
def test_thunderbird_refuses_a_broken_file(loaded: dict[str, IspConfig], domain: str) -> None:
    config = loaded[domain]
    assert config.error is not None, f"Thunderbird accepted a file with {BROKEN[domain]}"
    # The file was found and read, then refused: not a missing-file error.
    assert "local file not found" not in config.error
    assert config.incoming == ()
    assert config.outgoing == ()


def test_user_js_creates_account_identity_and_smtp_server(
    profile: tuple[Export, ProfileAccounts],
) -> None:
    export, seen = profile
    [account] = seen.mail_accounts()
    assert seen.default_account == account.key
    assert account.server == export.expected(export.incoming)
    assert account.pretty_name == export.address
    assert account.valid
    assert account.pop3 == export.pop3
    [identity] = account.identities
    assert (identity.email, identity.full_name, identity.valid) == (
        export.address,
        FULL_NAME,
        True,
    )
    # The identity sends through the one SMTP server, which is also the default.
    assert identity.sends_with == identity.smtp_server_key
    assert list(seen.outgoing) == [identity.smtp_server_key]
    assert seen.default_outgoing == identity.smtp_server_key
    assert seen.outgoing[identity.smtp_server_key] == export.expected(export.outgoing)


def test_user_js_lets_thunderbird_add_local_folders(
    profile: tuple[Export, ProfileAccounts],
) -> None:
    # thunderbird.py writes no Local Folders account on purpose: Thunderbird adds
    # it at start-up (messenger.js verifyExistingAccounts) next to our account.
    _, seen = profile
    assert seen.local_folders is not None
    assert [a.server.type for a in seen.accounts if a.server_key == seen.local_folders] == ["none"]
