"""Address syntax: what a person may type, and the one-line reason when it is wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor.address import parse_address
from advisor.errors import AddressError


@pytest.mark.parametrize(
    ("text", "local", "domain", "ascii_domain"),
    [
        ("jane@example.com", "jane", "example.com", "example.com"),
        ("  Jane.Doe+tag@Example.COM.  ", "Jane.Doe+tag", "example.com", "example.com"),
        ("user@bücher.example", "user", "bücher.example", "xn--bcher-kva.example"),
        ("user@xn--bcher-kva.example", "user", "bücher.example", "xn--bcher-kva.example"),
        ("mañana@ñ.es", "mañana", "ñ.es", "xn--ida.es"),
        ("o'brien@sub.example.co.uk", "o'brien", "sub.example.co.uk", "sub.example.co.uk"),
    ],
)
def test_valid_addresses(text: str, local: str, domain: str, ascii_domain: str) -> None:
    parsed = parse_address(text)
    assert parsed.local_part == local
    assert parsed.domain == domain
    assert parsed.domain_ascii == ascii_domain
    assert parsed.address == f"{local}@{domain}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("a@", "no domain"),
        ("@b.com", "nothing before"),
        ("a b@c.com", "space"),
        ('"john doe"@example.com', "quoted"),
        ('"x"@example.com', "quoted"),
        ("a@b@c.com", "more than one"),
        ("plainaddress", "no '@'"),
        ("x.@a.com", "not valid"),
        (".x@a.com", "not valid"),
        ("a..b@a.com", "not valid"),
        ("a@localhost", "single label"),
        ("a@1.2.3.4", "address literal"),
        ("a@[1.2.3.4]", "address literal"),
        ("a@a..com", "empty label"),
        ("a@-a.com", "not a valid host name"),
        ("a@under_score.com", "not a valid host name"),
        ("a@" + "l" * 300 + ".com", "at most 63"),
        ("a@" + "l" * 64 + ".com", "at most 63"),
        ("a@" + ".".join(["abcdefghi"] * 30) + ".com", "at most 253"),
        ("x" * 65 + "@example.com", "at most 64"),
    ],
)
def test_invalid_addresses_say_why_in_one_line(text: str, reason: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message
    assert len(message) < 200  # a huge input is not echoed whole


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_address_error(text: str) -> None:
    try:
        parsed = parse_address(text)
    except AddressError as exc:
        message = str(exc)
    else:
        assert parsed.domain_ascii.isascii()
        assert "." in parsed.domain_ascii
        return
    assert "\n" not in message
