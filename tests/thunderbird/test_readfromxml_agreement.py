"""The real Thunderbird reads autoconfig files the way lint and discovery say it does.

tests/test_autoconfig_domain.py holds the files: each server variant that lint
reports as an error (and discovery skips) must make Thunderbird's isp/ loader refuse
the file, since the variant is its only incoming server; what discovery reads
(several <authentication> blocks, the legacy type="exchange" section) Thunderbird
accepts; and a domain file that keeps an NTLM domain's template is read as NTLM with
``CORP\\jane``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.formats.plan import DomainConfig, ServerSetting
from advisor.formats.thunderbird import render_autoconfig
from advisor.models import Protocol, Security
from tests.test_autoconfig_domain import REFUSED_SERVERS, imap_variant, tb_doc
from tests.thunderbird.client import IspConfig, ServerView, Thunderbird
from tests.thunderbird.support import started

pytestmark = pytest.mark.thunderbird

NTLM_LOGIN = "CORP\\%EMAILLOCALPART%"
NTLM_DOMAIN = DomainConfig(
    domain="corp.test",
    provider_id="corp.test",
    display_name="Corp IT",
    short_name="Corp",
    incoming=(
        ServerSetting(Protocol.IMAP, "mail.corp.test", 993, Security.SSL, NTLM_LOGIN, "NTLM"),
    ),
    outgoing=(
        ServerSetting(Protocol.SMTP, "smtp.corp.test", 465, Security.SSL, NTLM_LOGIN, "NTLM"),
    ),
)
EXCHANGE = (
    '<incomingServer type="exchange"><hostname>mail.accepts.test</hostname><port>443</port>'
    "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>NTLM</authentication>"
    "<ewsURL>https://mail.accepts.test/EWS/Exchange.asmx</ewsURL></incomingServer>"
)
SEVERAL = imap_variant(
    "<authentication>password-cleartext</authentication>",
    "<authentication>NTLM</authentication><authentication>plain</authentication>",
)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


@pytest.fixture(scope="module")
def read(tmp_path_factory: pytest.TempPathFactory) -> dict[str, IspConfig]:
    root = tmp_path_factory.mktemp("agreement")
    files: dict[str, Path] = {}

    def add(domain: str, data: bytes) -> None:
        path = root / f"{domain}.xml"
        path.write_bytes(data.replace(b"d.test", domain.encode()))
        files[domain] = path

    add("good.test", tb_doc())
    for variant, server in REFUSED_SERVERS.items():
        add(f"{slug(variant)}.test", tb_doc(server))
    add("accepts.test", tb_doc(SEVERAL + EXCHANGE))
    add("corp.test", render_autoconfig(NTLM_DOMAIN).encode())
    with started(Thunderbird(tmp_path_factory.mktemp("tb-agreement"))) as thunderbird:
        return thunderbird.read_isp_files(files, local_part="jane")


def test_the_unchanged_file_is_accepted(read: dict[str, IspConfig]) -> None:
    assert read["good.test"].error is None


@pytest.mark.parametrize("variant", sorted(REFUSED_SERVERS))
def test_thunderbird_refuses_what_lint_calls_an_error(
    read: dict[str, IspConfig], variant: str
) -> None:
    config = read[f"{slug(variant)}.test"]
    assert config.error is not None, f"Thunderbird accepted: {variant} ({config.incoming})"


def test_thunderbird_accepts_what_discovery_reads(read: dict[str, IspConfig]) -> None:
    config = read["accepts.test"]
    assert config.error is None, config.error
    assert config.incoming[0].auth == "NTLM"  # the first of the combined methods
    assert [s.type for s in config.incoming] == ["imap", "exchange"]


def test_an_ntlm_domain_file_is_read_as_ntlm_with_the_domain_login(
    read: dict[str, IspConfig],
) -> None:
    config = read["corp.test"]
    assert config.error is None, config.error
    assert config.incoming[0] == ServerView(
        type="imap",
        hostname="mail.corp.test",
        port=993,
        socket_type="SSL",
        auth="NTLM",
        username="CORP\\jane",
    )
    assert (config.outgoing[0].auth, config.outgoing[0].username) == ("NTLM", "CORP\\jane")
