"""advisor.net.capped: one byte budget per conversation, one way to say "closed"."""

from __future__ import annotations

import io

import pytest

from advisor.net.capped import (
    MAX_CONVERSATION_BYTES,
    ByteBudget,
    CappedReader,
    ConnectionClosed,
    ReplyTooLarge,
)


def test_the_default_budget_is_64_kib() -> None:
    assert ByteBudget().limit == MAX_CONVERSATION_BYTES == 65536
    assert str(ReplyTooLarge(MAX_CONVERSATION_BYTES)) == "reply exceeded 64 KiB"
    assert str(ReplyTooLarge(1000)) == "reply exceeded 1000 bytes"


def test_lines_are_charged_and_the_first_one_kept() -> None:
    budget = ByteBudget(100)
    reader = CappedReader(io.BytesIO(b"* OK hello\r\n* CAPABILITY IMAP4rev1\r\n"), budget)
    assert reader.readline(1000) == b"* OK hello\r\n"
    assert reader.readline() == b"* CAPABILITY IMAP4rev1\r\n"
    assert budget.used == 36
    assert budget.remaining == 64
    assert budget.first_line == b"* OK hello\r\n"


def test_an_endless_line_costs_the_budget_plus_one_byte() -> None:
    raw = io.BytesIO(b"x" * 10_000)
    reader = CappedReader(raw, ByteBudget(100))
    with pytest.raises(ReplyTooLarge):
        reader.readline(8193)  # smtplib's own limit is far higher than what is left
    assert raw.tell() == 101


def test_many_lines_add_up() -> None:
    reader = CappedReader(io.BytesIO(b"250-x\r\n" * 100), ByteBudget(50))
    for _ in range(7):
        reader.readline(8193)  # 49 bytes
    with pytest.raises(ReplyTooLarge):
        reader.readline(8193)


def test_a_fixed_size_read_that_cannot_fit_is_refused_before_reading() -> None:
    raw = io.BytesIO(b"y" * 1000)
    reader = CappedReader(raw, ByteBudget(100))
    with pytest.raises(ReplyTooLarge):
        reader.read(999_999_999)
    assert raw.tell() == 0
    assert reader.read(10) == b"y" * 10


def test_an_empty_read_is_not_end_of_file() -> None:
    assert CappedReader(io.BytesIO(b""), ByteBudget()).read(0) == b""


def test_end_of_file_is_connection_closed() -> None:
    reader = CappedReader(io.BytesIO(b"abc"), ByteBudget())
    with pytest.raises(ConnectionClosed):
        reader.read(5)
    with pytest.raises(ConnectionClosed):
        CappedReader(io.BytesIO(b""), ByteBudget()).readline(100)


def test_an_unbounded_read_is_a_bug() -> None:
    with pytest.raises(ValueError, match="needs a size"):
        CappedReader(io.BytesIO(b"abc"), ByteBudget()).read()


def test_close_closes_the_wrapped_file() -> None:
    raw = io.BytesIO(b"")
    CappedReader(raw, ByteBudget()).close()
    assert raw.closed
