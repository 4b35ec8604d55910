"""E-mail address syntax: pure code, no DNS.

We accept what a mail client's account-setup screen accepts: an unquoted
dot-atom local part (RFC 5322 §3.2.3, with UTF-8 allowed as in RFC 6531) and
a domain name that IDNA 2008 / UTS #46 can turn into ASCII, so that
``user@bücher.example`` is looked up as ``xn--bcher-kva.example`` and shown
to people in Unicode.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from advisor.errors import AddressError
from advisor.i18n import _

# RFC 5321 §4.5.3.1: limits on the parts of an address.
MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63

# RFC 5322 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class EmailAddress:
    local_part: str
    domain: str  # Unicode form, lower case: for people
    domain_ascii: str  # A-labels, lower case: for DNS and TLS

    @property
    def address(self) -> str:
        """The address as people read it (Unicode domain)."""
        return f"{self.local_part}@{self.domain}"

    @property
    def address_ascii(self) -> str:
        """The address with the domain in A-labels, as sent on the wire."""
        return f"{self.local_part}@{self.domain_ascii}"

    def __str__(self) -> str:
        return self.address


def _show(text: str, limit: int = 60) -> str:
    """Quote user input for a one-line message, shortened if huge."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def parse_address(text: str) -> EmailAddress:
    """Parse ``text`` or raise :class:`AddressError` saying what is wrong."""
    raw = text.strip()
    if not raw:
        raise AddressError(_("the e-mail address is empty"))
    if raw.startswith('"') or '"' in raw.rpartition("@")[0]:
        raise AddressError(
            _(
                "{address} has a quoted local part; mail providers do not issue such addresses"
            ).format(address=_show(raw))
        )
    if any(ch.isspace() for ch in raw):
        raise AddressError(
            _("{address} contains a space; an e-mail address has none").format(address=_show(text))
        )
    if raw.count("@") != 1:
        if "@" not in raw:
            raise AddressError(
                _("{address} has no '@'; expected name@domain").format(address=_show(raw))
            )
        raise AddressError(
            _("{address} has more than one '@'; expected name@domain").format(address=_show(raw))
        )
    local, domain = raw.split("@")
    if not local:
        raise AddressError(_("{address} has nothing before the '@'").format(address=_show(raw)))
    if not domain:
        raise AddressError(_("{address} has no domain after the '@'").format(address=_show(raw)))
    from advisor.formats.text import unsafe_char

    bad = unsafe_char(raw)
    if bad is not None:
        # C1 controls (8-bit CSI/OSC) and bidi overrides are "UTF-8 non-ASCII" to
        # RFC 6531, but they rewrite terminals and disguise names: no provider issues them.
        raise AddressError(
            _("the address holds the control or bidi character {char}").format(char=bad)
        )
    if not _DOT_ATOM.fullmatch(local):
        raise AddressError(
            _(
                "the local part {local} is not valid (dots at the ends, two dots in a row,"
                " or characters such as ( ) , : ; < > @ [ \\ ])"
            ).format(local=_show(local))
        )
    if len(local.encode()) > MAX_LOCAL_PART_OCTETS:
        raise AddressError(
            _("the local part is {size} bytes long; at most {limit}").format(
                size=len(local.encode()), limit=MAX_LOCAL_PART_OCTETS
            )
        )
    ascii_domain, unicode_domain = normalise_domain(domain)
    return EmailAddress(local_part=local, domain=unicode_domain, domain_ascii=ascii_domain)


@functools.lru_cache(maxsize=4096)  # batch onboarding: thousands of addresses, few domains
def normalise_domain(domain: str) -> tuple[str, str]:
    """Return ``(ascii, unicode)`` forms of a domain name or raise AddressError."""
    import idna  # a dependency of httpx; imported here to keep start-up light

    name = domain.strip().rstrip(".")
    if name.startswith("[") or re.fullmatch(r"[0-9.]+", name):
        raise AddressError(
            _("{domain} is an address literal; a domain name is needed").format(
                domain=_show(domain)
            )
        )
    if not name:
        raise AddressError(_("the domain is empty"))
    for label in name.split("."):
        if not label:
            raise AddressError(
                _("the domain {domain} has an empty label (two dots in a row)").format(
                    domain=_show(domain)
                )
            )
        if len(label.encode()) > MAX_LABEL_OCTETS * 4 or (
            label.isascii() and len(label) > MAX_LABEL_OCTETS
        ):
            raise AddressError(
                _("the label {label} of the domain is {size} bytes long; at most {limit}").format(
                    label=_show(label, 24), size=len(label.encode()), limit=MAX_LABEL_OCTETS
                )
            )
    if name.isascii() and len(name) > MAX_DOMAIN_OCTETS:
        raise AddressError(
            _("the domain is {size} bytes long; at most {limit}").format(
                size=len(name), limit=MAX_DOMAIN_OCTETS
            )
        )
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(
            _("the domain {domain} is not a valid host name: {reason}").format(
                domain=_show(domain), reason=exc
            )
        ) from None
    labels = ascii_name.split(".")
    for label in labels:
        if len(label) > MAX_LABEL_OCTETS:
            raise AddressError(
                _("the label {label} of the domain is {size} bytes long; at most {limit}").format(
                    label=f"{label[:20]}...", size=len(label), limit=MAX_LABEL_OCTETS
                )
            )
        if not _LDH_LABEL.fullmatch(label):
            raise AddressError(
                _(
                    "the domain {domain} has the label {label}: only letters, digits and"
                    " inner hyphens are allowed"
                ).format(domain=_show(domain), label=repr(label))
            )
    if len(ascii_name) > MAX_DOMAIN_OCTETS:
        raise AddressError(
            _("the domain is {size} bytes long; at most {limit}").format(
                size=len(ascii_name), limit=MAX_DOMAIN_OCTETS
            )
        )
    if len(labels) < 2:
        raise AddressError(
            _("the domain {domain} has a single label; expected e.g. example.com").format(
                domain=_show(domain)
            )
        )
    if labels[-1].isdigit():
        raise AddressError(
            _("the domain {domain} ends in a number; it is not a host name").format(
                domain=_show(domain)
            )
        )
    try:
        unicode_name = idna.decode(ascii_name)
    except idna.IDNAError:
        unicode_name = ascii_name
    return ascii_name, unicode_name
