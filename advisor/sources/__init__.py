"""Discovery sources: each turns a domain into named servers or provider facts.

A source never speaks a mail protocol; the engine probes whatever servers the
sources name. Sources take their I/O dependencies (DNS client, HTTP client)
as parameters and never raise for network outcomes: what happened is in the
steps of the :class:`SourceResult` they return.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.models import DavFacts, Endpoint, ExchangeFacts, ProviderFacts, Source, Step


@dataclass(frozen=True)
class NamedServer:
    """A server a source names, as that source states it."""

    endpoint: Endpoint
    username: str | None = None  # placeholders already expanded; None: not stated
    auth: tuple[
        str, ...
    ] = ()  # the source's words, Mozilla vocabulary (password-cleartext, OAuth2, ...)
    leave_on_server: bool | None = None  # POP3 only: keep mail on the server


@dataclass(frozen=True)
class SourceResult:
    """What one source found; the engine merges these in rank order."""

    source: Source
    steps: tuple[Step, ...]
    servers: tuple[NamedServer, ...] = ()  # the source's preference order
    trusted: bool = False  # HTTPS with valid certificates all the way, DNSSEC, or local file
    exchange: ExchangeFacts | None = None
    provider: ProviderFacts | None = None
    oauth2_required: bool = False  # the source says password login is not accepted
    warnings: tuple[str, ...] = ()
    origin: str | None = None  # URL or file the configuration came from
    webmail: str | None = None  # the webmail login page the source names (https only)
    dav: DavFacts | None = None  # CalDAV/CardDAV URLs the source names
