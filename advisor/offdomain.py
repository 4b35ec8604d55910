"""Where the password would go: servers outside the address's own domains.

A configuration that leads to a registrable domain other than the address's,
its MX hosts' and its known mail provider's (Microsoft 365, Google, the
catalogue entry) sends the person's password to a stranger unless someone
vouches for that domain. Outlook follows an Autodiscover ``redirectUrl``
silently (the 2021 ``autodiscover.<tld>`` leak came from such hops);
Thunderbird asks the person to confirm a redirect to another domain
(comm-central ``ExchangeAutoDiscover``: "confirmExchange"). Here every such
server is named, with the domain the password would go to: discovery lists it
among its warnings, ``export`` and ``verify`` repeat it on stderr, and the
wizard asks before using it.

Pure: host names and report facts in, domains out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from advisor.i18n import _
from advisor.models import DiscoveryReport, Source
from advisor.sources.dnshints import registrable_domain

if TYPE_CHECKING:
    from advisor.formats.plan import AccountPlan

# The domains of the platforms ``provider.hosted_by`` names (cheap DNS signals):
# a Microsoft 365 or Google Workspace customer's servers live there.
PLATFORM_DOMAINS: dict[str, tuple[str, ...]] = {
    "microsoft365": (
        "office365.com",
        "outlook.com",
        "microsoft.com",
        "microsoftonline.com",
        "office.com",
    ),
    "google": ("google.com", "gmail.com", "googlemail.com"),
}


@dataclass(frozen=True)
class OffDomain:
    host: str  # the server's host name
    domain: str  # its registrable domain: where the password would go


def registrable(host: str) -> str:
    """The registrable domain of ``host`` (the host itself when it has none)."""
    name = host.lower().rstrip(".")
    return registrable_domain(name) or name


def home_domains(
    address_domain: str,
    *,
    mx_hosts: Iterable[str] = (),
    hosted_by: str | None = None,
    provider_hosts: Iterable[str] = (),
) -> tuple[str, ...]:
    """The registrable domains a password may go to without a warning, sorted."""
    domains = {registrable(address_domain)}
    domains.update(registrable(h) for h in mx_hosts if h)
    domains.update(registrable(h) for h in provider_hosts if h)
    if hosted_by:
        domains.update(PLATFORM_DOMAINS.get(hosted_by, (registrable(hosted_by),)))
    return tuple(sorted(d for d in domains if d))


def host_of(url_or_host: str) -> str:
    """The host of a URL, or the text itself when it is a host name."""
    if "://" in url_or_host:
        return (urlsplit(url_or_host).hostname or "").lower()
    return url_or_host.lower()


def off_domain(hosts: Iterable[str], home: Iterable[str]) -> list[OffDomain]:
    """Each distinct host (or URL) outside ``home``, in the order given."""
    allowed = set(home)
    out: list[OffDomain] = []
    seen: set[str] = set()
    for item in hosts:
        host = host_of(item)
        if not host or host in seen:
            continue
        seen.add(host)
        domain = registrable(host)
        if domain not in allowed:
            out.append(OffDomain(host, domain))
    return out


def report_home(report: DiscoveryReport) -> tuple[str, ...]:
    """The report's home domains; for a report saved before they were recorded, the
    address's domain and its provider's platform."""
    if report.home_domains:
        return report.home_domains
    hosted_by = report.provider.hosted_by if report.provider is not None else None
    return home_domains(report.domain_ascii, hosted_by=hosted_by)


def given_hosts(report: DiscoveryReport) -> set[str]:
    """Hosts the person typed (--imap, --smtp...): they vouch for them."""
    return {
        c.endpoint.hostname
        for c in (*report.incoming, *report.outgoing)
        if Source.GIVEN in c.sources
    }


def hops_for(report: DiscoveryReport, hosts: Iterable[str]) -> list[OffDomain]:
    """The servers among ``hosts`` (names or URLs) a password would leave home for."""
    mine = given_hosts(report)
    return [h for h in off_domain(hosts, report_home(report)) if h.host not in mine]


def hop_warning(hop: OffDomain, domain: str) -> str:
    """One line for people, in their language."""
    return _(
        "{host} is in another domain: the password would go to {other}, which is neither"
        " {domain}'s, its MX's nor its mail provider's. Use it only if the provider says so."
    ).format(host=hop.host, other=hop.domain, domain=domain)


def plan_hosts(account: AccountPlan) -> list[str]:
    """Every host (or URL) an account plan sends the password to."""
    hosts = [s.hostname for s in (account.incoming, account.outgoing) if s is not None]
    if account.exchange is not None:
        e = account.exchange
        hosts += [u for u in (e.ews_url, e.activesync_url, e.autodiscover_url, e.server) if u]
    return hosts
