"""The offline catalogue: lookups, the shipped JSON, and that it matches its script."""

from __future__ import annotations

import importlib.util
import sys
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from advisor.address import parse_address
from advisor.catalogue import Catalogue, CatalogueEntry, CatalogueError
from advisor.formats.mozilla import ClientConfig
from advisor.models import Endpoint, Protocol, Security

ROOT = Path(__file__).resolve().parents[1]
ISPDB = ROOT / ".." / "shared" / "ispdb"
SCRIPT = ROOT / "scripts" / "build_catalogue.py"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


def endpoints(entry: CatalogueEntry, protocol: Protocol) -> list[Endpoint]:
    servers = (*entry.provider.incoming, *entry.provider.outgoing)
    return [s.endpoint for s in servers if s.protocol is protocol and s.endpoint is not None]


def test_load_is_cached(catalogue: Catalogue) -> None:
    assert Catalogue.load() is catalogue
    assert len(catalogue.entries()) == 163  # 163 ISPDB files, 2 of them replaced by curated


def test_gmail_is_the_curated_google_entry(catalogue: Catalogue) -> None:
    entry = catalogue.by_domain("gmail.com")
    assert entry is not None
    assert (entry.id, entry.origin) == ("google", "curated")
    assert endpoints(entry, Protocol.IMAP)[0] == Endpoint(
        Protocol.IMAP, "imap.gmail.com", 993, Security.SSL
    )
    assert endpoints(entry, Protocol.SMTP) == [
        Endpoint(Protocol.SMTP, "smtp.gmail.com", 465, Security.SSL),
        Endpoint(Protocol.SMTP, "smtp.gmail.com", 587, Security.STARTTLS),
    ]
    assert entry.provider.incoming[0].auth == ("OAuth2", "password-cleartext")
    assert any("app password" in note for note in entry.notes)
    assert entry.provider.oauth2 is not None  # kept from the ISPDB's googlemail.com.xml
    assert catalogue.by_domain("GoogleMail.com.") is entry
    assert catalogue.by_domain("jazztel.es") is entry  # a domain of the replaced file


@pytest.mark.parametrize(
    "mx", ["contoso-com.mail.protection.outlook.com", "Contoso-COM.mail.protection.outlook.com."]
)
def test_a_microsoft_365_mx_host_finds_microsoft_365(catalogue: Catalogue, mx: str) -> None:
    entry = catalogue.by_mx(mx)
    assert entry is not None
    assert entry.id == "microsoft365"
    assert endpoints(entry, Protocol.IMAP) == [
        Endpoint(Protocol.IMAP, "outlook.office365.com", 993, Security.SSL)
    ]
    assert endpoints(entry, Protocol.POP3) == [
        Endpoint(Protocol.POP3, "outlook.office365.com", 995, Security.SSL)
    ]
    assert endpoints(entry, Protocol.SMTP) == [
        Endpoint(Protocol.SMTP, "smtp.office365.com", 587, Security.STARTTLS)
    ]
    assert all(s.auth == ("OAuth2",) for s in (*entry.provider.incoming, *entry.provider.outgoing))
    assert any("requires OAuth2" in note for note in entry.notes)


@pytest.mark.parametrize(
    ("mx", "expected"),
    [
        ("aspmx.l.google.com", "google"),
        ("alt1.aspmx.l.google.com", "google"),
        ("gmail-smtp-in.l.googlemail.com", "google"),
        ("mail.protection.outlook.com", None),  # strictly below the suffix only
        ("outlook-com.olc.protection.outlook.com", None),  # outlook.com, not Microsoft 365
        ("mx.evilgoogle.com", None),  # a label boundary, not a string suffix
        ("mx00.gmx.net", None),  # ISPDB entries declare no MX suffixes
        ("", None),
    ],
)
def test_mx_lookup_is_by_label_suffix(catalogue: Catalogue, mx: str, expected: str | None) -> None:
    entry = catalogue.by_mx(mx)
    assert (entry.id if entry else None) == expected


def test_an_ispdb_domain_gives_its_servers(catalogue: Catalogue) -> None:
    entry = catalogue.by_domain("gmx.de")
    assert entry is not None
    assert (entry.id, entry.origin) == ("gmx.net", "ispdb")
    assert endpoints(entry, Protocol.IMAP)[0] == Endpoint(
        Protocol.IMAP, "imap.gmx.net", 993, Security.SSL
    )
    assert endpoints(entry, Protocol.SMTP)[0] == Endpoint(
        Protocol.SMTP, "mail.gmx.net", 465, Security.SSL
    )
    assert entry.provider.enable is not None  # "allow POP3 & IMAP once in the settings"
    assert catalogue.by_domain("no-such-provider.example") is None


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("contoso.onmicrosoft.com", "microsoft365"),  # every tenant's first domain
        ("contoso.mail.onmicrosoft.com", "microsoft365"),
        ("Contoso.OnMicrosoft.com.", "microsoft365"),
        ("contoso-onmicrosoft.com", None),
        ("mail.gmx.de", None),  # a subdomain of a mailbox domain is not that provider
    ],
)
def test_tenant_subdomains_are_their_platform_offline(domain: str, expected: str | None) -> None:
    entry = Catalogue.load().by_domain(domain)
    assert (entry.id if entry else None) == expected


def test_catalogue_servers_take_placeholders_like_an_autoconfig_file(
    catalogue: Catalogue,
) -> None:
    entry = catalogue.by_domain("gmail.com")
    assert entry is not None
    filled = ClientConfig(None, (entry.provider,)).for_address(parse_address("Jane@gmail.com"))
    assert filled.providers[0].incoming[0].username == "Jane@gmail.com"


def test_every_domain_is_in_one_entry_and_every_entry_has_servers(catalogue: Catalogue) -> None:
    seen: dict[str, str] = {}
    for entry in catalogue.entries():
        assert entry.provider.incoming, entry.id
        assert entry.provider.outgoing, entry.id
        for domain in entry.provider.domains:
            assert domain not in seen, (domain, seen.get(domain), entry.id)
            seen[domain] = entry.id
            assert catalogue.by_domain(domain) is entry


def test_attribution_and_licence_ship_with_the_data(catalogue: Catalogue) -> None:
    assert catalogue.attribution["notice"].startswith(
        "Derived from Mozilla's ISPDB (thunderbird/autoconfig, commit c6ad796), MPL-2.0"
    )
    assert catalogue.attribution["commit"] == "c6ad796"
    assert catalogue.attribution["licence"] == "MPL-2.0"
    notice = files("advisor").joinpath("data", "NOTICE-ISPDB.txt").read_text(encoding="utf-8")
    assert notice.splitlines()[0].startswith("advisor/data/catalogue.json is derived from")
    assert "Mozilla Public License Version 2.0" in notice


def test_the_shipped_json_is_small_and_round_trips(catalogue: Catalogue) -> None:
    data = files("advisor").joinpath("data", "catalogue.json").read_bytes()
    assert len(data) < 300_000
    assert catalogue.to_json().encode() == data
    assert Catalogue.from_json(data).to_json() == catalogue.to_json()


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b'{"format": 99, "providers": {}}', b'{"format": 1, "providers": {"x": 3}}'],
)
def test_a_damaged_catalogue_is_one_clear_error(data: bytes) -> None:
    with pytest.raises(CatalogueError):
        Catalogue.from_json(data)


def _script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_catalogue", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_the_shipped_files_are_what_the_script_builds_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not any(ISPDB.glob("*.xml")):
        pytest.skip(f"the ISPDB corpus is not at {ISPDB.resolve()} (CI has it there)")
    output = tmp_path / "catalogue.json"
    assert _script(monkeypatch).main(["--ispdb", str(ISPDB), "--output", str(output)]) == 0
    data = files("advisor").joinpath("data")
    assert output.read_bytes() == data.joinpath("catalogue.json").read_bytes(), (
        "advisor/data/catalogue.json is stale: run scripts/build_catalogue.py"
    )
    assert (tmp_path / "NOTICE-ISPDB.txt").read_bytes() == data.joinpath(
        "NOTICE-ISPDB.txt"
    ).read_bytes()
