"""RFC 2782 ordering and RFC 6186 protocol preference, without the network."""

from __future__ import annotations

import random
from collections import Counter

from advisor.models import Endpoint, Protocol, Security
from advisor.net.resolver import DnsAnswer, DnsStatus
from advisor.sources.srv import SrvLookup, SrvTarget, preferred_incoming, rfc2782_order


def test_lowest_priority_first_whatever_the_weight() -> None:
    records = [(20, 100, 993, "b"), (10, 0, 993, "a"), (30, 5, 993, "c")]
    assert [r[3] for r in rfc2782_order(records, random.Random(1))] == ["a", "b", "c"]


def test_weights_share_the_first_place_in_proportion() -> None:
    records = [(0, 3, 993, "heavy"), (0, 1, 993, "light")]
    firsts = Counter(
        rfc2782_order(list(records), random.Random(seed))[0][3] for seed in range(4000)
    )
    share = firsts["heavy"] / 4000
    assert 0.70 < share < 0.80  # 3 / (3 + 1), RFC 2782 weighted pick


def test_zero_weight_records_are_kept_but_rarely_first() -> None:
    records = [(0, 0, 993, "zero"), (0, 10, 993, "ten")]
    firsts = Counter(
        rfc2782_order(list(records), random.Random(seed))[0][3] for seed in range(2000)
    )
    assert firsts["ten"] > 1800
    for seed in range(20):
        assert sorted(r[3] for r in rfc2782_order(list(records), random.Random(seed))) == [
            "ten",
            "zero",
        ]


def _lookup(protocol: Protocol, priority: int) -> SrvLookup:
    answer = DnsAnswer("x", "SRV", DnsStatus.FOUND, (), False, 0.0, "")
    endpoint = Endpoint(protocol, "h.example", 993, Security.SSL)
    return SrvLookup(
        "_x._tcp",
        "_x._tcp.example",
        protocol,
        Security.SSL,
        answer,
        (SrvTarget(endpoint, priority, 1),),
        False,
    )


def test_priorities_across_imap_and_pop3_state_the_preference() -> None:
    assert (
        preferred_incoming([_lookup(Protocol.IMAP, 10), _lookup(Protocol.POP3, 0)]) is Protocol.POP3
    )
    assert (
        preferred_incoming([_lookup(Protocol.IMAP, 0), _lookup(Protocol.POP3, 10)]) is Protocol.IMAP
    )
    assert (
        preferred_incoming([_lookup(Protocol.IMAP, 5), _lookup(Protocol.POP3, 5)]) is Protocol.IMAP
    )
    assert preferred_incoming([_lookup(Protocol.POP3, 0)]) is None
