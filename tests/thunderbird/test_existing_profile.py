"""The enterprise AutoConfig artefact adds one account to a profile in use, harmlessly (issue 14).

``advisor export`` writes ``thunderbird/enterprise/mozilla.cfg`` and
``thunderbird/enterprise/defaults/pref/autoconfig.js`` for IT staff. Here the
real headless Thunderbird runs them against a profile that already has two
accounts (one IMAP, one POP3, each with its identity and SMTP server, the POP3
one the default, its SMTP server the default):

1. a first start without the artefact records the profile as Thunderbird
   itself leaves it (it adds Local Folders, for one);
2. a start with the artefact installed must show three mail accounts, the two
   old ones exactly as before (keys, servers, identities, SMTP servers in the
   same order, default account, default SMTP server);
3. a further start must change nothing at all in the account prefs.

The artefact is installed into a private copy of the installation folder
(:func:`tests.thunderbird.client.lab_installation`): Thunderbird reads
``defaults/pref`` and the AutoConfig script from the folder of its real
executable, so the executable is copied and everything else linked; the
system's /usr/lib/thunderbird is never written.

Cost: four Thunderbird starts (about 15 s here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.cli import main
from tests.thunderbird.client import ProfileAccounts, ServerView, Thunderbird, lab_installation
from tests.thunderbird.support import started

pytestmark = pytest.mark.thunderbird

ADDRESS = "jane@corp.test"

# Two accounts as Thunderbird saves them in prefs.js (keys it numbers itself).
EXISTING = {
    "mail.accountmanager.accounts": "account1,account2",
    "mail.accountmanager.defaultaccount": "account2",
    "mail.account.account1.server": "server1",
    "mail.account.account1.identities": "id1",
    "mail.server.server1.type": "imap",
    "mail.server.server1.hostname": "imap.old.test",
    "mail.server.server1.port": 993,
    "mail.server.server1.socketType": 3,
    "mail.server.server1.userName": "old@old.test",
    "mail.server.server1.name": "old@old.test",
    "mail.identity.id1.useremail": "old@old.test",
    "mail.identity.id1.fullName": "Old Account",
    "mail.identity.id1.smtpServer": "smtp1",
    "mail.identity.id1.valid": True,
    "mail.account.account2.server": "server2",
    "mail.account.account2.identities": "id2",
    "mail.server.server2.type": "pop3",
    "mail.server.server2.hostname": "pop.other.test",
    "mail.server.server2.port": 995,
    "mail.server.server2.socketType": 3,
    "mail.server.server2.userName": "me",
    "mail.server.server2.name": "me@other.test",
    "mail.identity.id2.useremail": "me@other.test",
    "mail.identity.id2.fullName": "Me Other",
    "mail.identity.id2.smtpServer": "smtp2",
    "mail.identity.id2.valid": True,
    "mail.smtpservers": "smtp1,smtp2",
    "mail.smtp.defaultserver": "smtp2",
    "mail.smtpserver.smtp1.hostname": "smtp.old.test",
    "mail.smtpserver.smtp1.port": 465,
    "mail.smtpserver.smtp1.try_ssl": 3,
    "mail.smtpserver.smtp1.username": "old@old.test",
    "mail.smtpserver.smtp2.hostname": "smtp.other.test",
    "mail.smtpserver.smtp2.port": 587,
    "mail.smtpserver.smtp2.try_ssl": 2,
    "mail.smtpserver.smtp2.username": "me",
}

# The account prefs (the rest, e.g. folder-pane state, moves by itself).
ACCOUNT_PREFIXES = (
    "mail.accountmanager.",
    "mail.account.",
    "mail.server.",
    "mail.identity.",
    "mail.smtpserver.",
    "mail.smtpservers",
    "mail.smtp.defaultserver",
    "mail.setupadvisor.",
)


def report() -> dict[str, object]:
    def server(protocol: str, host: str, port: int, security: str) -> dict[str, object]:
        return {
            "protocol": protocol,
            "hostname": host,
            "port": port,
            "security": security,
            "username": ADDRESS,
            "auth": ["PLAIN"],
            "verified": True,
            "sources": ["autoconfig"],
            "stated_auth": ["password-cleartext"],
        }

    return {
        "schema": "advisor.discovery/1",
        "address": ADDRESS,
        "domain": "corp.test",
        "domain_ascii": "corp.test",
        "incoming": [server("imap", "imap.corp.test", 993, "ssl")],
        "outgoing": [server("smtp", "smtp.corp.test", 587, "starttls")],
        "exchange": None,
        "provider": {"id": "corp.test", "name": "Corp Mail"},
        "steps": [],
        "warnings": [],
        "elapsed_ms": 1.0,
        "live": True,
    }


def account_prefs(thunderbird: Thunderbird) -> dict[str, bool | int | str]:
    return {
        name: value
        for name, value in thunderbird.mail_prefs().items()
        if name.startswith(ACCOUNT_PREFIXES)
    }


@pytest.fixture(scope="module")
def artefact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The two AutoConfig files of ``advisor export``, by path in the installation folder."""
    root = tmp_path_factory.mktemp("enterprise")
    saved = root / "report.json"
    saved.write_text(json.dumps(report()))
    out = root / "out"
    with pytest.raises(SystemExit) as info:
        main(
            [
                *("export", ADDRESS, "--from-json", str(saved), "--out", str(out)),
                *("--protocol", "imap", "--client", "thunderbird", "--name", "Jane Corp"),
            ]
        )
    assert info.value.code == 0
    enterprise = out / "thunderbird" / "enterprise"
    return {
        str(p.relative_to(enterprise)): p.read_bytes() for p in enterprise.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, artefact: dict[str, bytes]
) -> list[tuple[ProfileAccounts, dict[str, bool | int | str]]]:
    """(accounts, account prefs) after the start without, then two starts with the artefact."""
    root = tmp_path_factory.mktemp("tb-existing")
    install = lab_installation(root / "install", artefact)
    seen = []
    for run in range(3):
        thunderbird = Thunderbird(root, prefs=EXISTING, install=install if run else None)
        with started(thunderbird):
            seen.append((thunderbird.profile_accounts(), account_prefs(thunderbird)))
            thunderbird.quit()  # prefs.js written whole, before the next start
    return seen


def test_the_artefact_is_what_thunderbird_autoconfig_expects(artefact: dict[str, bytes]) -> None:
    assert set(artefact) == {"mozilla.cfg", "defaults/pref/autoconfig.js"}
    pref_file = artefact["defaults/pref/autoconfig.js"].decode()
    assert 'pref("general.config.filename", "mozilla.cfg");' in pref_file
    assert 'pref("general.config.obscure_value", 0);' in pref_file
    # AutoConfig skips the first line of the script: it must be a comment.
    assert artefact["mozilla.cfg"].decode().startswith("//")
    assert b"account1" not in artefact["mozilla.cfg"]  # keys of its own, never Thunderbird's


def test_the_account_is_added_and_the_old_ones_are_untouched(
    runs: list[tuple[ProfileAccounts, dict[str, bool | int | str]]],
) -> None:
    (before, before_prefs), (after, after_prefs), _ = runs
    old_keys = [a.key for a in before.mail_accounts()]
    assert old_keys == ["account1", "account2"]
    assert len(after.mail_accounts()) == 3
    # The two old accounts, their servers and identities: exactly as before, in order.
    assert after.accounts[: len(before.accounts)] == before.accounts
    assert after.default_account == before.default_account == "account2"
    # The old SMTP servers unchanged and first; the default SMTP server kept.
    assert list(after.outgoing)[: len(before.outgoing)] == list(before.outgoing)
    assert all(after.outgoing[key] == server for key, server in before.outgoing.items())
    assert after.default_outgoing == before.default_outgoing == "smtp2"
    assert after.local_folders == before.local_folders
    # The two lists only grew by our keys, at the end; no other pref changed or went.
    lists = ("mail.accountmanager.accounts", "mail.smtpservers")
    for name in lists:
        old, new_list = str(before_prefs[name]), str(after_prefs[name])
        assert new_list.startswith(old + ",")
        assert new_list.count(",") == old.count(",") + 1
    unchanged = {k: v for k, v in before_prefs.items() if k not in lists}
    assert {k: v for k, v in after_prefs.items() if k in unchanged} == unchanged

    [new] = [a for a in after.mail_accounts() if a.key not in old_keys]
    assert new.key.startswith("account_msa")
    assert new.server == ServerView(
        "imap", "imap.corp.test", 993, "SSL", "passwordCleartext", ADDRESS
    )
    [identity] = new.identities
    assert (identity.email, identity.full_name) == (ADDRESS, "Jane Corp")
    assert identity.sends_with == identity.smtp_server_key
    assert identity.smtp_server_key not in before.outgoing
    assert after.outgoing[identity.smtp_server_key] == ServerView(
        "smtp", "smtp.corp.test", 587, "alwaysSTARTTLS", "passwordCleartext", ADDRESS
    )


def test_a_second_start_changes_nothing(
    runs: list[tuple[ProfileAccounts, dict[str, bool | int | str]]],
) -> None:
    _, (after, after_prefs), (again, again_prefs) = runs
    assert again == after
    assert again_prefs == after_prefs
    assert any(k.startswith("mail.setupadvisor.") for k in again_prefs)  # the "added" mark


def test_a_sandboxed_autoconfig_adds_the_account_too(
    tmp_path: Path,
    artefact: dict[str, bytes],
    runs: list[tuple[ProfileAccounts, dict[str, bool | int | str]]],
) -> None:
    # Builds that sandbox AutoConfig (general.config.sandbox_enabled) give the
    # script getPref()/pref() but no Services: it then runs at once, when the
    # profile's prefs are already read.
    sandboxed = dict(artefact)
    sandboxed["defaults/pref/autoconfig.js"] += b'pref("general.config.sandbox_enabled", true);\n'
    install = lab_installation(tmp_path / "install", sandboxed)
    thunderbird = Thunderbird(tmp_path, prefs=EXISTING, install=install)
    with started(thunderbird):
        assert thunderbird.execute(
            'return Services.prefs.getBoolPref("general.config.sandbox_enabled")'
        )
        seen = thunderbird.profile_accounts()
    (before, _), (after, _), _ = runs
    # The same accounts as with the unsandboxed script (Local Folders, which
    # Thunderbird adds to this fresh profile after ours, comes later here).
    assert {a.key: a for a in seen.accounts} == {a.key: a for a in after.accounts}
    assert [a.key for a in seen.mail_accounts()][:2] == ["account1", "account2"]
    assert seen.default_account == before.default_account
    assert seen.outgoing == after.outgoing
    assert seen.default_outgoing == before.default_outgoing
