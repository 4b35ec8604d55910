"""Run a private Dovecot (IMAP/POP3) on one loopback address.

    with Dovecot("127.0.1.5", cert, {"alice@example.test": "secret"}) as dc:
        imaplib.IMAP4("127.0.1.5", 143) ...      # STARTTLS, LOGINDISABLED before it
        imaplib.IMAP4_SSL("127.0.1.5", 993) ...

Everything (config, passwd file, sockets, mail, log) lives in a ``mkdtemp`` folder
chmod 0755 under /tmp (the auth process runs as user ``dovecot`` and must read it),
removed by ``stop()``.  Written for Dovecot 2.3 (Debian 12: 2.3.19); another major
version raises ``Unavailable``.  Dovecot treats a client whose address equals the
server's address (127.0.0.1 talking to 127.0.0.1) as secure and allows plaintext
login: listen anywhere else in 127/8 (the lab allocates 127.0.1.x) for a realistic
``LOGINDISABLED`` before STARTTLS.
"""

from __future__ import annotations

import contextlib
import functools
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import ssl as _ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Self

from .ca import CertFiles
from .errors import LabError, Unavailable, check_bindable

__all__ = ["INSTALL_HINT", "Dovecot", "dovecot_binary", "dovecot_version"]

INSTALL_HINT = "Dovecot not installed: apt-get install dovecot-imapd dovecot-pop3d"


def dovecot_binary() -> str | None:
    """Path of the ``dovecot`` binary (also looked up in /usr/sbin), or None."""
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.cache
def dovecot_version() -> tuple[int, ...] | None:
    """``(2, 3, 19, 1)`` from ``dovecot --version``; None when not installed."""
    binary = dovecot_binary()
    if binary is None:
        return None
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    match = re.match(r"\s*(\d+(?:\.\d+)*)", out)
    if match is None:
        raise LabError(f"cannot parse `dovecot --version` output: {out!r}")
    return tuple(int(part) for part in match.group(1).split("."))


class Dovecot:
    """A private Dovecot.  Ports set to None are not opened.

    ``ssl``: "yes" (STARTTLS/STLS offered, implicit-TLS ports work), "required"
    (no login at all without TLS) or "no" (plaintext only: give no implicit-TLS port).
    ``disable_plaintext_auth``: LOGINDISABLED / no USER before TLS (non-local clients).
    ``mechanisms``: SASL mechanisms, e.g. ("plain", "login").  ``oauth_token``: also
    offer XOAUTH2 and OAUTHBEARER, accepting exactly this bearer token for every user.
    ``extra_config``: raw Dovecot 2.3 settings appended at the end.
    """

    def __init__(
        self,
        ip: str,
        cert: CertFiles | None,
        users: Mapping[str, str],
        *,
        imap: int | None = 143,
        imaps: int | None = 993,
        pop3: int | None = 110,
        pop3s: int | None = 995,
        ssl: Literal["yes", "required", "no"] = "yes",
        disable_plaintext_auth: bool = True,
        mechanisms: Sequence[str] = ("plain", "login"),
        oauth_token: str | None = None,
        hostname: str | None = None,
        greeting: str = "Dovecot ready.",
        extra_config: str = "",
        start_timeout: float = 5.0,
    ) -> None:
        if ssl != "no" and cert is None:
            raise ValueError("a certificate is needed unless ssl='no'")
        if ssl == "no" and (imaps or pop3s):
            raise ValueError("ssl='no' cannot serve the implicit-TLS ports: set them to None")
        for user, password in users.items():
            if any(c in user + password for c in ":\n") or not user:
                raise ValueError(f"user/password unusable in a passwd-file: {user!r}")
        self.ip = ip
        self.cert = cert
        self.users = dict(users)
        self.ports: dict[str, int | None] = {
            "imap": imap,
            "imaps": imaps,
            "pop3": pop3,
            "pop3s": pop3s,
        }
        self.ssl = ssl
        self.disable_plaintext_auth = disable_plaintext_auth
        self.mechanisms = tuple(mechanisms)
        self.oauth_token = oauth_token
        self.hostname = hostname
        self.greeting = greeting
        self.extra_config = extra_config
        self.start_timeout = start_timeout
        self.workdir: Path | None = None
        self.keep_workdir = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: Path | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def open_ports(self) -> list[int]:
        return [port for port in self.ports.values() if port]

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "dovecot.log"

    def start(self) -> Self:
        binary = dovecot_binary()
        if binary is None:
            raise Unavailable(INSTALL_HINT)
        version = dovecot_version()
        if version is None or version[:2] != (2, 3):
            shown = ".".join(map(str, version or ()))
            raise Unavailable(f"the lab writes Dovecot 2.3 configs; this is Dovecot {shown}")
        if not self.open_ports:
            raise ValueError("no port to listen on")
        check_bindable(self.ip, self.open_ports, "Dovecot")

        self.workdir = Path(tempfile.mkdtemp(prefix="lab-dovecot-", dir="/tmp"))
        self.workdir.chmod(0o755)
        conf = self._write_config(self.workdir)
        self._output = self.workdir / "stdout.log"
        with self._output.open("wb") as out:
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()  # its errors carry the log tail
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, *, keep: bool = False) -> None:
        """Terminate (SIGTERM to Dovecot's process group) and wait; removes the work
        folder unless ``keep``.  Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            # SIGTERM to the whole process group (Dovecot runs in its own session):
            # signalling only the master takes ~1 s (its log child lingers).  Repeat
            # every 50 ms: a child the master forks or respawns meanwhile would miss the
            # first signal and keep the master waiting for it.
            deadline = time.monotonic() + 5
            while True:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        _signal_group(proc, signal.SIGKILL)
                        proc.wait(timeout=5)
                        break
        if self.workdir is not None and not (keep or self.keep_workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Self:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` of the Dovecot log and of its stdout/stderr."""
        chunks: list[str] = []
        if self.workdir is not None:
            for path in (self.workdir / "dovecot.log", self.workdir / "stdout.log"):
                with contextlib.suppress(OSError):
                    text = path.read_text(errors="replace").splitlines()[-lines:]
                    chunks.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(chunks) or "(no Dovecot log)"

    def _wait_ready(self) -> None:
        """Wait until every port greets: the listeners belong to the master, but the
        greeting comes from a login process connected to auth, i.e. fully started."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        pending = [(name, port) for name, port in self.ports.items() if port]
        while pending:
            if self._proc.poll() is not None:
                self._raise_failed(f"Dovecot exited with status {self._proc.returncode}")
            name, port = pending[0]
            if self._greets(port, tls=name.endswith("s")):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                self._raise_failed(
                    f"Dovecot did not greet on {self.ip}:{port} ({name}) "
                    f"within {self.start_timeout:g} s"
                )
            time.sleep(0.01)

    def _greets(self, port: int, *, tls: bool) -> bool:
        try:
            with socket.create_connection((self.ip, port), timeout=1) as raw:
                if not tls:
                    return raw.recv(100).startswith((b"* OK", b"+OK"))
                ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = _ssl.CERT_NONE
                with ctx.wrap_socket(raw) as conn:
                    return conn.recv(100).startswith((b"* OK", b"+OK"))
        except OSError:
            return False

    def _raise_failed(self, what: str) -> None:
        tail = self.log_tail()
        if re.search(r"bind\(.*(Permission denied|Address already in use)", tail):
            raise Unavailable(f"{what}:\n{tail}")
        raise LabError(f"{what}:\n{tail}")

    # ------------------------------------------------------------------ config
    def _write_config(self, folder: Path) -> Path:
        for sub in ("run", "state"):
            (folder / sub).mkdir(mode=0o755)
        home = folder / "home"
        home.mkdir(mode=0o755)
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot") if _has_user("dovecot") else pwd.getpwuid(0)
        else:
            mail_user = pwd.getpwuid(os.geteuid())
        os.chown(home, mail_user.pw_uid, mail_user.pw_gid)

        passwd = folder / "passwd"
        passwd.write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items())
        )
        passwd.chmod(0o644)

        protocols = []
        if self.ports["imap"] or self.ports["imaps"]:
            protocols.append("imap")
        if self.ports["pop3"] or self.ports["pop3s"]:
            protocols.append("pop3")
        mechanisms = list(self.mechanisms)
        lines = [
            f"# Written by tests/lab/dovecot.py for Dovecot 2.3 ({folder})",
            f"protocols = {' '.join(protocols)}",
            f"listen = {self.ip}",
            f"base_dir = {folder}/run",
            f"state_dir = {folder}/state",
            f"log_path = {folder}/dovecot.log",
            f"info_log_path = {folder}/dovecot.log",
            "auth_verbose = yes",
            f"ssl = {self.ssl}",
        ]
        if self.cert is not None and self.ssl != "no":
            lines += [
                f"ssl_cert = <{self.cert.chain_pem}",
                f"ssl_key = <{self.cert.key_pem}",
                "ssl_min_protocol = TLSv1.2",
            ]
        lines += [
            f"disable_plaintext_auth = {'yes' if self.disable_plaintext_auth else 'no'}",
            "auth_failure_delay = 0",
            "first_valid_uid = 1",
            "mail_location = maildir:~/Maildir",
            f"login_greeting = {self.greeting}",
        ]
        if self.hostname:
            lines.append(f"hostname = {self.hostname}")
        chroot: list[str] = []
        if os.geteuid() != 0:  # untested in CI (root); tried once as user nobody
            chroot = ["  chroot ="]  # chroot() needs root
            lines += [
                f"default_internal_user = {mail_user.pw_name}",
                f"default_login_user = {mail_user.pw_name}",
                f"default_internal_group = {grp.getgrgid(mail_user.pw_gid).gr_name}",
            ]
        password_mechs = [m for m in mechanisms if m.lower() not in ("xoauth2", "oauthbearer")]
        if self.oauth_token is not None:
            tokens = folder / "tokens"
            tokens.write_text(
                "".join(f"{user}:{{PLAIN}}{self.oauth_token}::::::\n" for user in self.users)
            )
            tokens.chmod(0o644)
            mechanisms += [m for m in ("xoauth2", "oauthbearer") if m not in mechanisms]
        lines.append(f"auth_mechanisms = {' '.join(mechanisms)}")
        lines += [
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {passwd}",
        ]
        if self.oauth_token is not None:
            lines.append(f"  mechanisms = {' '.join(password_mechs)}")
        lines.append("}")
        if self.oauth_token is not None:
            lines += [
                "passdb {",
                "  driver = passwd-file",
                f"  args = scheme=PLAIN username_format=%u {folder}/tokens",
                "  mechanisms = xoauth2 oauthbearer",
                "}",
            ]
        lines += [
            # No anvil auth penalty: otherwise after one failed login every later login
            # from 127.0.0.1 waits 2, 4, 8... s.  (A failure is still answered after up to
            # 0.5 s: Dovecot 2.3 flushes failures on a 500 ms timer.)
            "service anvil {",
            *chroot,
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u",
            "}",
            *_service("imap-login", chroot, ("imap", "imaps"), self.ports),
            *_service("pop3-login", chroot, ("pop3", "pop3s"), self.ports),
        ]
        if self.extra_config:
            lines.append(self.extra_config)
        conf = folder / "dovecot.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o644)
        return conf


def _service(
    service: str, chroot: list[str], names: tuple[str, str], ports: Mapping[str, int | None]
) -> list[str]:
    plain, tls = names
    return [
        f"service {service} {{",
        *chroot,
        # One long-lived login process per protocol ("high-performance mode") instead
        # of one per connection: no respawns racing with stop().
        "  service_count = 0",
        "  process_min_avail = 1",
        f"  inet_listener {plain} {{",
        f"    port = {ports[plain] or 0}",
        "  }",
        f"  inet_listener {tls} {{",
        f"    port = {ports[tls] or 0}",
        "    ssl = yes",
        "  }",
        "}",
    ]


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
