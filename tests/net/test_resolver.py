"""The one resolver, against a real authoritative DNS server on loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from advisor.errors import AdvisorError
from advisor.net.resolver import (
    DNS_QUERY_TIMEOUT,
    DnsClient,
    DnsStatus,
    Nameserver,
    parse_nameserver,
)
from tests.lab.dns import DnsServer

ZONE = """
@        MX   10 mx1.example.test.
@        TXT  "v=spf1 include:spf.protection.outlook.com -all"
imap     A    127.0.1.1
imap     AAAA ::1
mail     A    127.0.1.2
mail     A    127.0.1.3
alias    CNAME imap
_imaps._tcp SRV 0 1 993 imap.example.test.
"""


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer() as dns_server:
        dns_server.add_zone("example.test.", ZONE)
        dns_server.add_zone("signed.test.", "@ MX 10 mx.signed.test.", ad=True)
        yield dns_server


@pytest.fixture
def client(server: DnsServer) -> DnsClient:
    return DnsClient([parse_nameserver(server.spec)])


def _soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_found_records(client: DnsClient) -> None:
    answer = client.query("example.test", "MX", deadline=_soon())
    assert answer.status is DnsStatus.FOUND
    assert [r.exchange.to_text() for r in answer.records] == ["mx1.example.test."]
    assert answer.ad is False


def test_nxdomain_and_nodata_are_different(client: DnsClient) -> None:
    assert client.query("nope.example.test", "A", deadline=_soon()).status is DnsStatus.NXDOMAIN
    assert client.query("imap.example.test", "MX", deadline=_soon()).status is DnsStatus.NODATA


def test_ad_bit_is_reported(client: DnsClient) -> None:
    assert client.query("signed.test", "MX", deadline=_soon()).ad is True


def test_cname_is_followed(client: DnsClient) -> None:
    answer = client.query("alias.example.test", "A", deadline=_soon())
    assert answer.status is DnsStatus.FOUND
    assert answer.canonical_name == "imap.example.test"


def test_timeout_is_unknown_not_absent(server: DnsServer, client: DnsClient) -> None:
    server.drop("slow.example.test")
    try:
        answer = client.query("slow.example.test", "A", deadline=time.monotonic() + 0.5)
        assert answer.status is DnsStatus.TIMEOUT
        # The wait is the budget's rest, not the 3 s per-query timeout: the
        # lifetime given to the resolver is in the reason.
        waited = re.search(r"in ([0-9.]+) s$", answer.detail)
        assert waited is not None, answer.detail
        assert float(waited.group(1)) <= 0.5 < DNS_QUERY_TIMEOUT
    finally:
        server.clear_faults()


def test_servfail_is_an_error(server: DnsServer, client: DnsClient) -> None:
    server.servfail("broken.example.test")
    try:
        answer = client.query("broken.example.test", "A", deadline=_soon())
        assert answer.status is DnsStatus.ERROR
        assert "\n" not in answer.detail
    finally:
        server.clear_faults()


def test_truncated_udp_answer_is_retried_over_tcp(server: DnsServer, client: DnsClient) -> None:
    server.truncate("example.test", "TXT")
    try:
        answer = client.query("example.test", "TXT", deadline=_soon())
        assert answer.status is DnsStatus.FOUND
    finally:
        server.clear_faults()


def test_addresses_interleave_ipv6_first(client: DnsClient) -> None:
    answer = client.addresses("imap.example.test", deadline=_soon())
    assert answer.addresses == ("::1", "127.0.1.1")
    both = client.addresses("mail.example.test", deadline=_soon())
    assert sorted(both.addresses) == ["127.0.1.2", "127.0.1.3"]
    missing = client.addresses("none.example.test", deadline=_soon())
    assert missing.status is DnsStatus.NXDOMAIN
    assert missing.addresses == ()


def test_no_time_left_means_timeout_without_asking(client: DnsClient) -> None:
    answer = client.query("example.test", "MX", deadline=time.monotonic() - 1)
    assert answer.status is DnsStatus.TIMEOUT


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", Nameserver("127.0.0.1", 53)),
        ("127.0.0.1:5353", Nameserver("127.0.0.1", 5353)),
        ("[::1]:5353", Nameserver("::1", 5353)),
        ("::1", Nameserver("::1", 53)),
    ],
)
def test_nameserver_specs(spec: str, expected: Nameserver) -> None:
    assert parse_nameserver(spec) == expected


def test_nameserver_by_name_is_located_once_by_the_system() -> None:
    located = parse_nameserver("localhost:5300")
    assert located.host in {"127.0.0.1", "::1"}
    assert located.port == 5300


@pytest.mark.parametrize(
    "spec",
    [
        "127.0.0.1:0",
        "127.0.0.1:99999",
        "[::1",
        "127.0.0.1:x",
        ":53",
        # inet_aton shorthand that getaddrinfo() would read as 1.2.0.3 / 127.0.0.1
        "1.2.3",
        "1.2.3:53",
        "0x7f.1",
        "10",
    ],
)
def test_bad_nameserver_specs_are_user_errors(spec: str) -> None:
    with pytest.raises(AdvisorError):
        parse_nameserver(spec)
