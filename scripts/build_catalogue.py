#!/usr/bin/env python3
"""Build ``advisor/data/catalogue.json`` and ``NOTICE-ISPDB.txt`` from the ISPDB.

    .venv/bin/python scripts/build_catalogue.py [--ispdb DIR] [--output FILE] [--check]

Every ``*.xml`` in the ISPDB folder (default ``../shared/ispdb`` beside the
repository) is read with the same parser as a live autoconfig answer, so the
catalogue holds exactly what the advisor would have understood from the
file. Curated entries for Microsoft 365 and Google, written below, replace the
ISPDB's own files for them (their domains, OAuth2 and "enable" facts are
kept) and add what the ISPDB cannot say: MX host suffixes and the
authentication rules the vendors have published.

The output is deterministic (sorted keys, one provider per line), so a test
can regenerate it and demand byte equality: the data cannot drift from this
script. ``--check`` does that comparison without writing.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(ROOT))

from advisor.catalogue import AppPasswords, Catalogue, CatalogueEntry  # noqa: E402
from advisor.formats.mozilla import (  # noqa: E402
    Documentation,
    EmailProvider,
    LocalizedText,
    Pop3Options,
    ServerConfig,
    parse_client_config,
)
from advisor.models import Protocol, Security  # noqa: E402

DEFAULT_ISPDB = ROOT.parent / "shared" / "ispdb"
DEFAULT_OUTPUT = ROOT / "advisor" / "data" / "catalogue.json"
NOTICE_NAME = "NOTICE-ISPDB.txt"
ISPDB_REPOSITORY = "https://github.com/thunderbird/autoconfig"


@dataclass(frozen=True)
class Curated:
    entry: CatalogueEntry
    replaces: tuple[str, ...]  # ISPDB file stems whose entry this one supersedes


def _tcp(
    kind: Protocol, host: str, port: int, security: Security, auth: tuple[str, ...]
) -> ServerConfig:
    leave = Pop3Options(leave_messages_on_server=True) if kind is Protocol.POP3 else None
    return ServerConfig(
        kind=kind.value,
        protocol=kind,
        hostname=host,
        port=port,
        security=security,
        username="%EMAILADDRESS%",
        auth=auth,
        pop3=leave,
    )


_OAUTH = ("OAuth2",)
# Google accepts an app password through the ordinary password mechanisms.
_OAUTH_OR_APP_PASSWORD = ("OAuth2", "password-cleartext")

CURATED = (
    Curated(
        CatalogueEntry(
            provider=EmailProvider(
                id="microsoft365",
                domains=("office365.com", "onmicrosoft.com"),
                display_name="Microsoft 365 (Exchange Online)",
                short_name="Microsoft 365",
                incoming=(
                    _tcp(Protocol.IMAP, "outlook.office365.com", 993, Security.SSL, _OAUTH),
                    _tcp(Protocol.POP3, "outlook.office365.com", 995, Security.SSL, _OAUTH),
                    ServerConfig(
                        kind="ews",
                        protocol=None,
                        username="%EMAILADDRESS%",
                        auth=_OAUTH,
                        url="https://outlook.office365.com/EWS/Exchange.asmx",
                    ),
                ),
                outgoing=(
                    _tcp(Protocol.SMTP, "smtp.office365.com", 587, Security.STARTTLS, _OAUTH),
                ),
                documentation=(
                    Documentation(
                        "https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-"
                        "exchange-online/deprecation-of-basic-authentication-exchange-online"
                    ),
                ),
            ),
            # Microsoft's "Add DNS records" guide: tenants' MX is
            # <domain-with-dashes>.mail.protection.outlook.com.
            mx_suffixes=("mail.protection.outlook.com",),
            # Every tenant gets <name>.onmicrosoft.com (and <name>.mail.onmicrosoft.com
            # for hybrid routing) at sign-up: Microsoft's "Domains FAQ".
            tenant_suffixes=("onmicrosoft.com",),
            notes=(
                "Exchange Online requires OAuth2 (SASL XOAUTH2) for IMAP, POP and SMTP:"
                " Basic authentication was turned off in October 2022, and app"
                " passwords do not help.",
                "SMTP AUTH with Basic authentication is disabled by default for existing"
                " tenants from the end of December 2026.",
            ),
            origin="curated",
        ),
        replaces=("office365.com",),
    ),
    Curated(
        CatalogueEntry(
            provider=EmailProvider(
                id="google",
                domains=("gmail.com", "googlemail.com"),
                display_name="Google Workspace / Gmail",
                short_name="Gmail",
                incoming=(
                    _tcp(
                        Protocol.IMAP, "imap.gmail.com", 993, Security.SSL, _OAUTH_OR_APP_PASSWORD
                    ),
                    _tcp(Protocol.POP3, "pop.gmail.com", 995, Security.SSL, _OAUTH_OR_APP_PASSWORD),
                ),
                outgoing=(
                    _tcp(
                        Protocol.SMTP, "smtp.gmail.com", 465, Security.SSL, _OAUTH_OR_APP_PASSWORD
                    ),
                    _tcp(
                        Protocol.SMTP,
                        "smtp.gmail.com",
                        587,
                        Security.STARTTLS,
                        _OAUTH_OR_APP_PASSWORD,
                    ),
                ),
                documentation=(
                    Documentation("https://support.google.com/mail/answer/7126229"),
                    Documentation("https://support.google.com/accounts/answer/185833"),
                ),
            ),
            # Gmail's and Workspace's MX hosts: aspmx.l.google.com,
            # alt1.aspmx.l.google.com, ..., and *.googlemail.com.
            mx_suffixes=("google.com", "googlemail.com"),
            notes=(
                "IMAP, POP and SMTP need OAuth2 or an app password (which needs 2-Step"
                " Verification) since September 2024; the account password alone is refused.",
            ),
            origin="curated",
        ),
        replaces=("googlemail.com",),
    ),
)


def _steps(en: str, fr: str) -> tuple[LocalizedText, ...]:
    return (LocalizedText(en, "en"), LocalizedText(fr, "fr"))


# How each provider lets a password-only mail program in, from the vendors' help
# pages: whether the account password alone is refused (requires_oauth2), and
# where an app password is made. Keyed by catalogue id; applied to curated and
# ISPDB entries alike. A provider not listed keeps what its file says.
GOOGLE_APP_PASSWORDS = AppPasswords(
    # support.google.com/accounts/answer/185833 "Sign in with app passwords"
    "https://myaccount.google.com/apppasswords",
    _steps(
        "Turn on 2-Step Verification in your Google Account, then open the App passwords"
        " page, type a name (for example Mail) and choose Create. Type the 16-letter password"
        " it shows instead of your usual password.",
        "Activez la validation en deux étapes dans votre compte Google, puis ouvrez la page"
        " Mots de passe des applications, saisissez un nom (par exemple Mail) et choisissez"
        " Créer. Saisissez le mot de passe de 16 lettres affiché à la place de votre mot de"
        " passe habituel.",
    ),
)


def _yahoo_like(url: str) -> AppPasswords:
    # help.yahoo.com SLN15241 "Generate and manage third-party app passwords"
    return AppPasswords(
        url,
        _steps(
            "Open Account Security, choose Generate app password, give it a name and choose"
            " Generate. Type that password instead of your usual password.",
            "Ouvrez Sécurité du compte, choisissez Générer un mot de passe d'application,"
            " donnez-lui un nom et choisissez Générer. Saisissez ce mot de passe à la place"
            " de votre mot de passe habituel.",
        ),
    )


SIGN_IN: dict[str, tuple[bool, AppPasswords | None]] = {
    "google": (True, GOOGLE_APP_PASSWORDS),
    # Exchange Online: Basic authentication off; app passwords do not help.
    "microsoft365": (True, None),
    # Outlook.com: the ISPDB lists only OAuth2 (Microsoft turned Basic
    # authentication off for Outlook.com in September 2024).
    "hotmail.com": (True, None),
    "yahoo.com": (True, _yahoo_like("https://login.yahoo.com/account/security/app-passwords")),
    "aol.com": (True, _yahoo_like("https://login.aol.com/account/security/app-passwords")),
    # iCloud Mail has no OAuth2 for other programs: an app-specific password only
    # (support.apple.com/102654 "Sign in to apps with your Apple Account using
    # app-specific passwords").
    "me.com": (
        False,
        AppPasswords(
            "https://account.apple.com/",
            _steps(
                "Sign in to your Apple Account (two-factor authentication must be on), choose"
                " Sign-In and Security > App-Specific Passwords and create one. Type it instead"
                " of your Apple Account password.",
                "Connectez-vous à votre compte Apple (l'identification à deux facteurs doit être"
                " activée), choisissez Connexion et sécurité > Mots de passe pour applications"
                " et créez-en un. Saisissez-le à la place du mot de passe de votre compte Apple.",
            ),
        ),
    ),
}


def _merge(curated: Curated, replaced: list[EmailProvider]) -> CatalogueEntry:
    """The curated entry, plus the domains and account facts of the files it replaces."""
    provider = curated.entry.provider
    domains = list(provider.domains)
    for old in replaced:
        domains += [d for d in old.domains if d not in domains]
    return replace(
        curated.entry,
        provider=replace(
            provider,
            domains=tuple(domains),
            oauth2=provider.oauth2 or next((o.oauth2 for o in replaced if o.oauth2), None),
            enable=provider.enable or next((o.enable for o in replaced if o.enable), None),
            web_mail_url=provider.web_mail_url
            or next((o.web_mail_url for o in replaced if o.web_mail_url), None),
        ),
    )


def ispdb_commit(ispdb: Path) -> str:
    """The upstream commit, as the corpus README states it."""
    readme = ispdb / "README.md"
    match = re.search(r"commit ([0-9a-f]{7,40})", readme.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"{readme}: no 'commit <hash>' line; cannot attribute the data")
    return match.group(1)


def build(ispdb: Path) -> Catalogue:
    files = sorted(ispdb.glob("*.xml"))
    if not files:
        raise SystemExit(f"{ispdb}: no *.xml files")
    parsed: dict[str, EmailProvider] = {}
    for path in files:
        config = parse_client_config(path.read_bytes(), source_name=path.name)
        # The file name is the ISPDB's lookup key and unique; emailProvider ids
        # are not (five zoho.* files say "zoho.com").
        for provider in config.providers[:1]:
            parsed[path.stem] = replace(provider, id=path.stem)

    entries: list[CatalogueEntry] = []
    for curated in CURATED:
        entries.append(_merge(curated, [parsed.pop(s) for s in curated.replaces if s in parsed]))
    entries += [CatalogueEntry(provider) for _stem, provider in sorted(parsed.items())]
    for index, entry in enumerate(entries):
        if entry.id in SIGN_IN:
            requires, app_passwords = SIGN_IN[entry.id]
            entries[index] = replace(
                entry, requires_oauth2=requires, app_passwords=app_passwords
            )
    missing = sorted(set(SIGN_IN) - {e.id for e in entries})
    if missing:
        raise SystemExit(f"SIGN_IN names providers the catalogue does not have: {missing}")

    # One entry per domain, so that by_domain() never depends on dict order:
    # curated entries first, then ISPDB files by name.
    claimed: dict[str, str] = {}
    unique: list[CatalogueEntry] = []
    for entry in entries:
        kept = []
        for domain in entry.provider.domains:
            if domain in claimed:
                print(
                    f"warning: {domain} is in {claimed[domain]} and {entry.id}; kept in the first",
                    file=sys.stderr,
                )
            else:
                claimed[domain] = entry.id
                kept.append(domain)
        unique.append(replace(entry, provider=replace(entry.provider, domains=tuple(kept))))

    commit = ispdb_commit(ispdb)
    attribution = {
        "notice": f"Derived from Mozilla's ISPDB (thunderbird/autoconfig, commit {commit}),"
        f" MPL-2.0. Source: {ISPDB_REPOSITORY}. Licence text: {NOTICE_NAME}.",
        "licence": "MPL-2.0",
        "source": ISPDB_REPOSITORY,
        "commit": commit,
    }
    return Catalogue(unique, attribution=attribution)


def notice_text(ispdb: Path) -> str:
    licence = (ispdb / "LICENSE").read_text(encoding="utf-8")
    header = (
        f"advisor/data/catalogue.json is derived from Mozilla's ISPDB"
        f" ({ISPDB_REPOSITORY}, folder ispdb/, commit {ispdb_commit(ispdb)})"
        " and is distributed under the Mozilla Public License 2.0, reproduced below.\n\n"
    )
    return header + licence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ispdb", type=Path, default=DEFAULT_ISPDB, help="ISPDB folder")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="catalogue.json to write"
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the files differ; write nothing"
    )
    args = parser.parse_args(argv)
    outputs = {
        args.output: build(args.ispdb).to_json(),
        args.output.with_name(NOTICE_NAME): notice_text(args.ispdb),
    }
    stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text("utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run scripts/build_catalogue.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path} ({len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
