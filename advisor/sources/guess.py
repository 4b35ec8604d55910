"""Thunderbird's guesses: usual host names on the standard ports.

Hosts and order follow Thunderbird's GuessConfig (comm-central
``mail/components/accountcreation/modules/GuessConfig.sys.mjs``): incoming
``imap.D pop3.D pop.D mail.D D``, outgoing ``smtp.D mail.D D``. Ports: IMAP
993/143, POP3 995/110 (RFC 8314 §3.3 implicit TLS first), SMTP 465/587/25.
A port probed as STARTTLS also reveals a plaintext-only server (the probe
says STARTTLS is missing), so plain is not guessed separately.
"""

from __future__ import annotations

from advisor.models import Endpoint, Protocol, Security

INCOMING_HOSTS: tuple[tuple[str, tuple[Protocol, ...]], ...] = (
    ("imap.", (Protocol.IMAP,)),
    ("pop3.", (Protocol.POP3,)),
    ("pop.", (Protocol.POP3,)),
    ("mail.", (Protocol.IMAP, Protocol.POP3)),
    ("", (Protocol.IMAP, Protocol.POP3)),
)
OUTGOING_HOSTS: tuple[str, ...] = ("smtp.", "mail.", "")
PORTS: dict[Protocol, tuple[tuple[int, Security], ...]] = {
    Protocol.IMAP: ((993, Security.SSL), (143, Security.STARTTLS)),
    Protocol.POP3: ((995, Security.SSL), (110, Security.STARTTLS)),
    Protocol.SMTP: ((465, Security.SSL), (587, Security.STARTTLS), (25, Security.STARTTLS)),
}


def guesses(domain: str) -> list[Endpoint]:
    """Every endpoint Thunderbird would try for ``domain``, in its host order."""
    out: list[Endpoint] = []
    for prefix, protocols in INCOMING_HOSTS:
        for protocol in protocols:
            for port, security in PORTS[protocol]:
                out.append(Endpoint(protocol, prefix + domain, port, security))
    for prefix in OUTGOING_HOSTS:
        for port, security in PORTS[Protocol.SMTP]:
            out.append(Endpoint(Protocol.SMTP, prefix + domain, port, security))
    return out
