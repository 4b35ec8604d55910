"""Timed, cancellable TCP connects: refused, filtered, cancelled, fallback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from advisor.net.connect import ConnectStatus, connect
from tests.lab.hostile import Blackhole


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    with Blackhole("127.0.0.1", 0) as hole:
        yield hole


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connected_reports_address_and_handshake_time(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    outcome = connect(["127.0.0.1"], port, deadline=time.monotonic() + 2)
    assert outcome.status is ConnectStatus.CONNECTED
    assert outcome.sock is not None
    assert outcome.address == "127.0.0.1"
    assert outcome.connect_ms is not None
    assert outcome.connect_ms > 0
    assert f"in {outcome.connect_ms:.1f} ms" in outcome.detail
    assert outcome.sock.getblocking()
    outcome.sock.close()


def test_refused_says_nothing_listens() -> None:
    outcome = connect(["127.0.0.1"], _free_port(), deadline=time.monotonic() + 2)
    assert outcome.status is ConnectStatus.REFUSED
    assert "nothing listens" in outcome.detail


def test_dropped_syn_is_filtered_at_the_deadline(blackhole: Blackhole) -> None:
    deadline = time.monotonic() + 0.3
    outcome = connect(["127.0.0.1"], blackhole.port, deadline=deadline)
    # FILTERED is only returned once the clock has passed the deadline: no
    # earlier give-up, and (a silent host never answering) no other way out.
    assert outcome.status is ConnectStatus.FILTERED
    assert "no TCP handshake on port" in outcome.detail
    assert time.monotonic() >= deadline  # a lower bound: load cannot break it


def test_cancel_abandons_a_hanging_connect_at_once(blackhole: Blackhole) -> None:
    cancelled = threading.Event()
    threading.Timer(0.1, cancelled.set).start()
    # The blackhole never answers: without the cancel flag the only way out is
    # FILTERED at the deadline, so CANCELLED proves the flag cut the wait short.
    outcome = connect(
        ["127.0.0.1"], blackhole.port, deadline=time.monotonic() + 60, cancelled=cancelled
    )
    assert outcome.status is ConnectStatus.CANCELLED


def test_next_address_is_tried_when_the_first_is_silent(listener: socket.socket) -> None:
    # Same port on two addresses: 127.0.0.1 answers, the blackhole address does not.
    port = listener.getsockname()[1]
    with Blackhole("127.0.0.3", port) as hole:
        outcome = connect([hole.ip, "127.0.0.1"], port, deadline=time.monotonic() + 3, stagger=0.05)
    assert outcome.status is ConnectStatus.CONNECTED
    assert outcome.address == "127.0.0.1"
    assert outcome.sock is not None
    outcome.sock.close()


def test_refused_first_address_falls_through_at_once(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    # A stagger far longer than the deadline: the second address is only tried
    # in time if a refusal starts it at once (no stagger after a refusal).
    outcome = connect(["127.0.0.4", "127.0.0.1"], port, deadline=time.monotonic() + 5, stagger=3600)
    assert outcome.status is ConnectStatus.CONNECTED
    assert outcome.address == "127.0.0.1"
    assert outcome.sock is not None
    outcome.sock.close()
