"""Cheap DNS signals about who hosts the mail: MX, SPF (TXT), autodiscover CNAME.

These name no server a client would use (MX hosts receive mail from other
servers), but they tell the hosting provider at the cost of three queries:
Microsoft 365 MX hosts live under ``mail.protection.outlook.com``, its
tenants point ``autodiscover.D`` at ``autodiscover.outlook.com`` and include
``spf.protection.outlook.com`` in SPF (Microsoft's "Add DNS records" guide);
Google's MX hosts are under ``google.com``/``googlemail.com`` and its SPF
include is ``_spf.google.com``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from advisor.models import ProviderFacts

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

    from advisor.net.resolver import DnsAnswer

MICROSOFT365 = ProviderFacts("microsoft365", "Microsoft 365", "microsoft365")
GOOGLE = ProviderFacts("google", "Google Workspace / Gmail", "google")

_MX_SUFFIXES = {
    ".mail.protection.outlook.com": MICROSOFT365,
    ".google.com": GOOGLE,
    ".googlemail.com": GOOGLE,
}
_SPF_INCLUDES = {
    "spf.protection.outlook.com": MICROSOFT365,
    "_spf.google.com": GOOGLE,
}
_AUTODISCOVER_CNAMES = {"autodiscover.outlook.com": MICROSOFT365}


@lru_cache(maxsize=1)
def public_suffix_list() -> PublicSuffixList:
    """The PSL shipped with the ``publicsuffixlist`` package: works offline."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(host: str) -> str | None:
    """``mx00.ionos.co.uk`` -> ``ionos.co.uk`` (None for a bare public suffix)."""
    result = public_suffix_list().privatesuffix(host.lower().rstrip("."))
    return str(result) if result else None


@dataclass(frozen=True)
class MxHost:
    preference: int
    host: str


@dataclass(frozen=True)
class Hints:
    mx: tuple[MxHost, ...] = ()
    null_mx: bool = False  # RFC 7505: the domain accepts no mail
    spf: str | None = None
    autodiscover_cname: str | None = None
    provider: ProviderFacts | None = None
    evidence: tuple[str, ...] = field(default=())  # why we think so, for people


def mx_hosts(answer: DnsAnswer) -> tuple[tuple[MxHost, ...], bool]:
    hosts = sorted(
        (
            MxHost(int(r.preference), r.exchange.to_text(omit_final_dot=True).lower())
            for r in answer.records
        ),
        key=lambda m: m.preference,
    )
    null_mx = len(hosts) == 1 and hosts[0].host in ("", ".")
    return (() if null_mx else tuple(hosts)), null_mx


def spf_record(answer: DnsAnswer) -> str | None:
    for record in answer.records:
        text = b"".join(record.strings).decode("utf-8", "replace")
        if text.lower().startswith("v=spf1"):
            return text
    return None


def interpret(
    domain: str,
    mx: DnsAnswer | None,
    txt: DnsAnswer | None,
    cname: DnsAnswer | None,
) -> Hints:
    """Turn the three answers into provider facts, with the evidence for each."""
    hosts: tuple[MxHost, ...] = ()
    null_mx = False
    if mx is not None and mx.found:
        hosts, null_mx = mx_hosts(mx)
    spf = spf_record(txt) if txt is not None and txt.found else None
    target = None
    if cname is not None and cname.found and cname.records:
        target = cname.records[0].target.to_text(omit_final_dot=True).lower()

    votes: list[tuple[ProviderFacts, str]] = []
    if hosts:
        top = hosts[0].host
        for suffix, known in _MX_SUFFIXES.items():
            if top.endswith(suffix) or top == suffix[1:]:
                votes.append((known, f"MX {top}"))
    if spf:
        for term in spf.lower().split():
            include = term.removeprefix("+").removeprefix("include:")
            if term.lstrip("+").startswith("include:") and include in _SPF_INCLUDES:
                votes.append((_SPF_INCLUDES[include], f"SPF include:{include}"))
    if target in _AUTODISCOVER_CNAMES:
        votes.append((_AUTODISCOVER_CNAMES[target], f"autodiscover.{domain} CNAME {target}"))

    provider: ProviderFacts | None = None
    evidence: list[str] = []
    if votes:
        # MX decides where mail lands; SPF and CNAME alone may be leftovers.
        provider = votes[0][0]
        evidence = [why for p, why in votes if p == provider]
    elif hosts:
        base = registrable_domain(hosts[0].host)
        if base and base != domain:
            provider = ProviderFacts(base, base, base)
            evidence = [f"MX {hosts[0].host}"]
    return Hints(hosts, null_mx, spf, target, provider, tuple(evidence))
