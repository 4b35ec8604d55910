"""One discovery from user-level settings: builds the clients, runs the engine.

The CLI, the wizard and batch onboarding all call :func:`run_discovery`, so
they resolve, trust and fetch exactly alike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.address import parse_address
from advisor.errors import AdvisorError

if TYPE_CHECKING:
    from advisor.discovery import Observer, Options
    from advisor.models import DiscoveryReport
    from advisor.sources import SourceResult


def run_discovery(
    address: str,
    *,
    nameservers: Sequence[str] = (),
    ca_file: Path | None = None,
    options: Options | None = None,
    observer: Observer | None = None,
    exchange_user: str | None = None,
    password_stdin: bool = False,
) -> DiscoveryReport:
    """Parse, build the DNS/TLS/HTTP clients, run :class:`Discovery`; AdvisorError on bad input."""
    from advisor.discovery import Discovery, ExtraSource, Options
    from advisor.net.http import HttpClient
    from advisor.net.resolver import DnsClient, parse_nameservers
    from advisor.net.trust import client_context

    options = options or Options()
    parsed = parse_address(address)
    if password_stdin and exchange_user is None:
        raise AdvisorError("--password-stdin goes with --exchange-user")
    dns = DnsClient(parse_nameservers(list(nameservers)))
    context = client_context(ca_file)
    extra: tuple[tuple[str, ExtraSource], ...] = ()
    if exchange_user is not None and not options.offline:
        from advisor.exchange import authenticated_autodiscover
        from advisor.secrets import read_password

        # Asked before the clock starts: typing a password is not network time.
        password = read_password(stdin=password_stdin, prompt=f"Password for {exchange_user}: ")

        user = exchange_user

        def logged_in(deadline: float) -> SourceResult:
            return authenticated_autodiscover(
                parsed.address_ascii,
                user=user,
                password=password,
                dns=dns,
                ca_file=ca_file,
                deadline=deadline,
            )

        extra = (("exchange-login", logged_in),)
    engine = Discovery(
        parsed,
        dns=dns,
        tls_context=context,
        http=None if options.offline else HttpClient(dns, context),
        options=options,
        observer=observer,
        extra_sources=extra,
        clock=time.monotonic,
    )
    return engine.run()
