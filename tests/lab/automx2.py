"""automx2 (PyPI ``automx2``), the autoconfig / Autodiscover / mobileconfig server many
organisations host, run as a real peer in the lab.

    domains = [
        MailDomain("a.test", "Alpha Mail", (
            MailServer("imap", "imap.a.test", 993),
            MailServer("smtp", "smtp.a.test", 587),
        )),
        MailDomain("corp.test", "Corp IT", (
            MailServer("imap", "mail.corp.test", 993,
                       user_name="CORP\\\\%EMAILLOCALPART%", authentication="NTLM"),
            MailServer("smtp", "mail.corp.test", 587, user_name="CORP\\\\%EMAILLOCALPART%",
                       authentication="NTLM"),
        )),
    ]
    server = start_automx2(lab, domains)       # stopped by lab.close()
    server.ip, server.names                    # every autoconfig.D / autodiscover.D
    server.autoconfig("user@a.test")           # (status, body) as automx2 serves it
    server.autodiscover("user@a.test")         # POX answer
    server.mobileconfig("user@a.test")         # Apple profile (bytes)

``start_automx2`` gives ``autoconfig.D`` and ``autodiscover.D`` of every domain one
loopback address (A records in the lab DNS) and a lab-CA certificate for all of them,
then starts ``Automx2``: a real ``python`` process running automx2's Flask app under
Werkzeug's server with that certificate on port 443 (HTTPS only; automx2 has no
``/.well-known`` route, so ``https://D/.well-known/...`` is not served).

Seeding follows automx2's documentation (docs/dbconfig.adoc): the database is created
and seeded by POSTing version-2 JSON to ``/initdb/`` (the first domain), and "details
like port numbers or socket types [...] you can later override [...] by modifying the
DB directly": the other domains and each server's ``socket_type``, ``user_name`` and
``authentication`` are then written with SQL into its sqlite file (the
``contrib/sqlite-generate.sh`` way).  automx2's vocabulary is kept: server types
``imap|pop|smtp``, socket types ``SSL|STARTTLS|plain``, authentication ``plain``
(automx2's default, served literally as ``<authentication>plain</authentication>``),
``NTLM``, ``none``...

Quirks seen with 2026.2 (see also REFERENCE.md §6): an unknown domain answers
204 on every endpoint; autoconfig without ``?emailaddress=`` answers 400; the POX URL
is POST-only and wants an XML content type; POX carries login names already expanded
(``CORP\\user``) and states no authentication method; ``<emailProvider id>`` is
``automx2-N``; mobileconfig UUIDs change on every download.

The server listens on loopback only and refuses to start (``Unavailable``) when
automx2 is not installed (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from .ca import CertFiles
from .errors import LabError, Unavailable, check_bindable

if TYPE_CHECKING:
    from .servers import Lab

__all__ = ["Automx2", "MailDomain", "MailServer", "start_automx2"]

INSTALL_HINT = "automx2 not installed: pip install -e '.[test]'"
_START_TIMEOUT = 20.0  # importing Flask + SQLAlchemy on a busy 2-core machine
_HTTP_TIMEOUT = 10.0

# Runs in the child: automx2 reads its configuration at import time from $AUTOMX2_CONF.
_LAUNCHER = """
import sys
from werkzeug.serving import run_simple
from automx2.server import app
ip, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
run_simple(ip, port, app, ssl_context=(cert, key), threaded=True)
"""

ServerType = Literal["imap", "pop", "smtp"]
_DEFAULT_SOCKET = {993: "SSL", 995: "SSL", 465: "SSL"}


@dataclass(frozen=True)
class MailServer:
    """One row of automx2's ``server`` table.  ``socket_type`` defaults to what
    automx2's JSON seeding picks: SSL on 993/995/465, STARTTLS elsewhere."""

    type: ServerType
    host: str
    port: int
    socket_type: Literal["SSL", "STARTTLS", "plain"] | None = None
    user_name: str = "%EMAILADDRESS%"
    authentication: str = "plain"
    prio: int = 10

    @property
    def socket(self) -> str:
        return self.socket_type or _DEFAULT_SOCKET.get(self.port, "STARTTLS")


@dataclass(frozen=True)
class MailDomain:
    """A domain and its provider (``provider`` is automx2's provider name, served as
    ``displayName``; its first word becomes ``displayShortName``)."""

    name: str
    provider: str
    servers: tuple[MailServer, ...]


@dataclass
class Automx2:
    """A real automx2 process serving ``domains`` over HTTPS on ``ip``:``port``.

    ``cert`` must cover every name clients ask for (``start_automx2`` issues it).
    ``start()`` waits until the port answers, then seeds the database; ``stop()``
    terminates the process and removes its folder (config, sqlite file, log)."""

    ip: str
    cert: CertFiles
    domains: Sequence[MailDomain]
    ca_file: Path
    port: int = 443
    names: tuple[str, ...] = ()
    workdir: Path | None = field(default=None, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if importlib.util.find_spec("automx2") is None:
            raise Unavailable(INSTALL_HINT)
        if not self.domains:
            raise ValueError("automx2 needs at least one domain")
        check_bindable(self.ip, [self.port], "automx2")
        self.workdir = Path(tempfile.mkdtemp(prefix="lab-automx2-"))
        conf = self.workdir / "automx2.conf"
        conf.write_text(
            "[automx2]\n"
            "loglevel = WARNING\n"
            "db_echo = no\n"
            f"db_uri = sqlite:///{self.database}\n"
            "proxy_count = 0\n"
        )
        log = (self.workdir / "automx2.log").open("wb")
        env = {"AUTOMX2_CONF": str(conf), "HOME": str(self.workdir), "PATH": "/usr/bin:/bin"}
        with log:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _LAUNCHER,
                    *(self.ip, str(self.port), str(self.cert.chain_pem), str(self.cert.key_pem)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_ready()
            self._seed()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate and wait; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Self:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def database(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "automx2.sqlite"

    def log_tail(self, lines: int = 30) -> str:
        if self.workdir is None:
            return "(no automx2 log)"
        with contextlib.suppress(OSError):
            text = (self.workdir / "automx2.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no automx2 log)"

    # ------------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        name: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """``method https://name/path`` sent to this server (TLS name ``name``,
        checked against the lab CA): (status, body)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        raw = socket.create_connection((self.ip, self.port), timeout=_HTTP_TIMEOUT)
        conn = http.client.HTTPConnection(self.ip, self.port, timeout=_HTTP_TIMEOUT)
        try:
            conn.sock = ctx.wrap_socket(raw, server_hostname=name)
            conn.request(method, path, body=body, headers={"Host": name, **(headers or {})})
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()
            raw.close()

    def autoconfig(self, address: str, name: str | None = None) -> tuple[int, str]:
        """What Thunderbird gets from ``https://autoconfig.D/mail/config-v1.1.xml``
        (``name``: ask another of this server's names than ``autoconfig.D``)."""
        name = name or f"autoconfig.{address.rpartition('@')[2]}"
        query = urllib.parse.urlencode({"emailaddress": address})
        status, body = self.request("GET", name, f"/mail/config-v1.1.xml?{query}")
        return status, body.decode()

    def autodiscover(self, address: str) -> tuple[int, str]:
        """What Outlook gets from ``POST https://autodiscover.D/autodiscover/...``."""
        domain = address.rpartition("@")[2]
        request = (
            '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
            'outlook/requestschema/2006"><Request><EMailAddress>'
            f"{address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft"
            ".com/exchange/autodiscover/outlook/responseschema/2006a"
            "</AcceptableResponseSchema></Request></Autodiscover>"
        ).encode()
        status, body = self.request(
            "POST",
            f"autodiscover.{domain}",
            "/autodiscover/autodiscover.xml",
            body=request,
            headers={"Content-Type": "text/xml"},
        )
        return status, body.decode()

    def mobileconfig(self, address: str) -> tuple[int, bytes]:
        """automx2's Apple profile for ``address``."""
        domain = address.rpartition("@")[2]
        query = urllib.parse.urlencode({"emailaddress": address})
        return self.request("GET", f"autoconfig.{domain}", f"/mobileconfig/?{query}")

    # ------------------------------------------------------------------ internals
    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise LabError(
                    f"automx2 exited with status {self._proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError), socket.create_connection((self.ip, self.port), 1):
                return
            if time.monotonic() > deadline:
                raise LabError(f"automx2 did not listen within {_START_TIMEOUT:g} s")
            time.sleep(0.05)

    def _seed(self) -> None:
        first = self.domains[0]
        seed = {
            "version": 2,
            "provider": first.provider,
            "domains": [{"name": first.name}],
            "servers": [{"type": s.type, "name": s.host, "port": s.port} for s in first.servers],
        }
        status, body = self.request(
            "POST",
            f"autoconfig.{first.name}",
            "/initdb/",
            body=json.dumps(seed).encode(),
            headers={"Content-Type": "application/json"},
        )
        if status != 200 or b"now prepared" not in body:
            raise LabError(f"automx2 /initdb/ answered {status}: {body[:300]!r}")
        with contextlib.closing(sqlite3.connect(self.database)) as db, db:
            # The JSON seeding ties servers to domains but picks socket type, login and
            # method itself: set them as given (automx2's documented "modify the DB").
            rows = db.execute("SELECT id, name, port, type FROM server ORDER BY id").fetchall()
            for (row_id, *_), wanted in zip(rows, first.servers, strict=True):
                db.execute(
                    "UPDATE server SET socket_type=?, user_name=?, authentication=?, prio=? "
                    "WHERE id=?",
                    (wanted.socket, wanted.user_name, wanted.authentication, wanted.prio, row_id),
                )
            for domain in self.domains[1:]:
                provider = db.execute(
                    "INSERT INTO provider (name, short_name) VALUES (?, ?)",
                    (domain.provider, domain.provider.split(" ")[0]),
                ).lastrowid
                domain_id = db.execute(
                    "INSERT INTO domain (name, provider_id) VALUES (?, ?)",
                    (domain.name, provider),
                ).lastrowid
                for server in domain.servers:
                    server_id = db.execute(
                        "INSERT INTO server (prio, name, port, type, socket_type, user_name, "
                        "authentication) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            server.prio,
                            server.host,
                            server.port,
                            server.type,
                            server.socket,
                            server.user_name,
                            server.authentication,
                        ),
                    ).lastrowid
                    db.execute(
                        "INSERT INTO server_domain (server_id, domain_id) VALUES (?, ?)",
                        (server_id, domain_id),
                    )


def start_automx2(lab: Lab, domains: Sequence[MailDomain], *, ip: str | None = None) -> Automx2:
    """Start automx2 for ``domains`` in ``lab`` (stopped by ``lab.close()``):
    ``autoconfig.D`` and ``autodiscover.D`` of each domain resolve to one new loopback
    address (or ``ip``) and share one lab-CA certificate.  The mail servers the
    domains name are not started: run them with ``lab.dovecot`` / ``lab.smtp``."""
    names = tuple(f"{kind}.{d.name}" for d in domains for kind in ("autoconfig", "autodiscover"))
    ip = ip or lab.ip()
    for name in names:
        lab.host(name, ip)
    server = Automx2(ip, lab.cert(*names, ip), domains, lab.ca_file, names=names)
    return lab.serve(server)
